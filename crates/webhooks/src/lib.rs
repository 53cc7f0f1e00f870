//! Webhook events (api.md §11): the signature receivers check, the retry schedule, and
//! one delivery attempt made through the SSRF-safe client (the URL is checked again at
//! delivery time, not only when the task was created).

use bytes::Bytes;
use hmac::{Hmac, Mac};
use peakreel_fetch::{HeaderMap, HeaderName, HeaderValue, SafeClient};
use rand::Rng;
use sha2::Sha256;
use std::time::Duration;

pub const EVENT_HEADER: &str = "x-vibepeak-event";
pub const TIMESTAMP_HEADER: &str = "x-vibepeak-timestamp";
pub const SIGNATURE_HEADER: &str = "x-vibepeak-signature";
pub const DELIVERY_HEADER: &str = "x-vibepeak-delivery";

/// A delivery succeeds on any 2xx within this long.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Lowercase hex HMAC-SHA256 of `"{timestamp}.{body}"` with the key's webhook secret.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// When retries happen, counted from the first attempt (api.md §11; configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Delays after the first attempt of retry 1, 2, …; the delivery is given up after
    /// the last one fails.
    pub delays: Vec<Duration>,
    /// ± this fraction of each delay, so many failing receivers are not retried in step.
    pub jitter: f64,
    /// Bounds on a receiver's `Retry-After`.
    pub min_retry_after: Duration,
    pub max_retry_after: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Schedule {
            delays: vec![
                minutes(1),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(360),
                minutes(720),
                minutes(1440),
            ],
            jitter: 0.10,
            min_retry_after: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(6 * 3600),
        }
    }
}

impl Schedule {
    /// Unix time of the next attempt after attempt number `attempt` (1-based) failed, or
    /// `None` to give up. A receiver's `Retry-After` (bounded) wins when it is later.
    pub fn next_attempt(
        &self,
        first_attempt_at: i64,
        attempt: u32,
        now: i64,
        retry_after: Option<Duration>,
    ) -> Option<i64> {
        let delay = self.delays.get(attempt.checked_sub(1)? as usize)?;
        let spread = delay.as_secs_f64() * self.jitter;
        let jittered = delay.as_secs_f64() + rand::thread_rng().gen_range(-spread..=spread);
        let mut at = first_attempt_at + jittered.round() as i64;
        if let Some(ra) = retry_after {
            let ra = ra.clamp(self.min_retry_after, self.max_retry_after);
            at = at.max(now + ra.as_secs() as i64);
        }
        Some(at.max(now + 1))
    }
}

/// What one POST produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub status: Option<u16>,
    pub latency: Option<Duration>,
    /// First 1 KiB of the receiver's answer, lossily decoded.
    pub body_prefix: Option<String>,
    /// Why the attempt failed (transport, SSRF block, non-2xx), if it did.
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

pub struct Event<'a> {
    pub url: &'a str,
    /// `task.completed` or `task.failed`.
    pub event: &'a str,
    pub delivery_id: &'a str,
    pub secret: &'a str,
    pub body: Bytes,
}

/// POST the event once. Never fails: every outcome is an `AttemptResult` to record.
pub async fn deliver(client: &SafeClient, event: Event<'_>, timestamp: i64) -> AttemptResult {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    put(EVENT_HEADER, event.event);
    put(TIMESTAMP_HEADER, &timestamp.to_string());
    put(
        SIGNATURE_HEADER,
        &sign(event.secret, timestamp, &event.body),
    );
    put(DELIVERY_HEADER, event.delivery_id);
    match client
        .post_json(event.url, &headers, event.body, DELIVERY_TIMEOUT)
        .await
    {
        Ok(resp) => {
            let ok = (200..300).contains(&resp.status);
            let retry_after = resp
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            AttemptResult {
                status: Some(resp.status),
                latency: Some(resp.latency),
                body_prefix: Some(String::from_utf8_lossy(&resp.body_prefix).into_owned()),
                error: (!ok).then(|| format!("the receiver answered {}", resp.status)),
                retry_after,
            }
        }
        Err(e) => AttemptResult {
            status: e.status(),
            latency: None,
            body_prefix: None,
            error: Some(format!("{}: {e}", e.code())),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Reference value computed independently:
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_test",b"1700000000.{\"a\":1}",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn schedule_counts_from_the_first_attempt_and_gives_up() {
        let s = Schedule::default();
        let first = 1_000_000;
        for (attempt, minutes) in [(1u32, 1i64), (2, 5), (3, 30), (7, 1440)] {
            let at = s.next_attempt(first, attempt, first, None).unwrap();
            let nominal = first + minutes * 60;
            let spread = (minutes * 60) as f64 * 0.1;
            assert!(
                ((at - nominal) as f64).abs() <= spread + 1.0,
                "attempt {attempt}: {at} vs {nominal}"
            );
        }
        assert_eq!(s.next_attempt(first, 8, first, None), None);
        // Retry-After later than the schedule wins, within bounds.
        let at = s
            .next_attempt(first, 1, first, Some(Duration::from_secs(600)))
            .unwrap();
        assert_eq!(at, first + 600);
        let capped = s
            .next_attempt(first, 1, first, Some(Duration::from_secs(999_999)))
            .unwrap();
        assert_eq!(capped, first + 6 * 3600);
    }
}
