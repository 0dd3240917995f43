//! The webhook evolve: applies a recorded webhook event to the subscription's state. Checks nothing, never fails.

use super::{Webhook, WebhookDetails, WebhookEvent};

/// Applies one recorded fact. An event that cannot follow the current state (which `decide` never produces) leaves
/// the state as it is.
pub fn evolve(state: Webhook, event: &WebhookEvent) -> Webhook {
    match (state, event) {
        (Webhook::Unsubscribed, WebhookEvent::WebhookSubscribed { webhook_id, url, event_types, stream_prefix }) => {
            Webhook::Subscribed(WebhookDetails {
                webhook_id: *webhook_id,
                url: url.clone(),
                event_types: event_types.clone(),
                stream_prefix: stream_prefix.clone(),
                paused: None,
                deleted: false,
                rotations: 0,
            })
        }
        (Webhook::Subscribed(details), event) => Webhook::Subscribed(match event {
            WebhookEvent::WebhookSubscribed { .. } | WebhookEvent::WebhookReplayRequested { .. } => details,
            WebhookEvent::WebhookSecretRotated {} => {
                WebhookDetails { rotations: details.rotations.saturating_add(1), ..details }
            }
            WebhookEvent::WebhookPaused { reason } => WebhookDetails { paused: Some(reason.clone()), ..details },
            WebhookEvent::WebhookResumed {} => WebhookDetails { paused: None, ..details },
            WebhookEvent::WebhookDeleted {} => WebhookDetails { deleted: true, ..details },
        }),
        (state, _) => state,
    }
}
