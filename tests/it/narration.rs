//! Narration and rooms over HTTP (issue 13 §1) for a living property, whose photos come
//! with the user's `room_type`s: the storyboard dry run reports them as each scene's
//! room (the room hints the render plans with), and the rendered video keeps the user's
//! order even when the script names the rooms in another — a living property is one
//! camera move per photo, in the order given (api.md §8.3), so the narration does not
//! reorder it. (Narrated slideshows take no room types; their rooms come from the photo
//! labeller.)

use crate::living_support::*;
use crate::support::{LIVING, VOICE};
use serde_json::json;
use std::time::Duration;

/// Photos 1, 2 and 3 of the suite's listing: kitchen, bedroom, bathroom.
const ROOM_TYPES: [&str; 3] = ["kitchen", "bedroom", "bathroom"];

/// Names the bathroom, the kitchen and the bedroom, in that order.
const SCRIPT: &str = "The bathroom has a deep tub and a walk in shower for slow mornings. \
    The kitchen offers generous counters and a long island for breakfast. \
    Upstairs, the bedroom is calm and quiet with soft morning light.";

/// 48×27 RGB thumbnail of `bytes`' photo, cropped to 16:9 around its centre as the
/// render frames it.
fn thumb(bytes: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(bytes).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let (cw, ch) = if w * 9 > h * 16 {
        (h * 16 / 9, h)
    } else {
        (w, w * 9 / 16)
    };
    let crop = image::imageops::crop_imm(&img, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image();
    image::imageops::resize(&crop, 48, 27, image::imageops::FilterType::Triangle).into_raw()
}

#[tokio::test]
async fn living_room_types_reach_the_plan_and_the_users_order_is_kept() {
    let (s, _) = start_living(false).await;
    let key = s.account("Max", 100).await.live.key;
    let images: Vec<_> = ROOM_TYPES
        .iter()
        .enumerate()
        .map(|(i, room)| json!({ "url": s.image_url(i + 1), "room_type": room }))
        .collect();
    let body = json!({ "images": images, "voice": { "voice_id": VOICE }, "script": SCRIPT });

    let r = s.post(&format!("{LIVING}/plan"), &key, &body).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let scenes = r.json["scenes"].as_array().unwrap();
    let seen: Vec<(u64, &str)> = scenes
        .iter()
        .map(|c| {
            (
                c["image_index"].as_u64().unwrap(),
                c["room"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [(0, "kitchen"), (1, "bedroom"), (2, "bathroom")]);

    let r = s.post(LIVING, &key, &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["task_id"].as_str().unwrap().to_string();
    let t = s.wait_done(&key, &id, Duration::from_secs(600)).await;
    assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
    let out = tempfile::tempdir().unwrap();
    let video = s.download(&t, out.path()).await;
    let d = duration(&video);
    // Three equal scenes: the middle of each shows the photo the user put there.
    let thumbs: Vec<Vec<u8>> = (1..=3)
        .map(|i| thumb(&peakreel_testkit::photo_jpeg(PHOTOS[i])))
        .collect();
    for (scene, room) in ROOM_TYPES.iter().enumerate() {
        let at = (scene as f64 + 0.5) * d / 3.0;
        let frame = raw_frame(&video, at, "scale=48:27", "rgb24");
        let distances: Vec<f64> = thumbs.iter().map(|t| mad(&frame, t)).collect();
        let nearest = (0..3)
            .min_by(|&a, &b| distances[a].total_cmp(&distances[b]))
            .unwrap();
        assert_eq!(
            nearest, scene,
            "at {at:.2} s of {d:.2}: the {room} expected, distances {distances:.1?}"
        );
    }
}
