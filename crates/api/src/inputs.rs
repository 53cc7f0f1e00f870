//! The image-fetching step of task creation (api.md §3, §9): every remote URL of the
//! request goes through the SSRF-guarded client in parallel, the orientation is decided
//! from the fetched pixels, and the bytes are stored under the task's prefix so rendering
//! never fetches again.

use crate::state::AppState;
use crate::upload_refs::{image_from_url, images_from_urls};
use bytes::Bytes;
use peakreel_domain::inputs::request_orientation;
use peakreel_domain::{CreateRequest, Orientation, StoredMedia, TaskInputs};
use peakreel_fetch::{FetchedImage, ImageBody, Target};
use peakreel_store::Owner;
use peakreel_types::{ApiError, Code};

/// Fetched and checked, not yet stored.
pub struct FetchedInputs {
    images: Vec<FetchedImage>,
    logo: Option<FetchedImage>,
}

/// Fetch images, logo and check the webhook URL concurrently. When several fail, the
/// answer is deterministic: images (lowest index first), then the logo, then the webhook.
///
/// Upload references (`upload://upl_…`) of `owner` are read from storage instead of fetched.
pub async fn fetch_inputs(
    state: &AppState,
    owner: &Owner,
    request: &CreateRequest,
) -> Result<FetchedInputs, ApiError> {
    let urls: Vec<String> = request.images.iter().map(|i| i.url.clone()).collect();
    let fetcher = &state.fetcher;
    let images = images_from_urls(state, owner, &urls);
    let logo_url = request
        .elements
        .as_ref()
        .and_then(|e| e.watermark.as_ref())
        .map(|w| w.url.clone());
    let logo = async {
        match &logo_url {
            None => Ok(None),
            Some(url) => {
                let target = Target::field("elements_config.watermark.url", url.clone());
                image_from_url(state, owner, url, &target).await.map(Some)
            }
        }
    };
    let webhook = async {
        match &request.webhook_url {
            None => Ok(()),
            Some(url) => fetcher
                .check_public_url(url)
                .await
                .map(|_| ())
                .map_err(|e| {
                    if e.code() == Code::SsrfBlocked {
                        e.into_api_error(&Target::field("webhook_url", url.clone()))
                    } else {
                        // Not an image: the image-shaped codes would mislead, so this is
                        // a rule of the `webhook_url` field.
                        ApiError::field("webhook_url", format!("cannot be used: {e}"))
                    }
                }),
        }
    };
    let (images, logo, webhook) = tokio::join!(images, logo, webhook);
    let images = images?;
    let logo = logo?;
    webhook?;
    Ok(FetchedInputs { images, logo })
}

impl FetchedInputs {
    /// The images' bodies, in request order.
    pub fn image_bodies(&self) -> Vec<ImageBody> {
        self.images.iter().map(|i| i.body.clone()).collect()
    }

    /// The output orientation these images give (`MIXED_ORIENTATIONS` when they cannot).
    pub fn orientation(&self, request: &CreateRequest) -> Result<Orientation, ApiError> {
        let sizes: Vec<(u32, u32)> = self.images.iter().map(|i| i.info.display_size()).collect();
        request_orientation(request, &sizes)
    }

    /// Decide the orientation (may refuse with `MIXED_ORIENTATIONS`) and store the bytes
    /// under `tasks/{task_id}/input/`. On a storage failure the caller deletes the prefix.
    pub async fn store(
        self,
        state: &AppState,
        request: &CreateRequest,
        task_id: &str,
    ) -> Result<TaskInputs, ApiError> {
        let orientation = self.orientation(request)?;
        let mut stored = Vec::with_capacity(self.images.len());
        for (i, image) in self.images.into_iter().enumerate() {
            stored.push(put(state, format!("tasks/{task_id}/input/{i:02}"), image).await?);
        }
        let logo = match self.logo {
            Some(image) => Some(put(state, format!("tasks/{task_id}/input/logo"), image).await?),
            None => None,
        };
        Ok(TaskInputs {
            orientation,
            images: stored,
            logo,
        })
    }
}

async fn put(state: &AppState, stem: String, image: FetchedImage) -> Result<StoredMedia, ApiError> {
    let ext = image.info.format.extension();
    let key = format!("{stem}.{ext}");
    let (width, height) = image.info.display_size();
    // A spooled body is copied from its file in chunks, never read whole into memory.
    let stored = match &image.body {
        ImageBody::Memory(bytes) => state.blobs.put(&key, Bytes::clone(bytes)).await,
        ImageBody::Spooled(file) => state.blobs.put_file(&key, file.path()).await,
    };
    stored.map_err(|e| {
        crate::error::with_cause(
            ApiError::service(),
            format_args!("could not store a task input: {e}"),
        )
    })?;
    Ok(StoredMedia {
        key,
        format: ext.to_string(),
        width,
        height,
    })
}
