//! The `Idempotency-Key` rules on every creating operation (Extension): the optional
//! header with the server's own rule as `pattern`/`maxLength`, the 409 of a request still
//! running (with `Retry-After`), the 400 codes the header adds, and the
//! `Idempotent-Replayed` mark on replayed successes. The routes come from
//! `crate::idempotency::CREATING_ROUTES`, the list the layer itself acts on.

use super::common::{error, string_header};
use crate::idempotency::{self as idem, CREATING_ROUTES};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, RefOr, Required};
use utoipa::Modify;

pub struct IdempotencyRules;

impl Modify for IdempotencyRules {
    fn modify(&self, openapi: &mut OpenApi) {
        for path in CREATING_ROUTES {
            if let Some(op) = openapi
                .paths
                .paths
                .get_mut(*path)
                .and_then(|item| item.post.as_mut())
            {
                apply(op);
            }
        }
    }
}

fn apply(op: &mut Operation) {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(idem::MAX_LEN))
        .pattern(Some(idem::PATTERN))
        .build();
    let parameter = ParameterBuilder::new()
        .name(idem::HEADER_NAME)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Extension. Makes the creation safe to retry: the same key from the same API key with the same body (byte for byte), method and path within 24 h gets the first answer again (marked Idempotent-Replayed: true) and creates and charges nothing more. 429 and 5xx answers are not kept, so a retry after them runs again.",
        ))
        .schema(Some(schema))
        .build();
    op.parameters.get_or_insert_with(Vec::new).push(parameter);

    let responses = &mut op.responses.responses;
    responses.insert(
        "409".into(),
        RefOr::T(error(
            "IDEMPOTENCY_REQUEST_IN_PROGRESS: a request with this Idempotency-Key is still running; retry after Retry-After to get its answer.",
            Some("Seconds to wait before asking again."),
        )),
    );
    for (status, response) in responses.iter_mut() {
        let RefOr::T(r) = response else { continue };
        if status == "400" {
            r.description.push_str(
                " IDEMPOTENCY_KEY_REUSED when the Idempotency-Key was used with another request; VALIDATION_ERROR (field Idempotency-Key) for a malformed key.",
            );
        }
        if status.starts_with('2') {
            r.headers.insert(
                idem::REPLAYED_HEADER.as_str().into(),
                string_header(
                    &["true"],
                    "Present on an answer replayed for a repeated Idempotency-Key.",
                ),
            );
        }
    }
}
