//! What a task carries to the workers besides its request: the fetched media as stored
//! blobs, and the output orientation decided from them (api.md §3 **Decision**).

use crate::request::{CreateRequest, Orientation};
use peakreel_types::{ApiError, Code};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMedia {
    /// Key in blob storage.
    pub key: String,
    /// File extension: `jpg`, `png` or `webp`.
    pub format: String,
    /// Displayed size (after any EXIF rotation).
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInputs {
    pub orientation: Orientation,
    pub images: Vec<StoredMedia>,
    pub logo: Option<StoredMedia>,
}

/// Everything a worker needs to render a task; stored as the task's request JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub request: CreateRequest,
    pub inputs: TaskInputs,
}

/// Orientation of one image; `None` for squares (aspect within 1 ± 0.05), which match either.
pub fn image_orientation(width: u32, height: u32) -> Option<Orientation> {
    if width == 0 || height == 0 {
        return None;
    }
    let aspect = f64::from(width) / f64::from(height);
    if (0.95..=1.05).contains(&aspect) {
        None
    } else if aspect > 1.0 {
        Some(Orientation::Landscape)
    } else {
        Some(Orientation::Portrait)
    }
}

/// The output orientation: the requested one (any mix of images is then cropped to it),
/// else the first non-square image's, refusing a set that mixes portrait and landscape.
pub fn resolve_orientation(
    requested: Option<Orientation>,
    sizes: &[(u32, u32)],
) -> Result<Orientation, ApiError> {
    if let Some(o) = requested {
        return Ok(o);
    }
    let each: Vec<Option<Orientation>> = sizes
        .iter()
        .map(|&(w, h)| image_orientation(w, h))
        .collect();
    let has = |o| each.contains(&Some(o));
    if has(Orientation::Landscape) && has(Orientation::Portrait) {
        let names: Vec<&str> = each
            .iter()
            .map(|o| o.map_or("square", |o| o.as_str()))
            .collect();
        return Err(ApiError::new(
            Code::MixedOrientations,
            "The images mix portrait and landscape. Pass `orientation` (landscape or portrait) and they will be cropped to it.",
        )
        .with_details(json!({ "orientations": names })));
    }
    // "From the first image": squares match either, so the first decided one rules.
    Ok(each
        .into_iter()
        .flatten()
        .next()
        .unwrap_or(Orientation::Landscape))
}

/// [`resolve_orientation`] for a request: the legacy slideshow route has no
/// `orientation` field, so its refusal says to send photos of one orientation instead.
pub fn request_orientation(
    req: &CreateRequest,
    sizes: &[(u32, u32)],
) -> Result<Orientation, ApiError> {
    resolve_orientation(req.orientation, sizes).map_err(|mut e| {
        if req.kind == crate::RequestKind::Slideshow {
            e.message = "The images mix portrait and landscape. Send photos of one orientation (this route has no `orientation` field; /v1/real-estate/narrated-slideshow has).".into();
        }
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_follows_the_images_unless_given() {
        use Orientation::*;
        assert_eq!(
            resolve_orientation(None, &[(1000, 680), (1024, 576)]).unwrap(),
            Landscape
        );
        assert_eq!(
            resolve_orientation(None, &[(540, 960), (500, 500)]).unwrap(),
            Portrait
        );
        assert_eq!(
            resolve_orientation(None, &[(500, 500), (520, 500)]).unwrap(),
            Landscape,
            "undecidable"
        );
        assert_eq!(
            resolve_orientation(None, &[(500, 500), (540, 960)]).unwrap(),
            Portrait,
            "squares match either"
        );
        let err = resolve_orientation(None, &[(1000, 680), (500, 500), (540, 960)]).unwrap_err();
        assert_eq!(err.code, Code::MixedOrientations);
        assert_eq!(
            err.details.unwrap()["orientations"],
            json!(["landscape", "square", "portrait"])
        );
        assert_eq!(
            resolve_orientation(Some(Portrait), &[(1000, 680), (540, 960)]).unwrap(),
            Portrait
        );
    }
}
