//! `GET /v1/files/{path}?expires=&signature=` (api.md §7): signed downloads from blob
//! storage (the local directory, or streamed from the bucket when S3 downloads are
//! proxied), no API key needed, with single HTTP ranges so players can seek.

use crate::error::Failure;
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::views::unix_now;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use peakreel_blobs::BlobError;
use peakreel_types::{ApiError, Code};

fn forbidden() -> ApiError {
    ApiError::new(
        Code::Forbidden,
        "This file link is invalid or has expired. Fetch the task again for a fresh link.",
    )
}

fn gone() -> ApiError {
    ApiError::new(
        Code::NotFound,
        "This file no longer exists (it may have passed its retention time).",
    )
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("mp4") => "video/mp4",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("wav") => "audio/wav",
        Some("vtt") => "text/vtt; charset=utf-8",
        Some("srt") => "application/x-subrip; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range, clamped to `size`.
/// `Err(())` means unsatisfiable; `Ok(None)` means "send the whole file".
fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file, which is allowed
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        (a, "") => (a.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (a, b) => (
            a.parse().map_err(|_| ())?,
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1)),
        ),
    };
    if size == 0 || start > end || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[utoipa::path(get, path = "/v1/files/{path}", tag = "files",
    params(
        ("path" = String, Path, description = "storage key from a task result or avatar"),
        ("expires" = i64, Query, description = "unix seconds after which the link is refused"),
        ("signature" = String, Query, description = "lowercase hex HMAC-SHA256 of path and expiry"),
    ),
    responses(
        (status = 200, description = "the file, streamed from storage (the local directory, or the S3 bucket when `file_downloads = \"proxied\"`)", content_type = "application/octet-stream"),
        (status = 206, description = "the requested single byte range, with `Content-Range: bytes {first}-{last}/{size}`"),
        (status = 416, description = "the range starts past the end; `Content-Range: bytes */{size}`"),
        (status = 403, body = crate::openapi::ErrorEnvelope),
        (status = 404, body = crate::openapi::ErrorEnvelope),
    ))]
pub async fn download(
    State(state): State<AppState>,
    PathParam(path): PathParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (mut expires, mut signature) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "expires" => expires = v.parse::<i64>().ok(),
            "signature" => signature = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(expires), Some(signature)) = (expires, signature) else {
        return Err(forbidden().into());
    };
    if !state.signer.verify(&path, expires, &signature, unix_now()) {
        return Err(forbidden().into());
    }
    let storage_error = |e: BlobError| -> Failure {
        match e {
            BlobError::NotFound(_) | BlobError::InvalidKey(_) => gone().into(),
            other => crate::error::with_cause(
                ApiError::service(),
                format_args!("file download failed: {other}"),
            )
            .into(),
        }
    };
    let size = state.blobs.size(&path).await.map_err(storage_error)?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size))
        .unwrap_or(Ok(None));
    // The bytes are streamed from storage as they arrive (local file or bucket), so a
    // download holds one chunk in memory, not the video.
    let (status, first, last) = match range {
        Err(()) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Ok(None) => (StatusCode::OK, 0, size.saturating_sub(1)),
    };
    let length = if size == 0 { 0 } else { last - first + 1 };
    let body = if length == 0 {
        Body::empty()
    } else {
        let stream = state
            .blobs
            .read(&path, Some(first..last + 1))
            .await
            .map_err(storage_error)?;
        Body::from_stream(stream)
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_are_clamped_and_validated() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-200", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=9-3", 100), Err(()));
        assert_eq!(parse_range("items=1-2", 100), Ok(None));
    }
}
