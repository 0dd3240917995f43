//! The conformance suite against the in-memory adapter.

async fn store() -> tally_store::MemoryEventStore {
    tally_store::MemoryEventStore::new()
}

tally_store::conformance_tests!(store());
