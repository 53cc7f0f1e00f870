//! `peakreel`: the one binary (cli.md). `serve` runs the API (and, from the workers issue
//! on, the render workers); `admin` manages accounts and keys on the same database.

mod admin;
mod config;
mod seed;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::{Config, Overrides};
use peakreel_api::{ApiConfig, AppState};
use peakreel_blobs::{Blobs, UrlSigner};
use peakreel_domain::UrlPolicy;
use peakreel_fetch::{FetchPolicy, IpNet, SafeClient};
use peakreel_store::sqlite::SqliteStore;
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
    /// Migrate the database if needed, then serve the API.
    Serve,
    /// Serve the API only (no render workers in this process).
    Api,
    /// Apply database migrations and exit.
    Migrate,
    /// Accounts, plans, credits and keys.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
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
    match cli.command {
        Command::Serve | Command::Api => serve(&config).await,
        Command::Migrate => {
            open_store(&config)?;
            println!(
                "database {} is up to date",
                config.database_path().display()
            );
            Ok(())
        }
        Command::Admin(cmd) => admin::run(&config, cmd).await,
        Command::Config(ConfigCommand::Print) => {
            print!("{}", config.masked_toml()?);
            Ok(())
        }
    }
}

/// Open (creating and migrating) the configured store.
pub fn open_store(config: &Config) -> Result<SqliteStore> {
    let path = config.database_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    SqliteStore::open(&path, config.plan_table())
        .with_context(|| format!("cannot open the database {}", path.display()))
}

async fn serve(config: &Config) -> Result<()> {
    if config.allow_http {
        tracing::warn!("--allow-http is on: http:// URLs are accepted (development only)");
    }
    if !config.allow_network.is_empty() {
        tracing::warn!(networks = ?config.allow_network, "--allow-network is on: these ranges pass the SSRF guard (development only)");
    }
    let media_dir = config.media_dir();
    let blobs = Blobs::local(&media_dir)
        .with_context(|| format!("cannot open storage {}", media_dir.display()))?;
    let fetcher = build_fetcher(config)?;
    let store = Arc::new(open_store(config)?);
    seed::seed_catalog(store.as_ref(), &blobs)
        .await
        .context("cannot seed the public catalogue")?;
    let secret = config::load_or_create_secret(&config.data_dir, "signing.key")?;

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let api_config = ApiConfig {
        plans: config.plan_table(),
        prices: config.prices,
        url_policy: UrlPolicy {
            allow_http: config.allow_http,
            allow_local_files: false,
            staging_enabled: false,
        },
        workers: config.workers().max(1),
        max_attempts: config.tasks.max_attempts,
        rate_per_second: config.limits.rate_per_second,
        rate_burst: config.limits.rate_burst,
        file_url_ttl_secs: config.tasks.file_url_ttl_secs,
        ffmpeg_program: config.programs.ffmpeg.clone(),
        speech_program: config.programs.speech.clone(),
    };
    let state = AppState::new(
        store,
        api_config,
        UrlSigner::new(secret, &public_url),
        blobs,
        fetcher,
    );
    let app = peakreel_api::router(state);

    println!("peakreel listening on http://{addr}");
    std::io::stdout().flush().ok();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    tracing::info!("stopped");
    Ok(())
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
    let policy = FetchPolicy {
        allow_http: config.allow_http,
        allow_networks,
        ..FetchPolicy::default()
    };
    SafeClient::with_system_resolver(policy).context("cannot build the HTTP client")
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
    tracing::info!("shutting down: no new requests are accepted");
}
