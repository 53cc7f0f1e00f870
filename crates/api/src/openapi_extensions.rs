//! The OpenAPI part of PeakReel's own additions made for the console (uploads, the
//! storyboard dry run, the credit ledger), merged into the main document by
//! [`crate::openapi::document`]. Kept apart so the compatible routes' document is unchanged.

#![allow(dead_code)] // schema types exist for the document only

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// An uploaded image (`POST /v1/uploads`).
#[derive(Serialize, ToSchema)]
pub struct UploadView {
    /// `upl_` + 24 alphanumerics.
    upload_id: String,
    /// `upload://{upload_id}`: pass it wherever a request takes an image URL (`images[].url`
    /// or `image_urls[]`, `elements_config.watermark.url`, the avatar `image_url`).
    url: String,
    /// Pixels as the image is shown (after its EXIF rotation).
    width: u32,
    height: u32,
    /// `landscape`, `portrait` or `square` (aspect within 1 ± 0.05).
    orientation: String,
    /// `jpg`, `png` or `webp`, judged by the bytes.
    format: String,
    size_bytes: u64,
    created_at: String,
    /// After this the reference is refused with `IMAGE_INACCESSIBLE` (`reason: upload_expired`).
    expires_at: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(crate::routes::uploads::create_upload),
    components(schemas(UploadView))
)]
pub struct ExtensionsDoc;
