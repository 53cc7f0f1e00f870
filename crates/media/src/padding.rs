//! When the video must run longer than its narration (a slideshow whose scenes would
//! otherwise be shorter than its mode allows, see [`crate::plan::slideshow_seconds`]):
//! the extra time is shared between a longer lead (the first picture, and the music,
//! before the voice) and a longer tail, and the narration's timings move with the lead.

use peakreel_speech::{Narration, SentenceTiming};

use crate::plan::{self, Mode};

/// Of the extra time, this share goes before the voice…
const LEAD_SHARE: f64 = 1.0 / 3.0;
/// …up to this many seconds; the rest goes after it.
const MAX_EXTRA_LEAD: f64 = 1.5;

/// Extra silence before the voice for `extra` seconds of added video, in whole steps of
/// the narration's loudness envelope (so the avatar's motion stays on the voice).
pub(crate) fn extra_lead(extra: f64) -> f64 {
    let step = 1.0 / Narration::ENVELOPE_HZ;
    let lead = (extra.max(0.0) * LEAD_SHARE).min(MAX_EXTRA_LEAD);
    (lead / step).floor() * step
}

/// How long a slideshow of `images` photos runs for a narration of `narration_seconds`
/// ([`plan::slideshow_seconds`]), and how much of the extra time leads in: (total, lead).
pub(crate) fn slideshow(mode: Mode, images: usize, narration_seconds: f64) -> (f64, f64) {
    let total = plan::slideshow_seconds(mode, images, narration_seconds);
    (total, extra_lead(total - narration_seconds))
}

/// Moves every sentence and word `seconds` later.
pub(crate) fn delay_sentences(sentences: &mut [SentenceTiming], seconds: f64) {
    for s in sentences {
        s.start += seconds;
        s.end += seconds;
        for w in &mut s.words {
            w.start += seconds;
            w.end += seconds;
        }
    }
}

/// Moves every sentence, word and envelope value of `n` `seconds` later (the audio
/// itself is delayed by the soundtrack).
pub(crate) fn delay(n: &mut Narration, seconds: f64) {
    if seconds <= 0.0 {
        return;
    }
    delay_sentences(&mut n.sentences, seconds);
    let steps = (seconds * Narration::ENVELOPE_HZ).round() as usize;
    n.envelope.splice(0..0, std::iter::repeat_n(0.0, steps));
    n.total_duration += seconds;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_third_of_the_extra_time_leads_in_whole_envelope_steps() {
        assert_eq!(extra_lead(0.0), 0.0);
        assert!((extra_lead(3.0) - 1.0).abs() < 1e-9);
        assert!((extra_lead(20.0) - 1.5).abs() < 1e-9);
        let l = extra_lead(1.0);
        assert!((l - 0.3).abs() < 1e-9, "{l}");
    }
}
