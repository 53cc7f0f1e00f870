//! Strict JSON bodies at the edge (design.md principle 2): content type, size limit, then
//! the bytes go to the domain parser, which maps syntax errors to `INVALID_JSON`.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use peakreel_types::{ApiError, Code, FieldError};
use serde_json::json;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub async fn read_json_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::validation(vec![FieldError::new(
            "Content-Type",
            "the request must be sent with the header Content-Type: application/json",
        )]));
    }
    let declared_too_big = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    let too_big = || {
        ApiError::new(
            Code::ValidationError,
            format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        )
        .with_details(json!({
            "limit_bytes": MAX_BODY_BYTES,
            "errors": [{ "field": "body", "message": format!("must be at most {MAX_BODY_BYTES} bytes") }]
        }))
    };
    if declared_too_big {
        return Err(too_big());
    }
    // to_bytes stops reading as soon as the limit is passed, so a huge chunked body is
    // never buffered.
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_big())
}
