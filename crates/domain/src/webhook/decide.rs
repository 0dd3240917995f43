//! The webhook decider: every rule about a subscription.

use super::{
    Webhook, WebhookCommand, WebhookError, WebhookEvent, MAX_EVENT_TYPES, REASON_MAX_CHARS, STREAM_PREFIX_MAX_CHARS,
    URL_MAX_CHARS,
};

/// Accepts a webhook command with the events it causes, or refuses it with the rule it breaks.
pub fn decide(state: &Webhook, command: WebhookCommand) -> Result<Vec<WebhookEvent>, WebhookError> {
    let Some(details) = state.details() else {
        return match command {
            WebhookCommand::Subscribe { webhook_id, url, event_types, stream_prefix } => {
                let url = valid_url(&url)?;
                let event_types = valid_event_types(event_types)?;
                let stream_prefix = stream_prefix.map(|prefix| valid_stream_prefix(&prefix)).transpose()?;
                Ok(vec![WebhookEvent::WebhookSubscribed { webhook_id, url, event_types, stream_prefix }])
            }
            _ => Err(WebhookError::NotSubscribed),
        };
    };
    Ok(match command {
        WebhookCommand::Subscribe { webhook_id, .. } => return Err(WebhookError::AlreadySubscribed { webhook_id }),
        WebhookCommand::Delete if details.deleted => Vec::new(),
        _ if details.deleted => return Err(WebhookError::Deleted),
        WebhookCommand::RotateSecret => vec![WebhookEvent::WebhookSecretRotated {}],
        WebhookCommand::Pause { .. } if details.paused.is_some() => Vec::new(),
        WebhookCommand::Pause { reason } => vec![WebhookEvent::WebhookPaused { reason: valid_reason(&reason)? }],
        WebhookCommand::Resume if details.paused.is_none() => Vec::new(),
        WebhookCommand::Resume => vec![WebhookEvent::WebhookResumed {}],
        WebhookCommand::Replay { after } => vec![WebhookEvent::WebhookReplayRequested { after }],
        WebhookCommand::Delete => vec![WebhookEvent::WebhookDeleted {}],
    })
}

fn valid_url(url: &str) -> Result<String, WebhookError> {
    let url = url.trim();
    let fits = (1..=URL_MAX_CHARS).contains(&url.chars().count());
    if !fits || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebhookError::InvalidUrl { max: URL_MAX_CHARS });
    }
    Ok(url.to_owned())
}

fn valid_event_types(event_types: Vec<String>) -> Result<Vec<String>, WebhookError> {
    if event_types.len() > MAX_EVENT_TYPES {
        return Err(WebhookError::TooManyEventTypes { max: MAX_EVENT_TYPES });
    }
    let mut seen = Vec::with_capacity(event_types.len());
    for event_type in event_types {
        let name = (1..=64).contains(&event_type.len()) && event_type.bytes().all(|b| b.is_ascii_alphanumeric());
        if !name {
            return Err(WebhookError::InvalidEventType(event_type));
        }
        if seen.contains(&event_type) {
            return Err(WebhookError::DuplicateEventType(event_type));
        }
        seen.push(event_type);
    }
    Ok(seen)
}

fn valid_stream_prefix(prefix: &str) -> Result<String, WebhookError> {
    let fits = (1..=STREAM_PREFIX_MAX_CHARS).contains(&prefix.chars().count());
    if !fits || prefix.chars().any(char::is_control) {
        return Err(WebhookError::InvalidStreamPrefix { max: STREAM_PREFIX_MAX_CHARS });
    }
    Ok(prefix.to_owned())
}

fn valid_reason(reason: &str) -> Result<String, WebhookError> {
    let reason = reason.trim();
    if !(1..=REASON_MAX_CHARS).contains(&reason.chars().count()) {
        return Err(WebhookError::InvalidReason { max: REASON_MAX_CHARS });
    }
    Ok(reason.to_owned())
}
