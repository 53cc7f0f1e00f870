//! What every handler shares.

use governor::{clock::DefaultClock, state::keyed::DefaultKeyedStateStore, Quota, RateLimiter};
use peakreel_blobs::{Blobs, UrlSigner};
use peakreel_domain::{PlanTable, Prices, UrlPolicy};
use peakreel_fetch::SafeClient;
use peakreel_store::Store;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Render rates behind `estimated_completion`, with when they were computed.
pub type CachedRates = (Instant, Arc<crate::estimate::RenderRates>);
/// The queue snapshot task reads estimate from, and when it was read.
pub type CachedQueue = (Instant, Arc<peakreel_store::QueueSnapshot>);

pub type KeyRateLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub plans: PlanTable,
    pub prices: Prices,
    pub url_policy: UrlPolicy,
    /// Render workers serving the queue, for `estimated_completion` (at least 1).
    pub workers: u32,
    /// Attempts a render job gets before its task fails.
    pub max_attempts: u32,
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Signed file URLs stay valid this long.
    pub file_url_ttl_secs: i64,
    /// Uploaded images' lifetime and the per-account storage quota (Extension).
    pub uploads: UploadLimits,
    /// How long `Idempotency-Key`s are remembered (Extension).
    pub idempotency: crate::idempotency::IdempotencySettings,
    /// The programs `/health`'s `ffmpeg` check wants executable: ffmpeg and ffprobe, by
    /// name (looked up on `PATH` at every check, as every render does) or by path.
    pub ffmpeg_programs: Vec<String>,
    /// The programs the speech engines found at start run (`Speech::programs`), checked
    /// the same way by the `speech` check. Empty when only the espeak-ng library speaks.
    pub speech_programs: Vec<String>,
    /// The origin (`scheme://host[:port]`) of download links when they are not this
    /// server's (S3 with presigned downloads): the console's policy lets media and
    /// images load from it.
    pub download_origin: Option<String>,
}

/// Limits of `POST /v1/uploads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// An upload can be used this many seconds after it was made.
    pub ttl_secs: i64,
    /// Bytes of unexpired uploads one account may hold (both key modes together).
    pub quota_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            ttl_secs: 7 * 86_400,
            quota_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Reads each speech engine's circuit-breaker state as `(engine, state)` pairs.
pub type BreakerStates = Arc<dyn Fn() -> Vec<(&'static str, &'static str)> + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
    pub signer: Arc<UrlSigner>,
    pub blobs: Blobs,
    /// The SSRF-guarded client every remote URL goes through (api.md §9).
    pub fetcher: SafeClient,
    /// Optional providers (api.md §10); `None` features answer with a clear refusal.
    pub voice_previewer: Option<Arc<dyn crate::providers::VoicePreviewer>>,
    pub voice_cloner: Option<Arc<dyn crate::providers::VoiceCloningProvider>>,
    pub talking_avatars: Option<Arc<dyn crate::providers::TalkingAvatarProvider>>,
    /// Circuit-breaker state of each speech engine in this process: (engine, state).
    pub speech_breakers: Option<BreakerStates>,
    /// Faces for presenter crops and `/health`'s vision report (`None`: switched off).
    pub vision: Option<Arc<dyn peakreel_vision::Detector>>,
    /// Wakes an idle render worker when a task is queued (polling is the fallback).
    pub work_notify: Arc<tokio::sync::Notify>,
    pub rate_limiter: Arc<KeyRateLimiter>,
    /// When each key's `last_used_at` was last written, so a busy key costs one write a minute.
    pub key_touches: Arc<Mutex<HashMap<String, Instant>>>,
    /// Values that change slowly and are read on hot paths, with when they were computed.
    pub cached_render_rates: Arc<Mutex<Option<CachedRates>>>,
    pub cached_queue: Arc<Mutex<Option<CachedQueue>>>,
    pub cached_health: Arc<Mutex<Option<(Instant, bool, serde_json::Value)>>>,
    /// Set when shutdown begins; counts requests in flight (see `drain`).
    pub drain: Arc<crate::drain::Drain>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: ApiConfig,
        signer: Arc<UrlSigner>,
        blobs: Blobs,
        fetcher: SafeClient,
    ) -> Self {
        let per_second = NonZeroU32::new(config.rate_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        AppState {
            store,
            config: Arc::new(config),
            signer,
            blobs,
            fetcher,
            work_notify: Arc::new(tokio::sync::Notify::new()),
            voice_previewer: None,
            speech_breakers: None,
            vision: None,
            voice_cloner: None,
            talking_avatars: None,
            rate_limiter: Arc::new(RateLimiter::keyed(quota)),
            key_touches: Arc::new(Mutex::new(HashMap::new())),
            cached_render_rates: Arc::new(Mutex::new(None)),
            cached_queue: Arc::new(Mutex::new(None)),
            cached_health: Arc::new(Mutex::new(None)),
            drain: Arc::new(crate::drain::Drain::default()),
        }
    }
}
