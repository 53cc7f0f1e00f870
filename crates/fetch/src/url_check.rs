//! Synchronous URL rules (no DNS): usable during schema validation.

use url::{Host, Url};

use crate::error::FetchError;

/// Parses `input` and applies the syntax rules of api.md §9: absolute URL,
/// `https` (or `http` when `allow_http`), a host, and no credentials.
///
/// Numeric host spellings (`2130706433`, `0x7f000001`, `017700000001`,
/// `127.1`) come back as IPv4 hosts because the WHATWG parser normalises
/// them for special schemes; the address check later sees the real address.
pub fn check_url_syntax(input: &str, allow_http: bool) -> Result<Url, FetchError> {
    let url = Url::parse(input.trim()).map_err(|e| FetchError::InvalidUrl {
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        other => {
            return Err(FetchError::UnsupportedScheme {
                scheme: other.to_string(),
                allow_http,
            })
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Credentials);
    }
    match url.host() {
        None => {
            return Err(FetchError::InvalidUrl {
                reason: "no host".into(),
            })
        }
        Some(Host::Domain("")) => {
            return Err(FetchError::InvalidUrl {
                reason: "empty host".into(),
            })
        }
        Some(_) => {}
    }
    Ok(url)
}

/// The URL with any `user:password@` removed, for messages, `details.url` and
/// logs. Unparsable input is returned as-is (it has no structure to leak).
pub fn redact_url(input: &str) -> String {
    match Url::parse(input.trim()) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => input.to_string(),
    }
}

/// The URL without query and fragment, for logs: signed URLs carry their
/// secret in the query string.
pub fn loggable_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn numeric_hosts_normalise_to_ipv4() {
        for input in [
            "https://2130706433/",
            "https://0x7f000001/",
            "https://017700000001/",
            "https://127.1/",
            "https://0x7f.1/",
            "https://127.0.0.1./",
        ] {
            let url = check_url_syntax(input, false).unwrap();
            assert_eq!(
                url.host(),
                Some(Host::Ipv4(Ipv4Addr::new(127, 0, 0, 1))),
                "{input}"
            );
        }
    }

    #[test]
    fn schemes_and_credentials() {
        assert!(check_url_syntax("https://example.com/a.jpg", false).is_ok());
        assert!(matches!(
            check_url_syntax("http://example.com/a.jpg", false),
            Err(FetchError::UnsupportedScheme { .. })
        ));
        assert!(check_url_syntax("http://example.com/a.jpg", true).is_ok());
        for bad in [
            "file:///etc/passwd",
            "ftp://example.com/a.jpg",
            "gopher://example.com/",
            "data:image/png;base64,AAAA",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(
                    check_url_syntax(bad, true),
                    Err(FetchError::UnsupportedScheme { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            check_url_syntax("https://user:pass@example.com/", false),
            Err(FetchError::Credentials)
        ));
        assert!(matches!(
            check_url_syntax("https://user@example.com/", false),
            Err(FetchError::Credentials)
        ));
        assert!(matches!(
            check_url_syntax("not a url", false),
            Err(FetchError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_url_syntax("/relative/path.jpg", false),
            Err(FetchError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("https://user:secret@example.com/a.jpg"),
            "https://example.com/a.jpg"
        );
        let u = Url::parse("https://example.com/a.jpg?X-Amz-Signature=abc#x").unwrap();
        assert_eq!(loggable_url(&u), "https://example.com/a.jpg");
    }
}
