//! `GET /v1/tasks/{id}/webhook-deliveries` and `POST …/redeliver` (api.md §11 Extension):
//! visible only to the task's owner and mode, like the task itself.

use crate::auth::Caller;
use crate::error::Failure;
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::views::rfc3339;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use peakreel_store::{Delivery, StoreError, TaskStatus};
use peakreel_types::{ApiError, Code};
use serde_json::{json, Value};

async fn owned_task(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
) -> Result<peakreel_store::TaskRecord, Failure> {
    let not_found = || {
        ApiError::new(
            Code::TaskNotFound,
            "No task with this id is visible to this key.",
        )
        .with_details(json!({ "task_id": task_id }))
    };
    if !peakreel_types::ids::is_task_id(task_id) {
        return Err(not_found().into());
    }
    Ok(state
        .store
        .get_task(task_id, &caller.owner())
        .await?
        .ok_or_else(not_found)?)
}

fn delivery_view(d: &Delivery) -> Value {
    json!({
        "delivery_id": d.id,
        "event": d.event,
        "status": d.status,
        "redelivery_of": d.redelivery_of,
        "created_at": rfc3339(d.created_at),
        "next_attempt_at": d.next_attempt_at.filter(|_| d.status == "pending").map(rfc3339),
        "attempts": d.attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "attempted_at": rfc3339(a.attempted_at),
            "status": a.status_code,
            "latency_ms": a.latency_ms,
            "response_body": a.response_body,
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

#[utoipa::path(get, path = "/v1/tasks/{task_id}/webhook-deliveries", tag = "webhooks",
    params(("task_id" = String, Path)),
    responses((status = 200, body = crate::openapi::DeliveryList, description = "every delivery of the task's events with its attempts"),
              (status = 404, body = crate::openapi::ErrorEnvelope, description = "TASK_NOT_FOUND")),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(task_id): PathParam,
) -> Result<Json<Value>, Failure> {
    let task = owned_task(&state, &caller, &task_id).await?;
    let deliveries = state.store.deliveries_for_task(&task.id).await?;
    Ok(Json(
        json!({ "data": deliveries.iter().map(delivery_view).collect::<Vec<_>>() }),
    ))
}

#[utoipa::path(post, path = "/v1/tasks/{task_id}/webhook-deliveries/redeliver", tag = "webhooks",
    params(("task_id" = String, Path)),
    responses((status = 202, body = crate::openapi::Delivery, description = "a new delivery of the task's event was queued"),
              (status = 400, body = crate::openapi::ErrorEnvelope, description = "VALIDATION_ERROR: the task has no webhook_url or has not ended"),
              (status = 404, body = crate::openapi::ErrorEnvelope, description = "TASK_NOT_FOUND")),
    security(("bearer" = [])))]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(task_id): PathParam,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let task = owned_task(&state, &caller, &task_id).await?;
    if task.webhook_url.is_none() {
        return Err(ApiError::field(
            "webhook_url",
            "the task was created without a webhook_url; there is nothing to redeliver",
        )
        .into());
    }
    if !matches!(task.status, TaskStatus::Completed | TaskStatus::Failed) {
        return Err(ApiError::field(
            "status",
            "the task has not ended yet; its event is sent when it does",
        )
        .into());
    }
    let delivery = match state.store.redeliver(&task.id).await {
        Ok(d) => d,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::field(
                "status",
                "the task has not ended yet; its event is sent when it does",
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    Ok((StatusCode::ACCEPTED, Json(delivery_view(&delivery))))
}
