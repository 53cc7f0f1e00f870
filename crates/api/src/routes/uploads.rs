//! `POST /v1/uploads` (Extension): store one image for later use as `upload://upl_…`
//! wherever a request takes an image URL. The bytes get exactly the checks a fetched
//! image gets; the per-account storage quota is checked before storing (fail fast) and
//! again, exactly, in the insert's transaction.

use crate::auth::Caller;
use crate::error::{current_request_id, Failure};
use crate::state::AppState;
use crate::upload_body::read_upload_body;
use crate::views::rfc3339;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use peakreel_domain::inputs::image_orientation;
use peakreel_domain::upload_ref::upload_url;
use peakreel_fetch::{ImageFormat, ImageInfo, Target};
use peakreel_store::{InsertUploadError, UploadRecord};
use peakreel_types::{ApiError, Code};
use serde_json::{json, Value};

#[utoipa::path(post, path = "/v1/uploads", tag = "uploads",
    request_body(content = Vec<u8>, description = "One JPEG, PNG or WebP image (at most 25 MiB and 100 megapixels): the raw body, or the multipart/form-data part `file`.",
        content_type = "application/octet-stream"),
    responses((status = 201, body = crate::openapi_extensions::UploadView),
        (status = 400, description = "VALIDATION_ERROR (empty, too large, malformed multipart) or IMAGE_PROCESSING_FAILED", body = crate::openapi::ErrorEnvelope),
        (status = 403, description = "UPLOAD_QUOTA_EXCEEDED", body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let limit = usize::try_from(state.fetcher.policy().max_bytes).unwrap_or(usize::MAX);
    let bytes = read_upload_body(&headers, body, limit).await?;
    let info = state
        .fetcher
        .inspect_bytes(bytes.clone())
        .await
        .map_err(|e| e.into_api_error(&Target::field("file", "")))?;

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let limits = &state.config.uploads;
    let size_bytes = bytes.len() as u64;
    let used = state
        .store
        .upload_bytes_used(&caller.account.id, now)
        .await?;
    if used.saturating_add(size_bytes) > limits.quota_bytes {
        return Err(quota_exceeded(limits.quota_bytes, used, size_bytes).into());
    }

    let id = peakreel_types::ids::new_upload_id();
    let ext = info.format.extension();
    // One folder per upload: the blob store deletes by prefix, so the folder is what a
    // refusal here and the expiry sweep remove.
    let prefix = format!("uploads/{}/{id}", caller.account.id);
    let blob_key = format!("{prefix}/image.{ext}");
    state.blobs.put(&blob_key, bytes).await.map_err(|e| {
        tracing::error!(request_id = %current_request_id(), error = %e, "could not store an upload");
        ApiError::service()
    })?;
    let record = UploadRecord {
        id: id.clone(),
        owner: caller.owner(),
        blob_key: blob_key.clone(),
        format: ext.to_string(),
        width: info.width,
        height: info.height,
        exif_orientation: info.exif_orientation,
        size_bytes,
        created_at: now,
        expires_at: now + limits.ttl_secs,
    };
    if let Err(err) = state
        .store
        .insert_upload(record.clone(), limits.quota_bytes)
        .await
    {
        // Nothing refers to the bytes: remove them so a refusal keeps no storage.
        if let Err(e) = state.blobs.delete_prefix(&prefix).await {
            tracing::error!(request_id = %current_request_id(), error = %e, "could not remove a refused upload");
        }
        return Err(match err {
            InsertUploadError::Quota {
                quota_bytes,
                used_bytes,
            } => quota_exceeded(quota_bytes, used_bytes, size_bytes).into(),
            InsertUploadError::Store(e) => e.into(),
        });
    }
    Ok((StatusCode::CREATED, Json(upload_view(&record))))
}

/// The wire shape of an upload (`openapi::UploadView`).
fn upload_view(u: &UploadRecord) -> Value {
    let (width, height) = upload_info(u).map_or((u.width, u.height), |i| i.display_size());
    let orientation = match image_orientation(width, height) {
        Some(o) => json!(o),
        None => json!("square"),
    };
    json!({
        "upload_id": u.id,
        "url": upload_url(&u.id),
        "width": width,
        "height": height,
        "orientation": orientation,
        "format": u.format,
        "size_bytes": u.size_bytes,
        "created_at": rfc3339(u.created_at),
        "expires_at": rfc3339(u.expires_at),
    })
}

fn quota_exceeded(quota_bytes: u64, used_bytes: u64, size_bytes: u64) -> ApiError {
    ApiError::new(
        Code::UploadQuotaExceeded,
        format!(
            "This upload ({size_bytes} bytes) would pass the account's upload quota: {used_bytes} of {quota_bytes} bytes are in use. Wait for older uploads to expire, or use smaller images."
        ),
    )
    .with_details(json!({ "quota_bytes": quota_bytes, "used_bytes": used_bytes, "size_bytes": size_bytes }))
}

/// The checked image facts an upload row keeps (`None` for a format this build does not
/// know, which the upload route never stores).
pub fn upload_info(u: &UploadRecord) -> Option<ImageInfo> {
    Some(ImageInfo {
        format: ImageFormat::from_extension(&u.format)?,
        width: u.width,
        height: u.height,
        exif_orientation: u.exif_orientation,
        // Not kept with the upload: the decode path takes the first frame of an animated
        // image either way, so nothing downstream depends on knowing.
        animated: false,
    })
}
