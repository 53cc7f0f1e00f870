//! `GET /v1/account/ledger` (Extension): the caller's account's credit ledger, newest
//! first: grants, charges and refunds, each with its task where it has one. Read-only;
//! the balance is the sum of every row (api.md §2).

use crate::auth::Caller;
use crate::error::Failure;
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

#[utoipa::path(get, path = "/v1/account/ledger", tag = "account",
    responses((status = 200, body = crate::openapi_extensions::LedgerView)), security(("bearer" = [])))]
pub async fn get_ledger(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, Failure> {
    let id = &caller.account.id;
    // Balance first: it applies a due monthly refresh, which adds a ledger row.
    let balance = state.store.balance(id).await?;
    let mut rows = state.store.ledger(id).await?;
    rows.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
    let entries: Vec<Value> = rows
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "kind": e.kind,
                "amount": e.amount,
                "task_id": e.task_id,
                "note": e.note,
                "created_at": rfc3339(e.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "balance": balance, "entries": entries })))
}
