//! The presenter avatar's motion: a `sendcmd` script for the overlay named `avatar`.

use std::fmt::Write as _;

use peakreel_speech::Narration;

use crate::render::{avatar_size, margin};

/// `sendcmd` script moving the avatar: below the frame until the narration starts, a
/// quick rise into place as it starts, then a small lift following the voice's loudness.
pub(crate) fn commands(n: &Narration, width: u32, height: u32) -> String {
    let d = avatar_size(width, height) as f64;
    let base = height as f64 - d - margin(width, height) as f64;
    let lift = d * 0.08;
    let first = n.sentences.first().map_or(0.5, |s| s.start);
    let last = n.sentences.last().map_or(0.0, |s| s.end);
    let step = 1.0 / Narration::ENVELOPE_HZ;
    let mut s = String::new();
    let _ = writeln!(s, "0.0 overlay@avatar y {};", height + 4);
    // Rise over 0.4 s, finishing as the first word starts (eased).
    let rise = 0.4;
    for k in 0..=8 {
        let f = k as f64 / 8.0;
        let e = 1.0 - (1.0 - f).powi(3);
        let t = (first - rise + f * rise).max(0.0);
        let y = (height as f64 + 4.0) * (1.0 - e) + base * e;
        let _ = writeln!(s, "{t:.3} overlay@avatar y {};", y.round());
    }
    let env = &n.envelope;
    let mut t = first + step;
    while t < last + 0.3 {
        let i = (t * Narration::ENVELOPE_HZ) as usize;
        // A three-window average keeps the motion gentle.
        let v = (i.saturating_sub(1)..=i + 1)
            .filter_map(|j| env.get(j))
            .sum::<f32>()
            / 3.0;
        let _ = writeln!(
            s,
            "{t:.3} overlay@avatar y {};",
            (base - lift * v as f64).round()
        );
        t += step;
    }
    let _ = writeln!(s, "{t:.3} overlay@avatar y {};", base.round());
    s
}
