//! A circuit breaker around each speech engine (api.md §10): after `threshold`
//! consecutive failures it opens for `open_for`; while open, narration fails fast with
//! `TTS_ERROR` instead of queueing work behind a broken engine; then one probe is let
//! through (half-open) and its outcome closes or re-opens the circuit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// For the metric: 0 closed, 1 half-open, 2 open.
    pub fn as_gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probe_in_flight: bool,
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    inner: Arc<Mutex<Inner>>,
}

/// Refusal while the circuit is open (or a half-open probe is already running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub retry_in: Duration,
}

/// Leave to make one call. Report its outcome with `success`/`failure`; dropping it
/// unreported (a cancelled call) releases a half-open probe without judging the engine.
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker::new(5, Duration::from_secs(30))
    }
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            open_for,
            inner: Arc::new(Mutex::new(Inner {
                consecutive_failures: 0,
                open_until: None,
                probe_in_flight: false,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.open_until {
            None => BreakerState::Closed,
            Some(until) if Instant::now() < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    pub fn try_acquire(&self) -> Result<Permit, Open> {
        let mut inner = self.lock();
        let probe = match inner.open_until {
            None => false,
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    return Err(Open {
                        retry_in: until - now,
                    });
                }
                if inner.probe_in_flight {
                    return Err(Open {
                        retry_in: Duration::from_secs(1),
                    });
                }
                inner.probe_in_flight = true;
                true
            }
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            reported: false,
        })
    }
}

impl Permit {
    pub fn success(mut self) {
        self.reported = true;
        let mut inner = self.breaker.lock();
        inner.consecutive_failures = 0;
        inner.open_until = None;
        inner.probe_in_flight = false;
    }

    pub fn failure(mut self) {
        self.reported = true;
        let (threshold, open_for) = (self.breaker.threshold, self.breaker.open_for);
        let mut inner = self.breaker.lock();
        inner.consecutive_failures += 1;
        if self.probe || inner.consecutive_failures >= threshold {
            inner.open_until = Some(Instant::now() + open_for);
        }
        inner.probe_in_flight = false;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.lock().probe_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_fails_fast_then_probes_once() {
        let b = CircuitBreaker::new(5, Duration::from_millis(80));
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.try_acquire().unwrap().success(); // a success resets the count
        for _ in 0..5 {
            b.try_acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_err(), "open: fail fast");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().expect("one probe is let through");
        assert!(b.try_acquire().is_err(), "only one probe at a time");
        probe.failure();
        assert_eq!(
            b.state(),
            BreakerState::Open,
            "a failed probe re-opens at once"
        );
        std::thread::sleep(Duration::from_millis(100));
        b.try_acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire().is_ok());
    }

    #[test]
    fn a_cancelled_probe_releases_the_slot() {
        let b = CircuitBreaker::new(1, Duration::from_millis(10));
        b.try_acquire().unwrap().failure();
        std::thread::sleep(Duration::from_millis(20));
        drop(b.try_acquire().unwrap());
        assert!(b.try_acquire().is_ok());
    }
}
