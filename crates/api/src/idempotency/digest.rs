//! SHA-256 of a request body as it streams past, never holding it: the handler reads the
//! body as before (an upload of 25 MiB is buffered once, by the handler), and the digest
//! is complete only if the handler read it to its end.

use axum::body::{Body, BodyDataStream, Bytes};
use futures_util::{Stream, StreamExt};
use peakreel_store::RecordedRequest;
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

/// The digest of a body being read elsewhere.
#[derive(Default)]
pub struct BodyDigest(Mutex<State>);

#[derive(Default)]
struct State {
    hasher: Sha256,
    len: u64,
    /// Set once the body ended without an error.
    done: Option<RecordedRequest>,
}

impl BodyDigest {
    /// `body` with every chunk also fed to the returned digest.
    pub fn wrap(body: Body) -> (Body, Arc<BodyDigest>) {
        let digest = Arc::new(BodyDigest::default());
        let stream = Hashing {
            inner: body.into_data_stream(),
            digest: digest.clone(),
        };
        (Body::from_stream(stream), digest)
    }

    /// Hash and length of the whole body; `None` unless it was read to its end.
    pub fn finished(&self) -> Option<RecordedRequest> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .done
            .clone()
    }
}

struct Hashing {
    inner: BodyDataStream,
    digest: Arc<BodyDigest>,
}

impl Stream for Hashing {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.inner.poll_next_unpin(cx));
        let mut state = self.digest.0.lock().unwrap_or_else(|p| p.into_inner());
        match &item {
            Some(Ok(chunk)) => {
                state.hasher.update(chunk);
                state.len += chunk.len() as u64;
            }
            // A body that failed part-way has no digest.
            Some(Err(_)) => state.len = u64::MAX,
            None if state.len != u64::MAX && state.done.is_none() => {
                let hasher = std::mem::take(&mut state.hasher);
                state.done = Some(RecordedRequest {
                    body_sha256: hasher.finalize().into(),
                    body_len: state.len,
                });
            }
            None => {}
        }
        Poll::Ready(item)
    }
}

/// Whether `body` is exactly the body `recorded` describes, reading at most
/// `recorded.body_len + 1` bytes (a longer body differs whatever follows).
///
/// Errors: the body could not be read (the client went away).
pub async fn same_body(body: Body, recorded: &RecordedRequest) -> Result<bool, axum::Error> {
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut len: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        len += chunk.len() as u64;
        if len > recorded.body_len {
            return Ok(false);
        }
        hasher.update(&chunk);
    }
    let sha: [u8; 32] = hasher.finalize().into();
    Ok(len == recorded.body_len && sha == recorded.body_sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn digest_of_a_body_read_whole_matches_sha256_of_its_bytes() {
        let (body, digest) = BodyDigest::wrap(chunked(&[b"hello ", b"", b"world"]));
        assert_eq!(digest.finished(), None);
        let bytes = axum::body::to_bytes(body, 1024).await.unwrap();
        assert_eq!(&bytes[..], b"hello world");
        let done = digest.finished().expect("read to its end");
        assert_eq!(done.body_len, 11);
        let expected: [u8; 32] = Sha256::digest(b"hello world").into();
        assert_eq!(done.body_sha256, expected);
        assert!(same_body(chunked(&[b"hello", b" world"]), &done)
            .await
            .unwrap());
        assert!(!same_body(chunked(&[b"hello world!"]), &done).await.unwrap());
        assert!(!same_body(chunked(&[b"hello"]), &done).await.unwrap());
        assert!(!same_body(chunked(&[b"HELLO WORLD"]), &done).await.unwrap());
    }

    #[tokio::test]
    async fn a_body_not_read_to_its_end_has_no_digest() {
        let (body, digest) = BodyDigest::wrap(chunked(&[b"0123456789", b"0123456789"]));
        // The JSON reader gives up past its limit.
        assert!(axum::body::to_bytes(body, 12).await.is_err());
        assert_eq!(digest.finished(), None);
        let (body, digest) = BodyDigest::wrap(chunked(&[b"abc"]));
        drop(body);
        assert_eq!(digest.finished(), None);
    }
}
