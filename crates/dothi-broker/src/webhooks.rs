//! Delivery of alert events to webhooks (issue 4, item 6): the worker that empties the durable
//! outbox `alert_webhook_deliveries` (filled by `dothi_store::alerts` in the same transaction as
//! each alert event).
//!
//! Each delivery is a `POST` of `{"event", "event_id", "alert"}` signed with the webhook's
//! secret: `X-Dothi-Signature: sha256=<hex HMAC-SHA256 of the body>`. A delivery leaves the
//! outbox only when the receiver answers 2xx; otherwise it is retried with exponential backoff
//! (5 s, 10 s, 20 s, … capped at 30 minutes) for as long as the webhook exists, and the
//! webhook's `last_error` shows why. The worker itself never stops: an error is logged and the
//! loop goes on. Receivers should treat `X-Dothi-Delivery` (the event id) as an idempotency key,
//! since a crash between the receiver's answer and the outbox update sends the event again.

use std::time::Duration;

use dothi_store::alerts::DueDelivery;
use dothi_store::{Store, StoreError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Deliveries attempted per round (concurrently).
const ROUND: i64 = 32;
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the worker sleeps before looking at the outbox again.
const POLL: Duration = Duration::from_millis(500);
const FIRST_RETRY_MS: i64 = 5_000;
const MAX_RETRY_MS: i64 = 30 * 60 * 1000;

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // Invariant: HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex_lower(&mac.finalize().into_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The delay before attempt `attempts + 1`.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exponent = attempts.clamp(0, 20) as u32;
    FIRST_RETRY_MS
        .saturating_mul(1_i64 << exponent)
        .min(MAX_RETRY_MS)
}

#[derive(Clone)]
pub struct WebhookWorker {
    store: Store,
    client: reqwest::Client,
}

impl WebhookWorker {
    pub fn new(store: Store) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        WebhookWorker { store, client }
    }

    /// Attempts every delivery due at `now_ms` once; returns how many the receivers took.
    pub async fn deliver_due(&self, now_ms: i64) -> Result<usize, StoreError> {
        let mut delivered = 0;
        loop {
            let due = self.store.alert_deliveries_due(now_ms, ROUND).await?;
            let n = due.len();
            let mut set = tokio::task::JoinSet::new();
            for delivery in due {
                let worker = self.clone();
                set.spawn(async move {
                    let outcome = worker.attempt(&delivery).await;
                    (delivery, outcome)
                });
            }
            while let Some(joined) = set.join_next().await {
                let Ok((delivery, outcome)) = joined else {
                    continue;
                };
                let now = crate::now_ms();
                match outcome {
                    Ok(()) => {
                        self.store.alert_delivery_done(&delivery, now).await?;
                        delivered += 1;
                    }
                    Err(error) => {
                        let next = now + backoff_ms(delivery.attempts);
                        tracing::warn!(
                            webhook = delivery.webhook_id,
                            event = delivery.event_id,
                            attempts = delivery.attempts + 1,
                            %error,
                            "alert webhook delivery failed; will retry"
                        );
                        self.store
                            .alert_delivery_failed(&delivery, next, &error, now)
                            .await?;
                    }
                }
            }
            if n < ROUND as usize {
                return Ok(delivered);
            }
        }
    }

    async fn attempt(&self, delivery: &DueDelivery) -> Result<(), String> {
        let body = serde_json::json!({
            "event": delivery.kind,
            "event_id": delivery.event_id,
            "alert": delivery.alert,
        })
        .to_string();
        let response = self
            .client
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("x-dothi-event", &delivery.kind)
            .header("x-dothi-delivery", delivery.event_id.to_string())
            .header(
                "x-dothi-signature",
                signature(&delivery.secret, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", response.status()))
        }
    }

    /// Runs until the process ends.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.deliver_due(crate::now_ms()).await {
                tracing::warn!(error = %e, "alert webhooks: outbox unavailable; retrying");
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
