//! `GET /metrics` on the admin listener (api.md §12): Prometheus text with the speech
//! circuit breakers and the queue, for operators. Never on the public listener.

use axum::routing::get;
use axum::Router;
use peakreel_speech::Breakers;
use peakreel_store::Store;
use std::fmt::Write;
use std::sync::Arc;

pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    breakers: Breakers,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let (store, breakers) = (store.clone(), breakers.clone());
            async move { render(store.as_ref(), &breakers).await }
        }),
    );
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(error = %e, "metrics listener failed");
    }
}

async fn render(store: &dyn Store, breakers: &Breakers) -> String {
    let mut out = String::new();
    out.push_str("# HELP peakreel_speech_breaker_state Circuit breaker of each speech engine: 0 closed, 1 half-open, 2 open.\n");
    out.push_str("# TYPE peakreel_speech_breaker_state gauge\n");
    for (engine, state) in breakers.states() {
        let _ = writeln!(
            out,
            "peakreel_speech_breaker_state{{engine=\"{engine}\"}} {}",
            state.as_gauge()
        );
    }
    out.push_str(
        "# HELP peakreel_jobs Jobs in the queue by kind and status.\n# TYPE peakreel_jobs gauge\n",
    );
    match store.job_counts().await {
        Ok(counts) => {
            for (kind, status, n) in counts {
                let _ = writeln!(
                    out,
                    "peakreel_jobs{{kind=\"{kind}\",status=\"{status}\"}} {n}"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "job counts unavailable for metrics"),
    }
    out
}
