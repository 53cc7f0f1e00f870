//! `GET /v1/tasks/{id}` and `GET /v1/tasks` (api.md §6).

use crate::auth::Caller;
use crate::error::Failure;
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::views::task_view;
use axum::extract::{RawQuery, State};
use axum::Json;
use peakreel_store::{TaskQuery, TaskStatus};
use peakreel_types::{ApiError, Code, FieldError};
use serde_json::{json, Value};

#[utoipa::path(get, path = "/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = String, Path, description = "task_ plus 24 characters")),
    responses((status = 200, body = crate::openapi::Task), (status = 404, body = crate::openapi::ErrorEnvelope, description = "TASK_NOT_FOUND (also for a malformed id)")),
    security(("bearer" = [])))]
pub async fn get_task(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(task_id): PathParam,
) -> Result<Json<Value>, Failure> {
    let not_found = || {
        ApiError::new(
            Code::TaskNotFound,
            "No task with this id is visible to this key.",
        )
        .with_details(json!({ "task_id": task_id }))
    };
    if !peakreel_types::ids::is_task_id(&task_id) {
        return Err(not_found().into());
    }
    let task = state
        .store
        .get_task(&task_id, &caller.owner())
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(task_view(&state, &task).await?))
}

#[utoipa::path(get, path = "/v1/tasks", tag = "tasks",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, default 20"),
        ("starting_after" = Option<String>, Query, description = "Task id of the last item of the previous page"),
        ("status" = Option<String>, Query, description = "Only tasks in this status"),
    ),
    description = "Newest first. Unknown query parameters are refused (VALIDATION_ERROR).",
    responses((status = 200, body = crate::openapi::TaskList), (status = 400, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Failure> {
    let query = parse_list_query(query.as_deref().unwrap_or(""))?;
    let page = state.store.list_tasks(&caller.owner(), &query).await?;
    let mut data = Vec::with_capacity(page.tasks.len());
    for task in &page.tasks {
        data.push(task_view(&state, task).await?);
    }
    Ok(Json(json!({ "data": data, "has_more": page.has_more })))
}

/// `limit` of `GET /v1/tasks`, inclusive, and its default.
pub const LIST_LIMIT: (u32, u32) = (1, 100);
pub const LIST_LIMIT_DEFAULT: u32 = 20;

fn parse_list_query(raw: &str) -> Result<TaskQuery, ApiError> {
    let mut query = TaskQuery {
        limit: LIST_LIMIT_DEFAULT,
        ..TaskQuery::default()
    };
    let mut errors = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "limit" => match value.parse::<u32>() {
                Ok(n) if (LIST_LIMIT.0..=LIST_LIMIT.1).contains(&n) => query.limit = n,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!(
                        "must be an integer from {} to {}",
                        LIST_LIMIT.0, LIST_LIMIT.1
                    ),
                )),
            },
            "starting_after" => {
                if peakreel_types::ids::is_task_id(&value) {
                    query.starting_after = Some(value.into_owned());
                } else {
                    errors.push(FieldError::new(
                        "starting_after",
                        "must be a task id (task_ plus 24 characters)",
                    ));
                }
            }
            "status" => match TaskStatus::parse(&value) {
                Some(s) => query.status = Some(s),
                None => errors.push(FieldError::new(
                    "status",
                    "must be one of: queued, processing, completed, failed",
                )),
            },
            other => errors.push(FieldError::new(
                other.to_string(),
                "is not a known query parameter",
            )),
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(ApiError::validation(errors))
    }
}
