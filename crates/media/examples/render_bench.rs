//! The benchmark job of bench/render.sh: eight real photos → 1080p landscape, a script of
//! about 300 characters, classic subtitles, a logo and music. Prints one JSON line.
//!
//! Usage: render_bench PHOTO_DIR OUT_DIR [MODE] [SUBTITLE_PRESET]   (default: artistic classic)

use std::path::PathBuf;
use std::time::{Duration, Instant};

use peakreel_media::{
    render, Mode, Orientation, Position, Profile, RenderEnv, RenderJob, SubtitlePreset,
    VoiceProfile, Watermark,
};

const SCRIPT: &str = "Welcome to a bright family home on a quiet, leafy street. The open kitchen \
flows into a sunny dining room with space for friends. Upstairs, three calm bedrooms share a \
bathroom with a deep tub. Outside, the garden is ready for long summer evenings. Come and see \
it for yourself this weekend!";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let photos = PathBuf::from(args.next().expect("PHOTO_DIR"));
    let out = PathBuf::from(args.next().expect("OUT_DIR"));
    let mode = match args.next().as_deref() {
        Some("sequential") => Mode::Sequential,
        Some("standard") => Mode::Standard,
        _ => Mode::Artistic,
    };
    let preset = args
        .next()
        .map(|p| SubtitlePreset::from_name(&p).expect("classic, modern, bold or karaoke"))
        .unwrap_or(SubtitlePreset::Classic);
    let mut images: Vec<PathBuf> = std::fs::read_dir(&photos)
        .expect("photo dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .filter(|p| !p.to_string_lossy().contains("portrait"))
        .collect();
    images.sort();
    // Two houses: exteriors and interiors mixed, as a listing has them.
    let images: Vec<PathBuf> = images.into_iter().take(8).collect();
    std::fs::create_dir_all(&out).unwrap();
    let logo = out.join("logo.png");
    image::RgbaImage::from_fn(240, 96, |x, y| {
        let on = (x / 24 + y / 24) % 2 == 0;
        image::Rgba(if on {
            [255, 255, 255, 230]
        } else {
            [30, 90, 200, 230]
        })
    })
    .save(&logo)
    .unwrap();

    let mut env = RenderEnv::detect().await;
    // RENDER_BENCH_WARM=1: as a worker renders, with Piper kept running; one untimed render
    // first starts it.
    let warm = std::env::var_os("RENDER_BENCH_WARM").is_some();
    // RENDER_BENCH_VISION=1: photos are room-labelled by the vision sidecar, as a server
    // does (off by default, so figures compare with earlier runs).
    if std::env::var_os("RENDER_BENCH_VISION").is_some() {
        let dir = peakreel_vision::SidecarConfig::default_dir();
        env.vision = Some(std::sync::Arc::new(peakreel_vision::NodeSidecar::new(
            peakreel_vision::SidecarConfig::new(dir),
        )));
    }
    if warm {
        env.speech.piper = env.speech.piper.take().map(|p| p.keep_warm());
    }
    let job = RenderJob {
        kind: peakreel_media::RenderKind::Slideshow,
        room_hints: Vec::new(),
        images,
        script: SCRIPT.into(),
        voice: VoiceProfile {
            engine: peakreel_media::EngineKind::Auto,
            piper_model: Some("en_US-joe-medium".into()),
            ..VoiceProfile::espeak("en-us")
        },
        orientation: Orientation::Landscape,
        mode,
        subtitle: Some(preset),
        watermark: Some(Watermark {
            path: logo,
            position: Position::TopRight,
            size_pct: 12,
            opacity_pct: 85,
        }),
        text: None,
        avatar: None,
        music: true,
        seed: 42,
        profile: Profile::Full,
        time_limit: Duration::from_secs(600),
        output: out.join("bench.mp4"),
        cover: out.join("bench.jpg"),
    };
    if warm {
        render(&job, &env, &|_, _| {})
            .await
            .expect("warm-up render");
        // The warm-up render started Piper in the background; let it get ready.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let started = Instant::now();
    let stage_times = std::sync::Mutex::new(Vec::<(String, f64)>::new());
    let r = render(&job, &env, &|stage, pct| {
        if pct == 0 {
            stage_times
                .lock()
                .unwrap()
                .push((stage.as_str().to_string(), started.elapsed().as_secs_f64()));
        }
    })
    .await
    .unwrap_or_else(|e| panic!("render failed ({}): {e}", e.code()));
    let wall = started.elapsed().as_secs_f64();
    let stages: Vec<String> = stage_times
        .into_inner()
        .unwrap()
        .iter()
        .map(|(s, t)| format!("\"{s}\":{t:.2}"))
        .collect();
    println!(
        "{{\"wall_s\":{wall:.2},\"duration_s\":{:.3},\"frames\":{},\"width\":{},\"height\":{},\"size_bytes\":{},\"engine\":\"{}\",\"h264\":\"{}\",\"stage_start_s\":{{{}}},\"timeline_s\":{{{}}}}}",
        r.duration_seconds,
        (r.duration_seconds * 30.0).round() as u64,
        r.width,
        r.height,
        r.size_bytes,
        r.speech_engine,
        peakreel_media::H264_SETTINGS.join(" "),
        stages.join(","),
        r.timeline
            .iter()
            .map(|(step, t)| format!("\"{step}\":{t:.2}"))
            .collect::<Vec<_>>()
            .join(",")
    );
}
