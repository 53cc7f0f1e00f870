//! Bearer-key authentication, the per-key request rate, and the plan gate (api.md §2), in
//! that order, as an extractor every `/v1` handler takes.

use crate::error::Failure;
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use peakreel_domain::Plan;
use peakreel_store::{Account, KeyRecord, Owner};
use peakreel_types::{ApiError, Code};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// An authenticated caller whose plan allows API access.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: KeyRecord,
    pub account: Account,
    pub plan: Plan,
}

impl Caller {
    pub fn owner(&self) -> Owner {
        Owner {
            account_id: self.account.id.clone(),
            mode: self.key.mode,
        }
    }

    pub fn livemode(&self) -> bool {
        self.key.mode == peakreel_types::ids::Mode::Live
    }
}

const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        // Already authenticated by a layer in front of the handler (idempotency): the
        // rate limit must count a request once.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let key = bearer_key(parts)?;
        if peakreel_types::ids::parse_api_key(key).is_none() {
            return Err(invalid_key().into());
        }
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let record = state
            .store
            .find_key_by_hash(&hash)
            .await?
            .ok_or_else(invalid_key)?;
        // The lookup is by hash; comparing in constant time as well keeps any future
        // lookup that is not an exact index match from leaking through timing.
        if !bool::from(record.key_hash.ct_eq(&hash)) {
            return Err(invalid_key().into());
        }
        let now = unix_now();
        if record.key.revoked_at.is_some() {
            return Err(ApiError::new(
                Code::ApiKeyRevoked,
                "This API key was revoked. Create a new key with `peakreel admin key create`.",
            )
            .into());
        }
        if let Some(expired_at) = record.key.expires_at.filter(|&t| t <= now) {
            return Err(ApiError::new(
                Code::ApiKeyExpired,
                "This API key has expired. Create a new key with `peakreel admin key create`.",
            )
            .with_details(json!({ "expired_at": rfc3339(expired_at) }))
            .into());
        }
        if record.account.deleted_at.is_some() {
            return Err(ApiError::new(
                Code::UserNotFound,
                "The account this key belongs to no longer exists.",
            )
            .into());
        }
        check_rate(state, &record.key.id)?;
        touch(state, &record.key, now);
        let plan = state
            .config
            .plans
            .get(&record.account.plan)
            .cloned()
            .unwrap_or_else(|| Plan {
                name: record.account.plan.clone(),
                api_access: false,
                concurrent_tasks: 0,
                monthly_credits: 0,
            });
        if !plan.api_access {
            return Err(ApiError::new(
                Code::PlanNotAllowed,
                format!("The {} plan has no API access. Upgrade to one of the plans listed in details.", plan.name),
            )
            .with_details(json!({ "current_plan": plan.name, "required_plans": state.config.plans.api_plans() }))
            .into());
        }
        Ok(Caller {
            key: record.key,
            account: record.account,
            plan,
        })
    }
}

fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::new(
            Code::MissingApiKey,
            "Send your API key in the header `Authorization: Bearer vpk_live_…` (or vpk_test_…).",
        )
    };
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| invalid_key())?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || rest.trim().is_empty() {
        return Err(missing());
    }
    Ok(rest.trim())
}

fn invalid_key() -> ApiError {
    ApiError::new(
        Code::InvalidApiKey,
        "The API key is not valid. Check that it was copied whole (vpk_live_ or vpk_test_ followed by 32 characters).",
    )
}

fn check_rate(state: &AppState, key_id: &str) -> Result<(), ApiError> {
    match state.rate_limiter.check_key(&key_id.to_string()) {
        Ok(()) => Ok(()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            Err(ApiError::new(
                Code::RateLimited,
                format!(
                    "Too many requests for this key (at most {} per second). Retry after {seconds} s.",
                    state.config.rate_per_second
                ),
            )
            .with_details(json!({ "limit_per_second": state.config.rate_per_second }))
            .with_retry_after(seconds))
        }
    }
}

/// Update `last_used_at` at most once a minute per key, off the request path.
fn touch(state: &AppState, key: &KeyRecord, now: i64) {
    if key
        .last_used_at
        .is_some_and(|t| now - t < TOUCH_INTERVAL.as_secs() as i64)
    {
        return;
    }
    {
        let mut touches = state.key_touches.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = touches
            .get(&key.id)
            .is_some_and(|t| t.elapsed() < TOUCH_INTERVAL);
        if fresh {
            return;
        }
        touches.insert(key.id.clone(), Instant::now());
    }
    let (store, key_id) = (state.store.clone(), key.id.clone());
    tokio::spawn(async move {
        if let Err(e) = store.touch_key(&key_id, now).await {
            tracing::warn!(error = %e, "could not record key use");
        }
    });
}
