//! `peakreel render` (cli.md): validate a create request exactly as the API does, then
//! render it locally. Image and logo URLs may also be `file://` URLs or plain paths here.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::job::{render_job, seed_of, JobFiles, JobOptions, VoiceSpec};
use anyhow::Context as _;
use peakreel_domain::request::{parse_create_request, CreateRequest, RequestKind, UrlPolicy};
use peakreel_domain::voices::PUBLIC_AVATARS;
use peakreel_fetch::{FetchPolicy, SafeClient, Target};
use peakreel_media::{render, Captions, Profile, RenderEnv, Stage};
use peakreel_types::{ApiError, Code};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderType {
    NarratedSlideshow,
    LivingProperty,
    /// The legacy `POST /v1/real-estate/slideshow` body.
    Slideshow,
}

/// Render a create request (the JSON body the API takes) to an MP4 without a server.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The request body, as for POST /v1/real-estate/narrated-slideshow.
    #[arg(long, value_name = "FILE.json")]
    pub request: PathBuf,
    /// Where to write the video.
    #[arg(long, value_name = "OUT.mp4")]
    pub output: PathBuf,
    /// Which create route the request is for.
    #[arg(long = "type", value_enum, default_value = "narrated-slideshow")]
    pub kind: RenderType,
    /// Where to write the cover (first frame); default: the output path with `.jpg`.
    #[arg(long, value_name = "OUT.jpg")]
    pub cover: Option<PathBuf>,
    /// Also write the narration's caption files into this directory, named after the
    /// output (`OUT.vtt` WebVTT with word timestamps, `OUT.srt` SubRip), with the cues
    /// of the burned-in subtitles (the classic layout when none are requested).
    #[arg(long, value_name = "DIR")]
    pub captions: Option<PathBuf>,
    /// Give up after this many seconds (the task error would be SERVICE_TIMEOUT).
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    pub time_limit: u64,
}

/// A failure the API would answer with a code and message: printed as `CODE: message`.
#[derive(Debug)]
struct Refused(ApiError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)?;
        if let Some(d) = &self.0.details {
            write!(f, "\ndetails: {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

fn refuse(e: ApiError) -> anyhow::Error {
    anyhow::Error::new(Refused(e))
}

pub async fn run(args: RenderArgs) -> anyhow::Result<()> {
    let body = std::fs::read(&args.request)
        .with_context(|| format!("cannot read {}", args.request.display()))?;
    let kind = match args.kind {
        RenderType::NarratedSlideshow => RequestKind::NarratedSlideshow,
        RenderType::LivingProperty => RequestKind::LivingProperty,
        RenderType::Slideshow => RequestKind::Slideshow,
    };
    let policy = UrlPolicy {
        allow_http: false,
        allow_local_files: true,
        staging_enabled: false,
    };
    // A local render is a live render: `test_scenario` is refused as for a live key.
    let mut req = parse_create_request(kind, &body, true, &policy).map_err(refuse)?;
    // The catalogue of this machine: the public voices as its engines speak them and
    // the voice packs of PEAKREEL__SPEECH__VOICES_DIR (listed by `peakreel voices`).
    let mut env = RenderEnv::detect().await;
    env.vision = crate::config::VisionSettings::default().detector();
    crate::voices::add_voice_packs(
        &mut env.speech,
        crate::voices::voices_dir_from_env().as_deref(),
    );
    let records = crate::voices::catalogue(&env.speech);
    let candidates: Vec<_> = records.iter().map(peakreel_api::voice_candidate).collect();
    req.choose_voice(&candidates).map_err(refuse)?;
    let record = lookup_voice(&req, &records).map_err(refuse)?;
    peakreel_api::drawable::check_drawable(&req)
        .await
        .map_err(refuse)?;
    if let Some(dir) = &args.captions {
        captions_dir_ready(dir)?;
    }
    let avatar = match &req.avatar_id {
        Some(id) => Some(
            PUBLIC_AVATARS
                .iter()
                .find(|a| a.avatar_id == id)
                .ok_or_else(|| {
                    refuse(
                        ApiError::new(
                            Code::AvatarNotFound,
                            format!("No avatar {id} exists. List avatars with GET /v1/avatars."),
                        )
                        .with_details(json!({ "avatar_id": id })),
                    )
                })?,
        ),
        None => None,
    };
    let work = tempfile::Builder::new().prefix("peakreel-cli-").tempdir()?;
    let urls: Vec<String> = req.images.iter().map(|i| i.url.clone()).collect();
    let images = materialise_images(&urls, work.path()).await?;
    let sizes: Vec<(u32, u32)> = images.iter().map(|(_, size)| *size).collect();
    let orientation = peakreel_domain::inputs::request_orientation(&req, &sizes).map_err(refuse)?;

    let logo = match req.elements.as_ref().and_then(|e| e.watermark.as_ref()) {
        Some(w) => {
            let target = Target::field("elements_config.watermark.url", &w.url);
            Some(
                materialise_one(&w.url, work.path(), "logo", target)
                    .await?
                    .0,
            )
        }
        None => None,
    };
    let avatar_path = match avatar {
        Some(a) => {
            let p = work.path().join("avatar.png");
            crate::seed::placeholder_portrait(a.background).save(&p)?;
            Some(p)
        }
        None => None,
    };
    let profile = VoiceSpec::from_record(record)
        .expect("catalogue records name an espeak-ng voice")
        .profile(req.language.as_deref());
    let cover = args
        .cover
        .clone()
        .unwrap_or_else(|| args.output.with_extension("jpg"));
    let job = render_job(
        &req,
        JobFiles {
            images: images.into_iter().map(|(p, _)| p).collect(),
            logo,
            avatar: avatar_path,
            output: args.output.clone(),
            cover: cover.clone(),
        },
        JobOptions {
            orientation,
            voice: profile,
            seed: seed_of(&body),
            profile: Profile::Full,
            time_limit: Duration::from_secs(args.time_limit),
        },
    );

    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(100);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg:>10} [{bar:40}] {pos:>3}% {elapsed}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let last = Mutex::new(0u64);
    let on_progress = |stage: Stage, pct: u8| {
        // One bar over the whole render: narration 0–20 %, rendering 20–35 %, encoding
        // the rest (it is most of the time).
        let (from, span) = match stage {
            Stage::Narration => (0.0, 20.0),
            Stage::Rendering => (20.0, 15.0),
            Stage::Encoding => (35.0, 65.0),
        };
        let overall = (from + span * f64::from(pct) / 100.0) as u64;
        let mut last = last.lock().expect("progress lock");
        if let Some(bar) = &bar {
            bar.set_message(stage.as_str());
            if overall > *last {
                bar.set_position(overall);
            }
        }
        *last = (*last).max(overall);
    };
    let result = render(&job, &env, &on_progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let out = result.map_err(|e| refuse(ApiError::new(e.code(), e.to_string())))?;
    if let Some(dir) = &args.captions {
        write_captions(dir, &args.output, &job, &out)?;
    }
    println!(
        "wrote {} ({:.1} s, {}x{}, {:.1} MB, voice by {}); cover {}",
        out.video_path.display(),
        out.duration_seconds,
        out.width,
        out.height,
        out.size_bytes as f64 / 1_000_000.0,
        out.speech_engine,
        out.cover_path.display()
    );
    Ok(())
}

/// Makes the `--captions` directory once the request is accepted and before anything
/// is rendered, so a path that cannot be one (an existing file, a place without write
/// access) fails at once instead of after a render of minutes.
fn captions_dir_ready(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "--captions {}: a file of that name exists; give a directory (it is created if missing)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--captions: cannot create the directory {}", dir.display()))
}

/// Writes `DIR/{output stem}.vtt` and `.srt` (`DIR` made by [`captions_dir_ready`]) and
/// says where.
fn write_captions(
    dir: &Path,
    output: &Path,
    job: &peakreel_media::RenderJob,
    out: &peakreel_media::RenderOutput,
) -> anyhow::Result<()> {
    let captions = Captions::of(job.subtitle, &out.sentences, out.width, out.height);
    let stem = output
        .file_stem()
        .unwrap_or(std::ffi::OsStr::new("captions"));
    for (ext, text) in [("vtt", &captions.vtt), ("srt", &captions.srt)] {
        let path = dir.join(stem).with_extension(ext);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("captions {}", path.display());
    }
    Ok(())
}

/// The voice and language checks of the API's lookup step, for this machine's public
/// catalogue (`records`: the built-in voices and the voice packs; a local render has no
/// account, so custom voices do not exist here).
fn lookup_voice<'r>(
    req: &CreateRequest,
    records: &'r [peakreel_store::VoiceRecord],
) -> Result<&'r peakreel_store::VoiceRecord, ApiError> {
    let voice = records
        .iter()
        .find(|v| v.id == req.voice_id)
        .ok_or_else(|| {
            ApiError::new(
                Code::VoiceNotFound,
                format!(
                    "No voice {} exists. List voices with GET /v1/voices.",
                    req.voice_id
                ),
            )
            .with_details(json!({ "voice_id": req.voice_id }))
        })?;
    let languages: Vec<&str> = voice.languages.iter().map(String::as_str).collect();
    peakreel_domain::writing_systems::check_voice_fit(req, &voice.id, &languages)?;
    Ok(voice)
}

async fn materialise_images(
    urls: &[String],
    dir: &Path,
) -> anyhow::Result<Vec<(PathBuf, (u32, u32))>> {
    let mut out = Vec::with_capacity(urls.len());
    for (i, url) in urls.iter().enumerate() {
        out.push(materialise_one(url, dir, &format!("image{i}"), Target::image(i, url)).await?);
    }
    Ok(out)
}

/// A local path (checked like a fetched body) or a remote URL fetched through the SSRF
/// guard into `dir`. Returns the file and its displayed size.
async fn materialise_one(
    url: &str,
    dir: &Path,
    name: &str,
    target: Target,
) -> anyhow::Result<(PathBuf, (u32, u32))> {
    let local = if let Some(rest) = url.strip_prefix("file://") {
        Some(PathBuf::from(rest))
    } else if !url.contains("://") {
        Some(PathBuf::from(url))
    } else {
        None
    };
    let max_pixels = FetchPolicy::default().max_pixels;
    match local {
        Some(path) => {
            let info = peakreel_fetch::inspect_image_file(&path, max_pixels)
                .map_err(|e| refuse(e.into_api_error(&target)))?;
            Ok((path, info.display_size()))
        }
        None => {
            let client = SafeClient::with_system_resolver(FetchPolicy::default())?;
            let img = client
                .fetch_image(url)
                .await
                .map_err(|e| refuse(e.into_api_error(&target)))?;
            let path = dir.join(format!("{name}.{}", img.info.format.extension()));
            std::fs::write(&path, img.body.to_bytes().await?)?;
            Ok((path, img.info.display_size()))
        }
    }
}
