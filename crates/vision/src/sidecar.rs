//! The detectors in one long-lived node process.
//!
//! Loading the two models costs about a second, detecting ~110 ms a photo (2 cores, the
//! WebAssembly backend): so one process is started on first use, kept, and asked one
//! question per stdin line (the protocol is at the top of `sidecar/labeller.js`, which is
//! compiled into the binary). Questions are asked one at a time. A process that dies,
//! answers nonsense or takes longer than the time limit is killed; the next question
//! starts a new one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use image::{imageops::FilterType, RgbImage};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::{Detection, Detector, VisionError};

/// The sidecar's program, run with `node -e`.
const SCRIPT: &str = include_str!("../sidecar/labeller.js");

/// Files of the npm install that must be there for the sidecar to work.
const REQUIRED: &[&str] = &[
    "@vladmandic/human/dist/human.node-wasm.js",
    "@vladmandic/human/models/centernet.json",
    "@vladmandic/human/models/centernet.bin",
    "@vladmandic/human/models/blazeface.json",
    "@vladmandic/human/models/blazeface.bin",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
];

/// Where the sidecar's packages are and how long it may take.
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// The node program (a path, or a name looked up in `PATH`).
    pub node: PathBuf,
    /// The npm prefix `scripts/install-deps.sh` installed into: it holds `node_modules`.
    pub dir: PathBuf,
    /// Limit for starting (loading the models) and, separately, for each answer.
    pub timeout: Duration,
    /// Pictures are reduced to this longest side before they are sent (the detectors
    /// work at 512 px or less, so more only costs copying).
    pub max_side: u32,
}

impl SidecarConfig {
    /// Where `scripts/install-deps.sh` installs the packages: `PEAKREEL_VISION_DIR`, else
    /// `~/.local/share/peakreel/vision`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("PEAKREEL_VISION_DIR") {
            return dir.into();
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
        PathBuf::from(home).join(".local/share/peakreel/vision")
    }

    /// `node` from `PATH`, the packages under `dir`, 30 s, 640 px.
    pub fn new(dir: impl Into<PathBuf>) -> SidecarConfig {
        SidecarConfig {
            node: "node".into(),
            dir: dir.into(),
            timeout: Duration::from_secs(30),
            max_side: 640,
        }
    }
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// The node sidecar as a [`Detector`].
pub struct NodeSidecar {
    config: SidecarConfig,
    process: tokio::sync::Mutex<Option<Running>>,
    next_id: AtomicU64,
    /// How many processes were started (a restart shows as a second start).
    starts: AtomicU64,
}

impl std::fmt::Debug for NodeSidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSidecar")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Answer {
    id: Option<u64>,
    detections: Option<Vec<Detection>>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Ready {
    ready: Option<bool>,
    error: Option<String>,
}

impl NodeSidecar {
    /// A sidecar that starts on first use.
    pub fn new(config: SidecarConfig) -> NodeSidecar {
        NodeSidecar {
            config,
            process: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
            starts: AtomicU64::new(0),
        }
    }

    /// How many node processes this sidecar has started so far.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    fn modules(&self) -> PathBuf {
        self.config.dir.join("node_modules")
    }

    async fn start(&self) -> Result<Running, VisionError> {
        let mut child = tokio::process::Command::new(&self.config.node)
            .arg("-e")
            .arg(SCRIPT)
            .env("PEAKREEL_VISION_MODULES", self.modules())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                VisionError::Sidecar(format!("starting {}: {e}", self.config.node.display()))
            })?;
        self.starts.fetch_add(1, Ordering::Relaxed);
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = self.read_line(&mut stdout).await?;
        let ready: Ready = serde_json::from_str(&first)
            .map_err(|e| VisionError::Sidecar(format!("start-up line {first:?}: {e}")))?;
        match (ready.ready, ready.error) {
            (Some(true), _) => Ok(Running {
                child,
                stdin,
                stdout,
            }),
            (_, Some(e)) => Err(VisionError::Sidecar(format!("loading the models: {e}"))),
            _ => Err(VisionError::Sidecar(format!(
                "unexpected start-up line {first:?}"
            ))),
        }
    }

    async fn read_line(
        &self,
        stdout: &mut Lines<BufReader<ChildStdout>>,
    ) -> Result<String, VisionError> {
        match tokio::time::timeout(self.config.timeout, stdout.next_line()).await {
            Err(_) => Err(VisionError::TimedOut(self.config.timeout)),
            Ok(Err(e)) => Err(VisionError::Sidecar(format!("reading its answer: {e}"))),
            Ok(Ok(None)) => Err(VisionError::Sidecar("the process ended".into())),
            Ok(Ok(Some(line))) => Ok(line),
        }
    }

    async fn ask(&self, op: &str, image: &RgbImage) -> Result<Vec<Detection>, VisionError> {
        self.availability().map_err(VisionError::Unavailable)?;
        let line = request_line(
            self.next_id.fetch_add(1, Ordering::Relaxed),
            op,
            image,
            self.config.max_side,
        );
        let mut guard = self.process.lock().await;
        if guard.is_none() {
            *guard = Some(self.start().await?);
        }
        let running = guard.as_mut().expect("just started");
        let answer = self.exchange(running, &line.1).await;
        let answer = match answer {
            Ok(a) if a.id == Some(line.0) => Ok(a),
            Ok(a) => Err(VisionError::Sidecar(format!(
                "answer for request {:?}, expected {}",
                a.id, line.0
            ))),
            Err(e) => Err(e),
        };
        match answer {
            Ok(Answer {
                detections: Some(mut d),
                ..
            }) => {
                d.sort_by(|a, b| b.score.total_cmp(&a.score));
                Ok(d)
            }
            Ok(Answer { error: Some(e), .. }) => Err(VisionError::Refused(e)),
            Ok(_) => Err(VisionError::Sidecar(
                "an answer with neither result nor error".into(),
            )),
            Err(e) => {
                // Whatever state the process is in, it is not to be trusted again.
                if let Some(mut dead) = guard.take() {
                    let _ = dead.child.start_kill();
                }
                Err(e)
            }
        }
    }

    async fn exchange(&self, running: &mut Running, line: &str) -> Result<Answer, VisionError> {
        let write = async {
            running.stdin.write_all(line.as_bytes()).await?;
            running.stdin.write_all(b"\n").await?;
            running.stdin.flush().await
        };
        match tokio::time::timeout(self.config.timeout, write).await {
            Err(_) => return Err(VisionError::TimedOut(self.config.timeout)),
            Ok(Err(e)) => return Err(VisionError::Sidecar(format!("writing the request: {e}"))),
            Ok(Ok(())) => {}
        }
        let reply = self.read_line(&mut running.stdout).await?;
        serde_json::from_str(&reply)
            .map_err(|e| VisionError::Sidecar(format!("answer is not JSON ({e})")))
    }

    /// Kills the running process, if any (tests; the next question starts a new one).
    pub async fn kill(&self) {
        if let Some(mut running) = self.process.lock().await.take() {
            let _ = running.child.kill().await;
        }
    }
}

/// The JSON request line for `image`, reduced to `max_side`, and its id.
fn request_line(id: u64, op: &str, image: &RgbImage, max_side: u32) -> (u64, String) {
    let (w, h) = image.dimensions();
    let small;
    let sent = if w.max(h) > max_side {
        let scale = f64::from(max_side) / f64::from(w.max(h));
        let (sw, sh) = (
            ((f64::from(w) * scale).round() as u32).max(1),
            ((f64::from(h) * scale).round() as u32).max(1),
        );
        small = image::imageops::resize(image, sw, sh, FilterType::Triangle);
        &small
    } else {
        image
    };
    let body = serde_json::json!({
        "id": id,
        "op": op,
        "width": sent.width(),
        "height": sent.height(),
        "rgb": base64::engine::general_purpose::STANDARD.encode(sent.as_raw()),
    });
    (id, body.to_string())
}

/// `program` as a file, or found in `PATH`.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[async_trait::async_trait]
impl Detector for NodeSidecar {
    async fn objects(&self, image: &RgbImage) -> Result<Vec<Detection>, VisionError> {
        self.ask("objects", image).await
    }

    async fn faces(&self, image: &RgbImage) -> Result<Vec<Detection>, VisionError> {
        self.ask("faces", image).await
    }

    /// Starts the process (loading both models) and has it answer two blank pictures, so
    /// the first real question is answered at full speed.
    async fn warm(&self) -> Result<(), VisionError> {
        // Pictures of the sizes real photos are sent at (a landscape and a portrait
        // listing photo at `max_side`): the first answer for a new size is slow.
        let side = self.config.max_side;
        for (w, h) in [(side, side * 2 / 3), (side * 2 / 3, side)] {
            self.objects(&RgbImage::new(w, h)).await?;
        }
        Ok(())
    }

    fn availability(&self) -> Result<(), String> {
        if find_program(&self.config.node).is_none() {
            return Err(format!(
                "node ({}) is not installed",
                self.config.node.display()
            ));
        }
        let modules = self.modules();
        match REQUIRED.iter().find(|f| !modules.join(f).is_file()) {
            Some(missing) => Err(format!(
                "{} is missing (run scripts/install-deps.sh)",
                modules.join(missing).display()
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_pictures_are_reduced_keeping_their_shape() {
        let img = RgbImage::from_pixel(1920, 1080, image::Rgb([10, 20, 30]));
        let (id, line) = request_line(7, "objects", &img, 640);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!((id, v["id"].as_u64()), (7, Some(7)));
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(640), Some(360))
        );
        let rgb = base64::engine::general_purpose::STANDARD
            .decode(v["rgb"].as_str().unwrap())
            .unwrap();
        assert_eq!(rgb.len(), 640 * 360 * 3);
        assert_eq!(&rgb[..3], &[10, 20, 30]);
    }

    #[test]
    fn a_missing_install_is_unavailable_with_a_reason() {
        let dir = std::env::temp_dir().join("peakreel-vision-nothing-here");
        let sidecar = NodeSidecar::new(SidecarConfig::new(&dir));
        let reason = sidecar.availability().unwrap_err();
        assert!(
            reason.contains("missing") || reason.contains("node"),
            "{reason}"
        );
        let no_node = NodeSidecar::new(SidecarConfig {
            node: "/nonexistent/node".into(),
            ..SidecarConfig::new(&dir)
        });
        assert!(no_node
            .availability()
            .unwrap_err()
            .contains("not installed"));
    }
}
