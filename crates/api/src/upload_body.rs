//! Reading the image of `POST /v1/uploads`: either the raw body (any `Content-Type`
//! except multipart, e.g. `image/jpeg` or `application/octet-stream`) or a
//! `multipart/form-data` body with exactly one file part named `file`. The body is read
//! under its own limit (the fetched-image limit plus room for multipart headers), never
//! the 1 MiB JSON limit, and a larger one is abandoned as soon as it passes the limit.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use peakreel_types::{ApiError, Code, FieldError};
use serde_json::json;

/// Multipart boundaries and part headers: generous, and still bounded.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The image bytes, at most `limit` of them.
pub async fn read_upload_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let boundary = multer::parse_boundary(content_type).ok();
    let envelope = if boundary.is_some() {
        limit + MULTIPART_OVERHEAD
    } else {
        limit
    };
    if declared.is_some_and(|n| n > envelope) {
        return Err(too_large(limit));
    }
    let raw = axum::body::to_bytes(body, envelope)
        .await
        .map_err(|_| too_large(limit))?;
    let bytes = match boundary {
        Some(boundary) => one_file_part(raw, boundary, limit).await?,
        None => raw,
    };
    if bytes.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "file",
            "is empty: send the image as the body, or as the multipart part `file`",
        )]));
    }
    if bytes.len() > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

async fn one_file_part(raw: Bytes, boundary: String, limit: usize) -> Result<Bytes, ApiError> {
    let malformed = |e: multer::Error| {
        ApiError::validation(vec![FieldError::new(
            "body",
            format!("is not a readable multipart/form-data body ({e})"),
        )])
    };
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(raw) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        if field.name() != Some("file") {
            let name = field.name().unwrap_or("").to_string();
            return Err(ApiError::validation(vec![FieldError::new(
                name,
                "is not a field of this route; send one part named `file`",
            )]));
        }
        if file.is_some() {
            return Err(ApiError::validation(vec![FieldError::new(
                "file",
                "was sent more than once; upload one image per request",
            )]));
        }
        let bytes = field.bytes().await.map_err(malformed)?;
        if bytes.len() > limit {
            return Err(too_large(limit));
        }
        file = Some(bytes);
    }
    file.ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "file",
            "is missing: send the image as the multipart part `file`",
        )])
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        Code::ValidationError,
        format!("The image is larger than {limit} bytes; use a smaller file."),
    )
    .with_details(json!({
        "limit_bytes": limit,
        "errors": [{ "field": "file", "message": format!("must be at most {limit} bytes") }]
    }))
}
