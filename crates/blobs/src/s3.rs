//! The S3 backend: object_store's `AmazonS3`, configured the way the AWS tools are, by the
//! standard `AWS_*` environment variables (credentials, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`, `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`, …) on top of PeakReel's own
//! timeouts and retry budget.

use crate::BlobError;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use std::time::Duration;

/// The bucket's client. Every `AWS_*` variable object_store knows is applied after these
/// defaults, so an operator can still override them (for example `AWS_TIMEOUT`): first
/// the process environment's, then `vars` (same names).
pub(crate) fn build(
    bucket: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<AmazonS3, BlobError> {
    // reqwest is built without a default crypto provider (see Cargo.toml); the tree's
    // other TLS clients name theirs explicitly, so installing ring here changes nothing
    // for them. An earlier install (a second bucket in one process) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        // No limit on a whole request: a proxied download streams at the client's pace.
        // A stalled connection is caught by the read timeout instead, which restarts
        // with every chunk received.
        .with_timeout_disabled()
        .with_read_timeout(Duration::from_secs(120));
    // A few quick retries ride out a hiccup; a store that is down is reported within
    // seconds (to `/health`, to a worker that then retries the task) instead of after
    // object_store's default three minutes.
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
    };
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client)
        .with_retry(retry);
    for (name, value) in std::env::vars().chain(vars) {
        if !name.starts_with("AWS_") {
            continue;
        }
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    builder
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| BlobError::Backend(crate::describe(&e)))
}
