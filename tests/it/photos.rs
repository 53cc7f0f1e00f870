//! Photos as users send them, over HTTP (issue 13, parts 2 and 3): an animated WebP is
//! accepted, charged once and rendered from its first frame; a WebP whose EXIF says
//! "rotate" is judged by its shown orientation at creation, as it is rendered.

use crate::launcher::{Launch, Site};
use crate::living_support::{duration, mean_rgb};
use image::{Rgb, RgbImage};
use peakreel_testkit::odd_images::{animated_webp, webp_with_exif};
use peakreel_testkit::Reply;
use serde_json::json;
use std::time::Duration;

fn webp(body: Vec<u8>) -> Reply {
    Reply::Full {
        status: 200,
        content_type: "image/webp",
        body: body.into(),
    }
}

#[tokio::test]
async fn photos_animated_webp_renders_its_first_frame_once() {
    let c = Site::new().await;
    let red = RgbImage::from_pixel(640, 360, Rgb([220, 30, 30]));
    let green = RgbImage::from_pixel(640, 360, Rgb([30, 200, 30]));
    c.images()
        .route("/odd/anim.webp", webp(animated_webp(&[red, green])));
    let acct = c.account("Max", 100).await;
    let api = c
        .launch(Launch::serve(1).env("PEAKREEL_RENDER_PROFILE", "test"))
        .await;
    let mut body = c.shortest_slideshow();
    body["images"][0] = json!(c.images().url("/odd/anim.webp"));
    let (id, created) = api.create(&acct.live.key, &body).await;
    assert_eq!(created["credits_charged"], 5, "{created}");
    let t = api
        .wait_done(&acct.live.key, &id, Duration::from_secs(300))
        .await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(
        c.render_job(&id).await,
        "1|done",
        "rendered at the first attempt"
    );
    assert_eq!(c.ledger_of(&id).await, "charge|-5");

    let dir = tempfile::tempdir().unwrap();
    let video = api.download(&t, dir.path()).await;
    let sheet = peakreel_testkit::contact_sheet(&video, "http_animated_webp");
    eprintln!("contact sheet: {}", sheet.display());
    // Sequential: the first sixth of the video is the animation's first frame, red.
    let t0 = duration(&video) / 12.0;
    let m = mean_rgb(&video, t0);
    assert!(
        (m[0] - 220.0).abs() < 35.0 && m[1] < 70.0 && m[2] < 70.0,
        "first scene at {t0:.2}s is {m:?}, expected the first frame's red"
    );
}

/// Without `orientation`, the output follows the first image as shown: a WebP stored
/// landscape with EXIF orientation 6 is a portrait photo, and the video is portrait.
#[tokio::test]
async fn photos_webp_orientation_decides_the_video_orientation() {
    let c = Site::new().await;
    let stored = RgbImage::from_pixel(400, 300, Rgb([120, 120, 120]));
    c.images()
        .route("/odd/sideways.webp", webp(webp_with_exif(&stored, 6)));
    let acct = c.account("Max", 100).await;
    let api = c.launch(Launch::serve(0)).await;
    let mut body = c.shortest_slideshow();
    let mut urls = vec![c.images().url("/odd/sideways.webp")];
    urls.extend(c.image_urls(5));
    body["images"] = json!(urls);
    // The other five are landscape photos: mixed, so the request names the rule.
    let r = api
        .post(crate::support::SLIDESHOW, &acct.live.key, &body)
        .await;
    let err = crate::support::assert_error(&r, 400, "MIXED_ORIENTATIONS");
    assert_eq!(
        err["orientations"][0], "portrait",
        "the sideways WebP is judged as shown: {err}"
    );
}
