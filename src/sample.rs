//! The test-mode sample (api.md §6): a short watermarked video rendered once per
//! orientation by the real renderer from generated stills, so test keys exercise the
//! whole lifecycle without spending a render on their inputs.

use anyhow::Result;
use peakreel_domain::request::Orientation as WireOrientation;
use peakreel_media::{
    render, FontFamily, Mode, Position, Profile, RenderEnv, RenderJob, RenderOutput, TextOverlay,
    VoiceProfile,
};
use std::time::Duration;

pub struct Sample {
    pub output: RenderOutput,
    /// Keeps the files alive until the caller has stored them.
    _dir: tempfile::TempDir,
}

const SCRIPT: &str = "This is a PeakReel sample video. Test keys receive it instead of a render. \
Use a live key to render your own listing.";

pub async fn render_sample(env: &RenderEnv, orientation: WireOrientation) -> Result<Sample> {
    let dir = tempfile::Builder::new()
        .prefix("peakreel-sample-")
        .tempdir()?;
    let (w, h) = match orientation {
        WireOrientation::Landscape => (960, 540),
        WireOrientation::Portrait => (540, 960),
    };
    let palette: [[u8; 3]; 3] = [[70, 110, 160], [160, 120, 80], [90, 140, 100]];
    let mut images = Vec::new();
    for (i, colour) in palette.iter().enumerate() {
        let path = dir.path().join(format!("still{i}.png"));
        still(w, h, *colour).save(&path)?;
        images.push(path);
    }
    let job = RenderJob {
        kind: peakreel_media::RenderKind::Slideshow,
        room_hints: Vec::new(),
        images,
        script: SCRIPT.to_string(),
        voice: VoiceProfile::espeak("en-us+f3"),
        orientation: crate::job::orientation(orientation),
        mode: Mode::Sequential,
        subtitle: None,
        watermark: None,
        text: Some(TextOverlay {
            content: "SAMPLE - test mode".into(),
            color: [255, 255, 255],
            font: FontFamily::Inter,
            size_px: 96,
            position: Position::Center,
        }),
        avatar: None,
        music: false,
        seed: 7,
        profile: Profile::Test,
        time_limit: Duration::from_secs(300),
        output: dir.path().join("sample.mp4"),
        cover: dir.path().join("sample.jpg"),
    };
    let output = render(&job, env, &|_, _| {}).await?;
    Ok(Sample { output, _dir: dir })
}

/// A soft diagonal gradient with a lighter band, so motion is visible in the sample.
fn still(w: u32, h: u32, base: [u8; 3]) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let t = (x as f32 / w as f32 + y as f32 / h as f32) / 2.0;
        let band = if (x / 40 + y / 40) % 6 == 0 {
            30.0
        } else {
            0.0
        };
        image::Rgb(base.map(|c| (f32::from(c) * (0.6 + 0.6 * t) + band).min(255.0) as u8))
    })
}
