//! The render pipeline and the one filter graph.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use peakreel_speech::process::Cmd;
use peakreel_speech::{NarrationOptions, Speech};

use crate::analysis::ImageMetrics;
use crate::audio;
use crate::caption_stills::{self, CaptionStill};
use crate::living;
use crate::overlay::{self, OverlayImage};
use crate::plan::{self, narrated, Plan, Transition, FPS};
use crate::subtitles;
use crate::work_files::{keep_work_files, part_path, PartFile, WorkDir};
use crate::{padding, pictures};
use crate::{probe, Position, RenderError, RenderJob, RenderKind, RenderOutput, Stage};

/// The programs and engines a render uses.
#[derive(Debug, Clone)]
pub struct RenderEnv {
    pub speech: Speech,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Parent of the per-render temporary directory (the system default when `None`).
    pub temp_root: Option<PathBuf>,
    /// Labels each photo's room (`None`: photos stay unlabelled).
    pub vision: Option<crate::labels::SharedDetector>,
}

impl RenderEnv {
    /// ffmpeg and ffprobe from `PATH`, Piper if installed (else espeak-ng).
    pub async fn detect() -> RenderEnv {
        RenderEnv {
            speech: Speech::detect().await,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            temp_root: None,
            vision: None,
        }
    }
}

type Progress<'a> = &'a (dyn Fn(Stage, u8) + Send + Sync);

/// Renders `job`. Temporary files live in one directory that is removed on every exit
/// path (success, error, timeout, or the future being dropped).
pub async fn render(
    job: &RenderJob,
    env: &RenderEnv,
    progress: Progress<'_>,
) -> Result<RenderOutput, RenderError> {
    let started = Instant::now();
    let deadline = started + job.time_limit;
    let work = render_inner(job, env, progress, started, deadline);
    match tokio::time::timeout_at(deadline.into(), work).await {
        Ok(r) => r,
        Err(_) => Err(RenderError::TimedOut(job.time_limit)),
    }
}

async fn render_inner(
    job: &RenderJob,
    env: &RenderEnv,
    progress: Progress<'_>,
    started: Instant,
    deadline: Instant,
) -> Result<RenderOutput, RenderError> {
    validate(job)?;
    let mut builder = tempfile::Builder::new();
    let tmp = builder.prefix("peakreel-render-");
    let tmp = WorkDir(Some(match &env.temp_root {
        Some(root) => tmp.tempdir_in(root)?,
        None => tmp.tempdir()?,
    }));
    let dir = tmp.path();
    let (width, height) = job.profile.size(job.orientation);

    // Fonts first: a missing font is a setup fault that should fail before any work.
    if let Some(p) = job.subtitle {
        let (f, bold) = p.font();
        f.require(bold)?;
    }
    if let Some(t) = &job.text {
        t.font.require(false)?;
    }

    progress(Stage::Narration, 0);
    // Measuring the images, speaking the script and drawing the subtitle cues need
    // nothing from each other: what the cues say is known before the voice is heard,
    // only when they show waits for it.
    let still_cues = job.subtitle.filter(|p| subtitles::cues_are_still(*p));
    let cue_images = async {
        let Some(preset) = still_cues else {
            return Ok(Vec::new());
        };
        let untimed = peakreel_speech::untimed_sentences(&job.script, &job.voice.language);
        caption_stills::draw(
            &env.ffmpeg,
            dir,
            &subtitles::ass_one_cue_per_second(preset, &untimed, width, height),
            subtitles::cue_spans(preset, &untimed, width, height).len(),
            (width, height),
            deadline,
        )
        .await
    };
    let narration = env.speech.narrate(
        &job.script,
        &job.voice,
        NarrationOptions::default(),
        dir,
        deadline,
    );
    // A bad image ends the step at once (no voice is synthesised, or paid for, for a
    // render that is lost); otherwise narration errors come before subtitle ones.
    let speech_and_cues = async { Ok(tokio::join!(narration, cue_images)) };
    let (pictures, (narration, cue_images)) = tokio::try_join!(
        pictures::prepare(job, dir, (width, height), env.vision.as_ref()),
        speech_and_cues
    )?;
    let metrics = &pictures.metrics;
    let (mut narration, cue_images) = (narration?, cue_images?);
    let timeline = std::sync::Mutex::new(Vec::new());
    let mark = |step: &'static str| {
        if let Ok(mut t) = timeline.lock() {
            t.push((step, started.elapsed().as_secs_f64()));
        }
    };
    mark("narration, image analysis, subtitle images");
    progress(Stage::Narration, 100);

    progress(Stage::Rendering, 0);
    let (plan, pad_audio, lead) = match &job.kind {
        // Scenes keep their mode's lengths: a narration too short for the photos gets a
        // longer lead and tail (padding.rs) rather than hurried scenes.
        RenderKind::Slideshow => {
            let (total, lead) =
                padding::slideshow(job.mode, metrics.len(), narration.total_duration);
            padding::delay(&mut narration, lead);
            let (said, language) = (&narration.sentences, &job.voice.language);
            let plan = narrated::plan(job.mode, metrics, total, job.seed, said, language);
            (plan, total > narration.total_duration, lead)
        }
        // Living: one scene per image in order, equal lengths, cross-dissolves; about 3 s
        // each unless the narration needs longer (then the narration is padded with
        // silence to the video's length).
        RenderKind::Living { .. } => (
            plan::plan_each_once(
                metrics,
                living::total_seconds(metrics.len(), narration.total_duration),
                job.seed,
            ),
            true,
            0.0,
        ),
    };
    let seconds = plan.total_frames as f64 / FPS as f64;
    // Karaoke lights words up within a cue, so libass draws it live; other presets
    // are drawn once per cue (see caption_stills).
    let live_subtitles = job.subtitle.filter(|p| !subtitles::cues_are_still(*p));
    if let Some(preset) = live_subtitles {
        let ass = subtitles::ass(preset, &narration.sentences, width, height);
        tokio::fs::write(dir.join("subs.ass"), ass).await?;
    }
    let text_layer = match &job.text {
        Some(t) => Some(overlay::draw(
            t,
            (width, height),
            margin(width, height),
            dir,
        )?),
        None => None,
    };
    let avatar_corner = avatar_corner(job);
    if job.avatar.is_some() {
        let cmds = crate::avatar_motion::commands(&narration, width, height);
        tokio::fs::write(dir.join("avatar.cmd"), cmds).await?;
    }
    progress(Stage::Rendering, 100);

    // The soundtrack and the picture are made side by side, then joined without
    // re-encoding. The encoder leaves part of a core idle (ffmpeg feeds it from one
    // thread); the audio passes use that time instead of adding to the wall clock.
    progress(Stage::Encoding, 0);
    let soundtrack = audio::soundtrack(audio::Soundtrack {
        ffmpeg: &env.ffmpeg,
        dir,
        music: job.music.then_some(job.seed),
        seconds,
        pad: pad_audio,
        lead,
        deadline,
    });
    let picture = async {
        let captions = match still_cues {
            Some(p) => caption_stills::place(
                cue_images,
                &subtitles::cue_spans(p, &narration.sentences, width, height),
            )?,
            None => Vec::new(),
        };
        let graph = build_graph(
            &pictures.apply(job),
            metrics,
            &plan,
            (width, height),
            avatar_corner,
            text_layer.as_ref(),
            &captions,
        );
        tokio::fs::write(dir.join("graph.txt"), &graph.filter).await?;
        let video = encode_video(env, dir, &graph, seconds, progress, deadline).await;
        mark("picture");
        video
    };
    let soundtrack = async {
        let sound = soundtrack.await;
        mark("soundtrack");
        sound
    };
    // The first failure ends the render: the other half is dropped, which kills its
    // ffmpeg, rather than finished for nothing.
    let joined = tokio::try_join!(soundtrack, picture);
    keep_work_files(dir)?;
    let (sound, picture) = joined?;

    let part = PartFile(part_path(&job.output));
    Cmd::new(&env.ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y"])
        .arg("-i")
        .arg(&picture)
        .arg("-i")
        .arg(&sound)
        .args(["-map", "0:v:0", "-map", "1:a:0", "-c", "copy"])
        .args(["-movflags", "+faststart", "-t", &format!("{seconds:.3}")])
        .args(["-f", "mp4"])
        .arg(std::path::absolute(&part.0)?)
        .deadline(deadline)
        .run()
        .await
        .map_err(|source| RenderError::Ffmpeg {
            stage: "joining picture and sound",
            source,
        })?;
    // The cover first: a failure then leaves no finished-looking video behind.
    tokio::fs::rename(dir.join(COVER), &job.cover)
        .await
        .or_else(|_| {
            // The cover's folder may be on another file system than the work directory.
            std::fs::copy(dir.join(COVER), &job.cover).map(|_| ())
        })?;
    tokio::fs::rename(&part.0, &job.output).await?;
    mark("joining");

    let probed = probe::probe(&env.ffprobe, &job.output, deadline)
        .await
        .map_err(|e| match e {
            probe::ProbeError::Process(source) => RenderError::Ffmpeg {
                stage: "probing the output",
                source,
            },
            probe::ProbeError::Json(e) => RenderError::BadOutput(e.to_string()),
        })?;
    let duration = probed
        .duration_seconds()
        .ok_or_else(|| RenderError::BadOutput("no duration".into()))?;
    let v = probed
        .video()
        .ok_or_else(|| RenderError::BadOutput("no video stream".into()))?;
    if (v.width, v.height) != (Some(width), Some(height)) || probed.audio().is_none() {
        return Err(RenderError::BadOutput(format!(
            "got {:?}x{:?} with audio={}",
            v.width,
            v.height,
            probed.audio().is_some()
        )));
    }
    progress(Stage::Encoding, 100);
    mark("probing");
    Ok(RenderOutput {
        video_path: job.output.clone(),
        cover_path: job.cover.clone(),
        duration_seconds: duration,
        width,
        height,
        size_bytes: probed.size_bytes().unwrap_or(0),
        speech_engine: narration.engine,
        sentences: narration.sentences,
        timeline: timeline.into_inner().unwrap_or_default(),
    })
}

fn validate(job: &RenderJob) -> Result<(), RenderError> {
    let bad = |m: String| Err(RenderError::InvalidJob(m));
    if job.images.is_empty() {
        return bad("no images".into());
    }
    if let RenderKind::Living { room_types } = &job.kind {
        if room_types.len() != job.images.len() {
            return bad(format!(
                "{} room types for {} images",
                room_types.len(),
                job.images.len()
            ));
        }
    }
    if let Some(w) = &job.watermark {
        if !(1..=100).contains(&w.size_pct) || w.opacity_pct > 100 {
            return bad(format!(
                "watermark size {} / opacity {} out of range",
                w.size_pct, w.opacity_pct
            ));
        }
    }
    if let Some(t) = &job.text {
        if !(8..=200).contains(&t.size_px) {
            return bad(format!("text size {} is outside 8..=200", t.size_px));
        }
        let n = t.content.chars().count();
        if n == 0 || n > 100 {
            return bad(format!("text has {n} characters (1 to 100 allowed)"));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Corner {
    Left,
    Right,
}

/// The avatar takes the lower-left corner unless a bottom-left watermark or text is there.
fn avatar_corner(job: &RenderJob) -> Corner {
    let taken = |p: Position| p == Position::BottomLeft;
    if job.watermark.as_ref().is_some_and(|w| taken(w.position))
        || job.text.as_ref().is_some_and(|t| taken(t.position))
    {
        Corner::Right
    } else {
        Corner::Left
    }
}

pub(crate) fn margin(width: u32, height: u32) -> u32 {
    (width.min(height) as f64 * 0.04).round() as u32
}

pub(crate) fn avatar_size(width: u32, height: u32) -> u32 {
    ((width.min(height) as f64 * 0.22) as u32) & !1
}

pub(crate) struct Graph {
    pub filter: String,
    /// Input files in order, each with its input options.
    pub inputs: Vec<(Vec<String>, PathBuf)>,
}

/// Pan speed in whole pixels per frame: 2 at 1080p (60 px/s, a calm drift), at least 1.
fn pan_speed(width: u32, height: u32) -> u32 {
    ((width.min(height) as f64 / 540.0).round() as u32).max(1)
}

fn build_graph(
    job: &RenderJob,
    metrics: &[ImageMetrics],
    plan: &Plan,
    (width, height): (u32, u32),
    corner: Corner,
    text: Option<&OverlayImage>,
    captions: &[CaptionStill],
) -> Graph {
    let mut g = String::new();
    let mut inputs: Vec<(Vec<String>, PathBuf)> = Vec::new();
    let v = pan_speed(width, height);

    // Stills: each used image is an input once, decoded once, scaled once to just above
    // the output size (enough room for its pans), cropped to that aspect around its most
    // detailed region, and split into the pieces its scenes need.
    //
    // Each scene is cut into head (its incoming transition), body and tail (its outgoing
    // transition). Only heads and tails go through a [`transition`]; bodies and finished
    // transitions are joined by `concat`, so no filter touches a frame it does not change
    // (a chain of transition filters costs every frame that passes through it).
    let m = plan.scenes.len();
    let parts: Vec<[u32; 3]> = (0..m)
        .map(|i| {
            let s = &plan.scenes[i];
            let head = if i > 0 {
                plan.scenes[i - 1].transition_frames
            } else {
                0
            };
            let tail = if i + 1 < m { s.transition_frames } else { 0 };
            [head, s.frames - head - tail, tail]
        })
        .collect();
    let mut input_of_image = vec![None; metrics.len()];
    for s in &plan.scenes {
        if input_of_image[s.image].is_none() {
            input_of_image[s.image] = Some(inputs.len());
            inputs.push((
                vec!["-framerate".into(), FPS.to_string()],
                job.images[s.image].clone(),
            ));
        }
    }
    for (img, input) in input_of_image.iter().enumerate() {
        let Some(input) = *input else { continue };
        let uses: Vec<usize> = (0..m).filter(|&i| plan.scenes[i].image == img).collect();
        let travel = |axis: usize| {
            uses.iter()
                .map(|&i| {
                    let s = &plan.scenes[i];
                    let d = if axis == 0 {
                        s.motion.dir.0
                    } else {
                        s.motion.dir.1
                    };
                    if d != 0 {
                        v * (s.frames - 1)
                    } else {
                        0
                    }
                })
                .max()
                .unwrap_or(0)
        };
        let parts = &parts;
        if let RenderKind::Living { room_types } = &job.kind {
            living_still(
                &mut g,
                input,
                img,
                living::room_for(room_types[img], &metrics[img]),
                &metrics[img],
                &uses,
                parts,
                plan,
                job.seed,
                (width, height),
            );
            continue;
        }
        let (bw, bh) = (even_up(width + travel(0)), even_up(height + travel(1)));
        let mt = &metrics[img];
        let still = Still::around_detail(mt, bw, bh);
        let pieces = still.write_pieces(&mut g, input, &uses, parts);
        // The detail target in the aspect-cropped frame's pixels.
        let (px, py) = still.detail(mt);
        for (si, k) in pieces {
            let s = &plan.scenes[si];
            let (x0, dx) = pan_start(px, bw, width, s.motion.dir.0, v, s.frames);
            let (y0, dy) = pan_start(py, bh, height, s.motion.dir.1, v, s.frames);
            // Frame numbers continue across the pieces so the pan is one smooth move.
            let first: u32 = parts[si][..k].iter().sum();
            let (x0, y0) = (x0 + dx * first as i64, y0 + dy * first as i64);
            let _ = writeln!(
                g,
                "[p{si}_{k}]loop=loop={}:size=1,setpts=N/{FPS}/TB,crop={width}:{height}:x='{x0}+{dx}*n':y='{y0}+{dy}*n':exact=1[s{si}_{k}];",
                parts[si][k] - 1
            );
        }
    }

    // Bodies and transitions, in order, then one concat.
    let mut segments = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if part[1] > 0 {
            segments.push(format!("[s{i}_1]"));
        }
        if i + 1 < m && plan.scenes[i].transition_frames > 0 {
            let s = &plan.scenes[i];
            transition(
                &mut g,
                s.transition,
                (&format!("s{i}_2"), &format!("s{}_0", i + 1)),
                &format!("t{i}"),
                s.transition_frames,
                (width, height),
            );
            segments.push(format!("[t{i}]"));
        }
    }
    let mut cur = "joined".to_string();
    if segments.len() == 1 {
        let _ = writeln!(g, "{}null[{cur}];", segments[0]);
    } else {
        let _ = writeln!(
            g,
            "{}concat=n={}:v=1:a=0[{cur}];",
            segments.concat(),
            segments.len()
        );
    }

    // Overlays, in stacking order: logo, text, avatar, then subtitles on top of all.
    // Overlays blend in yuv420p (their default). Measured: `format=auto` made the output
    // yuva420p, and converting that back cost ~4 s of CPU per 20 s of 1080p video.
    let mg = margin(width, height);
    if let Some(w) = &job.watermark {
        let idx = inputs.len();
        inputs.push((vec![], w.path.clone()));
        let lw = even_up(((width as f64 * w.size_pct as f64 / 100.0).round() as u32).max(2));
        let (x, y) = w.position.exprs("W", "H", "w", "h", mg);
        let _ = writeln!(
            g,
            "[{idx}:v]scale={lw}:-2,format=rgba,colorchannelmixer=aa={:.3}[logo];\
             [{cur}][logo]overlay=x={x}:y={y}[vw];",
            w.opacity_pct as f64 / 100.0
        );
        cur = "vw".into();
    }
    if let Some(t) = text {
        let idx = inputs.len();
        inputs.push((vec![], t.file.clone()));
        let _ = writeln!(g, "[{cur}][{idx}:v]overlay=x={}:y={}[vt];", t.x, t.y);
        cur = "vt".into();
    }
    if let Some(a) = &job.avatar {
        let idx = inputs.len();
        inputs.push((vec![], a.clone()));
        let d = avatar_size(width, height);
        let ring = (d / 40).max(2);
        let x = match corner {
            Corner::Left => mg,
            Corner::Right => width - d - mg,
        };
        // Circular alpha with a thin white ring, computed once on one small frame.
        let rr = "hypot(X-W/2,Y-H/2)";
        let _ = writeln!(
            g,
            "[{idx}:v]scale={d}:{d}:force_original_aspect_ratio=increase,crop={d}:{d},format=rgba,\
             geq=r='if(gt({rr},W/2-{ring}),255,r(X,Y))':g='if(gt({rr},W/2-{ring}),255,g(X,Y))':\
             b='if(gt({rr},W/2-{ring}),255,b(X,Y))':a='if(lte({rr},W/2-0.5),255,0)'[av];\
             [{cur}]sendcmd=f=avatar.cmd[vc];[vc][av]overlay@avatar=x={x}:y={}:eval=frame[va];",
            height + 4
        );
        cur = "va".into();
    }
    if job.subtitle.is_some_and(|p| !subtitles::cues_are_still(p)) {
        let _ = writeln!(g, "[{cur}]subtitles=filename=subs.ass[vs];");
        cur = "vs".into();
    }
    for (i, c) in captions.iter().enumerate() {
        let idx = inputs.len();
        inputs.push((vec![], c.image.file.clone()));
        // Shown from its start up to (not including) its end, as libass would.
        let _ = writeln!(
            g,
            "[{cur}][{idx}:v]overlay=x={}:y={}:enable='gte(t,{:.3})*lt(t,{:.3})'[cap{i}];",
            c.image.x, c.image.y, c.start, c.end
        );
        cur = format!("cap{i}");
    }
    // The cover is the first finished frame, taken before compression.
    let _ = writeln!(
        g,
        "[{cur}]format=yuv420p,split=2[vout][c];[c]trim=end_frame=1[vcover];"
    );
    // A trailing separator would read as an empty filter.
    let g = g.trim_end().trim_end_matches(';').to_string();
    Graph { filter: g, inputs }
}

/// One photo scaled once (bicubic) to cover a `bw`×`bh` box and cropped to that box
/// around its most detailed region: what every scene of the photo moves within.
struct Still {
    sw: u32,
    sh: u32,
    bw: u32,
    bh: u32,
    cx: i64,
    cy: i64,
}

impl Still {
    fn around_detail(mt: &ImageMetrics, bw: u32, bh: u32) -> Still {
        let scale = (bw as f64 / mt.width as f64).max(bh as f64 / mt.height as f64);
        let sw = even_up((mt.width as f64 * scale).ceil() as u32).max(bw);
        let sh = even_up((mt.height as f64 * scale).ceil() as u32).max(bh);
        let (tx, ty) = mt.detail_center;
        let cx = ((tx * sw as f64 - bw as f64 / 2.0).round() as i64).clamp(0, (sw - bw) as i64);
        let cy = ((ty * sh as f64 - bh as f64 / 2.0).round() as i64).clamp(0, (sh - bh) as i64);
        Still {
            sw,
            sh,
            bw,
            bh,
            cx,
            cy,
        }
    }

    /// Where the detail is in the box, in pixels.
    fn detail(&self, mt: &ImageMetrics) -> (f64, f64) {
        let (tx, ty) = mt.detail_center;
        (
            tx * self.sw as f64 - self.cx as f64,
            ty * self.sh as f64 - self.cy as f64,
        )
    }

    /// Writes input `input` decoded, scaled and cropped once, split into one stream per
    /// piece (head, body, tail) of the scenes `uses` that show it, labelled
    /// `[p{scene}_{piece}]`; returns those pieces.
    fn write_pieces(
        &self,
        g: &mut String,
        input: usize,
        uses: &[usize],
        parts: &[[u32; 3]],
    ) -> Vec<(usize, usize)> {
        let pieces: Vec<(usize, usize)> = uses
            .iter()
            .flat_map(|&si| {
                (0..3)
                    .filter(move |&k| parts[si][k] > 0)
                    .map(move |k| (si, k))
            })
            .collect();
        let _ = write!(
            g,
            "[{input}:v]scale={}:{}:flags=bicubic,crop={}:{}:{}:{},setsar=1,format=yuv420p",
            self.sw, self.sh, self.bw, self.bh, self.cx, self.cy
        );
        if pieces.len() > 1 {
            let _ = write!(g, ",split={}", pieces.len());
        }
        for (si, k) in &pieces {
            let _ = write!(g, "[p{si}_{k}]");
        }
        g.push_str(";\n");
        pieces
    }
}

/// One living still: scaled once to the output size times its shot's largest zoom,
/// cropped to the output's aspect around its detail, and each piece of its scene sampled
/// through `perspective` at the eased, sub-pixel window of every frame (see [`living`]).
#[allow(clippy::too_many_arguments)]
fn living_still(
    g: &mut String,
    input: usize,
    img: usize,
    room: living::RoomType,
    mt: &ImageMetrics,
    uses: &[usize],
    parts: &[[u32; 3]],
    plan: &Plan,
    seed: u64,
    (width, height): (u32, u32),
) {
    // The shot depends on the detail in the cropped still, which depends on the still's
    // size, which depends on the shot's zoom: every shot's largest zoom is at most 1.12,
    // so the crop uses that, and the shot is then aimed within it.
    const ZMAX: f64 = 1.12;
    let bw = even_up((width as f64 * ZMAX).ceil() as u32);
    let bh = even_up((height as f64 * ZMAX).ceil() as u32);
    let still = Still::around_detail(mt, bw, bh);
    let (dx, dy) = still.detail(mt);
    let detail = (
        (dx / bw as f64).clamp(0.0, 1.0),
        (dy / bh as f64).clamp(0.0, 1.0),
    );
    let shot = living::shot(room, detail, seed ^ (img as u64).wrapping_mul(0x9E37_79B9));
    let pieces = still.write_pieces(g, input, uses, parts);
    let (xa, ya) = shot.from.origin();
    let (xb, yb) = shot.to.origin();
    let (sa, sb) = (shot.from.size(), shot.to.size());
    for (si, k) in pieces {
        let s = &plan.scenes[si];
        let first: u32 = parts[si][..k].iter().sum();
        let last = (s.frames.max(2) - 1) as f64;
        let e = living::ease_expr(&format!("(in+{first})/{last}"));
        // perspective (sense=source) maps four still points onto the corners of its
        // bw×bh output; the output's top-left width×height is kept. Output pixel (u, v)
        // shows still point (X + u·ww/width, Y + v·wh/height).
        let lerp =
            |a: f64, b: f64, unit: f64| format!("({:.4}+{:.4}*{e})", a * unit, (b - a) * unit);
        let x = lerp(xa, xb, bw as f64);
        let y = lerp(ya, yb, bh as f64);
        let wx = lerp(sa, sb, bw as f64 * bw as f64 / width as f64);
        let hy = lerp(sa, sb, bh as f64 * bh as f64 / height as f64);
        let _ = writeln!(
            g,
            "[p{si}_{k}]loop=loop={}:size=1,setpts=N/{FPS}/TB,\
             perspective=x0='{x}':y0='{y}':x1='{x}+{wx}':y1='{y}':x2='{x}':y2='{y}+{hy}':x3='{x}+{wx}':y3='{y}+{hy}':\
             interpolation=linear:sense=source:eval=frame,crop={width}:{height}:0:0[s{si}_{k}];",
            parts[si][k] - 1
        );
    }
}

/// One transition between the outgoing scene's tail `a` and the incoming scene's head `b`
/// (both `frames` long, frame numbers from 0), as `[out]`.
///
/// Built from `overlay`, `fade` and `zoompan` rather than `xfade`: on ffmpeg 5.1 xfade
/// computes every pixel in floating point, 12 ms a 1080p frame for a fade and 34 ms for
/// its zoom, where these take 3, 2 and 6 ms (measured, 105 frames each).
fn transition(
    g: &mut String,
    kind: Transition,
    (a, b): (&str, &str),
    out: &str,
    frames: u32,
    (width, height): (u32, u32),
) {
    // Alpha rising over the transition (k/frames at frame k): a cross-dissolve when the
    // incoming picture is laid over the outgoing one.
    let fade_in = format!("format=yuva420p,fade=t=in:s=0:n={frames}:alpha=1");
    // Ease-out progress of frame k (from the frame's time: overlay's own frame counter
    // starts at 1 on ffmpeg 5.1), reaching 1 on the frame after the last.
    let eased = format!("(1-pow(1-(round(t*{FPS})+1)/{},2))", frames + 1);
    match kind {
        Transition::Dissolve => {
            let _ = writeln!(
                g,
                "[{b}]{fade_in}[{out}b];[{a}][{out}b]overlay=format=yuv420[{out}];"
            );
        }
        // The incoming picture slides in over the outgoing one, in whole even pixels
        // (whole chroma samples) so it stays sharp.
        Transition::SlideLeft => {
            let _ = writeln!(
                g,
                "[{a}][{b}]overlay=x='2*round(W*(1-{eased})/2)':y=0:eval=frame[{out}];"
            );
        }
        Transition::SlideUp => {
            let _ = writeln!(
                g,
                "[{a}][{b}]overlay=x=0:y='2*round(H*(1-{eased})/2)':eval=frame[{out}];"
            );
        }
        // The outgoing picture pushes in (accelerating, to 1.3×) while the incoming one
        // dissolves over it.
        Transition::ZoomIn => {
            let _ = writeln!(
                g,
                "[{a}]zoompan=z='1+0.3*pow(in/{frames},2)':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s={width}x{height}:fps={FPS}[{out}a];\
                 [{b}]{fade_in}[{out}b];[{out}a][{out}b]overlay=format=yuv420[{out}];"
            );
        }
    }
}

fn even_up(v: u32) -> u32 {
    v + (v & 1)
}

/// Start offset and signed speed of a pan along one axis, so that the window ends as
/// close to centred on `target` as the room allows and never leaves the frame.
fn pan_start(target: f64, room: u32, window: u32, dir: i32, v: u32, frames: u32) -> (i64, i64) {
    let max = (room - window) as i64;
    let travel = if dir == 0 {
        0
    } else {
        (v * (frames - 1)) as i64
    };
    let end = ((target - window as f64 / 2.0).round() as i64).clamp(0, max);
    match dir.signum() {
        1 => ((end - travel).clamp(0, (max - travel).max(0)), v as i64),
        -1 => ((end + travel).clamp(travel.min(max), max), -(v as i64)),
        _ => (end, 0),
    }
}

/// The H.264 settings of every render (and of bench/render.sh's encode floor).
///
/// x264's `ultrafast` with CABAC, the 8×8 transform (High profile) and the deblocking
/// filter turned back on, at CRF 23. A render is mostly whole-pixel pans, which need no
/// sub-pixel search: these settings encode a panning still as fast as a still one
/// (1.07×, where `veryfast` takes 1.8×). Measured on the benchmark video against a
/// lossless encode: SSIM 0.9904 and PSNR 47.0 dB at 4.6 Mbit/s, the quality `veryfast` at
/// CRF 21 gave (0.9902, 45.5 dB, 2.8 Mbit/s) for 0.41 of its encoder CPU time.
pub const H264_SETTINGS: &[&str] = &[
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-x264-params",
    "cabac=1:8x8dct=1:deblock=1",
    "-profile:v",
    "high",
    "-pix_fmt",
    "yuv420p",
    "-crf",
    "23",
    "-r",
    "30",
    "-g",
    "60",
];

/// Where the encode leaves the cover, inside the work directory.
const COVER: &str = "cover.jpg";

/// Runs the graph: the picture (no sound) to `video.mp4` and the first frame to the
/// cover, both in the work directory. Returns the video's path.
async fn encode_video(
    env: &RenderEnv,
    dir: &Path,
    graph: &Graph,
    seconds: f64,
    progress: Progress<'_>,
    deadline: Instant,
) -> Result<PathBuf, RenderError> {
    let mut cmd = Cmd::new(&env.ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-y"])
        .args(["-loglevel", "error", "-progress", "pipe:1"])
        .current_dir(dir);
    for (opts, path) in &graph.inputs {
        let path = if path.is_relative() {
            std::path::absolute(path)?
        } else {
            path.clone()
        };
        cmd = cmd.args(opts.iter().cloned()).arg("-i").arg(path);
    }
    let video = dir.join("video.mp4");
    cmd = cmd
        .args(["-filter_complex_script", "graph.txt"])
        .args(["-map", "[vout]"])
        .args(H264_SETTINGS.iter().copied())
        .args(["-an", "-t", &format!("{seconds:.3}"), "-f", "mp4"])
        .arg(&video)
        .args(["-map", "[vcover]", "-frames:v", "1", "-q:v", "2"])
        .args(["-c:v", "mjpeg", "-f", "image2", COVER])
        .deadline(deadline);
    let mut last = 0u8;
    let mut on_line = |line: &str| {
        if let Some(us) = line.strip_prefix("out_time_us=") {
            if let Ok(us) = us.trim().parse::<f64>() {
                let pct = ((us / 1e6 / seconds) * 100.0).clamp(0.0, 99.0) as u8;
                if pct > last {
                    last = pct;
                    progress(Stage::Encoding, pct);
                }
            }
        }
    };
    cmd.run_lines(&mut on_line)
        .await
        .map_err(|source| RenderError::Ffmpeg {
            stage: "rendering the video",
            source,
        })?;
    Ok(video)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the incoming picture's left edge is on each frame of a slide, by ffmpeg.
    fn slide_edges(frames: u32) -> Vec<usize> {
        let (w, h) = (64u32, 16u32);
        let mut g = format!(
            "color=black:s={w}x{h}:r={FPS}:d=1,setpts=N/{FPS}/TB,trim=end_frame={frames}[a];\
             color=white:s={w}x{h}:r={FPS}:d=1,setpts=N/{FPS}/TB,trim=end_frame={frames}[b];"
        );
        transition(
            &mut g,
            Transition::SlideLeft,
            ("a", "b"),
            "t",
            frames,
            (w, h),
        );
        g.push_str("[t]format=gray,crop=64:1:0:8");
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-filter_complex", &g, "-f", "rawvideo", "-"])
            .output()
            .expect("ffmpeg");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .chunks(w as usize)
            .map(|row| row.iter().position(|&v| v > 128).unwrap_or(w as usize))
            .collect()
    }

    #[test]
    fn slides_start_outside_and_ease_in_evenly() {
        // Ease-out over 4 frames of a 64 px frame: 64·(1 − p(2 − p)) at p = k/5, in even
        // pixels. The first frame shows some of the picture, none is skipped.
        assert_eq!(slide_edges(4), [40, 24, 10, 2]);
    }

    #[test]
    fn pan_stays_inside_and_ends_near_target() {
        // 300 px of room, 100 frames at 2 px: travel 198.
        let (x0, dx) = pan_start(1900.0, 2220, 1920, 1, 2, 100);
        assert_eq!(dx, 2);
        let end = x0 + dx * 99;
        assert!(x0 >= 0 && end <= 300, "{x0} {end}");
        let (x0, dx) = pan_start(0.0, 2220, 1920, -1, 2, 100);
        assert_eq!(dx, -2);
        assert!(x0 + dx * 99 >= 0 && x0 <= 300);
        assert_eq!(pan_start(500.0, 1080, 1080, 0, 2, 100), (0, 0));
    }
}
