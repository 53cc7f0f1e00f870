//! `peakreel`: the one binary (cli.md). `serve` runs the API and the render workers in
//! one process; `api` and `worker` are its two halves; `admin` manages accounts and keys
//! on the same database; `render` renders a request locally without a server.

mod admin;
mod attempt_end;
mod config;
mod job;
mod metrics;
mod outputs;
mod previews;
mod private_files;
mod render_cmd;
mod sample;
mod secrets;
mod seed;
mod storage;
mod task_error;
mod task_voice;
mod upload_sweep;
mod voices;
mod webhook_sender;
mod worker;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::{Config, Overrides};
use peakreel_api::{ApiConfig, AppState};
use peakreel_blobs::{Blobs, UrlSigner};
use peakreel_domain::UrlPolicy;
use peakreel_fetch::{FetchPolicy, IpNet, SafeClient};
use peakreel_store::Store;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "peakreel",
    version,
    about = "Self-hostable, VibePeak-compatible real-estate video API"
)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database if needed, then serve the API and the render workers.
    Serve,
    /// Serve the API only (no render workers in this process).
    Api,
    /// Run render workers only (no API).
    Worker,
    /// Render a request JSON to an MP4 locally, validated exactly as the API would.
    Render(render_cmd::RenderArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Accounts, plans, credits and keys.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The voice catalogue and the engine speaking each voice on this machine.
    Voices {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets masked).
    Print,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEAKREEL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(&cli.overrides)?;
    if !matches!(cli.command, Command::Render(_) | Command::Config(_)) {
        // These commands create the data directory, the database and stored media: all
        // of it private. `render` writes where the user asks, with the user's umask.
        private_files::restrict_new_files();
    }
    match cli.command {
        Command::Serve => serve(&config, Role::Both).await,
        Command::Api => serve(&config, Role::Api).await,
        Command::Worker => serve(&config, Role::Worker).await,
        Command::Render(args) => render_cmd::run(args).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!("database {} is up to date", config.database_display());
            Ok(())
        }
        Command::Admin(cmd) => admin::run(&config, cmd).await,
        Command::Voices { json } => {
            voices::run_cli(config.speech.voices_dir.as_deref(), json).await
        }
        Command::Config(ConfigCommand::Print) => {
            print!("{}", config.masked_toml()?);
            Ok(())
        }
    }
}

/// Open (creating and migrating) the configured store: SQLite or PostgreSQL. A SQLite
/// file's directory is created private (0700).
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    if let peakreel_store::open::DatabaseUrl::Sqlite(path) = config.database() {
        if let Some(dir) = path.parent() {
            private_files::create_private_dir(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    peakreel_store::open::open(&config.database(), config.plan_table())
        .await
        .with_context(|| format!("cannot open the database {}", config.database_display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Both,
    Api,
    Worker,
}

async fn serve(config: &Config, role: Role) -> Result<()> {
    if config.allow_http {
        tracing::warn!("--allow-http is on: http:// URLs are accepted (development only)");
    }
    if !config.allow_network.is_empty() {
        tracing::warn!(networks = ?config.allow_network, "--allow-network is on: these ranges pass the SSRF guard (development only)");
    }
    private_files::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    private_files::warn_about_loose_modes(config);
    let blobs = storage::open(config).await?;
    let store = open_store(config).await?;

    // The API binds first so the default public URL can name the real port.
    let listener = match role {
        Role::Worker => None,
        Role::Both | Role::Api => Some(
            tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?,
        ),
    };
    let addr = match &listener {
        Some(l) => l.local_addr()?.to_string(),
        None => config.listen.clone(),
    };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let secret = secrets::signing_secret(store.as_ref(), &config.data_dir).await?;
    let signer = Arc::new(storage::links(
        UrlSigner::new(secret, &public_url),
        &blobs,
        config,
    ));
    let fetcher = build_fetcher(config)?;
    let staging = build_staging(config)?;

    // One signal for everything: the API stops accepting, workers stop claiming and let
    // running renders finish within the grace period (design.md principle 9).
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    let workers = match role {
        Role::Api => 0,
        Role::Both | Role::Worker => config.workers(),
    };
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    let mut background = Vec::new();
    // One sidecar for the process: renders and avatar uploads share its loaded models.
    let vision = config.vision.detector();
    if let Some(detector) = vision
        .clone()
        .filter(|d| workers > 0 && d.availability().is_ok())
    {
        // Renders label photos: the models load now, beside start-up, not in a render.
        background.push(tokio::spawn(async move {
            match detector.warm().await {
                Ok(()) => tracing::info!("vision sidecar ready"),
                Err(e) => {
                    tracing::warn!(error = %e, "vision sidecar did not start; renders retry it")
                }
            }
        }));
    }
    let env = {
        let mut env = peakreel_media::RenderEnv::detect().await;
        if workers > 0 {
            // Workers narrate task after task: Piper's start-up is paid once, not per task.
            env.speech.piper = env.speech.piper.take().map(|p| p.keep_warm());
        }
        crate::voices::add_voice_packs(&mut env.speech, config.speech.voices_dir.as_deref());
        env.ffmpeg = config.programs.ffmpeg.clone().into();
        env.ffprobe = config.programs.ffprobe.clone().into();
        env.vision = vision.clone();
        if let Some(url) = &config.speech.remote_url {
            let mut remote = peakreel_speech::RemoteConfig::new(
                url,
                config.speech.remote_api_key.as_deref().unwrap_or(""),
            );
            remote.model_id = config.speech.remote_model_id.clone();
            env.speech.remote = Some(peakreel_speech::RemoteEngine::new(remote, fetcher.clone()));
            tracing::info!("remote speech provider configured");
        }
        Arc::new(env)
    };
    // The catalogue maps each voice to this server's engines, so it is stored once they
    // are known.
    let catalogue = voices::catalogue(&env.speech);
    let public_ids: Vec<String> = catalogue.iter().map(|v| v.id.clone()).collect();
    seed::seed_catalog(store.as_ref(), &blobs, catalogue)
        .await
        .context("cannot seed the public catalogue")?;
    let previewer = Arc::new(previews::SpeechPreviewer { env: env.clone() });
    {
        // Public voices' preview samples are made in the background, again after a
        // storage outage.
        let (store, blobs, previewer) = (store.clone(), blobs.clone(), previewer.clone());
        let shutdown = shutdown_rx.clone();
        tokio::spawn(async move {
            previews::keep_public_previews(store.as_ref(), &blobs, &previewer, public_ids, shutdown)
                .await
        });
    }
    if let Some(addr) = &config.admin_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on the admin address {addr}"))?;
        // The bound address, not the configured one: port 0 picks a free port.
        let bound = listener
            .local_addr()
            .map_or_else(|_| addr.clone(), |a| a.to_string());
        tracing::info!(addr = %bound, "metrics on the admin listener");
        background.push(tokio::spawn(metrics::serve(
            listener,
            store.clone(),
            env.speech.breakers.clone(),
            shutdown_rx.clone(),
        )));
    }
    // Work queued by other processes (another API machine) wakes idle workers at once
    // where the database can say so; polling covers the rest.
    let listener_task = if workers > 0 {
        store.spawn_job_listener(peakreel_store::RENDER_JOB, wake.clone())
    } else {
        None
    };
    if workers > 0 {
        let settings = worker::WorkerSettings {
            lease_secs: config.tasks.lease_secs.max(3),
            render_time_limit: std::time::Duration::from_secs(config.tasks.render_time_limit_secs),
            retention_secs: i64::from(config.tasks.result_retention_days) * 86_400,
            shutdown_grace: std::time::Duration::from_secs(config.tasks.shutdown_grace_secs),
            poll_interval: std::time::Duration::from_secs(2),
            retry_backoff: std::time::Duration::from_secs(config.tasks.retry_backoff_secs),
        };
        let samples = Arc::new(tokio::sync::Mutex::new(()));
        for i in 0..workers {
            let w = Arc::new(worker::Worker {
                store: store.clone(),
                blobs: blobs.clone(),
                env: env.clone(),
                settings: settings.clone(),
                wake: wake.clone(),
                shutdown: shutdown_rx.clone(),
                samples: samples.clone(),
                staging: staging.clone(),
            });
            let name = format!(
                "{host}-{}-w{i}-{}",
                std::process::id(),
                peakreel_types::ids::random_alphanumeric(6)
            );
            background.push(tokio::spawn(w.run(name)));
        }
        background.push(tokio::spawn(retention_loop(
            store.clone(),
            blobs.clone(),
            std::time::Duration::from_secs(config.tasks.retention_sweep_secs.max(1)),
            shutdown_rx.clone(),
        )));
        tracing::info!(workers, "render workers started");
    }
    if role != Role::Api {
        let sender = Arc::new(webhook_sender::WebhookSender {
            store: store.clone(),
            client: fetcher.clone(),
            signer: signer.clone(),
            link_ttl_secs: config.tasks.file_url_ttl_secs,
            schedule: peakreel_webhooks::Schedule {
                delays: config
                    .webhooks
                    .schedule_secs
                    .iter()
                    .map(|s| std::time::Duration::from_secs(*s))
                    .collect(),
                jitter: config.webhooks.jitter.clamp(0.0, 0.5),
                ..peakreel_webhooks::Schedule::default()
            },
            poll_interval: std::time::Duration::from_secs(1),
            shutdown: shutdown_rx.clone(),
        });
        for i in 0..config.webhooks.senders.max(1) {
            let name = format!(
                "{host}-{}-webhook{i}-{}",
                std::process::id(),
                peakreel_types::ids::random_alphanumeric(6)
            );
            background.push(tokio::spawn(sender.clone().run(name)));
        }
    }

    match listener {
        None => {
            println!("peakreel worker running ({workers} workers)");
            std::io::stdout().flush().ok();
            shutdown_signal().await;
            let _ = shutdown_tx.send(true);
        }
        Some(listener) => {
            let api_config = ApiConfig {
                plans: config.plan_table(),
                prices: config.prices,
                url_policy: UrlPolicy {
                    allow_http: config.allow_http,
                    allow_local_files: false,
                    staging_enabled: staging.is_some(),
                },
                workers: workers.max(1),
                max_attempts: config.tasks.max_attempts,
                rate_per_second: config.limits.rate_per_second,
                rate_burst: config.limits.rate_burst,
                file_url_ttl_secs: config.tasks.file_url_ttl_secs,
                uploads: peakreel_api::UploadLimits {
                    ttl_secs: config.uploads.ttl_secs.max(1),
                    quota_bytes: config.uploads.quota_bytes,
                },
                idempotency: peakreel_api::IdempotencySettings {
                    ttl_secs: config.idempotency.ttl_secs.max(1),
                    stale_after_secs: config.idempotency.stale_after_secs.max(1),
                },
                ffmpeg_programs: vec![
                    config.programs.ffmpeg.clone(),
                    config.programs.ffprobe.clone(),
                ],
                speech_programs: env
                    .speech
                    .programs()
                    .into_iter()
                    .map(|(_, program)| program.display().to_string())
                    .collect(),
                download_origin: signer
                    .foreign_origin()
                    .await
                    .context("cannot presign download links")?,
            };
            let mut state = AppState::new(store, api_config, signer, blobs, fetcher);
            state.work_notify = wake;
            state.voice_previewer = Some(previewer);
            state.vision = vision.clone();
            let breakers = env.speech.breakers.clone();
            state.speech_breakers = Some(Arc::new(move || {
                breakers
                    .states()
                    .into_iter()
                    .map(|(engine, s)| (engine, s.as_str()))
                    .collect()
            }));
            let drain = state.drain.clone();
            let app = peakreel_api::router(state);

            println!("peakreel listening on http://{addr}");
            std::io::stdout().flush().ok();
            let signal_tx = shutdown_tx.clone();
            let grace = std::time::Duration::from_secs(config.tasks.shutdown_grace_secs);
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    shutdown_signal().await;
                    let _ = signal_tx.send(true);
                    // The listener stays open while requests in flight finish, so
                    // `/health` can say "draining" and new requests get a clear 503.
                    drain.start();
                    tracing::info!(in_flight = drain.in_flight(), "draining");
                    if !drain.wait_idle(grace).await {
                        tracing::warn!(
                            in_flight = drain.in_flight(),
                            "requests still running at the end of the grace period"
                        );
                    }
                })
                .await
                .context("server error")?;
        }
    }
    // Workers finish (or release) their renders within the grace period.
    let limit = std::time::Duration::from_secs(config.tasks.shutdown_grace_secs + 15);
    let _ = tokio::time::timeout(limit, futures_join_all(background)).await;
    if let Some(task) = listener_task {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

async fn futures_join_all(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

async fn retention_loop(
    store: Arc<dyn Store>,
    blobs: Blobs,
    every: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match worker::retention_sweep(store.as_ref(), &blobs).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "result files past retention deleted"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "retention sweep failed"),
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match upload_sweep::sweep_uploads(store.as_ref(), &blobs, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired uploads deleted"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "upload sweep failed"),
        }
        match upload_sweep::sweep_idempotency_keys(store.as_ref(), now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired idempotency keys deleted"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "idempotency key sweep failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The SSRF-guarded client (api.md §9). Built once at start so a bad `SSL_CERT_FILE` or
/// `--allow-network` value stops the server instead of failing requests later.
fn build_fetcher(config: &Config) -> Result<SafeClient> {
    let allow_networks = config
        .allow_network
        .iter()
        .map(|cidr| {
            cidr.parse::<IpNet>()
                .with_context(|| format!("--allow-network {cidr} is not a CIDR range"))
        })
        .collect::<Result<Vec<_>>>()?;
    // Fetched image bodies wait on disk in the data directory (owner-only, like the
    // rest of it), not in memory and not in a shared /tmp that may be a RAM disk.
    let spool = config.data_dir.join("spool");
    private_files::create_private_dir(&spool)
        .with_context(|| format!("cannot create {}", spool.display()))?;
    // Bodies a killed process left behind; an hour is far longer than any creation.
    match peakreel_fetch::sweep_spool(&spool, std::time::Duration::from_secs(3600)) {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "stale spooled downloads deleted"),
        Err(e) => tracing::warn!(error = %e, "could not sweep the spool directory"),
    }
    let policy = FetchPolicy {
        allow_http: config.allow_http,
        allow_networks,
        spool_dir: Some(spool),
        ..FetchPolicy::default()
    };
    SafeClient::with_system_resolver(policy).context("cannot build the HTTP client")
}

/// The virtual-staging provider, when `[staging] url` is set (api.md §10). Its URL is
/// operator configuration, so it is called without the SSRF guard.
fn build_staging(config: &Config) -> Result<Option<Arc<dyn peakreel_staging::StagingProvider>>> {
    let Some(url) = config.staging.url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let mut settings =
        peakreel_staging::HttpStagingConfig::new(url, config.staging.api_key.clone());
    if let Some(secs) = config.staging.timeout_secs {
        settings.timeout = std::time::Duration::from_secs(secs.max(1));
    }
    let provider = peakreel_staging::HttpStaging::new(settings).context("cannot set up staging")?;
    tracing::info!(
        endpoint = %config::mask_url(provider.endpoint().as_str()),
        "virtual staging enabled"
    );
    Ok(Some(Arc::new(provider)))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: running work finishes, no new work is accepted");
}
