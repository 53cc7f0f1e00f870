//! Cross-process wake-ups: a dedicated connection `LISTEN`s on `peakreel_jobs` (the jobs
//! table's triggers `NOTIFY` it with the kind of every job queued or re-queued) and wakes
//! idle workers of this process. Polling stays the fallback: a lost listener reconnects
//! and meanwhile costs at most one poll interval of latency.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

pub(crate) const CHANNEL: &str = "peakreel_jobs";

/// Run until aborted: listen, forward, and reconnect after a failure.
pub(crate) async fn forward_notifications(
    config: tokio_postgres::Config,
    kind: &'static str,
    wake: Arc<Notify>,
) {
    let mut failures = 0u32;
    loop {
        match listen_once(&config, kind, &wake).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                // Logged once per outage, not once per retry.
                if failures == 1 {
                    tracing::warn!(error = %super::error::text(&e),
                        "job notifications from PostgreSQL lost; workers poll until the listener reconnects");
                }
            }
        }
        // Work may have been queued while nobody listened.
        wake.notify_one();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    kind: &str,
    wake: &Notify,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection object must be polled for the client's queries to progress and
    // is where notifications arrive.
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message? {
                AsyncMessage::Notification(n) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                _ => continue,
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    while let Some(payload) = rx.recv().await {
        if payload == kind {
            wake.notify_one();
        }
    }
    drop(client);
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
