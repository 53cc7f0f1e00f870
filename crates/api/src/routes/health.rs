//! `GET /health` (api.md §12): no auth, no rate limit.

use crate::error::record_cause;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = crate::openapi::Health), (status = 503, body = crate::openapi::Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    // The database is asked on every call (it is what a monitor most needs to know is
    // alive right now). The other checks write a probe file or scan PATH, so one result
    // of them serves every caller for a second.
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);
    let database = state.store.ping().await.is_ok();
    let cached = state
        .cached_health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .filter(|(at, _, _)| at.elapsed() < FRESH);
    let (slow_ok, slow) = match cached {
        Some((_, ok, checks)) => (ok, checks),
        None => {
            let storage = state.blobs.check().await;
            let ffmpeg = all_on_path(&state.config.ffmpeg_programs);
            let breakers = state
                .speech_breakers
                .as_ref()
                .map(|f| f())
                .unwrap_or_default();
            // An open breaker means narration fails fast right now: speech fails.
            let speech = all_on_path(&state.config.speech_programs)
                && !breakers.iter().any(|(_, s)| *s == "open");
            let checks = json!({
                "storage": label(storage), "ffmpeg": label(ffmpeg), "speech": label(speech),
                "vision": vision_report(&state),
                "speech_breakers": breakers.iter().map(|(e, s)| (e.to_string(), json!(s))).collect::<serde_json::Map<String, Value>>(),
            });
            let ok = storage && ffmpeg && speech;
            *state
                .cached_health
                .lock()
                .unwrap_or_else(|p| p.into_inner()) =
                Some((std::time::Instant::now(), ok, checks.clone()));
            (ok, checks)
        }
    };
    let healthy = database && slow_ok;
    let draining = state.drain.is_draining();
    let status = if draining {
        "draining"
    } else if healthy {
        "ok"
    } else {
        "degraded"
    };
    if draining || !healthy {
        let failing: Vec<&str> = [
            ("database", database),
            ("storage", slow["storage"] == "ok"),
            ("ffmpeg", slow["ffmpeg"] == "ok"),
            ("speech", slow["speech"] == "ok"),
        ]
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| *name)
        .collect();
        record_cause(format_args!(
            "health {status}; failing checks: [{}]",
            failing.join(", ")
        ));
    }
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "checks": {
            "database": label(database), "storage": slow["storage"],
            "ffmpeg": slow["ffmpeg"], "speech": slow["speech"],
        },
        "speech_breakers": slow["speech_breakers"],
        "vision": slow["vision"],
    });
    (status_of(healthy && !draining), Json(body))
}

/// Extension: whether photos get room labels and presenter crops find faces. Never makes
/// the server unhealthy: without the detectors it renders as it did before them.
fn vision_report(state: &AppState) -> Value {
    let availability = match &state.vision {
        None => Err("switched off ([vision] enabled = false)".to_string()),
        Some(detector) => detector.availability(),
    };
    match availability {
        Ok(()) => json!({ "room_labels": "ok", "faces": "ok" }),
        Err(reason) => json!({
            "room_labels": "unavailable", "faces": "unavailable", "reason": reason,
        }),
    }
}

fn label(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "failing"
    }
}

fn status_of(healthy: bool) -> StatusCode {
    if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Whether every one of `programs` is an executable file (see [`program_on_path`]).
fn all_on_path(programs: &[String]) -> bool {
    programs.iter().all(|p| program_on_path(p))
}

/// Whether `program` is an executable file, looked up on `PATH` unless it has a slash.
fn program_on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_exec(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_exec(&dir.join(program))))
        .unwrap_or(false)
}
