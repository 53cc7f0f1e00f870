//! Configuration in layers (design.md principle 8): built-in defaults → optional TOML file
//! → `PEAKREEL__SECTION__KEY` environment variables → flags (and their `PEAKREEL_*`
//! variables, cli.md). Secrets never leave this module unmasked.

use anyhow::{bail, Context, Result};
use peakreel_domain::{PlanTable, Prices};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Default: `sqlite://{data_dir}/peakreel.db`.
    pub database_url: Option<String>,
    pub listen: String,
    /// Default: `http://{listen}`.
    pub public_url: Option<String>,
    /// Default: `file://{data_dir}/media`.
    pub storage: Option<String>,
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
}

impl Default for SpeechSettings {
    fn default() -> Self {
        SpeechSettings {
            remote_url: None,
            remote_api_key: None,
            remote_model_id: "eleven_multilingual_v2".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Programs {
    pub ffmpeg: String,
    pub ffprobe: String,
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
    /// Database URL: sqlite://PATH (postgres:// is reserved for the PostgreSQL store).
    #[arg(long, env = "PEAKREEL_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Listen address.
    #[arg(long, env = "PEAKREEL_LISTEN", global = true)]
    pub listen: Option<String>,
    /// Public base URL used in signed file URLs and `Location`.
    #[arg(long, env = "PEAKREEL_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Storage URL: file://DIR (s3:// is reserved for the S3 backend).
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
            if !url.starts_with("sqlite://") {
                bail!(
                    "database URL {} is not supported by this build (use sqlite://PATH)",
                    mask_url(url)
                );
            }
        }
        if let Some(s) = &self.storage {
            if !s.starts_with("file://") {
                bail!("storage {s} is not supported by this build (use file://DIR)");
            }
        }
        Ok(())
    }

    pub fn plan_table(&self) -> PlanTable {
        PlanTable {
            plans: self.plans.clone(),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        match &self.database_url {
            Some(url) => PathBuf::from(url.trim_start_matches("sqlite://")),
            None => self.data_dir.join("peakreel.db"),
        }
    }

    pub fn media_dir(&self) -> PathBuf {
        match &self.storage {
            Some(url) => PathBuf::from(url.trim_start_matches("file://")),
            None => self.data_dir.join("media"),
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
        shown.database_url = Some(mask_url(&format!(
            "sqlite://{}",
            self.database_path().display()
        )));
        shown.public_url = Some(self.public_url());
        shown.storage = Some(format!("file://{}", self.media_dir().display()));
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

/// Read the server secret from the data dir, generating it on first start (mode 0600).
pub fn load_or_create_secret(data_dir: &Path, name: &str) -> Result<Vec<u8>> {
    let dir = data_dir.join("secrets");
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return hex::decode(text.trim())
            .with_context(|| format!("corrupt secret file {}", path.display()));
    }
    std::fs::create_dir_all(&dir)?;
    let secret = peakreel_types::ids::random_alphanumeric(64).into_bytes();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(hex::encode(&secret).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(secret)
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
}
