//! Room-label benchmark (issue 13 §1): labels every photo of a folder whose file names
//! say the room (`frontal` = exterior, `kitchen`, `bedroom`, `bathroom`, …) through the
//! real vision sidecar, and prints the confusion list, the accuracy and the time per photo
//! (the sidecar's answer only: decoding and pixel measures are the renderer's anyway).
//!
//! Usage: rooms_bench PHOTO_DIR [VISION_DIR]

use std::time::Instant;

use peakreel_media::{analysis, labels};
use peakreel_rooms::Room;
use peakreel_vision::{Detector, NodeSidecar, SidecarConfig};

/// The room a test photo's file name names.
fn expected(name: &str) -> Option<Room> {
    [
        ("frontal", Room::Exterior),
        ("kitchen", Room::Kitchen),
        ("bedroom", Room::Bedroom),
        ("bathroom", Room::Bathroom),
        ("living", Room::LivingRoom),
        ("dining", Room::DiningRoom),
        ("garden", Room::GardenPool),
        ("pool", Room::GardenPool),
    ]
    .into_iter()
    .find(|(word, _)| name.contains(word))
    .map(|(_, room)| room)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: rooms_bench PHOTO_DIR [VISION_DIR]");
    let vision = args
        .next()
        .map_or_else(SidecarConfig::default_dir, Into::into);
    let sidecar = NodeSidecar::new(SidecarConfig::new(vision));
    if let Err(reason) = sidecar.availability() {
        eprintln!("vision sidecar unavailable: {reason}");
        std::process::exit(2);
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("photo dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(expected)
                .is_some()
        })
        .collect();
    files.sort();
    // The first answer includes loading the models: measured apart.
    let started = Instant::now();
    let _ = sidecar.objects(&image::RgbImage::new(64, 64)).await;
    let load = started.elapsed().as_secs_f64();
    let (mut right, mut spent) = (0, 0.0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let img = analysis::decode(path).expect("decodable photo");
        let metrics = analysis::analyze(&img);
        let copy = labels::label_copy(&img);
        let t = Instant::now();
        let got = labels::label(&sidecar, &copy, &metrics).await;
        spent += t.elapsed().as_secs_f64();
        let want = expected(&name).unwrap();
        if got == Some(want) {
            right += 1;
        } else {
            println!(
                "wrong: {name}: expected {}, labelled {}",
                want.as_str(),
                got.map_or("(none)", Room::as_str)
            );
        }
    }
    let n = files.len().max(1);
    println!(
        "rooms: {right}/{} right ({:.1} %), {:.0} ms per photo, model load {:.2} s",
        files.len(),
        100.0 * right as f64 / n as f64,
        1000.0 * spent / n as f64,
        load
    );
}
