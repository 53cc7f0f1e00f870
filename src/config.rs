//! Configuration in layers (design.md principle 8): built-in defaults → optional TOML file
//! → `PEAKREEL__SECTION__KEY` environment variables → flags (and their `PEAKREEL_*`
//! variables, cli.md). Secrets never leave this module unmasked.

use anyhow::{bail, Context, Result};
use peakreel_blobs::StorageUrl;
use peakreel_domain::{PlanTable, Prices};
use peakreel_store::open::DatabaseUrl;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Default: `sqlite://{data_dir}/peakreel.db`.
    pub database_url: Option<String>,
    pub listen: String,
    /// Default: `http://{listen}`.
    pub public_url: Option<String>,
    /// `file://DIR` or `s3://BUCKET/PREFIX`. Default: `file://{data_dir}/media`.
    pub storage: Option<String>,
    /// How clients download results with S3 storage: the bucket's presigned URLs, or
    /// through this API's `/v1/files/…` route. Local storage always uses the route.
    pub file_downloads: FileDownloads,
    /// Default: number of cores, at least 1.
    pub workers: Option<u32>,
    pub allow_http: bool,
    pub allow_network: Vec<String>,
    /// Where `GET /metrics` (Prometheus text) is served; off unless set, and meant for
    /// a private address (api.md §12: the admin listener).
    pub admin_listen: Option<String>,
    pub limits: Limits,
    pub tasks: TaskSettings,
    pub webhooks: WebhookSettings,
    pub speech: SpeechSettings,
    pub prices: Prices,
    pub plans: Vec<peakreel_domain::Plan>,
    pub programs: Programs,
    pub staging: StagingSettings,
    pub uploads: UploadSettings,
    pub vision: VisionSettings,
    pub idempotency: IdempotencyConfig,
}

/// The vision sidecar (room labels for photos, faces for presenter crops; README
/// "Room labels and faces"). Off, or not installed: photos stay unlabelled, presenter
/// crops are centred, and `/health` says why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisionSettings {
    pub enabled: bool,
    /// The npm prefix `scripts/install-deps.sh` installed the detectors into.
    /// Default: `PEAKREEL_VISION_DIR`, else `~/.local/share/peakreel/vision`.
    pub dir: Option<PathBuf>,
    /// The node program.
    pub node: String,
}

impl Default for VisionSettings {
    fn default() -> Self {
        VisionSettings {
            enabled: true,
            dir: None,
            node: "node".into(),
        }
    }
}

impl VisionSettings {
    /// The detector these settings describe; `None` when switched off.
    pub fn detector(&self) -> Option<Arc<dyn peakreel_vision::Detector>> {
        if !self.enabled {
            return None;
        }
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(peakreel_vision::SidecarConfig::default_dir);
        let config = peakreel_vision::SidecarConfig {
            node: self.node.clone().into(),
            ..peakreel_vision::SidecarConfig::new(dir)
        };
        Some(Arc::new(peakreel_vision::NodeSidecar::new(config)))
    }
}

/// `Idempotency-Key` on creating routes (Extension): how long a key and its answer are
/// remembered, and after how long an unanswered reservation (a crashed request) is taken
/// over.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    pub ttl_secs: i64,
    pub stale_after_secs: i64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        let d = peakreel_api::IdempotencySettings::default();
        IdempotencyConfig {
            ttl_secs: d.ttl_secs,
            stale_after_secs: d.stale_after_secs,
        }
    }
}

/// `POST /v1/uploads` (Extension): how long an upload stays usable, and how many bytes of
/// unexpired uploads one account may hold (both key modes together).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadSettings {
    pub ttl_secs: i64,
    pub quota_bytes: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        let limits = peakreel_api::UploadLimits::default();
        UploadSettings {
            ttl_secs: limits.ttl_secs,
            quota_bytes: limits.quota_bytes,
        }
    }
}

/// Where `video_url`, `cover_image_url`, avatar and preview links point when storage is
/// S3 (api.md §7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileDownloads {
    /// Presigned URLs of the bucket: clients download from the store itself.
    #[default]
    Presigned,
    /// `GET /v1/files/…` on the API, which streams from the bucket: for a bucket that
    /// clients cannot reach.
    Proxied,
}

/// The virtual-staging provider (api.md §10; contract in the README). Without a `url`,
/// `change_decoration` and `furnish` are refused at creation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StagingSettings {
    /// Base URL; images are POSTed to `{url}/v1/stage`.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer {api_key}`. Masked in `config print`.
    pub api_key: Option<String>,
    /// One image's whole call; default 60.
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub rate_per_second: u32,
    pub rate_burst: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskSettings {
    pub max_attempts: u32,
    pub result_retention_days: u32,
    pub file_url_ttl_secs: i64,
    /// A claimed job's lease; a crashed worker's task is picked up after this long.
    pub lease_secs: i64,
    pub render_time_limit_secs: u64,
    /// How long running renders may finish after SIGTERM before they are released.
    pub shutdown_grace_secs: u64,
    /// First retry delay of a transient render failure (doubled per attempt).
    pub retry_backoff_secs: u64,
    /// How often expired result files are deleted.
    pub retention_sweep_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Retry delays after the first attempt, in seconds (api.md §11).
    pub schedule_secs: Vec<u64>,
    /// ± fraction of each delay.
    pub jitter: f64,
    /// Concurrent deliveries per process.
    pub senders: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            schedule_secs: vec![60, 300, 1800, 7200, 21_600, 43_200, 86_400],
            jitter: 0.10,
            senders: 4,
        }
    }
}

/// The optional remote speech provider (ElevenLabs-compatible HTTP interface).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpeechSettings {
    /// e.g. `https://api.elevenlabs.io`; unset = local engines only.
    pub remote_url: Option<String>,
    pub remote_api_key: Option<String>,
    pub remote_model_id: String,
    /// An operator's Piper voices (`*.onnx`, `*.onnx.json`, `*.voice.json`); see
    /// `peakreel_speech::packs`.
    pub voices_dir: Option<std::path::PathBuf>,
}

impl Default for SpeechSettings {
    fn default() -> Self {
        SpeechSettings {
            remote_url: None,
            remote_api_key: None,
            remote_model_id: "eleven_multilingual_v2".into(),
            voices_dir: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Programs {
    /// ffmpeg and ffprobe, by name (looked up on `PATH` each time one runs) or by path;
    /// `/health`'s `ffmpeg` check wants both.
    pub ffmpeg: String,
    pub ffprobe: String,
    /// Accepted for older configuration files and unused: the speech engines are found
    /// at start (Piper, flite, the espeak-ng library), and `/health`'s `speech` check
    /// asks after the programs those engines run.
    pub speech: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./peakreel-data"),
            database_url: None,
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            storage: None,
            file_downloads: FileDownloads::default(),
            workers: None,
            allow_http: false,
            allow_network: Vec::new(),
            admin_listen: None,
            limits: Limits::default(),
            tasks: TaskSettings::default(),
            webhooks: WebhookSettings::default(),
            speech: SpeechSettings::default(),
            prices: Prices::default(),
            plans: PlanTable::default().plans,
            programs: Programs::default(),
            staging: StagingSettings::default(),
            uploads: UploadSettings::default(),
            vision: VisionSettings::default(),
            idempotency: IdempotencyConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_per_second: 20,
            rate_burst: 40,
        }
    }
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            max_attempts: 3,
            result_retention_days: 7,
            file_url_ttl_secs: 24 * 3600,
            lease_secs: 60,
            render_time_limit_secs: 900,
            shutdown_grace_secs: 60,
            retry_backoff_secs: 10,
            retention_sweep_secs: 300,
        }
    }
}

impl Default for Programs {
    fn default() -> Self {
        Programs {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            speech: "espeak-ng".into(),
        }
    }
}

/// Values given on the command line (or through their `PEAKREEL_*` variables).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Data directory (SQLite file, stored media, generated secrets).
    #[arg(long, env = "PEAKREEL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default {data-dir}/peakreel.db) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (shared by several processes).
    #[arg(long, env = "PEAKREEL_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Listen address.
    #[arg(long, env = "PEAKREEL_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Public base URL used in signed file URLs and `Location`.
    #[arg(long, env = "PEAKREEL_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Storage URL: file://DIR or s3://BUCKET/PREFIX (configured by the AWS_* variables).
    #[arg(long, env = "PEAKREEL_STORAGE", global = true)]
    pub storage: Option<String>,
    /// Render workers in this process (0 = API only).
    #[arg(long, env = "PEAKREEL_WORKERS", global = true)]
    pub workers: Option<u32>,
    /// TOML configuration file.
    #[arg(long, env = "PEAKREEL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Development only: accept http:// image, logo and webhook URLs.
    #[arg(long, global = true)]
    pub allow_http: bool,
    /// Development only: let addresses in CIDR pass the SSRF guard (repeatable).
    #[arg(long = "allow-network", value_name = "CIDR", global = true)]
    pub allow_network: Vec<String>,
}

impl Config {
    pub fn load(overrides: &Overrides) -> Result<Config> {
        let mut merged = toml::Table::new();
        if let Some(path) = &overrides.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            merged = toml::from_str(&text)
                .with_context(|| format!("invalid TOML in {}", path.display()))?;
        }
        apply_env_layer(&mut merged, std::env::vars())?;
        let mut config: Config = toml::Value::Table(merged)
            .try_into()
            .context("invalid configuration")?;
        let o = overrides;
        if let Some(v) = &o.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = &o.database_url {
            config.database_url = Some(v.clone());
        }
        if let Some(v) = &o.listen {
            config.listen = v.clone();
        }
        if let Some(v) = &o.public_url {
            config.public_url = Some(v.clone());
        }
        if let Some(v) = &o.storage {
            config.storage = Some(v.clone());
        }
        if let Some(v) = o.workers {
            config.workers = Some(v);
        }
        config.allow_http |= o.allow_http;
        config.allow_network.extend(o.allow_network.iter().cloned());
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if self.plans.is_empty() {
            bail!("the plan table is empty");
        }
        if let Some(url) = &self.database_url {
            if let Err(why) = DatabaseUrl::parse(url) {
                bail!("database URL {} is not supported: {why}", mask_url(url));
            }
        }
        if let Some(s) = &self.storage {
            s.parse::<StorageUrl>()?;
        }
        Ok(())
    }

    pub fn plan_table(&self) -> PlanTable {
        PlanTable {
            plans: self.plans.clone(),
        }
    }

    /// The configured database; SQLite in the data directory unless a URL is given.
    pub fn database(&self) -> DatabaseUrl {
        self.database_url
            .as_deref()
            .and_then(|url| DatabaseUrl::parse(url).ok())
            .unwrap_or_else(|| DatabaseUrl::Sqlite(self.data_dir.join("peakreel.db")))
    }

    /// The database as it may be shown and logged: the password masked.
    pub fn database_display(&self) -> String {
        match self.database() {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => mask_url(&url),
        }
    }

    /// The storage `--storage` names (checked by `load`), or the data directory's
    /// `media/`.
    pub fn storage_url(&self) -> Result<StorageUrl> {
        match &self.storage {
            Some(url) => Ok(url.parse()?),
            None => Ok(StorageUrl::Local(self.data_dir.join("media"))),
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn workers(&self) -> u32 {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get() as u32)
                .max(1)
        })
    }

    /// The effective configuration as TOML, with secrets masked.
    pub fn masked_toml(&self) -> Result<String> {
        let mut shown = self.clone();
        shown.database_url = Some(self.database_display());
        shown.public_url = Some(self.public_url());
        shown.storage = Some(self.storage_url()?.to_string());
        shown.workers = Some(self.workers());
        if shown.speech.remote_api_key.is_some() {
            shown.speech.remote_api_key = Some("****".into());
        }
        if shown.staging.api_key.is_some() {
            shown.staging.api_key = Some("****".into());
        }
        shown.staging.url = shown.staging.url.as_deref().map(mask_url);
        Ok(toml::to_string_pretty(&shown)?)
    }
}

/// Hide a password in a URL (`postgres://user:secret@host` → `postgres://user:****@host`).
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
        None => url.to_string(),
    }
}

/// `PEAKREEL__LIMITS__RATE_PER_SECOND=50` sets `limits.rate_per_second`. Values are read as
/// TOML scalars (so numbers and booleans keep their type), falling back to strings.
fn apply_env_layer(
    table: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<()> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix("PEAKREEL__") else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw.clone()));
        let mut cursor = &mut *table;
        for key in &keys[..keys.len() - 1] {
            let entry = cursor
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = match entry {
                toml::Value::Table(t) => t,
                _ => bail!("environment variable {name} conflicts with a non-table setting"),
            };
        }
        cursor.insert(keys[keys.len() - 1].clone(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_layer_sets_nested_typed_values() {
        let mut t = toml::Table::new();
        let vars = vec![
            (
                "PEAKREEL__LIMITS__RATE_PER_SECOND".to_string(),
                "50".to_string(),
            ),
            ("PEAKREEL__LISTEN".to_string(), "0.0.0.0:9000".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        apply_env_layer(&mut t, vars.into_iter()).unwrap();
        let c: Config = toml::Value::Table(t).try_into().unwrap();
        assert_eq!(c.limits.rate_per_second, 50);
        assert_eq!(c.limits.rate_burst, 40);
        assert_eq!(c.listen, "0.0.0.0:9000");
    }

    #[test]
    fn staging_from_env_and_masked() {
        let mut t = toml::Table::new();
        let vars = vec![
            (
                "PEAKREEL__STAGING__URL".to_string(),
                "https://stage.example".to_string(),
            ),
            (
                "PEAKREEL__STAGING__API_KEY".to_string(),
                "sk_secret".to_string(),
            ),
        ];
        apply_env_layer(&mut t, vars.into_iter()).unwrap();
        let c: Config = toml::Value::Table(t).try_into().unwrap();
        assert_eq!(c.staging.url.as_deref(), Some("https://stage.example"));
        let shown = c.masked_toml().unwrap();
        assert!(!shown.contains("sk_secret"), "{shown}");
        assert!(shown.contains("https://stage.example"));
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("postgres://u:secret@db/x"),
            "postgres://u:****@db/x"
        );
        assert_eq!(mask_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }

    #[test]
    fn database_urls_select_the_backend_and_print_masked() {
        let with = |url: &str| {
            let mut t = toml::Table::new();
            t.insert("database_url".into(), toml::Value::String(url.into()));
            let c: Config = toml::Value::Table(t).try_into().unwrap();
            c.validate().map(|()| c)
        };
        let pg = with("postgres://app:hunter2@db.internal:5432/peakreel").unwrap();
        assert_eq!(
            pg.database(),
            DatabaseUrl::Postgres("postgres://app:hunter2@db.internal:5432/peakreel".into())
        );
        let shown = pg.masked_toml().unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://app:****@db.internal:5432/peakreel"),
            "{shown}"
        );
        assert!(matches!(
            with("postgresql://h/x").unwrap().database(),
            DatabaseUrl::Postgres(_)
        ));
        assert_eq!(
            with("sqlite:///srv/p.db").unwrap().database(),
            DatabaseUrl::Sqlite("/srv/p.db".into())
        );
        let err = with("mysql://u:pw@h/x").unwrap_err().to_string();
        assert!(
            err.contains("mysql://u:****@h/x") && !err.contains("pw@"),
            "{err}"
        );
    }

    #[test]
    fn storage_urls_and_download_mode() {
        let mut t = toml::Table::new();
        let vars = vec![
            (
                "PEAKREEL__STORAGE".to_string(),
                "s3://reels/prod/".to_string(),
            ),
            (
                "PEAKREEL__FILE_DOWNLOADS".to_string(),
                "proxied".to_string(),
            ),
        ];
        apply_env_layer(&mut t, vars.into_iter()).unwrap();
        let c: Config = toml::Value::Table(t).try_into().unwrap();
        c.validate().unwrap();
        assert_eq!(c.file_downloads, FileDownloads::Proxied);
        assert_eq!(
            c.storage_url().unwrap(),
            StorageUrl::S3 {
                bucket: "reels".into(),
                prefix: "prod".into()
            }
        );
        let shown = c.masked_toml().unwrap();
        assert!(shown.contains("storage = \"s3://reels/prod\""), "{shown}");
        assert!(shown.contains("file_downloads = \"proxied\""), "{shown}");

        let default = Config::default();
        assert_eq!(default.file_downloads, FileDownloads::Presigned);
        assert_eq!(
            default.storage_url().unwrap(),
            StorageUrl::Local(PathBuf::from("./peakreel-data/media"))
        );
        for bad in ["gs://reels", "s3://", "/var/media"] {
            let c = Config {
                storage: Some(bad.into()),
                ..Config::default()
            };
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("s3://BUCKET/PREFIX"), "{bad}: {err}");
        }
        let wrong: Result<Config, _> = toml::from_str("file_downloads = \"direct\"");
        assert!(wrong.is_err());
    }
}
