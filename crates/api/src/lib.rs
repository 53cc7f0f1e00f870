//! The HTTP face of PeakReel: the axum router with its handlers, the auth extractor,
//! strict JSON bodies, request ids, per-key rate limits and the error envelope.

mod auth;
mod avatar_image;
mod body;
mod catalog_access;
pub mod console;
pub mod drain;
pub mod drawable;
pub mod error;
pub mod estimate;
pub mod idempotency;
mod inputs;
pub mod openapi;
mod openapi_compat;
mod openapi_extensions;
mod path_param;
pub mod providers;
mod routes;
mod state;
mod upload_body;
mod upload_refs;
pub mod views;

pub use catalog_access::candidate as voice_candidate;
pub use idempotency::IdempotencySettings;
pub use state::{ApiConfig, AppState, UploadLimits};

use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router(state: AppState) -> Router {
    let openapi = openapi::document();
    let drain = state.drain.clone();
    let routes = Router::new()
        .route("/health", get(routes::health::health))
        .route("/openapi.json", get(move || async move { Json(openapi) }))
        .route(
            "/v1/real-estate/narrated-slideshow",
            post(routes::create::narrated_slideshow),
        )
        .route(
            "/v1/real-estate/living-property",
            post(routes::create::living_property),
        )
        .route("/v1/real-estate/slideshow", post(routes::create::slideshow))
        .route("/v1/tasks", get(routes::tasks::list_tasks))
        .route("/v1/tasks/{task_id}", get(routes::tasks::get_task))
        .route(
            "/v1/tasks/{task_id}/webhook-deliveries",
            get(routes::webhooks::list_deliveries),
        )
        .route(
            "/v1/tasks/{task_id}/webhook-deliveries/redeliver",
            post(routes::webhooks::redeliver),
        )
        .route(
            "/v1/voices",
            get(routes::catalog::list_voices).post(routes::custom::create_voice),
        )
        .route(
            "/v1/voices/{voice_id}",
            get(routes::catalog::get_voice).delete(routes::custom::delete_voice),
        )
        .route(
            "/v1/avatars",
            get(routes::catalog::list_avatars).post(routes::custom::create_avatar),
        )
        .route(
            "/v1/avatars/{avatar_id}",
            get(routes::catalog::get_avatar).delete(routes::custom::delete_avatar),
        )
        .route("/v1/account", get(routes::account::get_account))
        .merge(console::routes(state.config.download_origin.as_deref()))
        .route("/v1/account/ledger", get(routes::ledger::get_ledger))
        .route("/v1/uploads", post(routes::uploads::create_upload))
        .route(
            "/v1/real-estate/narrated-slideshow/plan",
            post(routes::plan::narrated_slideshow_plan),
        )
        .route(
            "/v1/real-estate/living-property/plan",
            post(routes::plan::living_property_plan),
        )
        .route("/v1/files/{*path}", get(routes::files::download))
        .fallback(error::not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        // Outside the panic catcher: a handler's panic is a 500 the layer sees and does
        // not record.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .with_state(state);
    // `Router::layer` wraps each route separately, inside the step that adds the `Allow`
    // header to 405 answers; nesting the whole router as the fallback of an outer one puts
    // the request-id layer outside it, so it sees complete responses.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            drain,
            drain::drain_layer,
        ))
        .layer(axum::middleware::from_fn(error::request_id_layer))
}
