//! Which answers are recorded under a key, what of them is kept, and how a recorded
//! answer is replayed.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use peakreel_store::RecordedResponse;

/// Marks a replayed answer (Stripe's name for it).
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The headers that belong to an answer and are replayed with it. Everything else is
/// the new request's own: `X-Request-Id` names the retry (the body keeps the first
/// request's `request_id`), and rate-limit answers are never recorded (see
/// [`is_recorded`]), so their `Retry-After` is always computed afresh.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::RETRY_AFTER];

/// Whether an answer with `status` is recorded: every success and every refusal, except
/// the answers the retry advice says to retry (429 and every 5xx), so a retry after them
/// runs the request again and can succeed.
pub fn is_recorded(status: StatusCode) -> bool {
    !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
}

/// The answer to record: its status, kept headers and `body`.
pub fn to_record(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: Vec<u8>,
) -> RecordedResponse {
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect();
    RecordedResponse {
        status: status.as_u16(),
        headers,
        body,
    }
}

/// The recorded answer, marked `Idempotent-Replayed: true`.
pub fn replay(recorded: &RecordedResponse) -> Response {
    let mut response = Response::new(Body::from(recorded.body.clone()));
    *response.status_mut() =
        StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in &recorded.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn successes_and_refusals_are_recorded_retryable_answers_are_not() {
        for s in [200, 201, 202, 400, 401, 403, 404, 409] {
            assert!(is_recorded(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [429, 500, 502, 503, 504] {
            assert!(!is_recorded(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn a_replay_has_the_kept_headers_and_the_body() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("/v1/tasks/task_1"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        h.insert("x-request-id", HeaderValue::from_static("req_first"));
        let record = to_record(StatusCode::ACCEPTED, &h, b"{\"a\":1}".to_vec());
        assert_eq!(
            record.headers,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("location".to_string(), "/v1/tasks/task_1".to_string()),
                ("retry-after".to_string(), "30".to_string()),
            ]
        );
        let r = replay(&record);
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(r.headers()["location"], "/v1/tasks/task_1");
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert!(r.headers().get("x-request-id").is_none());
    }
}
