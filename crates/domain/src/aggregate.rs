//! The `Aggregate` and `Event` traits: what a generic command handler needs to know about an aggregate.
//!
//! A handler loads a stream, folds its events with [`Aggregate::replay`], calls [`Aggregate::decide`] with the
//! command, and appends the returned events at the expected version. It never needs to know which aggregate it
//! runs. The three aggregates implement the trait on their state types: [`crate::catalog::Product`],
//! [`crate::inventory::Inventory`] and [`crate::order::Order`].

use crate::DomainError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::{Debug, Display};
use std::str::FromStr;

/// An aggregate as a decider: its state, the commands it accepts, the events it records and its stream naming.
pub trait Aggregate {
    /// The stream name prefix; a stream is named `{STREAM_PREFIX}{id}` (e.g. `inventory-TEE-RED-M`).
    const STREAM_PREFIX: &'static str;

    /// What names one instance (the part of the stream name after the prefix).
    type Id: Display + FromStr + Clone + Debug + Send + Sync + 'static;
    /// The state folded from the events; `Default` is the state of an empty stream. Auditors see it serialized.
    type State: Default + Clone + Debug + PartialEq + Serialize + Send + Sync + 'static;
    type Command: Debug + Send + 'static;
    type Event: Event;
    type Error: std::error::Error + Into<DomainError> + Send + Sync + 'static;

    /// Every business rule: accepts the command with the events it causes (maybe none), or refuses it.
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Applies one recorded fact. Never fails and checks nothing: the rules were checked by `decide`.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The stream that holds instance `id`.
    fn stream_id(id: &Self::Id) -> String {
        format!("{}{id}", Self::STREAM_PREFIX)
    }

    /// The instance id in a stream name of this aggregate, or `None` for another aggregate's stream.
    fn id_from_stream(stream_id: &str) -> Option<Self::Id> {
        stream_id.strip_prefix(Self::STREAM_PREFIX)?.parse().ok()
    }

    /// Folds `events` over the initial state.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events.into_iter().fold(Self::State::default(), Self::evolve)
    }
}

/// A recorded fact, as stored: serialized with `#[serde(tag = "type")]`, the tag being [`Event::event_type`].
pub trait Event: Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static {
    /// The event's type name, as stored next to its data (e.g. `OrderPlaced`); equal to its serde tag.
    fn event_type(&self) -> &'static str;

    /// The version of this event type's data shape; bump it (and write an upcaster) on an incompatible change.
    fn schema_version(&self) -> u16;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Product;
    use crate::inventory::Inventory;
    use crate::order::Order;
    use crate::values::{OrderId, Sku};

    #[test]
    fn stream_ids_are_prefix_and_id() {
        let sku = Sku::parse("TEE-RED-M").unwrap();
        let order_id = OrderId::parse("0193a4b2-7c1e-7d3a-9f00-1234567890ab").unwrap();
        assert_eq!(Product::stream_id(&sku), "product-TEE-RED-M");
        assert_eq!(Inventory::stream_id(&sku), "inventory-TEE-RED-M");
        assert_eq!(Order::stream_id(&order_id), "order-0193a4b2-7c1e-7d3a-9f00-1234567890ab");
    }

    #[test]
    fn a_stream_id_gives_back_its_instance_id() {
        let sku = Sku::parse("TEE-RED-M").unwrap();
        assert_eq!(Inventory::id_from_stream("inventory-TEE-RED-M"), Some(sku));
        assert_eq!(Inventory::id_from_stream("product-TEE-RED-M"), None);
        assert_eq!(Inventory::id_from_stream("inventory-"), None);
        assert_eq!(Order::id_from_stream("order-not-a-uuid"), None);
    }
}
