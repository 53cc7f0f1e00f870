//! `estimated_completion` of a queued task (issue 18, part 5). The rule:
//!
//! - A render's expected duration is `seconds per photo × its photos`, where seconds per
//!   photo is the mean of the last [`HISTORY`] completed renders of the same mode and
//!   kind (live renders never learn from test-mode samples, which take a second), or
//!   [`default_seconds_per_photo`] before there is any. Photos are the unit because the
//!   script's length and the scene count both grow with them (40–50 or 65–85 characters
//!   and one scene or more per photo).
//! - A running render started `t` seconds ago with expected duration `d` still needs
//!   `max(d − t, 1)`; every queued task before this one needs its `d`. That work is
//!   shared by the workers, and then this task's own `d` follows.

use std::collections::HashMap;

use peakreel_store::{QueueAhead, RenderSample};
use peakreel_types::ids::Mode;

/// Completed renders per (mode, kind) the mean is taken over.
pub const HISTORY: usize = 10;

/// Seconds per photo before a (mode, kind) has any history: a live render is about
/// 3 s of work per photo on two cores; a test-mode sample about a second in all.
pub fn default_seconds_per_photo(mode: Mode) -> f64 {
    match mode {
        Mode::Live => 3.0,
        Mode::Test => 0.2,
    }
}

/// Mean seconds per photo of recent renders, per (mode, kind).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderRates(HashMap<(Mode, String), f64>);

impl RenderRates {
    /// From completed renders, newest first: the first [`HISTORY`] of each (mode, kind).
    pub fn from_samples(samples: &[RenderSample]) -> RenderRates {
        let mut seen: HashMap<(Mode, String), Vec<f64>> = HashMap::new();
        for s in samples {
            let rates = seen.entry((s.mode, s.kind.clone())).or_default();
            if rates.len() < HISTORY {
                rates.push(s.seconds.max(0) as f64 / f64::from(s.photos.max(1)));
            }
        }
        RenderRates(
            seen.into_iter()
                .map(|(k, v)| (k, v.iter().sum::<f64>() / v.len() as f64))
                .collect(),
        )
    }

    /// Expected seconds of one render of `kind` in `mode` with `photos` photos.
    pub fn expected(&self, mode: Mode, kind: &str, photos: u32) -> f64 {
        let per_photo = self
            .0
            .get(&(mode, kind.to_string()))
            .copied()
            .unwrap_or_else(|| default_seconds_per_photo(mode));
        per_photo * f64::from(photos.max(1))
    }
}

/// Seconds from `now` until a task of (`mode`, `kind`, `photos`) with `ahead` before it
/// is expected to complete, with `workers` rendering (at least 1). While a task waits,
/// every worker is busy (an idle one would have claimed it), so the renders running now
/// also count the workers: that covers workers in other processes, which an API-only
/// process cannot know of.
pub fn seconds_to_completion(
    rates: &RenderRates,
    ahead: &QueueAhead,
    (mode, kind, photos): (Mode, &str, u32),
    workers: u32,
    now: i64,
) -> i64 {
    let running: f64 = ahead
        .running
        .iter()
        .map(|r| {
            let d = rates.expected(r.mode, &r.kind, r.photos);
            let t = (now - r.started_at).max(0) as f64;
            (d - t).max(1.0)
        })
        .sum();
    let queued: f64 = ahead
        .queued
        .iter()
        .map(|q| rates.expected(q.mode, &q.kind, 1) * f64::from(q.photos))
        .sum();
    let own = rates.expected(mode, kind, photos);
    // A render whose worker died counts until its lease expires: briefly one worker too
    // many, a little optimistic, never a wrong order of magnitude.
    let workers = workers.max(ahead.running.len() as u32).max(1);
    ((running + queued) / f64::from(workers) + own).ceil() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use peakreel_store::{QueuedRenders, RunningRender};

    fn sample(mode: Mode, kind: &str, seconds: i64, photos: u32) -> RenderSample {
        RenderSample {
            mode,
            kind: kind.into(),
            seconds,
            photos,
        }
    }

    #[test]
    fn test_samples_never_shape_a_live_estimate() {
        let mut samples = vec![sample(Mode::Test, "narrated_slideshow", 1, 6); 30];
        samples.push(sample(Mode::Live, "narrated_slideshow", 60, 6));
        samples.push(sample(Mode::Live, "living_property", 9, 3));
        let rates = RenderRates::from_samples(&samples);
        assert_eq!(rates.expected(Mode::Live, "narrated_slideshow", 12), 120.0);
        assert_eq!(rates.expected(Mode::Live, "living_property", 6), 18.0);
        assert!((rates.expected(Mode::Test, "narrated_slideshow", 6) - 1.0).abs() < 1e-9);
        // No history of a kind: the documented default.
        assert_eq!(rates.expected(Mode::Live, "slideshow", 10), 30.0);
    }

    #[test]
    fn only_the_latest_renders_of_a_kind_count() {
        // Newest first: ten at 2 s per photo, then older ones at 10 s per photo.
        let mut samples = vec![sample(Mode::Live, "narrated_slideshow", 12, 6); HISTORY];
        samples.extend(vec![sample(Mode::Live, "narrated_slideshow", 60, 6); 5]);
        let rates = RenderRates::from_samples(&samples);
        assert_eq!(rates.expected(Mode::Live, "narrated_slideshow", 1), 2.0);
    }

    #[test]
    fn running_and_queued_work_is_shared_by_the_workers() {
        let rates = RenderRates::from_samples(&[
            sample(Mode::Live, "narrated_slideshow", 30, 6),
            sample(Mode::Test, "narrated_slideshow", 1, 6),
        ]);
        let now = 1_000;
        let ahead = QueueAhead {
            position: 3,
            running: vec![RunningRender {
                mode: Mode::Live,
                kind: "narrated_slideshow".into(),
                photos: 6,
                started_at: now - 10,
            }],
            queued: vec![
                QueuedRenders {
                    mode: Mode::Live,
                    kind: "narrated_slideshow".into(),
                    tasks: 1,
                    photos: 6,
                },
                QueuedRenders {
                    mode: Mode::Test,
                    kind: "narrated_slideshow".into(),
                    tasks: 1,
                    photos: 6,
                },
            ],
        };
        let me = (Mode::Live, "narrated_slideshow", 6);
        // Running: 30 - 10 = 20; queued: 30 + 1; own: 30.
        assert_eq!(seconds_to_completion(&rates, &ahead, me, 1, now), 81);
        // Two workers halve what is ahead, not the task's own render.
        assert_eq!(seconds_to_completion(&rates, &ahead, me, 2, now), 56);
        // A render running longer than expected still needs a little.
        let late = QueueAhead {
            running: vec![RunningRender {
                started_at: now - 500,
                ..ahead.running[0].clone()
            }],
            queued: vec![],
            ..ahead
        };
        assert_eq!(seconds_to_completion(&rates, &late, me, 1, now), 31);
        // Three renders running while this task waits: three workers somewhere, even
        // for an API process that runs none itself.
        let busy = QueueAhead {
            running: vec![ahead.running[0].clone(); 3],
            ..ahead.clone()
        };
        // Running 3 × 20 = 60, queued 31: 91 / 3 workers, then its own 30.
        assert_eq!(seconds_to_completion(&rates, &busy, me, 0, now), 61);
        assert_eq!(seconds_to_completion(&rates, &busy, me, 1, now), 61);
    }
}
