//! The deliverer task: polls the outbox and sends each due delivery in its own task with its own
//! timeout, so a failing channel delays only itself; a failure is retried with exponential backoff until
//! `max_attempts`, and every attempt is recorded.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tianshu_model::Timestamp;

use tianshu_store::Store;
use tianshu_store::rules::{Delivery, DeliveryOutcome};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::support::metrics;
use crate::config::AlertsConfig;
use crate::notify::{SendError, post_json, send_email};
use tianshu_store::channels::ChannelKind;

/// At most this many deliveries are in flight at once.
const MAX_IN_FLIGHT: usize = 64;

pub(super) async fn deliver_loop(store: Store, config: Arc<AlertsConfig>, mut stop: watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let poll = Duration::from_millis(config.outbox_poll_ms.max(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
        let busy = in_flight.lock().map(|s| s.len()).unwrap_or(MAX_IN_FLIGHT);
        if busy >= MAX_IN_FLIGHT {
            continue;
        }
        let due = match store
            .cases()
            .due_deliveries(Timestamp::now(), (MAX_IN_FLIGHT - busy) as u32)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "reading the outbox failed");
                continue;
            }
        };
        for d in due {
            let fresh = in_flight.lock().map(|mut s| s.insert(d.id)).unwrap_or(false);
            if !fresh {
                continue;
            }
            let (store, config, in_flight) = (store.clone(), config.clone(), in_flight.clone());
            tokio::spawn(async move {
                deliver_one(&store, &config, &d).await;
                if let Ok(mut s) = in_flight.lock() {
                    s.remove(&d.id);
                }
            });
        }
    }
}

/// Sends `d` to the stored channel `id` as it is now: one deleted or disabled meanwhile is given up at
/// once (`Err` with `true`), a failure to read it retried.
async fn send_stored(
    store: &Store,
    config: &AlertsConfig,
    id: i64,
    d: &Delivery,
) -> Result<(), (SendError, bool)> {
    let channel = match store.channels().get(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err((SendError(format!("channel {id} was deleted")), true)),
        Err(e) => return Err((SendError(format!("reading channel {id}: {e}")), false)),
    };
    let f = &channel.fields;
    if !f.enabled {
        return Err((SendError(format!("channel {:?} is disabled", f.name)), true));
    }
    let sent = match (f.kind, &f.url, &config.notifications.email) {
        (ChannelKind::Webhook, Some(url), _) => {
            post_json(url, &d.payload, Duration::from_secs(STORED_WEBHOOK_TIMEOUT_SECS)).await
        }
        (ChannelKind::Webhook, None, _) => Err(SendError(format!("webhook {:?} has no url", f.name))),
        (ChannelKind::Email, _, Some(email)) => {
            let address = f.address.as_deref().unwrap_or(&d.recipient);
            let timeout = Duration::from_secs(email.timeout_secs + 5);
            match tokio::time::timeout(timeout, send_email(email, address, &d.payload)).await {
                Ok(r) => r,
                Err(_) => Err(SendError("SMTP timed out".into())),
            }
        }
        (ChannelKind::Email, _, None) => Err(SendError(
            "no SMTP server is configured ([alerts.notifications.email])".into(),
        )),
    };
    sent.map_err(|e| (e, false))
}

/// How long a stored webhook's attempt may take. Seconds.
const STORED_WEBHOOK_TIMEOUT_SECS: u64 = 10;

async fn deliver_one(store: &Store, config: &AlertsConfig, d: &Delivery) {
    let stored = d
        .channel
        .strip_prefix("channel:")
        .and_then(|id| id.parse::<i64>().ok());
    let kind = if d.channel.starts_with("webhook") {
        "webhook"
    } else if stored.is_some() {
        "stored"
    } else {
        d.channel.as_str()
    };
    let mut give_up = false;
    let result = if let Some(id) = stored {
        send_stored(store, config, id, d).await.map_err(|(e, last)| {
            give_up = last;
            e
        })
    } else if let Some(name) = d.channel.strip_prefix("webhook:") {
        match config.notifications.webhooks.iter().find(|w| w.name == name) {
            Some(w) => match w.resolve_url() {
                Some(url) => post_json(&url, &d.payload, Duration::from_secs(w.timeout_secs)).await,
                None => Err(crate::notify::SendError(format!(
                    "webhook {name:?} has no url (or its url_env is unset)"
                ))),
            },
            None => Err(crate::notify::SendError(format!(
                "webhook {name:?} is no longer configured"
            ))),
        }
    } else if d.channel == "email" {
        match &config.notifications.email {
            Some(email) => {
                let timeout = Duration::from_secs(email.timeout_secs + 5);
                match tokio::time::timeout(timeout, send_email(email, &d.recipient, &d.payload)).await {
                    Ok(r) => r,
                    Err(_) => Err(crate::notify::SendError("SMTP timed out".into())),
                }
            }
            None => Err(crate::notify::SendError("e-mail is no longer configured".into())),
        }
    } else {
        Err(crate::notify::SendError(format!(
            "unknown channel {:?}",
            d.channel
        )))
    };
    let t = Timestamp::now();
    let attempts = d.attempts + 1;
    let outcome = match result {
        Ok(()) => {
            info!(delivery = d.id, case = ?d.case_id, complaint = ?d.complaint_id, channel = %d.channel, attempts, "notification delivered");
            DeliveryOutcome::Sent
        }
        Err(e) if give_up || attempts >= config.notifications.retry.max_attempts => {
            error!(delivery = d.id, case = ?d.case_id, complaint = ?d.complaint_id, channel = %d.channel, attempts, error = %e, "notification given up");
            DeliveryOutcome::Failed { error: e.0 }
        }
        Err(e) => {
            let next = t.add_millis(config.notifications.retry.backoff_ms(attempts));
            warn!(delivery = d.id, case = ?d.case_id, complaint = ?d.complaint_id, channel = %d.channel, attempts, next = %next, error = %e, "notification failed; will retry");
            DeliveryOutcome::Retry {
                error: e.0,
                next_attempt: next,
            }
        }
    };
    let label = match &outcome {
        DeliveryOutcome::Sent => "sent",
        DeliveryOutcome::Retry { .. } => "retry",
        DeliveryOutcome::Failed { .. } => "failed",
    };
    metrics().deliveries.with_label_values(&[kind, label]).inc();
    if let Err(e) = store.cases().delivery_attempted(d.id, &outcome, t).await {
        warn!(delivery = d.id, error = %e, "recording a delivery attempt failed; it will be attempted again");
    }
}
