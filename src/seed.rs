//! The public catalogue every server starts with: voices (api.md §5) and avatars with
//! generated placeholder portraits written into storage.

use crate::voices::CATALOGUE_CREATED_AT;
use anyhow::Result;
use image::{Rgb, RgbImage};
use peakreel_blobs::Blobs;
use peakreel_domain::voices::PUBLIC_AVATARS;
use peakreel_store::{AvatarRecord, Store, VoiceRecord};

/// Stores the public catalogue: `voices` (see [`crate::voices::catalogue`]) and the
/// avatars.
pub async fn seed_catalog(
    store: &dyn Store,
    blobs: &Blobs,
    voices: Vec<VoiceRecord>,
) -> Result<()> {
    let mut avatars = Vec::new();
    for a in PUBLIC_AVATARS {
        let rel = format!("avatars/public/{}.png", a.avatar_id);
        if !blobs.exists(&rel).await? {
            let mut png = std::io::Cursor::new(Vec::new());
            placeholder_portrait(a.background).write_to(&mut png, image::ImageFormat::Png)?;
            blobs.put(&rel, png.into_inner().into()).await?;
        }
        avatars.push(AvatarRecord {
            id: a.avatar_id.to_string(),
            owner: None,
            name: a.name.to_string(),
            image_path: rel,
            created_at: CATALOGUE_CREATED_AT,
        });
    }
    store.seed_public(voices, avatars).await?;
    Ok(())
}

/// A 512×512 head-and-shoulders silhouette on a soft vertical gradient: the public
/// avatars' placeholder portrait (they have no photo of a person).
pub fn placeholder_portrait(background: [u8; 3]) -> RgbImage {
    const SIZE: u32 = 512;
    let skin = [224.0, 188.0, 160.0];
    let shirt = [
        255.0 - f32::from(background[0]) * 0.5,
        255.0 - f32::from(background[1]) * 0.5,
        255.0 - f32::from(background[2]) * 0.5,
    ];
    RgbImage::from_fn(SIZE, SIZE, |x, y| {
        let (fx, fy) = (x as f32 / SIZE as f32, y as f32 / SIZE as f32);
        let shade = 1.15 - 0.35 * fy;
        let mut px = background.map(|c| (f32::from(c) * shade).min(255.0));
        // Head: an ellipse; shoulders: the top of a wide ellipse at the bottom edge.
        let head = ((fx - 0.5) / 0.17).powi(2) + ((fy - 0.40) / 0.21).powi(2);
        let body = ((fx - 0.5) / 0.40).powi(2) + ((fy - 1.05) / 0.36).powi(2);
        if body <= 1.0 {
            px = shirt;
        }
        if head <= 1.0 {
            px = skin.map(|c| c * (1.0 - 0.12 * head));
        }
        Rgb(px.map(|c| c.clamp(0.0, 255.0) as u8))
    })
}
