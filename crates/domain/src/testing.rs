//! Given/when/then scenarios over any aggregate's `decide` and `evolve`, for this crate's unit tests.
//!
//! ```ignore
//! given::<Inventory>(&[received("main", 10)])
//!     .when(reserve(order_a, 11))
//!     .then_err(|e| matches!(e, InventoryError::InsufficientStock { requested: 11, available: 10 }));
//! ```
//!
//! `given` folds the past events with `evolve`, `when` runs `decide` on that state, and `then`/`then_err` assert
//! on the recorded events or on the typed error (never on message text). `then` returns the state after the new
//! events, for tests that also check what the events did.

use crate::aggregate::Aggregate;

/// The state built from past events, waiting for a command.
pub(crate) struct Given<A: Aggregate> {
    state: A::State,
}

/// The outcome of one command on a given state.
pub(crate) struct When<A: Aggregate> {
    state: A::State,
    result: Result<Vec<A::Event>, A::Error>,
}

pub(crate) fn given<A: Aggregate>(events: &[A::Event]) -> Given<A> {
    Given { state: A::replay(events) }
}

impl<A: Aggregate> Given<A> {
    /// The state the past events produce.
    pub(crate) fn state(&self) -> &A::State {
        &self.state
    }

    pub(crate) fn when(self, command: A::Command) -> When<A> {
        let result = A::decide(&self.state, command);
        When { state: self.state, result }
    }
}

impl<A: Aggregate> When<A> {
    /// Asserts the command was accepted with exactly `expected`; returns the state after applying them.
    #[track_caller]
    pub(crate) fn then(self, expected: &[A::Event]) -> A::State {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "the command recorded other events than expected");
                events.iter().fold(self.state, A::evolve)
            }
            Err(error) => panic!("expected events {expected:?}, got the error {error:?}"),
        }
    }

    /// Asserts the command was accepted but changed nothing (an idempotent repeat).
    #[track_caller]
    pub(crate) fn then_nothing(self) {
        let before = self.state.clone();
        let after = self.then(&[]);
        assert_eq!(after, before);
    }

    /// Asserts the command was refused with an error for which `is_expected` holds (use `matches!`).
    #[track_caller]
    pub(crate) fn then_err(self, is_expected: impl FnOnce(&A::Error) -> bool) {
        match self.result {
            Ok(events) => panic!("expected an error, got the events {events:?}"),
            Err(error) => assert!(is_expected(&error), "unexpected error {error:?}"),
        }
    }
}
