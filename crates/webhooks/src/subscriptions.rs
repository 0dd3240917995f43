//! [`Subscriptions`]: every webhook subscription, read from the log's `webhook-` streams, in memory on every node.
//!
//! The log is the truth about subscriptions (who made which, where it points, whether it is paused or deleted);
//! this is a cache of it, as the API key registry is of the keys. The API lists and reads subscriptions from it
//! (read up to the log's head first, so a change made through any node shows at once), the supervisor starts and
//! stops one sender per active subscription from it, and a sender asks it, before every batch, whether its
//! subscription is still active and which events it wants. Subscriptions are few, so holding them all is cheap.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tally_domain::{Aggregate, Webhook, WebhookDetails, WebhookEvent, WebhookId};
use tally_store::{read_to_head, EventStore, LogFilter, RecordedEvent, StoreError};
use tracing::warn;

/// A subscription as the log tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: WebhookId,
    /// The URL, filters, pause and deletion, as the domain folds them.
    pub details: WebhookDetails,
    /// The global position of its `WebhookSubscribed` event: deliveries start after it.
    pub subscribed_position: u64,
    pub created_at: DateTime<Utc>,
    /// The actor that subscribed (`apikey-{uuid}`, `cli`).
    pub created_by: Option<String>,
    /// When and by whom it was last paused, while it is.
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_by: Option<String>,
    /// The version of its stream (for `ETag`).
    pub version: u64,
    /// The latest replay asked for.
    pub replay: Option<ReplayRequest>,
}

/// A replay asked for: deliver again every wanted event after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRequest {
    /// The position of the `WebhookReplayRequested` event (a sender carries out each request once).
    pub position: u64,
    pub after: u64,
}

impl Subscription {
    /// Neither paused nor deleted: its sender runs.
    pub fn is_active(&self) -> bool {
        self.details.paused.is_none() && !self.details.deleted
    }
}

#[derive(Debug, Default)]
struct Known {
    /// The log has been read up to here.
    position: u64,
    by_id: BTreeMap<WebhookId, Subscription>,
}

/// Every subscription, on this node (see the module doc). Cheap to clone.
#[derive(Clone)]
pub struct Subscriptions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    known: RwLock<Known>,
    /// Held while reading the log, so two refreshes do not apply the same events twice.
    reading: tokio::sync::Mutex<()>,
}

impl Subscriptions {
    /// An empty cache over `store`; it fills on the first refresh.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Subscriptions {
            inner: Arc::new(Inner {
                store,
                known: RwLock::new(Known::default()),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Reads the webhook events after what this cache has read.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let _reading = self.inner.reading.lock().await;
        let filter = LogFilter::stream_prefix(Webhook::STREAM_PREFIX);
        let after = self.position();
        let slice = read_to_head(&*self.inner.store, after, &filter).await?;
        let mut known = self.inner.known.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in &slice.events {
            known.apply(event);
        }
        known.position = known.position.max(slice.last_position);
        Ok(())
    }

    /// How far this cache has read the log.
    pub fn position(&self) -> u64 {
        self.read().position
    }

    /// Every subscription that is not deleted, by id (oldest first: ids are UUIDv7), as last read.
    pub fn current(&self) -> Vec<Subscription> {
        self.read().by_id.values().filter(|subscription| !subscription.details.deleted).cloned().collect()
    }

    /// Every subscription this node knows, deleted ones included.
    pub fn all(&self) -> Vec<Subscription> {
        self.read().by_id.values().cloned().collect()
    }

    /// One subscription (deleted or not), as last read.
    pub fn get(&self, id: WebhookId) -> Option<Subscription> {
        self.read().by_id.get(&id).cloned()
    }

    /// Whether the subscription is active (neither paused nor deleted), as last read.
    pub fn is_active(&self, id: WebhookId) -> bool {
        self.read().by_id.get(&id).is_some_and(Subscription::is_active)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        // Every critical section leaves the cache consistent, so poison is harmless.
        self.inner.known.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Known {
    /// Applies one webhook event (events that do not decode are skipped: they were not written by Tally).
    fn apply(&mut self, event: &RecordedEvent) {
        let Some(id) = Webhook::id_from_stream(&event.stream_id) else { return };
        let Ok(decoded) = serde_json::from_value::<WebhookEvent>(event.data.clone()) else {
            warn!(position = event.position, "a webhook event does not decode; skipped");
            return;
        };
        let actor = event.metadata.actor.clone();
        let state = match self.by_id.get(&id) {
            Some(known) => Webhook::Subscribed(known.details.clone()),
            None => Webhook::Unsubscribed,
        };
        let Some(details) = Webhook::evolve(state, &decoded).details().cloned() else { return };
        let subscription = self.by_id.entry(id).or_insert_with(|| Subscription {
            id,
            details: details.clone(),
            subscribed_position: event.position,
            created_at: event.recorded_at,
            created_by: actor.clone(),
            paused_at: None,
            paused_by: None,
            version: event.stream_version,
            replay: None,
        });
        subscription.details = details;
        subscription.version = event.stream_version;
        match decoded {
            WebhookEvent::WebhookPaused { .. } => {
                subscription.paused_at = Some(event.recorded_at);
                subscription.paused_by = actor;
            }
            WebhookEvent::WebhookResumed {} => {
                subscription.paused_at = None;
                subscription.paused_by = None;
            }
            WebhookEvent::WebhookReplayRequested { after } => {
                subscription.replay = Some(ReplayRequest { position: event.position, after });
            }
            _ => {}
        }
    }
}
