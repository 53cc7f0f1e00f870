//! Image URLs that may be upload references (`upload://upl_…`, Extension): a reference is
//! read from the blob store when it belongs to the caller's account and key mode and has
//! not expired; anything else goes through the SSRF-guarded fetcher as before. A
//! reference the caller may not use is `IMAGE_INACCESSIBLE`, the same answer for
//! "missing", "another account's", "the other mode's" and "expired but not yet swept",
//! so ids of other accounts cannot be probed.

use crate::routes::uploads::upload_info;
use crate::state::AppState;
use futures_util::StreamExt;
use peakreel_domain::upload_ref::{parse_upload_ref, UploadRef};
use peakreel_fetch::{FetchedImage, ImageBody, Target, Url};
use peakreel_store::Owner;
use peakreel_types::{ApiError, Code};
use serde_json::{json, Map, Value};

/// One image: the stored upload for a reference, else the fetched URL.
pub async fn image_from_url(
    state: &AppState,
    owner: &Owner,
    url: &str,
    target: &Target,
) -> Result<FetchedImage, ApiError> {
    match parse_upload_ref(url) {
        UploadRef::Upload(id) => load_upload(state, owner, id, target).await,
        // Syntax was checked by the request parser; a malformed reference cannot reach
        // here, but if it did it is an unusable URL, not something to fetch.
        UploadRef::Malformed => Err(inaccessible(target, "upload_not_found")),
        UploadRef::NotUpload => state
            .fetcher
            .fetch_image(url)
            .await
            .map_err(|e| e.into_api_error(target)),
    }
}

/// The `images` array: remote URLs are fetched together (as `fetch_images` does),
/// references are read from storage; the error of the lowest failing index answers.
pub async fn images_from_urls(
    state: &AppState,
    owner: &Owner,
    urls: &[String],
) -> Result<Vec<FetchedImage>, ApiError> {
    let remote: Vec<usize> = (0..urls.len())
        .filter(|&i| parse_upload_ref(&urls[i]) == UploadRef::NotUpload)
        .collect();
    let remote_urls: Vec<String> = remote.iter().map(|&i| urls[i].clone()).collect();
    let fetched = async {
        if remote_urls.is_empty() {
            return Ok(Vec::new());
        }
        state.fetcher.fetch_images(&remote_urls).await
    };
    let uploads = async {
        let mut out = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            if !remote.contains(&i) {
                out.push((
                    i,
                    image_from_url(state, owner, url, &Target::image(i, url)).await,
                ));
            }
        }
        out
    };
    let (fetched, uploads) = tokio::join!(fetched, uploads);

    let mut slots: Vec<Option<FetchedImage>> = vec![None; urls.len()];
    let mut first_error: Option<(usize, ApiError)> = None;
    let mut keep_lowest = |index: usize, err: ApiError| {
        if first_error.as_ref().is_none_or(|(i, _)| index < *i) {
            first_error = Some((index, err));
        }
    };
    match fetched {
        Ok(images) => {
            for (image, &i) in images.into_iter().zip(&remote) {
                slots[i] = Some(image);
            }
        }
        Err((k, e)) => {
            let i = remote[k];
            keep_lowest(i, e.into_api_error(&Target::image(i, urls[i].clone())));
        }
    }
    for (i, result) in uploads {
        match result {
            Ok(image) => slots[i] = Some(image),
            Err(e) => keep_lowest(i, e),
        }
    }
    if let Some((_, err)) = first_error {
        return Err(err);
    }
    Ok(slots.into_iter().flatten().collect())
}

async fn load_upload(
    state: &AppState,
    owner: &Owner,
    id: &str,
    target: &Target,
) -> Result<FetchedImage, ApiError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let record = state.store.get_upload(id).await.map_err(|e| {
        tracing::error!(error = %e, "could not read an upload");
        ApiError::service()
    })?;
    let Some(record) = record.filter(|r| &r.owner == owner) else {
        return Err(inaccessible(target, "upload_not_found"));
    };
    if record.expires_at <= now {
        return Err(inaccessible(target, "upload_expired"));
    }
    let body = match spool_upload(state, &record.blob_key).await {
        Ok(body) => body,
        // Swept between the row read and the blob read.
        Err(UploadRead::Blob(peakreel_blobs::BlobError::NotFound(_))) => {
            return Err(inaccessible(target, "upload_expired"))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read an upload's bytes");
            return Err(ApiError::service());
        }
    };
    // The bytes were fully checked when they were uploaded; the stored facts stand.
    let info = upload_info(&record).ok_or_else(ApiError::internal)?;
    let final_url = Url::parse(&target.url).map_err(|_| ApiError::internal())?;
    Ok(FetchedImage {
        body,
        info,
        final_url,
    })
}

/// Why a stored upload could not be read back.
#[derive(Debug)]
enum UploadRead {
    Blob(peakreel_blobs::BlobError),
    Spool(std::io::Error),
}

impl std::fmt::Display for UploadRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadRead::Blob(e) => write!(f, "storage: {e}"),
            UploadRead::Spool(e) => write!(f, "spool file: {e}"),
        }
    }
}

/// Streams a stored upload into a spooled file, as a fetched image's body is: a request
/// naming fifteen 25 MiB uploads holds none of them in memory.
async fn spool_upload(state: &AppState, blob_key: &str) -> Result<ImageBody, UploadRead> {
    let mut chunks = state
        .blobs
        .read(blob_key, None)
        .await
        .map_err(UploadRead::Blob)?;
    let mut spool = state.fetcher.spool_writer().map_err(UploadRead::Spool)?;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(UploadRead::Blob)?;
        spool.write(&chunk).await.map_err(UploadRead::Spool)?;
    }
    spool.finish().await.map_err(UploadRead::Spool)
}

/// `IMAGE_INACCESSIBLE` with the details shape of a fetched URL (errors.md), naming the
/// image by its index or the field by its name.
fn inaccessible(target: &Target, reason: &str) -> ApiError {
    let mut d = Map::new();
    match target.index {
        Some(i) => d.insert("index".into(), json!(i)),
        None => d.insert("field".into(), json!(target.field)),
    };
    d.insert("url".into(), json!(target.url));
    d.insert("reason".into(), json!(reason));
    let why = if reason == "upload_expired" {
        "has expired"
    } else {
        "does not exist for this account and key mode"
    };
    ApiError::new(
        Code::ImageInaccessible,
        format!(
            "`{}` names an upload that {why}. Upload the image again with POST /v1/uploads, using a key of the same account and mode.",
            target.field
        ),
    )
    .with_details(Value::Object(d))
}
