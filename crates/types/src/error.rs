//! The one error registry (design.md principle 1). Every code of errors.md appears in
//! `Code::ALL` exactly once with its HTTP status; every module's error enum converts into
//! `ApiError`, and one function in the API crate turns an `ApiError` into the wire envelope.

use serde::Serialize;
use serde_json::{json, Map, Value};

macro_rules! codes {
    ($($variant:ident = ($wire:literal, $status:literal)),* $(,)?) => {
        /// Every error code of errors.md. Nothing else may appear on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $wire),* }
            }

            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status),* }
            }

            /// The code of a wire string; for a string two codes share (one per
            /// status), the first in the table.
            pub fn parse(s: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }
    };
}

codes! {
    MissingApiKey = ("MISSING_API_KEY", 401),
    InvalidApiKey = ("INVALID_API_KEY", 401),
    ApiKeyRevoked = ("API_KEY_REVOKED", 401),
    ApiKeyExpired = ("API_KEY_EXPIRED", 401),
    PlanNotAllowed = ("PLAN_NOT_ALLOWED", 403),
    InsufficientCredits = ("INSUFFICIENT_CREDITS", 403),
    AvatarAccessDenied = ("AVATAR_ACCESS_DENIED", 403),
    VoiceAccessDenied = ("VOICE_ACCESS_DENIED", 403),
    VoiceExpired = ("VOICE_EXPIRED", 403),
    Forbidden = ("FORBIDDEN", 403),
    // Extension: uploads past the account's storage quota (README "Uploads").
    UploadQuotaExceeded = ("UPLOAD_QUOTA_EXCEEDED", 403),
    InvalidJson = ("INVALID_JSON", 400),
    ValidationError = ("VALIDATION_ERROR", 400),
    ScriptTooShort = ("SCRIPT_TOO_SHORT", 400),
    ScriptTooLong = ("SCRIPT_TOO_LONG", 400),
    InvalidAvatarId = ("INVALID_AVATAR_ID", 400),
    InvalidVoiceId = ("INVALID_VOICE_ID", 400),
    InvalidImageUrl = ("INVALID_IMAGE_URL", 400),
    SsrfBlocked = ("SSRF_BLOCKED", 400),
    ImageInaccessible = ("IMAGE_INACCESSIBLE", 400),
    ImageTimeout = ("IMAGE_TIMEOUT", 400),
    MixedOrientations = ("MIXED_ORIENTATIONS", 400),
    ImageProcessingFailed = ("IMAGE_PROCESSING_FAILED", 400),
    // Extension: an `Idempotency-Key` already used by this API key for another request
    // (another body, method or path) within its lifetime (README "Idempotent creation").
    IdempotencyKeyReused = ("IDEMPOTENCY_KEY_REUSED", 400),
    UserNotFound = ("USER_NOT_FOUND", 404),
    AvatarNotFound = ("AVATAR_NOT_FOUND", 404),
    VoiceNotFound = ("VOICE_NOT_FOUND", 404),
    // Extension: a voice chosen by attributes (gender, accent, language) that no usable
    // voice has. The same wire code as an unknown id, but a 400: the request, not a
    // resource path, names what is missing. `Code::parse` gives the 404 variant.
    VoiceNoMatch = ("VOICE_NOT_FOUND", 400),
    TaskNotFound = ("TASK_NOT_FOUND", 404),
    NotFound = ("NOT_FOUND", 404),
    MethodNotAllowed = ("METHOD_NOT_ALLOWED", 405),
    // Extension: the request holding this `Idempotency-Key` has not answered yet; retry
    // after `Retry-After` to get its answer.
    IdempotencyRequestInProgress = ("IDEMPOTENCY_REQUEST_IN_PROGRESS", 409),
    ConcurrencyLimitExceeded = ("CONCURRENCY_LIMIT_EXCEEDED", 429),
    RateLimited = ("RATE_LIMITED", 429),
    AvatarUrlError = ("AVATAR_URL_ERROR", 500),
    InternalError = ("INTERNAL_ERROR", 500),
    ServiceError = ("SERVICE_ERROR", 503),
    ServiceUnavailable = ("SERVICE_UNAVAILABLE", 503),
    TtsError = ("TTS_ERROR", 503),
    QueueError = ("QUEUE_ERROR", 503),
    ServiceTimeout = ("SERVICE_TIMEOUT", 504),
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One violated field rule; many of them make up one `VALIDATION_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path such as `images[3]` or `elements_config.text.color`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error on its way to a client (HTTP envelope) or into a failed task's `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub details: Option<Value>,
    /// `Retry-After` seconds for 409/429/503 answers.
    pub retry_after: Option<u64>,
    /// `Allow` header values for `METHOD_NOT_ALLOWED`.
    pub allow: Vec<String>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            allow: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// All field errors of one request, reported together.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let message = match errors.as_slice() {
            [one] => format!("Invalid field `{}`: {}", one.field, one.message),
            many => format!(
                "The request has {} invalid fields; see details.errors for each.",
                many.len()
            ),
        };
        ApiError::new(Code::ValidationError, message).with_details(json!({ "errors": errors }))
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// A 5xx whose cause must stay in the logs, never on the wire.
    pub fn internal() -> Self {
        ApiError::new(
            Code::InternalError,
            "An unexpected error occurred. Retry later; if it persists, contact the operator with the request id.",
        )
    }

    pub fn service() -> Self {
        ApiError::new(
            Code::ServiceError,
            "A dependency of the service failed. Retry with exponential backoff.",
        )
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The `error` object of the wire envelope (and of a failed task).
    pub fn body(&self, request_id: Option<&str>) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(self.code.as_str()));
        error.insert("message".into(), Value::from(self.message.clone()));
        if let Some(id) = request_id {
            error.insert("request_id".into(), Value::from(id));
        }
        if let Some(details) = &self.details {
            error.insert("details".into(), details.clone());
        }
        Value::Object(error)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The registry as errors.md lists it. A renamed code or changed status fails here.
    const CATALOGUE: &[(&str, u16)] = &[
        ("MISSING_API_KEY", 401),
        ("INVALID_API_KEY", 401),
        ("API_KEY_REVOKED", 401),
        ("API_KEY_EXPIRED", 401),
        ("PLAN_NOT_ALLOWED", 403),
        ("INSUFFICIENT_CREDITS", 403),
        ("AVATAR_ACCESS_DENIED", 403),
        ("VOICE_ACCESS_DENIED", 403),
        ("VOICE_EXPIRED", 403),
        ("FORBIDDEN", 403),
        ("UPLOAD_QUOTA_EXCEEDED", 403),
        ("INVALID_JSON", 400),
        ("VALIDATION_ERROR", 400),
        ("SCRIPT_TOO_SHORT", 400),
        ("SCRIPT_TOO_LONG", 400),
        ("INVALID_AVATAR_ID", 400),
        ("INVALID_VOICE_ID", 400),
        ("INVALID_IMAGE_URL", 400),
        ("SSRF_BLOCKED", 400),
        ("IMAGE_INACCESSIBLE", 400),
        ("IMAGE_TIMEOUT", 400),
        ("MIXED_ORIENTATIONS", 400),
        ("IMAGE_PROCESSING_FAILED", 400),
        ("IDEMPOTENCY_KEY_REUSED", 400),
        ("USER_NOT_FOUND", 404),
        ("AVATAR_NOT_FOUND", 404),
        ("VOICE_NOT_FOUND", 404),
        ("VOICE_NOT_FOUND", 400),
        ("TASK_NOT_FOUND", 404),
        ("NOT_FOUND", 404),
        ("METHOD_NOT_ALLOWED", 405),
        ("IDEMPOTENCY_REQUEST_IN_PROGRESS", 409),
        ("CONCURRENCY_LIMIT_EXCEEDED", 429),
        ("RATE_LIMITED", 429),
        ("AVATAR_URL_ERROR", 500),
        ("INTERNAL_ERROR", 500),
        ("SERVICE_ERROR", 503),
        ("SERVICE_UNAVAILABLE", 503),
        ("TTS_ERROR", 503),
        ("QUEUE_ERROR", 503),
        ("SERVICE_TIMEOUT", 504),
    ];

    #[test]
    fn registry_matches_the_catalogue_exactly() {
        assert_eq!(Code::ALL.len(), CATALOGUE.len());
        let registry: HashSet<_> = Code::ALL.iter().map(|c| (c.as_str(), c.status())).collect();
        assert_eq!(
            registry.len(),
            Code::ALL.len(),
            "a (code, status) pair twice"
        );
        for (wire, status) in CATALOGUE {
            assert!(
                registry.contains(&(*wire, *status)),
                "{wire} {status} missing"
            );
            let code = Code::parse(wire).unwrap_or_else(|| panic!("{wire} missing"));
            assert_eq!(code.as_str(), *wire);
        }
        assert_eq!(Code::parse("VOICE_NOT_FOUND"), Some(Code::VoiceNotFound));
    }

    #[test]
    fn validation_reports_every_field() {
        let err = ApiError::validation(vec![
            FieldError::new("images", "too few"),
            FieldError::new("orientation", "unknown"),
        ]);
        let body = err.body(Some("req_x"));
        assert_eq!(body["code"], "VALIDATION_ERROR");
        assert_eq!(body["request_id"], "req_x");
        assert_eq!(body["details"]["errors"].as_array().unwrap().len(), 2);
        assert_eq!(body["details"]["errors"][1]["field"], "orientation");
    }
}
