//! Render workers (api.md §6, design.md principles 3 and 9): claim a render job with a
//! lease, renew it while working, render the task's stored inputs, store the MP4 and
//! cover, and finish the task with a transaction fenced by the lease. A worker that lost
//! its lease stops and writes nothing; a crashed worker's job is claimed again when its
//! lease expires, so an accepted task is never lost and never charged twice.

use crate::attempt_end::Outcome;
use crate::job::{render_job, seed_of, JobFiles, JobOptions};
use crate::task_error::{classify, TaskError};
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use peakreel_blobs::Blobs;
use peakreel_domain::request::{ModificationMode, Orientation as WireOrientation, TestScenario};
use peakreel_domain::TaskSpec;
use peakreel_media::{render, Profile, RenderEnv, RenderOutput, Stage};
use peakreel_staging::{StageRequest, StagingError, StagingMode, StagingProvider};
use peakreel_store::{Job, Lease, Store, TaskRecord, TaskStatus, RENDER_JOB};
use peakreel_types::{ApiError, Code};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex, Notify};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub lease_secs: i64,
    pub render_time_limit: Duration,
    pub retention_secs: i64,
    /// How long running renders may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Fallback poll when no notification arrives.
    pub poll_interval: Duration,
    /// First retry delay; doubled per attempt.
    pub retry_backoff: Duration,
}

pub struct Worker {
    pub store: Arc<dyn Store>,
    pub blobs: Blobs,
    pub env: Arc<RenderEnv>,
    pub settings: WorkerSettings,
    pub wake: Arc<Notify>,
    pub shutdown: watch::Receiver<bool>,
    /// Test-mode samples are rendered once per orientation; this serialises that.
    pub samples: Arc<Mutex<()>>,
    /// Virtual staging for `change_decoration` and `furnish` (none: such tasks fail).
    pub staging: Option<Arc<dyn StagingProvider>>,
}

pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Worker {
    /// Claim and run render jobs until shutdown.
    pub async fn run(self: Arc<Self>, name: String) {
        let mut shutdown = self.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self
                .store
                .claim(&[RENDER_JOB], &name, self.settings.lease_secs)
                .await
            {
                Ok(Some(job)) => {
                    if let Err(e) = self.process(job).await {
                        tracing::error!(worker = %name, error = %format!("{e:#}"), "job processing failed");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(worker = %name, error = %e, "claim failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(worker = %name, "worker stopped");
    }

    async fn process(&self, job: Job) -> Result<()> {
        let lease = job
            .lease()
            .ok_or_else(|| anyhow!("claimed job without a lease"))?;
        let task_id = job
            .task_id
            .clone()
            .ok_or_else(|| anyhow!("render job without a task"))?;
        let Some(task) = self.store.task_by_id(&task_id).await? else {
            self.store.fail(&lease, "task is missing", None).await?;
            return Ok(());
        };
        if matches!(task.status, TaskStatus::Completed | TaskStatus::Failed) {
            // Finished by an earlier attempt whose job update was lost: nothing to do.
            self.store.complete(&lease).await?;
            return Ok(());
        }
        if job.attempt > job.max_attempts {
            let err = ApiError::new(
                Code::ServiceError,
                "The render failed repeatedly and was given up. The credits were refunded; retry the request later.",
            );
            self.fail(&task_id, &lease, &err).await?;
            return Ok(());
        }
        if !self.store.start_task(&task_id, &lease).await? {
            return Ok(()); // lease lost before we began
        }
        tracing::info!(task_id = %task_id, attempt = job.attempt, "render started");

        let (lost_tx, lost_rx) = watch::channel(false);
        let heartbeat = self.spawn_heartbeat(lease.clone(), lost_tx);
        let outcome = self.run_with_supervision(&task, &lease, lost_rx).await;
        // Lease lost or released on shutdown: nothing to write. Otherwise the heartbeat
        // keeps the lease while the end is written (through a database outage, too).
        let ended = match outcome {
            None => Ok(()),
            Some(outcome) => self.end_attempt(&job, &task_id, &lease, outcome).await,
        };
        heartbeat.abort();
        ended
    }

    fn spawn_heartbeat(
        &self,
        lease: Lease,
        lost: watch::Sender<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let lease_secs = self.settings.lease_secs;
        let every = Duration::from_secs((lease_secs / 3).max(1) as u64);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.heartbeat(&lease, lease_secs).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = lost.send(true);
                        return;
                    }
                    // A database hiccup is not a lost lease; the next beat may succeed.
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
        })
    }

    /// Run the task, stopping early if the lease is lost or shutdown's grace runs out.
    /// `None` means nothing must be written for this attempt.
    async fn run_with_supervision(
        &self,
        task: &TaskRecord,
        lease: &Lease,
        mut lost: watch::Receiver<bool>,
    ) -> Option<Outcome> {
        let mut shutdown = self.shutdown.clone();
        let grace = self.settings.shutdown_grace;
        let work = self.execute(task, lease);
        tokio::pin!(work);
        let shutdown_expired = async {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            outcome = &mut work => Some(outcome),
            // (The watch guard must not live across the awaits below.)
            _ = async { let _ = lost.wait_for(|l| *l).await; } => {
                tracing::warn!(task_id = %task.id, "lease lost: render abandoned");
                None
            }
            _ = shutdown_expired => {
                // Dropping the render future kills its processes and removes its files.
                match self.store.release_task(&task.id, lease).await {
                    Ok(_) => tracing::info!(task_id = %task.id, "render released for another worker"),
                    Err(e) => tracing::error!(task_id = %task.id, error = %e, "release failed; the lease will expire"),
                }
                None
            }
        }
    }

    async fn execute(&self, task: &TaskRecord, lease: &Lease) -> Outcome {
        let spec: TaskSpec = match serde_json::from_str(&task.request) {
            Ok(spec) => spec,
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "stored task is unreadable");
                return Outcome::Failed(ApiError::new(
                    Code::ServiceError,
                    "The task's stored request could not be read. The credits were refunded.",
                ));
            }
        };
        let livemode = task.owner.mode == peakreel_types::ids::Mode::Live;
        if !livemode {
            return self.execute_test(task, &spec, lease).await;
        }
        let progress = ProgressWriter::spawn(self.store.clone(), task.id.clone(), lease.clone());
        let result = self
            .render_task(task, &spec, &progress, lease.attempt)
            .await;
        progress.finish().await;
        match result {
            Ok(result) => Outcome::Completed(result),
            Err(TaskError::Final(err)) => Outcome::Failed(err),
            Err(TaskError::Transient(reason)) => Outcome::Retry(reason),
        }
    }

    async fn render_task(
        &self,
        task: &TaskRecord,
        spec: &TaskSpec,
        progress: &ProgressWriter,
        attempt: u32,
    ) -> Result<serde_json::Value, TaskError> {
        let work = tempfile::Builder::new()
            .prefix("peakreel-task-")
            .tempdir()
            .map_err(|e| TaskError::Transient(format!("temporary directory: {e}")))?;
        progress.report("fetching", 2);
        let mut images = Vec::with_capacity(spec.inputs.images.len());
        for media in &spec.inputs.images {
            images.push(self.local_file(&media.key, work.path()).await?);
        }
        if let Some(mode) = staging_mode(spec.request.modification_mode) {
            images = self.stage_images(spec, mode, images, work.path()).await?;
        }
        let logo = match &spec.inputs.logo {
            Some(m) => Some(self.local_file(&m.key, work.path()).await?),
            None => None,
        };
        let avatar = match &spec.request.avatar_id {
            Some(id) => {
                let record = self
                    .store
                    .get_avatar(id)
                    .await
                    .map_err(|e| TaskError::Transient(e.to_string()))?;
                let Some(record) = record else {
                    return Err(TaskError::Final(ApiError::new(
                        Code::AvatarUrlError,
                        "The avatar was deleted before the render started. The credits were refunded.",
                    )
                    .with_details(json!({ "avatar_id": id }))));
                };
                Some(self.local_file(&record.image_path, work.path()).await.map_err(|_| {
                    TaskError::Final(ApiError::new(
                        Code::AvatarUrlError,
                        "The avatar's image could not be read from storage. The credits were refunded.",
                    )
                    .with_details(json!({ "avatar_id": id })))
                })?)
            }
            None => None,
        };
        let voice = crate::task_voice::profile(self.store.as_ref(), spec).await?;
        let job = render_job(
            &spec.request,
            JobFiles {
                images,
                logo,
                avatar,
                output: work.path().join("video.mp4"),
                cover: work.path().join("cover.jpg"),
            },
            JobOptions {
                orientation: spec.inputs.orientation,
                voice,
                seed: seed_of(task.id.as_bytes()),
                profile: render_profile(),
                time_limit: self.settings.render_time_limit,
            },
        );
        let on_progress = |stage: Stage, pct: u8| {
            let (from, span) = match stage {
                Stage::Narration => (5.0, 20.0),
                Stage::Rendering => (25.0, 15.0),
                Stage::Encoding => (40.0, 55.0),
            };
            progress.report(stage.as_str(), (from + span * f64::from(pct) / 100.0) as u8);
        };
        let out = render(&job, &self.env, &on_progress)
            .await
            .map_err(classify)?;
        tracing::info!(task_id = %task.id, seconds = out.duration_seconds, engine = out.speech_engine, "render finished");
        progress.report("uploading", 96);
        // Per attempt: a worker that lost its lease but has not noticed yet can never
        // overwrite the files the winning attempt's (fenced) result points to.
        let prefix = format!("tasks/{}/output/{attempt}", task.id);
        self.store_output(&out, job.subtitle, &prefix).await
    }

    /// Sends every input image through the staging provider (all at once: at most 9) and
    /// returns the staged files. Any failure ends the task (`SERVICE_ERROR`, or
    /// `SERVICE_TIMEOUT` for a provider that did not answer in time), refunded. Not
    /// retried through the job's retry path: a retry would stage (and pay the provider
    /// for) every image again, and the provider's own availability is not ours to mask.
    async fn stage_images(
        &self,
        spec: &TaskSpec,
        mode: StagingMode,
        images: Vec<std::path::PathBuf>,
        dir: &Path,
    ) -> Result<Vec<std::path::PathBuf>, TaskError> {
        let Some(provider) = self.staging.clone() else {
            return Err(TaskError::Final(ApiError::new(
                Code::ServiceError,
                "Virtual staging is no longer enabled on this server. The credits were refunded; retry with `no_modify`.",
            )));
        };
        let mut set = tokio::task::JoinSet::new();
        for (i, path) in images.iter().enumerate() {
            let room_type = spec.request.images.get(i).and_then(|img| img.room_type);
            let room_type = room_type.map_or("other", |r| r.as_str()).to_string();
            let (provider, path, dir) = (provider.clone(), path.clone(), dir.to_path_buf());
            set.spawn(async move {
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| TaskError::Transient(format!("reading input: {e}")))?;
                let staged = provider
                    .stage(StageRequest {
                        image: Bytes::from(bytes),
                        room_type,
                        mode,
                    })
                    .await
                    .map_err(|e| staging_failed(i, e))?;
                let ext = match peakreel_staging::sniff(&staged) {
                    Some("image/png") => "png",
                    Some("image/webp") => "webp",
                    _ => "jpg",
                };
                let out = dir.join(format!("staged{i}.{ext}"));
                tokio::fs::write(&out, &staged)
                    .await
                    .map_err(|e| TaskError::Transient(format!("writing staged image: {e}")))?;
                // A staged image that does not decode is the provider's fault, not the
                // client's: check it here rather than fail the render on "images[i]".
                let check = out.clone();
                tokio::task::spawn_blocking(move || peakreel_media::analysis::decode(&check))
                    .await
                    .map_err(|e| TaskError::Transient(e.to_string()))?
                    .map_err(|reason| staging_failed(i, StagingError::BadResponse(reason)))?;
                Ok::<_, TaskError>((i, out))
            });
        }
        let mut staged = images;
        while let Some(joined) = set.join_next().await {
            let (i, path) =
                joined.map_err(|e| TaskError::Transient(format!("staging task: {e}")))??;
            staged[i] = path;
        }
        Ok(staged)
    }

    async fn store_output(
        &self,
        out: &RenderOutput,
        subtitle: Option<peakreel_media::SubtitlePreset>,
        prefix: &str,
    ) -> Result<serde_json::Value, TaskError> {
        crate::outputs::store(
            &self.blobs,
            out,
            subtitle,
            prefix,
            self.settings.retention_secs,
        )
        .await
        .map_err(TaskError::Transient)
    }

    /// A stored blob as a local file (the local backend's own file when possible).
    async fn local_file(&self, key: &str, dir: &Path) -> Result<std::path::PathBuf, TaskError> {
        if let Some(path) = self.blobs.local_path(key).filter(|p| p.is_file()) {
            return Ok(path);
        }
        let bytes = self
            .blobs
            .get(key)
            .await
            .map_err(|e| TaskError::Transient(format!("reading input {key}: {e}")))?;
        let path = dir.join(key.replace('/', "_"));
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| TaskError::Transient(format!("writing input: {e}")))?;
        Ok(path)
    }

    /// Test mode (api.md §6): the same lifecycle, a watermarked sample instead of a render,
    /// and `test_scenario` ending the task with the named code.
    async fn execute_test(&self, task: &TaskRecord, spec: &TaskSpec, lease: &Lease) -> Outcome {
        let _ = self
            .store
            .set_progress(&task.id, lease, 50, "rendering")
            .await;
        let scenario_error = |code, message: &str| Outcome::Failed(ApiError::new(code, message));
        match spec.request.test_scenario {
            TestScenario::ImageProcessingFailed => {
                return scenario_error(
                    Code::ImageProcessingFailed,
                    "Test scenario: an image could not be processed.",
                )
            }
            TestScenario::TtsError => {
                return scenario_error(Code::TtsError, "Test scenario: speech synthesis failed.")
            }
            TestScenario::ServiceTimeout => {
                return scenario_error(
                    Code::ServiceTimeout,
                    "Test scenario: the render exceeded its time limit.",
                )
            }
            TestScenario::Success => {}
        }
        match self.sample(spec.inputs.orientation).await {
            Ok(result) => Outcome::Completed(result),
            Err(TaskError::Final(err)) => Outcome::Failed(err),
            Err(TaskError::Transient(reason)) => Outcome::Retry(reason),
        }
    }

    /// The sample video of an orientation: rendered once by the real renderer from
    /// generated stills, stored, and shared by every test task.
    async fn sample(&self, orientation: WireOrientation) -> Result<serde_json::Value, TaskError> {
        let prefix = format!("samples/{}", orientation.as_str());
        let meta_key = format!("{prefix}/meta.json");
        let _guard = self.samples.lock().await;
        let cached = match self.blobs.get(&meta_key).await {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
            Err(_) => None,
        };
        let meta = match cached {
            Some(meta) => meta,
            None => {
                let sample = crate::sample::render_sample(&self.env, orientation)
                    .await
                    .map_err(|e| TaskError::Transient(format!("rendering the sample: {e:#}")))?;
                let meta = self.store_output(&sample.output, None, &prefix).await?;
                // Written last: a crash before this point only means rendering it again.
                self.blobs
                    .put(&meta_key, Bytes::from(meta.to_string()))
                    .await
                    .map_err(|e| TaskError::Transient(e.to_string()))?;
                meta
            }
        };
        let mut result = meta;
        result["expires_at"] = json!(unix_now() + self.settings.retention_secs);
        result["sample"] = json!(true);
        Ok(result)
    }
}

/// Full HD, unless `PEAKREEL_RENDER_PROFILE=test` asks for 640×360 renders (same codecs
/// and graph): a development and test hook that keeps integration renders short.
fn render_profile() -> Profile {
    match std::env::var("PEAKREEL_RENDER_PROFILE").as_deref() {
        Ok("test") => Profile::Test,
        _ => Profile::Full,
    }
}

fn staging_mode(m: ModificationMode) -> Option<StagingMode> {
    match m {
        ModificationMode::NoModify => None,
        ModificationMode::ChangeDecoration => Some(StagingMode::ChangeDecoration),
        ModificationMode::Furnish => Some(StagingMode::Furnish),
    }
}

/// A staging failure as the task's error: the code from the provider error, a message
/// that names the image and the kind of failure but not the provider's address or body.
fn staging_failed(index: usize, e: StagingError) -> TaskError {
    tracing::warn!(index, error = %e, "virtual staging failed");
    let what = match &e {
        StagingError::Status { status, .. } => format!("answered HTTP {status}"),
        StagingError::Timeout(d) => format!("did not answer within {} s", d.as_secs()),
        StagingError::Connect(_) => "could not be reached".to_string(),
        StagingError::BadResponse(_) => "returned something that is not a usable image".into(),
        StagingError::Config(_) => "is misconfigured".to_string(),
    };
    TaskError::Final(
        ApiError::new(
            e.code(),
            format!(
                "Virtual staging of images[{index}] failed: the staging provider {what}. The credits were refunded."
            ),
        )
        .with_details(json!({ "index": index })),
    )
}

/// Writes progress to the task at most twice a second, off the render's path (the
/// renderer's callback is synchronous).
struct ProgressWriter {
    tx: watch::Sender<(String, u8)>,
    handle: tokio::task::JoinHandle<()>,
}

impl ProgressWriter {
    fn spawn(store: Arc<dyn Store>, task_id: String, lease: Lease) -> Self {
        let (tx, mut rx) = watch::channel(("fetching".to_string(), 0u8));
        let handle = tokio::spawn(async move {
            let mut last = (String::new(), 0u8);
            while rx.changed().await.is_ok() {
                let now = rx.borrow_and_update().clone();
                if now != last {
                    if let Err(e) = store.set_progress(&task_id, &lease, now.1, &now.0).await {
                        tracing::warn!(error = %e, "progress update failed");
                    }
                    last = now;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        ProgressWriter { tx, handle }
    }

    fn report(&self, stage: &str, progress: u8) {
        self.tx.send_if_modified(|cur| {
            // Progress never goes backwards within an attempt.
            let next = progress.max(cur.1);
            if cur.0 != stage || cur.1 != next {
                *cur = (stage.to_string(), next);
                true
            } else {
                false
            }
        });
    }

    async fn finish(self) {
        drop(self.tx);
        let _ = self.handle.await;
    }
}

/// Deletes result files past their retention and marks the results expired.
pub async fn retention_sweep(store: &dyn Store, blobs: &Blobs) -> Result<usize> {
    let expired = store
        .tasks_with_expired_results(unix_now(), 100)
        .await
        .context("listing expired results")?;
    let mut count = 0;
    for task in expired {
        let sample = task.result.as_ref().and_then(|r| r.get("sample")).is_some();
        if !sample {
            blobs
                .delete_prefix(&format!("tasks/{}", task.id))
                .await
                .context("deleting expired files")?;
        }
        store.mark_result_expired(&task.id).await?;
        count += 1;
    }
    Ok(count)
}
