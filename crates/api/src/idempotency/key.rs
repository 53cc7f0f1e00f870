//! The `Idempotency-Key` request header: 1–255 printable ASCII characters (space
//! through `~`), sent at most once. A space cannot begin or end it: HTTP drops white space
//! around a header value, so such a key would not arrive as it was sent. Anything else is
//! a `VALIDATION_ERROR` naming the header.

use axum::http::{HeaderMap, HeaderName};
use peakreel_types::ApiError;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// As the header is named on the wire and in `details.errors[].field`.
pub const HEADER_NAME: &str = "Idempotency-Key";
pub const MAX_LEN: usize = 255;
/// The rule as a regular expression (OpenAPI `pattern`, ECMA-262 and Python compatible).
pub const PATTERN: &str = "^[!-~]([ -~]*[!-~])?$";

/// The key the request sends: `Ok(None)` without the header.
///
/// Errors: `VALIDATION_ERROR` with `field: "Idempotency-Key"` for an empty or longer than
/// 255 value, a character outside printable ASCII, or the header sent twice.
pub fn from_headers(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("was sent more than once; send one key per request"));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(invalid(
            "is empty; send 1 to 255 printable ASCII characters",
        ));
    }
    if bytes.len() > MAX_LEN {
        return Err(invalid(&format!(
            "is {} characters long; at most {MAX_LEN} are allowed",
            bytes.len()
        )));
    }
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return Err(invalid("may not begin or end with a space"));
    }
    if !bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
        return Err(invalid(
            "may hold only printable ASCII characters (space through `~`), such as a UUID",
        ));
    }
    // Checked above: every byte is printable ASCII, hence UTF-8.
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

fn invalid(message: &str) -> ApiError {
    ApiError::field(HEADER_NAME, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    fn field_of(err: ApiError) -> String {
        err.details.unwrap()["errors"][0]["field"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn accepts_printable_ascii_up_to_255() {
        assert_eq!(from_headers(&HeaderMap::new()).unwrap(), None);
        for ok in [
            "a".to_string(),
            "3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01".into(),
            "order 42 / retry \"x\" {~}".into(),
            "k".repeat(255),
        ] {
            assert_eq!(
                from_headers(&with(&[ok.as_bytes()])).unwrap(),
                Some(ok.clone())
            );
        }
    }

    #[test]
    fn refuses_everything_else_naming_the_header() {
        let long = "k".repeat(256);
        for bad in [
            &b""[..],
            long.as_bytes(),
            b"tab\there",
            "caf\u{e9}".as_bytes(),
        ] {
            let err = from_headers(&with(&[bad])).unwrap_err();
            assert_eq!(err.code, peakreel_types::Code::ValidationError);
            assert_eq!(field_of(err), HEADER_NAME);
        }
        let twice = from_headers(&with(&[b"a", b"a"])).unwrap_err();
        assert_eq!(field_of(twice), HEADER_NAME);
    }

    #[test]
    fn the_pattern_states_the_same_rule() {
        let re = regex::Regex::new(PATTERN).unwrap();
        for sample in [
            "a",
            "a b",
            "~",
            "tab\there",
            "caf\u{e9}",
            "",
            " a",
            "a ",
            " ",
        ] {
            let by_rule = from_headers(&with(&[sample.as_bytes()])).is_ok();
            assert_eq!(re.is_match(sample), by_rule, "{sample:?}");
        }
    }
}
