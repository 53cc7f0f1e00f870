//! `GET /v1/files/{path}?expires=&signature=` (api.md §7): signed downloads from the local
//! storage directory, no API key needed.

use crate::error::Failure;
use crate::state::AppState;
use crate::views::unix_now;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use peakreel_types::{ApiError, Code};

fn forbidden() -> ApiError {
    ApiError::new(
        Code::Forbidden,
        "This file link is invalid or has expired. Fetch the task again for a fresh link.",
    )
}

pub async fn download(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
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
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || !state.signer.verify(&path, expires, &signature, unix_now())
    {
        return Err(forbidden().into());
    }
    let bytes = match tokio::fs::read(state.config.media_dir.join(&path)).await {
        Ok(b) => b,
        Err(_) => {
            return Err(ApiError::new(
                Code::NotFound,
                "This file no longer exists (it may have passed its retention time).",
            )
            .into())
        }
    };
    let content_type = match path.rsplit('.').next() {
        Some("mp4") => "video/mp4",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("wav") => "audio/wav",
        _ => "application/octet-stream",
    };
    let mut response = Body::from(bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
