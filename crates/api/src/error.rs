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
}

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
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
        tracing::error!(request_id = %current_request_id(), error = %e, "store failure");
        Failure(e.into())
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
    let response = REQUEST_ID
        .scope(id.clone(), async move {
            let response = next.run(req).await;
            if response.status() == StatusCode::METHOD_NOT_ALLOWED
                && response.headers().get(header::CONTENT_TYPE).is_none()
            {
                method_not_allowed(&response)
            } else {
                response
            }
        })
        .await;
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
    tracing::error!(request_id = %current_request_id(), panic = text, "handler panicked");
    error_response(&ApiError::internal())
}
