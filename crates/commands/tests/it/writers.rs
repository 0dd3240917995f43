//! Stream writers on the in-memory store: the hot-SKU scenarios, conflicts with another process, tail-only reads
//! of a long stream, batching, the bounded cache, and the client's expected version inside a batch.

use crate::common::*;
use crate::scenarios;
use std::sync::Arc;
use std::time::Duration;
use tally_commands::{CommandConfig, CommandError, Commands};
use tally_store::MemoryEventStore;

fn short_idle() -> CommandConfig {
    CommandConfig { writer_idle: Duration::from_millis(100), ..config() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orders_for_fifty_units_confirm_exactly_fifty() {
    scenarios::hot_sku(&memory(config()), &[("main", 50)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orders_for_fifty_units_over_two_locations_confirm_exactly_fifty() {
    scenarios::hot_sku(&memory(config()), &[("main", 30), ("back", 20)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_from_another_process_is_caught_up_and_decided_again() {
    scenarios::conflict_from_another_process(&memory(config())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_stream_served_from_the_cache_reads_only_its_tail() {
    scenarios::long_stream_reads_only_its_tail(&memory(short_idle()), 100_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_command_sides_on_one_store_share_a_hot_sku() {
    let first = memory(config());
    let second = Commands::new(scenarios::raw_store(&first), config());
    scenarios::two_processes_share_a_hot_sku(&first, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_stream_are_appended_in_batches() {
    // 20 ms per append, as across a network: commands queue up while one batch is being appended.
    let h = harness_with_delay(Arc::new(MemoryEventStore::new()), config(), Duration::from_millis(20));
    stocked(&h.commands, "TEE", 1999, &[]).await;
    let before = h.counting.appends();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let commands = h.commands.clone();
            tokio::spawn(async move {
                commands.receive_stock(&context(), &sku("TEE"), loc("main"), qty(1), "PO".into(), None).await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        assert_eq!(outcome.events.len(), 1, "each command gets its own events");
        versions.push(outcome.events[0].version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (0..100).collect::<Vec<u64>>(), "each command got its own stream version");
    let appends = h.counting.appends() - before;
    assert!(appends < 50, "100 commands took {appends} appends");
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.on_hand(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_commands_expecting_the_same_version_only_one_succeeds() {
    let h = harness_with_delay(Arc::new(MemoryEventStore::new()), config(), Duration::from_millis(20));
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    let receive = |commands: Commands| async move {
        commands.receive_stock(&context(), &sku("TEE"), loc("main"), qty(1), "PO".into(), Some(0)).await
    };
    let (a, b) = tokio::join!(receive(h.commands.clone()), receive(h.commands.clone()));
    let mismatches = [&a, &b].iter().filter(|r| matches!(r, Err(CommandError::VersionMismatch { .. }))).count();
    assert_eq!((a.is_ok() as u8 + b.is_ok() as u8, mismatches), (1, 1));
}

#[tokio::test]
async fn the_snapshot_cache_is_bounded_and_idle_writers_stop() {
    let h = memory(CommandConfig { cache_capacity: 3, ..short_idle() });
    for n in 0..10 {
        stocked(&h.commands, &format!("SKU-{n}"), 100, &[("main", 1)]).await;
    }
    // Products and inventories: at most 3 snapshots each.
    assert!(h.commands.stats().cached_snapshots <= 6, "{:?}", h.commands.stats());
    scenarios::wait_until_writers_stop(&h.commands).await;
    // An evicted stream still answers correctly: it is read again from the store.
    let inventory = h.commands.inventory(&sku("SKU-0")).await.unwrap();
    assert_eq!((inventory.version, inventory.state.on_hand()), (Some(0), 1));
}

#[tokio::test]
async fn an_append_whose_answer_was_lost_is_repeated_without_writing_twice() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    h.counting.lose_next_answers(2);
    let outcome = h.commands.receive_stock(&context(), &sku("TEE"), loc("main"), qty(5), "PO-2".into(), None).await;
    let outcome = outcome.unwrap();
    assert_eq!((outcome.version, outcome.state.on_hand()), (Some(1), 15));
    let stream = history(h.raw.as_ref(), "inventory-TEE").await;
    assert_eq!(stream.len(), 2, "the receipt is stored once");
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.on_hand(), 15);
}

#[tokio::test]
async fn a_rival_that_always_wins_makes_the_command_give_up_after_bounded_retries() {
    let retry = tally_commands::RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
        ..tally_commands::RetryPolicy::default()
    };
    let h = memory(CommandConfig { retry, ..config() });
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    h.counting.set_rival(Some("inventory-TEE"));
    let error = h.commands.receive_stock(&context(), &sku("TEE"), loc("main"), qty(1), "PO".into(), None).await;
    assert!(matches!(error, Err(CommandError::Contention { attempts: 4, .. })), "{error:?}");

    // Once the rival stops, the next command catches up with everything it wrote.
    h.counting.set_rival(None);
    let outcome = h.commands.receive_stock(&context(), &sku("TEE"), loc("main"), qty(1), "PO".into(), None).await;
    let outcome = outcome.unwrap();
    assert_eq!((outcome.version, outcome.state.on_hand()), (Some(5), 10 + 4 + 1));
}
