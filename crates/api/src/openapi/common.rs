//! Rules every operation shares, applied to the generated document in one place.

use super::rules;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::Modify;

pub struct SharedRules;

/// Schemas of parameters by name, wherever they appear: an id's format is the same on
/// every route that takes it.
fn parameter_schema(name: &str, location: &ParameterIn) -> Option<Object> {
    let pattern = |p: &str| {
        Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(p))
                .build(),
        )
    };
    match (name, location) {
        ("task_id", ParameterIn::Path) => pattern(rules::TASK_ID_PATTERN),
        ("voice_id", ParameterIn::Path) => pattern(rules::VOICE_ID_PATTERN),
        ("avatar_id", ParameterIn::Path) => pattern(rules::UUID_PATTERN),
        ("starting_after", ParameterIn::Query) => pattern(rules::TASK_ID_PATTERN),
        ("status", ParameterIn::Query) => Some(rules::string_enum(super::TASK_STATUSES, false)),
        ("language", ParameterIn::Query) => pattern(rules::LANGUAGE_PATTERN),
        _ => None,
    }
}

fn integer_header(description: &str) -> Header {
    let mut h = Header::new(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .build(),
    );
    h.description = Some(description.to_string());
    h
}

/// A string header that takes one of `values`.
pub(super) fn string_header(values: &[&str], description: &str) -> Header {
    let mut h = Header::new(rules::string_enum(values, false));
    h.description = Some(description.to_string());
    h
}

pub(super) fn error(description: &str, retry_after: Option<&str>) -> Response {
    let mut r = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
            .build(),
    );
    if let Some(d) = retry_after {
        r = r.header("Retry-After", integer_header(d));
    }
    r.build()
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

impl Modify for SharedRules {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                apply(op);
            }
        }
    }
}

fn apply(op: &mut Operation) {
    for p in op.parameters.iter_mut().flatten() {
        if let Some(schema) = parameter_schema(&p.name, &p.parameter_in) {
            p.schema = Some(schema.into());
        }
    }
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut shared: Vec<(&str, Response)> = Vec::new();
    if secured {
        shared.push((
            "401",
            error(
                "MISSING_API_KEY, INVALID_API_KEY, API_KEY_REVOKED or API_KEY_EXPIRED.",
                None,
            ),
        ));
        shared.push((
            "403",
            error("PLAN_NOT_ALLOWED (and the route's own 403 codes).", None),
        ));
        shared.push((
            "429",
            error(
                "RATE_LIMITED (or CONCURRENCY_LIMIT_EXCEEDED when creating a task).",
                Some("Seconds to wait before retrying."),
            ),
        ));
    }
    shared.push((
        "405",
        error(
            "METHOD_NOT_ALLOWED: another method on this path; the Allow header lists the methods.",
            None,
        ),
    ));
    shared.push((
        "500",
        error(
            "INTERNAL_ERROR or AVATAR_URL_ERROR; the cause is logged under the request id.",
            None,
        ),
    ));
    shared.push((
        "503",
        error(
            "SERVICE_ERROR, TTS_ERROR, QUEUE_ERROR, or SERVICE_UNAVAILABLE while the server drains for shutdown (with Retry-After).",
            Some("Seconds to wait before retrying (SERVICE_UNAVAILABLE)."),
        ),
    ));
    let responses = &mut op.responses.responses;
    for (status, response) in shared {
        responses
            .entry(status.to_string())
            .or_insert(RefOr::T(response));
    }
    for response in responses.values_mut() {
        if let RefOr::T(r) = response {
            let mut h = Header::new(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(rules::REQUEST_ID_PATTERN))
                    .build(),
            );
            h.description = Some("The request id, as in error bodies and the logs.".into());
            r.headers.entry("X-Request-Id".into()).or_insert(h);
        }
    }
}
