//! Living property renders (api.md §8.3): scene lengths, eased sub-pixel camera motion,
//! and the overlays shared with the slideshow. Test profile (640×360) keeps them short.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use peakreel_media::living::{self, RoomType};
use peakreel_media::{
    render, FontFamily, Mode, Orientation, Position, Profile, RenderEnv, RenderJob, RenderKind,
    SubtitlePreset, TextOverlay, VoiceProfile, Watermark,
};
use peakreel_speech::{EspeakEngine, Speech};

fn photo(name: &str) -> PathBuf {
    let dir =
        peakreel_testkit::photos_dir().expect("the shared test photos (set PEAKREEL_TESTDATA)");
    let p = dir.join(name);
    assert!(p.is_file(), "test photo {}", p.display());
    p
}

fn env_espeak(temp_root: &Path) -> RenderEnv {
    RenderEnv {
        speech: Speech::new(None, EspeakEngine::default()),
        ffmpeg: "ffmpeg".into(),
        ffprobe: "ffprobe".into(),
        temp_root: Some(temp_root.to_path_buf()),
        vision: None,
    }
}

fn job(images: Vec<PathBuf>, rooms: Vec<RoomType>, script: &str, out: &Path) -> RenderJob {
    RenderJob {
        kind: RenderKind::Living {
            room_types: rooms.into_iter().map(Some).collect(),
        },
        room_hints: Vec::new(),
        images,
        script: script.into(),
        voice: VoiceProfile::espeak("en-us+f3"),
        orientation: Orientation::Landscape,
        mode: Mode::Artistic,
        subtitle: None,
        watermark: None,
        text: None,
        avatar: None,
        music: false,
        seed: 11,
        profile: Profile::Test,
        time_limit: Duration::from_secs(300),
        output: out.join("out.mp4"),
        cover: out.join("cover.jpg"),
    }
}

/// Every frame as 8-bit grey, `w`×`h`.
fn grey_frames(p: &Path, w: u32, h: u32) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact((w * h) as usize)
        .map(<[u8]>::to_vec)
        .collect()
}

fn mad(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[tokio::test]
async fn scenes_move_eased_within_the_narration_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // Two images, a short script: the video is 2 × 3 s unless the narration is longer.
    let j = job(
        vec![photo("house100_kitchen.jpg"), photo("house100_frontal.jpg")],
        vec![RoomType::Kitchen, RoomType::Exterior],
        "A bright kitchen.",
        out.path(),
    );
    let started = Instant::now();
    let r = render(&j, &env_espeak(tmp.path()), &|_, _| {})
        .await
        .unwrap();
    eprintln!("living 2 images (test profile): {:?}", started.elapsed());
    assert!(
        (r.duration_seconds - 6.0).abs() < 0.15,
        "{}",
        r.duration_seconds
    );
    let frames = grey_frames(&r.video_path, 640, 360);
    assert!((178..=182).contains(&frames.len()), "{}", frames.len());
    // Scene 1 is frames 0..~90 (a 15-frame dissolve around frame 90).
    let body = 5..80;
    // Consecutive frames differ through the scene's middle (continuous motion)…
    for i in 20..70 {
        let d = mad(&frames[i], &frames[i + 1]);
        assert!(d > 0.05, "frames {i} and {} are the same ({d})", i + 1);
    }
    // …the framing changes over the scene…
    let span = mad(&frames[body.start], &frames[body.end]);
    assert!(span > 3.0, "first and last frame barely differ: {span}");
    // …and the move is eased: it starts slower than it runs in the middle.
    let start = mad(&frames[1], &frames[2]);
    let middle = mad(&frames[44], &frames[45]);
    assert!(start < middle * 0.5, "start {start} vs middle {middle}");
    // Scene 2 (the push-in) also moves.
    let two = mad(&frames[100], &frames[175]);
    assert!(two > 2.0, "scene 2 barely changes: {two}");
    assert!(std::fs::metadata(&r.cover_path).unwrap().len() > 1000);
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
}

#[tokio::test]
async fn narration_stretches_scenes_and_overlays_apply_in_portrait() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let script = "Welcome home. This sunny living room opens onto a quiet garden with a pool.";
    let mut j = job(
        vec![photo("house100_bathroom.jpg")],
        vec![RoomType::Bathroom],
        script,
        out.path(),
    );
    j.orientation = Orientation::Portrait;
    j.subtitle = Some(SubtitlePreset::Classic);
    j.music = true;
    // The slideshow's overlays apply unchanged: a pure green logo top-right, text, avatar.
    let logo = out.path().join("logo.png");
    image::RgbImage::from_pixel(200, 200, image::Rgb([0, 255, 0]))
        .save(&logo)
        .unwrap();
    j.watermark = Some(Watermark {
        path: logo,
        position: Position::TopRight,
        size_pct: 30,
        opacity_pct: 100,
    });
    j.text = Some(TextOverlay {
        content: "Open house".into(),
        color: [255, 255, 255],
        font: FontFamily::Inter,
        size_px: 60,
        position: Position::TopLeft,
    });
    j.avatar = Some(photo("house100_bedroom.jpg"));
    let r = render(&j, &env_espeak(tmp.path()), &|_, _| {})
        .await
        .unwrap();
    assert_eq!((r.width, r.height), (360, 640));
    // The logo's corner is green in a mid-video frame.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", "2.0", "-i"])
        .arg(&r.video_path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    let px = |x: usize, y: usize| {
        let i = (y * 360 + x) * 3;
        [out.stdout[i], out.stdout[i + 1], out.stdout[i + 2]]
    };
    // Logo: 108 px wide, 14 px margin from the top-right corner.
    let [lr, lg, lb] = px(360 - 14 - 54, 14 + 54);
    assert!(lg > 200 && lr < 60 && lb < 60, "logo pixel {lr} {lg} {lb}");
    let speech_end = r.sentences.last().unwrap().end;
    // Narration + 1.5 s tail (+ the 0.5 s lead inside `end`), longer than 3 s.
    assert!(speech_end > 3.0, "{speech_end}");
    assert!(
        (r.duration_seconds - (speech_end + 1.5)).abs() < 0.3,
        "{} vs speech end {speech_end}",
        r.duration_seconds
    );
}

#[tokio::test]
async fn room_types_must_match_images() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let j = job(
        vec![photo("house100_kitchen.jpg")],
        vec![],
        "A bright kitchen.",
        out.path(),
    );
    let e = render(&j, &env_espeak(tmp.path()), &|_, _| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("room types"), "{e}");
}

#[test]
fn every_room_has_a_distinct_enough_shot() {
    // The table's moves are different cameras, not one move renamed.
    let moves: std::collections::HashSet<_> = RoomType::ALL
        .iter()
        .map(|r| format!("{:?}", r.camera_move()))
        .collect();
    assert!(moves.len() >= 6);
    assert_eq!(living::total_seconds(9, 20.0), 27.0);
}

/// Without a `room_type`, the photo's room label from the real vision sidecar chooses
/// the move (issue 13 §1): the render of a bedroom photo with no room type is the render
/// with `bedroom` given, frame for frame, and not the one with `other`.
#[tokio::test]
async fn a_missing_room_type_takes_the_move_of_the_photos_label() {
    let sidecar = std::sync::Arc::new(peakreel_vision::NodeSidecar::new(
        peakreel_vision::SidecarConfig::new(peakreel_vision::SidecarConfig::default_dir()),
    ));
    if let Err(reason) = peakreel_vision::Detector::availability(sidecar.as_ref()) {
        panic!("the vision sidecar is needed (scripts/install-deps.sh): {reason}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = "A calm bedroom under the eaves.";
    let mut frames = Vec::new();
    for (name, room) in [
        ("labelled", None),
        ("bedroom", Some(RoomType::Bedroom)),
        ("other", Some(RoomType::Other)),
    ] {
        let out = tmp.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        let mut j = job(vec![photo("house103_bedroom.jpg")], vec![], script, &out);
        j.kind = RenderKind::Living {
            room_types: vec![room],
        };
        let mut env = env_espeak(tmp.path());
        env.vision = Some(sidecar.clone());
        let r = render(&j, &env, &|_, _| {}).await.unwrap();
        frames.push(grey_frames(&r.video_path, r.width, r.height));
    }
    let diff = |a: &[Vec<u8>], b: &[Vec<u8>]| {
        let (mut sum, mut n) = (0u64, 0u64);
        for (fa, fb) in a.iter().zip(b) {
            for (x, y) in fa.iter().zip(fb) {
                sum += u64::from(x.abs_diff(*y));
                n += 1;
            }
        }
        sum as f64 / n.max(1) as f64
    };
    assert_eq!(frames[0].len(), frames[1].len());
    let same = diff(&frames[0], &frames[1]);
    let other = diff(&frames[0], &frames[2]);
    assert!(same < 0.5, "labelled vs bedroom: mean difference {same}");
    assert!(other > 2.0, "labelled vs other: mean difference {other}");
}
