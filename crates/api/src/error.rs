//! Turning an `ApiError` into the wire envelope (errors.md), with the request id of the
//! request being answered. The id lives in a task-local set by the request-id middleware,
//! so any code that builds a response inside a request can reach it.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use peakreel_types::{ApiError, Code};
use serde_json::json;

tokio::task_local! {
    static REQUEST_ID: String;
    /// Why the request failed on the server's side, for the one log line every 5xx gets.
    static CAUSE: std::cell::RefCell<Vec<String>>;
}

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Remember why the current request is failing on the server's side; the request-id
/// layer logs it with the request id on the line of the 5xx answer. The client sees only
/// the generic message of `err` (errors.md: 5xx bodies never show internals).
pub fn with_cause(err: ApiError, cause: impl std::fmt::Display) -> ApiError {
    record_cause(cause);
    err
}

/// Remember why the current request answers a 5xx that is not an `ApiError` (`/health`).
pub fn record_cause(cause: impl std::fmt::Display) {
    let cause = cause.to_string();
    let _ = CAUSE.try_with(|c| c.borrow_mut().push(cause));
}

/// Run `fut` on a task of its own, within the current request's id and cause log, and
/// wait for it. When the caller is dropped (the client went away) `fut` still runs to
/// its end; only its answer is lost.
///
/// Errors: `fut` panicked.
pub async fn run_detached<F>(fut: F) -> Result<F::Output, tokio::task::JoinError>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let scoped = REQUEST_ID.scope(
        current_request_id(),
        CAUSE.scope(Default::default(), async move {
            let out = fut.await;
            (out, CAUSE.with(|c| c.take()))
        }),
    );
    let (out, causes) = tokio::spawn(scoped).await?;
    for cause in causes {
        record_cause(cause);
    }
    Ok(out)
}

/// The error a handler returns.
#[derive(Debug)]
pub struct Failure(pub ApiError);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(e)
    }
}

impl From<peakreel_store::StoreError> for Failure {
    fn from(e: peakreel_store::StoreError) -> Self {
        let cause = format!("store failure: {e}");
        Failure(with_cause(e.into(), cause))
    }
}

/// Storage failing under a request (a link that cannot be presigned, a bucket that does
/// not answer): 503 `SERVICE_ERROR`, the cause logged under the request id.
impl From<peakreel_blobs::BlobError> for Failure {
    fn from(e: peakreel_blobs::BlobError) -> Self {
        tracing::error!(request_id = %current_request_id(), error = %e, "storage failure");
        Failure(ApiError::service())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

pub fn error_response(err: &ApiError) -> Response {
    let request_id = current_request_id();
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({ "error": err.body(Some(&request_id)) });
    let mut response = (status, Json(body)).into_response();
    // The layer names the code in its log line for a 5xx.
    response.extensions_mut().insert(err.code);
    let headers = response.headers_mut();
    if let Some(seconds) = err.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if !err.allow.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&err.allow.join(", ")) {
            headers.insert(header::ALLOW, v);
        }
    }
    response
}

/// Mint a request id for every request (a client's `X-Request-Id` is logged, never
/// trusted), answer with it in `X-Request-Id`, and put 405 answers from the router into
/// the error envelope.
pub async fn request_id_layer(req: Request, next: Next) -> Response {
    let id = peakreel_types::ids::new_request_id();
    let client_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect::<String>());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let (response, causes) = REQUEST_ID
        .scope(
            id.clone(),
            CAUSE.scope(Default::default(), async move {
                let response = next.run(req).await;
                let response = if response.status() == StatusCode::METHOD_NOT_ALLOWED
                    && response.headers().get(header::CONTENT_TYPE).is_none()
                {
                    method_not_allowed(&response)
                } else {
                    response
                };
                (response, CAUSE.with(|c| c.take()))
            }),
        )
        .await;
    if response.status().is_server_error() {
        let code = response
            .extensions()
            .get::<Code>()
            .map_or("", |c| c.as_str());
        let cause = if causes.is_empty() {
            "no cause recorded".to_string()
        } else {
            causes.join("; ")
        };
        tracing::error!(
            request_id = %id,
            %method,
            %path,
            status = response.status().as_u16(),
            code = %code,
            cause = %cause,
            "server-side failure"
        );
    }
    tracing::info!(
        request_id = %id,
        client_request_id = client_id.as_deref().unwrap_or(""),
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    let mut response = response;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

fn method_not_allowed(router_response: &Response) -> Response {
    let allowed: Vec<String> = router_response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut err = ApiError::new(
        Code::MethodNotAllowed,
        format!(
            "This route does not support that method. Allowed: {}.",
            allowed.join(", ")
        ),
    )
    .with_details(json!({ "allowed": allowed }));
    err.allow = allowed;
    error_response(&err)
}

/// Router fallback: an unknown route.
pub async fn not_found() -> Failure {
    Failure(ApiError::new(
        Code::NotFound,
        "No route matches this path. See /openapi.json for the routes this server offers.",
    ))
}

/// A panic in a handler becomes an `INTERNAL_ERROR` envelope; the panic text is logged only.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic");
    error_response(&with_cause(
        ApiError::internal(),
        format_args!("handler panicked: {text}"),
    ))
}
