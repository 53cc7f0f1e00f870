//! A path parameter that never rejects: axum's `Path<String>` answers a segment that is
//! not UTF-8 with a plain-text 400, outside the error envelope. This keeps the raw
//! segment (decoded lossily), so each route answers with its own documented "not
//! found" code instead.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParam(value)),
            Err(_) => {
                let raw = parts.uri.path().rsplit('/').next().unwrap_or("");
                let bytes: Vec<u8> = url::form_urlencoded::parse(format!("v={raw}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned().into_bytes())
                    .unwrap_or_default();
                Ok(PathParam(String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }
}
