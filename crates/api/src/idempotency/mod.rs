//! Idempotent creation (Extension; Stripe's `Idempotency-Key` convention), as one layer
//! in front of every route that creates something ([`CREATING_ROUTES`]).
//!
//! A request without the header is untouched. With it, after authentication (and the
//! rate limit and plan gate, which the `Caller` extractor applies once, here) the key is
//! reserved as a database row scoped to the API key:
//! - free (or expired, or left by a crashed request): the request runs; its answer is
//!   recorded unless it is a 429 or 5xx, or the handler did not read the body to its
//!   end, in which case the key is released so a retry runs again;
//! - answered: the same method, path and body (SHA-256 of the raw bytes) get the
//!   recorded answer again (`Idempotent-Replayed: true`); anything else is
//!   `400 IDEMPOTENCY_KEY_REUSED`;
//! - still running: `409 IDEMPOTENCY_REQUEST_IN_PROGRESS` with `Retry-After`.
//!
//! The request runs on its own task, so a client that gives up (a time-out, then a retry)
//! does not cancel a creation half-way: it finishes, and its answer waits for the retry.

mod digest;
mod key;
mod record;

use crate::auth::Caller;
use crate::error::{current_request_id, error_response, run_detached, with_cause, Failure};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{request::Parts, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use digest::BodyDigest;
use peakreel_store::{Begin, CompletedRequest, IdempotencyScope, Reservation};
use peakreel_types::{ApiError, Code};
use serde_json::json;

pub use key::{HEADER_NAME, MAX_LEN, PATTERN};
pub use record::REPLAYED_HEADER;

/// Every route that creates something, all `POST`: the layer acts on these only, and the
/// OpenAPI document declares the header on exactly these.
pub const CREATING_ROUTES: &[&str] = &[
    "/v1/real-estate/narrated-slideshow",
    "/v1/real-estate/living-property",
    "/v1/real-estate/slideshow",
    "/v1/voices",
    "/v1/avatars",
    "/v1/uploads",
];

/// Seconds a client told the request is still running waits before asking again.
pub const IN_PROGRESS_RETRY_AFTER_SECS: u64 = 2;

/// How long keys are remembered (`[idempotency]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencySettings {
    /// A key and its answer are remembered this long after the first request (24 h).
    pub ttl_secs: i64,
    /// A reservation without an answer after this long is from a crashed process and
    /// is taken over by the next request with the key (5 minutes: longer than any
    /// creation takes, image fetches included).
    pub stale_after_secs: i64,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        IdempotencySettings {
            ttl_secs: 86_400,
            stale_after_secs: 300,
        }
    }
}

/// The layer (`axum::middleware::from_fn_with_state`).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let creating = req.method() == Method::POST && CREATING_ROUTES.contains(&req.uri().path());
    if !creating || !req.headers().contains_key(key::HEADER) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(failure) => return failure.into_response(),
    };
    let key_id = caller.key.id.clone();
    // The handler's own `Caller` extractor takes this one, so the rate limit counts the
    // request once.
    parts.extensions.insert(caller);
    let idempotency_key = match key::from_headers(&parts.headers) {
        Ok(Some(k)) => k,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(err) => return error_response(&err),
    };
    let scope = IdempotencyScope {
        key_id,
        idempotency_key,
    };
    let token = peakreel_types::ids::random_alphanumeric(24);
    let settings = state.config.idempotency;
    let reservation = Reservation {
        scope: scope.clone(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        token: token.clone(),
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
        ttl_secs: settings.ttl_secs,
        stale_after_secs: settings.stale_after_secs,
    };
    match state.store.begin_idempotent(reservation).await {
        Err(e) => Failure::from(e).into_response(),
        Ok(Begin::InFlight { .. }) => error_response(&in_progress(&scope)),
        Ok(Begin::Completed(done)) => replay_if_same(done, &parts, body, &scope).await,
        Ok(Begin::Reserved { taken_over }) => {
            if taken_over {
                tracing::warn!(
                    request_id = %current_request_id(),
                    key_id = %scope.key_id,
                    "idempotency key taken over from a request that never answered"
                );
            }
            let req = Request::from_parts(parts, body);
            run_detached(run_and_record(state, scope, token, req, next))
                .await
                .unwrap_or_else(|e| {
                    error_response(&with_cause(ApiError::internal(), format_args!("{e}")))
                })
        }
    }
}

/// Run the request holding the key, then record its answer or release the key.
async fn run_and_record(
    state: AppState,
    scope: IdempotencyScope,
    token: String,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let (body, digest) = BodyDigest::wrap(body);
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    let request = digest.finished();
    let Some(request) = request.filter(|_| record::is_recorded(status)) else {
        release(&state, &scope, &token).await;
        return response;
    };
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            release(&state, &scope, &token).await;
            return error_response(&with_cause(
                ApiError::internal(),
                format_args!("reading the answer to record it: {e}"),
            ));
        }
    };
    let recorded = record::to_record(status, &parts.headers, bytes.to_vec());
    match state
        .store
        .complete_idempotent(&scope, &token, request, recorded)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            request_id = %current_request_id(),
            "idempotency key was taken over before this request answered; answer not recorded"
        ),
        // The creation happened: answer it. The reservation stays until it is taken over.
        Err(e) => tracing::error!(
            request_id = %current_request_id(),
            error = %e,
            "could not record the answer under its idempotency key"
        ),
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn release(state: &AppState, scope: &IdempotencyScope, token: &str) {
    if let Err(e) = state.store.release_idempotent(scope, token).await {
        // Not fatal: the reservation is taken over once it is stale.
        tracing::error!(request_id = %current_request_id(), error = %e, "could not release an idempotency key");
    }
}

/// The recorded answer when this request is the one that produced it, else the refusal.
async fn replay_if_same(
    done: CompletedRequest,
    parts: &Parts,
    body: axum::body::Body,
    scope: &IdempotencyScope,
) -> Response {
    let same_route = done.method == parts.method.as_str() && done.path == parts.uri.path();
    let same = same_route
        && match digest::same_body(body, &done.request).await {
            Ok(same) => same,
            Err(_) => {
                return error_response(&ApiError::field(
                    "body",
                    "could not be read whole; send the request again",
                ))
            }
        };
    if same {
        record::replay(&done.response)
    } else {
        error_response(&reused(scope))
    }
}

fn reused(scope: &IdempotencyScope) -> ApiError {
    ApiError::new(
        Code::IdempotencyKeyReused,
        format!(
            "The Idempotency-Key `{}` was already used with a different request (body, method or path). Use a new key for a new request.",
            scope.idempotency_key
        ),
    )
    .with_details(json!({ "idempotency_key": scope.idempotency_key }))
}

fn in_progress(scope: &IdempotencyScope) -> ApiError {
    ApiError::new(
        Code::IdempotencyRequestInProgress,
        format!(
            "A request with the Idempotency-Key `{}` is still being processed. Retry after {IN_PROGRESS_RETRY_AFTER_SECS} s to get its answer.",
            scope.idempotency_key
        ),
    )
    .with_details(json!({ "idempotency_key": scope.idempotency_key }))
    .with_retry_after(IN_PROGRESS_RETRY_AFTER_SECS)
}
