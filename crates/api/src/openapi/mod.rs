//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the schema types of `schemas` (the wire shapes the handlers produce), then completed by
//! modifiers that apply the rules every operation shares, so a new route gets them
//! without being told: the answers any authenticated route can give (401, 403, 429 with
//! `Retry-After`), the answers every route can give (405, 500, 503), `X-Request-Id` on
//! every answer, and the id formats of well-known path and query parameters.

mod common;
mod idempotency;
mod rules;
mod schemas;

pub use schemas::*;

use common::SharedRules;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Task statuses and kinds as the wire shows them.
pub const TASK_STATUSES: &[&str] = &["queued", "processing", "completed", "failed"];
pub const TASK_KINDS: &[&str] = &["narrated_slideshow", "living_property", "slideshow"];

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(
                        "vpk_live_ or vpk_test_ followed by 32 characters of [0-9A-Za-z]",
                    )
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PeakReel API",
        description = "VibePeak-compatible real-estate video API. Every error answer is the `ErrorEnvelope` with one of the codes of `ErrorBody.code`; every answer carries `X-Request-Id`."
    ),
    paths(
        crate::routes::create::narrated_slideshow,
        crate::routes::create::living_property,
        crate::routes::create::slideshow,
        crate::routes::tasks::get_task,
        crate::routes::tasks::list_tasks,
        crate::routes::catalog::list_voices,
        crate::routes::catalog::get_voice,
        crate::routes::catalog::list_avatars,
        crate::routes::catalog::get_avatar,
        crate::routes::account::get_account,
        crate::routes::health::health,
        crate::routes::files::download,
        crate::routes::webhooks::list_deliveries,
        crate::routes::webhooks::redeliver,
        crate::routes::custom::create_voice,
        crate::routes::custom::delete_voice,
        crate::routes::custom::create_avatar,
        crate::routes::custom::delete_avatar,
    ),
    components(schemas(LivingPropertyImage, ErrorEnvelope)),
    modifiers(&BearerAuth, &SharedRules)
)]
pub struct ApiDoc;

/// The whole document: the compatible routes plus PeakReel's extensions, each operation
/// with the shared answers (401/403/429/405/500/503, `X-Request-Id`), and the
/// `Idempotency-Key` header with its 409 on every creating operation.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::openapi_extensions::ExtensionsDoc::openapi());
    idempotency::IdempotencyRules.modify(&mut doc);
    // Again over the whole document: the extensions' operations and the answers added
    // above get the shared rules too (applying them twice changes nothing).
    SharedRules.modify(&mut doc);
    doc
}

#[cfg(test)]
mod drift_tests;
