//! Delivers webhook events (api.md §11). Each delivery is a job in the queue, created in
//! the same transaction that ended its task, so a crash never loses an event; the sender
//! claims it with a lease, POSTs the signed event, records the attempt, and schedules the
//! next one or gives up, all fenced by the lease. A delivery never changes its task.

use anyhow::{anyhow, Result};
use bytes::Bytes;
use peakreel_blobs::UrlSigner;
use peakreel_fetch::SafeClient;
use peakreel_store::{Job, NewAttempt, NextStep, Store, WEBHOOK_JOB};
use peakreel_webhooks::{deliver, Event, Schedule};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct WebhookSender {
    pub store: Arc<dyn Store>,
    pub client: SafeClient,
    pub signer: Arc<UrlSigner>,
    pub link_ttl_secs: i64,
    pub schedule: Schedule,
    pub poll_interval: Duration,
    pub shutdown: watch::Receiver<bool>,
}

/// Longer than the 30 s delivery timeout, so a live attempt never loses its lease.
const LEASE_SECS: i64 = 90;

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl WebhookSender {
    pub async fn run(self: Arc<Self>, name: String) {
        let mut shutdown = self.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.store.claim(&[WEBHOOK_JOB], &name, LEASE_SECS).await {
                Ok(Some(job)) => {
                    if let Err(e) = self.process(job).await {
                        tracing::error!(error = %format!("{e:#}"), "webhook delivery failed to run");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "webhook claim failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn process(&self, job: Job) -> Result<()> {
        let lease = job
            .lease()
            .ok_or_else(|| anyhow!("claimed job without a lease"))?;
        let delivery_id = job
            .payload
            .get("delivery_id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("webhook job {} has no delivery id", job.id))?
            .to_string();
        let delivery = self
            .store
            .delivery(&delivery_id)
            .await?
            .ok_or_else(|| anyhow!("delivery {delivery_id} is missing"))?;
        let task = self
            .store
            .task_by_id(&delivery.task_id)
            .await?
            .ok_or_else(|| anyhow!("task {} is missing", delivery.task_id))?;
        let secret = self.store.webhook_secret(&task.key_id).await?;
        let now = unix_now();
        let give_up = |error: String| NewAttempt {
            delivery_id: delivery_id.clone(),
            attempted_at: now,
            status_code: None,
            latency_ms: None,
            response_body: None,
            error: Some(error),
        };
        let (Some(url), Some(secret)) = (task.webhook_url.clone(), secret) else {
            self.store
                .record_attempt(
                    &lease,
                    give_up("the task has no webhook URL or its key is gone".into()),
                    NextStep::GiveUp,
                )
                .await?;
            return Ok(());
        };
        // A link that cannot be minted right now (the bucket's credentials) fails this
        // claim, not the delivery: the job's lease runs out and it is tried again.
        let body = peakreel_api::views::event_body(
            &self.signer,
            self.link_ttl_secs,
            &delivery.event,
            &task,
        )
        .await?;
        let body = Bytes::from(serde_json::to_vec(&body)?);
        let result = deliver(
            &self.client,
            Event {
                url: &url,
                event: &delivery.event,
                delivery_id: &delivery_id,
                secret: &secret,
                body,
            },
            now,
        )
        .await;
        let next = if result.succeeded() {
            NextStep::Succeeded
        } else {
            let first = delivery.first_attempt_at.unwrap_or(now);
            match self
                .schedule
                .next_attempt(first, job.attempt, unix_now(), result.retry_after)
            {
                Some(at) => NextStep::RetryAt(at),
                None => NextStep::GiveUp,
            }
        };
        tracing::info!(
            delivery_id = %delivery_id,
            task_id = %task.id,
            attempt = job.attempt,
            status = result.status,
            outcome = ?next,
            "webhook attempt"
        );
        let attempt = NewAttempt {
            delivery_id: delivery_id.clone(),
            attempted_at: now,
            status_code: result.status,
            latency_ms: result.latency.map(|l| l.as_millis() as i64),
            response_body: result.body_prefix,
            error: result.error,
        };
        if !self.store.record_attempt(&lease, attempt, next).await? {
            tracing::warn!(delivery_id = %delivery_id, "lease lost; attempt not recorded");
        }
        Ok(())
    }
}
