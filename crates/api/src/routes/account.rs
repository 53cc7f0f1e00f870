//! `GET /v1/account` (api.md §2 Extension).

use crate::auth::Caller;
use crate::error::Failure;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use peakreel_types::ids::Mode;
use serde_json::{json, Value};
use time::{Date, Month, OffsetDateTime};

#[utoipa::path(get, path = "/v1/account", tag = "account",
    responses((status = 200, body = crate::openapi::AccountView)), security(("bearer" = [])))]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, Failure> {
    let id = &caller.account.id;
    let credits = state.store.balance(id).await?;
    let live = state.store.in_flight(id, Mode::Live).await?;
    let test = state.store.in_flight(id, Mode::Test).await?;
    Ok(Json(json!({
        "account_id": id,
        "name": caller.account.name,
        "plan": caller.plan.name,
        "credits": credits,
        "concurrency_limit": caller.plan.concurrent_tasks,
        "in_flight": { "live": live, "test": test },
        "renews_at": next_renewal(OffsetDateTime::now_utc(), caller.account.renewal_day),
    })))
}

/// The next renewal day strictly after today, at midnight UTC.
fn next_renewal(now: OffsetDateTime, day: u8) -> String {
    let (mut year, mut month) = (now.year(), now.month());
    if now.day() >= day {
        if month == Month::December {
            year += 1;
        }
        month = month.next();
    }
    let date = Date::from_calendar_date(year, month, day).unwrap_or(now.date());
    format!("{date}T00:00:00Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn renewal_is_the_next_occurrence_of_the_day() {
        assert_eq!(
            next_renewal(datetime!(2026-11-24 10:00 UTC), 24),
            "2026-12-24T00:00:00Z"
        );
        assert_eq!(
            next_renewal(datetime!(2026-11-24 10:00 UTC), 25),
            "2026-11-25T00:00:00Z"
        );
        assert_eq!(
            next_renewal(datetime!(2026-12-30 10:00 UTC), 3),
            "2027-01-03T00:00:00Z"
        );
    }
}
