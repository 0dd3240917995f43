//! Realistic event histories for the tests: the testkit's workload (random commands through the domain's deciders)
//! appended through the event store command by command, each command's events at once with optimistic
//! concurrency, as the command side would. The generator keeps every aggregate's state, so tests can compare read
//! models with the domain's own view.

use std::sync::Arc;
use tally_store::EventStore;
use tally_testkit::workload::{expected_version, Generator, Options};

pub struct Workload {
    /// The commands decided so far, and every aggregate's state after them.
    pub generator: Generator,
    store: Arc<dyn EventStore>,
    /// The position of the last event appended.
    pub last_position: u64,
}

impl Workload {
    /// One history (every aggregate kept), the same commands for the same `seed`.
    pub fn new(store: Arc<dyn EventStore>, seed: u64) -> Self {
        let options =
            Options { seed, shard: None, customers: 20, max_products: usize::MAX, max_open_orders: usize::MAX };
        Workload { generator: Generator::new(options), store, last_position: 0 }
    }

    /// Runs `steps` random commands (refused ones included: they append nothing).
    pub async fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.generator.step();
            for decided in self.generator.take_decided() {
                let expected = expected_version(decided.stream_len);
                let appended = self.store.append(&decided.stream_id, expected, decided.events).await.expect("append");
                self.last_position = appended.position;
            }
        }
    }
}
