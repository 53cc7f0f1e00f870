//! Joins per-sentence audio into the narration track and records exact sentence times.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::speakable;
use crate::text::{estimate_word_spans, words};
use crate::word_times::spans_from_starts;
use crate::{Clip, Speech, SpeechEngine, SpeechError, VoiceProfile};

/// Timing layout of the narration track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NarrationOptions {
    /// Silence before the first sentence (api.md §8.1: 0.5 s).
    pub lead: f64,
    /// Silence after the last sentence (1.5 s).
    pub tail: f64,
    /// Pause between sentences.
    pub gap: f64,
    /// Whether clips their engine did not time are force-aligned (a voice preview, which
    /// shows no words, does not need it).
    pub align_words: bool,
}

impl Default for NarrationOptions {
    fn default() -> Self {
        NarrationOptions {
            lead: 0.5,
            tail: 1.5,
            gap: 0.3,
            align_words: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WordTiming {
    pub word: String,
    pub start: f64,
    pub end: f64,
}

/// One sentence on the final timeline (seconds from the start of the video).
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceTiming {
    pub text: String,
    /// Exact: measured from the synthesised audio.
    pub start: f64,
    pub end: f64,
    /// Each word from its start as the engine reported it (or forced alignment found
    /// it) to the next word's start; estimated from word lengths only when neither is
    /// available (see the crate docs).
    pub words: Vec<WordTiming>,
}

/// The narration track: a mono 16-bit WAV that already contains the lead and tail silence,
/// so its length is the video's length.
#[derive(Debug, Clone)]
pub struct Narration {
    pub wav: PathBuf,
    pub sample_rate: u32,
    pub engine: &'static str,
    /// Lead + speech + tail, in seconds.
    pub total_duration: f64,
    /// From the first sentence's start to the last one's end.
    pub speech_duration: f64,
    pub sentences: Vec<SentenceTiming>,
    /// RMS loudness in 0..=1 (1 = the loudest window), one value per 1/[`Narration::ENVELOPE_HZ`] s.
    pub envelope: Vec<f32>,
}

impl Narration {
    pub const ENVELOPE_HZ: f64 = 10.0;
}

impl Speech {
    /// Speaks `script` with `voice` and writes the narration track into `dir`.
    pub async fn narrate(
        &self,
        script: &str,
        voice: &VoiceProfile,
        options: NarrationOptions,
        dir: &Path,
        deadline: Instant,
    ) -> Result<Narration, SpeechError> {
        voice.validate().map_err(SpeechError::BadVoice)?;
        let engine = self.engine_for(voice)?;
        let permit = self
            .breakers
            .get(engine.name())
            .try_acquire()
            .map_err(|open| SpeechError::CircuitOpen {
                engine: engine.name(),
                retry_in: open.retry_in,
            })?;
        let result = narrate_with(engine, script, voice, options, dir, deadline).await;
        match &result {
            Err(e) if e.is_engine_failure() => permit.failure(),
            // A bad request (empty script, invalid voice) says nothing about the engine.
            _ => permit.success(),
        }
        result
    }
}

impl SentenceTiming {
    /// One sentence spoken from `start` to `end`, its words' times estimated within.
    pub fn spoken(text: &str, start: f64, end: f64) -> SentenceTiming {
        let ws = words(text);
        let spans = estimate_word_spans(&ws, start, end);
        SentenceTiming {
            text: text.to_string(),
            start,
            end,
            words: ws
                .iter()
                .zip(spans)
                .map(|(w, (s, e))| WordTiming {
                    word: w.to_string(),
                    start: s,
                    end: e,
                })
                .collect(),
        }
    }
}

impl SentenceTiming {
    /// One sentence spoken from `start` to `end` whose words start at `starts` (absolute
    /// seconds, one per word, clamped into the sentence).
    pub fn timed(text: &str, start: f64, end: f64, starts: &[f64]) -> SentenceTiming {
        let ws = words(text);
        if starts.len() != ws.len() {
            return SentenceTiming::spoken(text, start, end);
        }
        let mut clamped: Vec<f64> = starts.iter().map(|s| s.clamp(start, end)).collect();
        // The sentence's first word starts with the sentence, so the cue does too.
        clamped[0] = start;
        SentenceTiming {
            text: text.to_string(),
            start,
            end,
            words: ws
                .iter()
                .zip(spans_from_starts(&clamped, end))
                .map(|(w, (s, e))| WordTiming {
                    word: w.to_string(),
                    start: s,
                    end: e,
                })
                .collect(),
        }
    }
}

/// The sentences and words a narration of `script` by a voice speaking `language` will
/// have, before it is spoken (one second per sentence stands in for the real times): what
/// is said does not depend on the engine, only when. Lets subtitles be laid out while the
/// voice is synthesised.
pub fn untimed_sentences(script: &str, language: &str) -> Vec<SentenceTiming> {
    speakable::sentences(script, language)
        .iter()
        .enumerate()
        .map(|(i, s)| SentenceTiming::spoken(&s.written, i as f64, i as f64 + 1.0))
        .collect()
}

/// [`Speech::narrate`] with an explicit engine.
pub async fn narrate_with(
    engine: &dyn SpeechEngine,
    script: &str,
    voice: &VoiceProfile,
    options: NarrationOptions,
    dir: &Path,
    deadline: Instant,
) -> Result<Narration, SpeechError> {
    // The engine says abbreviations and numbers in full; the timings keep what the user
    // wrote, each written word timed by the first spoken word it became.
    let sentences = speakable::sentences(script, &voice.language);
    if sentences.is_empty() {
        return Err(SpeechError::EmptyScript);
    }
    let spoken: Vec<String> = sentences.iter().map(|s| s.spoken.clone()).collect();
    let name = engine.name();
    let mut clips = engine.synthesize(&spoken, voice, dir, deadline).await?;
    if options.align_words {
        align_untimed(&mut clips, &spoken, deadline).await;
    }
    let bad = |reason: String| SpeechError::BadAudio {
        engine: name,
        reason,
    };

    let mut rate = None;
    let mut trimmed: Vec<(Vec<i16>, usize)> = Vec::with_capacity(clips.len());
    for clip in &clips {
        let f = &clip.wav;
        let mut reader =
            hound::WavReader::open(f).map_err(|e| bad(format!("{}: {e}", f.display())))?;
        let spec = reader.spec();
        if spec.channels != 1 || spec.bits_per_sample != 16 {
            return Err(bad(format!(
                "expected 16-bit mono, got {} bits, {} channels",
                spec.bits_per_sample, spec.channels
            )));
        }
        if *rate.get_or_insert(spec.sample_rate) != spec.sample_rate {
            return Err(bad("sentences came back at different sample rates".into()));
        }
        let samples: Vec<i16> = reader
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        trimmed.push(trim_silence(&samples, spec.sample_rate));
    }
    let rate = rate.expect("at least one sentence");
    if trimmed.iter().all(|(c, _)| c.is_empty()) {
        return Err(bad("the engine produced only silence".into()));
    }

    let secs = |n: usize| n as f64 / rate as f64;
    let samples_of = |s: f64| (s * rate as f64).round() as usize;
    let mut track: Vec<i16> = vec![0; samples_of(options.lead)];
    let mut timings = Vec::with_capacity(sentences.len());
    for (i, ((sentence, (samples, cut)), clip)) in
        sentences.iter().zip(&trimmed).zip(&clips).enumerate()
    {
        let text = &sentence.written;
        if i > 0 {
            track.resize(track.len() + samples_of(options.gap), 0);
        }
        let start = secs(track.len());
        track.extend_from_slice(samples);
        let end = secs(track.len());
        // Engine times are per spoken word and count from the untrimmed file's start.
        let written_starts = clip
            .word_starts
            .as_deref()
            .and_then(|starts| sentence.written_starts(starts));
        timings.push(match written_starts {
            Some(starts) => {
                let shift = start - secs(*cut);
                let abs: Vec<f64> = starts.iter().map(|s| s + shift).collect();
                SentenceTiming::timed(text, start, end, &abs)
            }
            None => SentenceTiming::spoken(text, start, end),
        });
    }
    let speech_end = secs(track.len());
    track.resize(track.len() + samples_of(options.tail), 0);

    let wav = dir.join("narration.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    {
        let mut w = hound::WavWriter::create(&wav, spec).map_err(to_io)?;
        for s in &track {
            w.write_sample(*s).map_err(to_io)?;
        }
        w.finalize().map_err(to_io)?;
    }
    Ok(Narration {
        envelope: envelope(&track, rate, Narration::ENVELOPE_HZ),
        wav,
        sample_rate: rate,
        engine: name,
        total_duration: secs(track.len()),
        speech_duration: speech_end - timings[0].start,
        sentences: timings,
    })
}

/// Word times for the clips their engine did not time, by forced alignment (one run for
/// all of them).
async fn align_untimed(clips: &mut [Clip], sentences: &[String], deadline: Instant) {
    let untimed: Vec<usize> = (0..clips.len())
        .filter(|&i| clips[i].word_starts.is_none())
        .collect();
    if untimed.is_empty() || !crate::align::available() {
        return;
    }
    let pairs: Vec<_> = untimed
        .iter()
        .map(|&i| (clips[i].wav.clone(), sentences[i].clone()))
        .collect();
    let found = crate::align::align(&pairs, deadline).await;
    for (i, starts) in untimed.into_iter().zip(found) {
        clips[i].word_starts = starts;
    }
}

fn to_io(e: hound::Error) -> SpeechError {
    match e {
        hound::Error::IoError(e) => SpeechError::Io(e),
        other => SpeechError::Io(std::io::Error::other(other.to_string())),
    }
}

/// Cuts leading and trailing near-silence (below 1 % of full scale), keeping 30 ms so
/// consonants are not clipped. Engines pad their output unevenly; trimming makes the
/// inter-sentence pause the one we choose and the sentence times exact. Returns the kept
/// samples and how many were cut from the front.
fn trim_silence(samples: &[i16], rate: u32) -> (Vec<i16>, usize) {
    const THRESHOLD: i32 = 328;
    let keep = (rate as usize * 30) / 1000;
    let loud = |s: &i16| (*s as i32).abs() > THRESHOLD;
    let Some(first) = samples.iter().position(loud) else {
        return (Vec::new(), 0);
    };
    let last = samples.iter().rposition(loud).unwrap_or(first);
    let a = first.saturating_sub(keep);
    let b = (last + keep + 1).min(samples.len());
    (samples[a..b].to_vec(), a)
}

fn envelope(track: &[i16], rate: u32, hz: f64) -> Vec<f32> {
    let win = ((rate as f64 / hz).round() as usize).max(1);
    let rms: Vec<f32> = track
        .chunks(win)
        .map(|c| {
            let sum: f64 = c.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum();
            (sum / c.len() as f64).sqrt() as f32
        })
        .collect();
    let max = rms.iter().cloned().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return rms;
    }
    rms.into_iter().map(|v| v / max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_leading_and_trailing_silence_only() {
        let rate = 1000;
        let mut s = vec![0i16; 500];
        s.extend([5000, -5000, 0, 0, 0, 4000]);
        s.extend(vec![10i16; 500]);
        let (t, cut) = trim_silence(&s, rate);
        assert_eq!(cut, 500 - 30);
        // 30 ms margin = 30 samples each side around the 6 loud-ish samples.
        assert_eq!(t.len(), 30 + 6 + 30);
        assert_eq!(t[30], 5000);
        assert!(trim_silence(&[0, 1, -2], rate).0.is_empty());
    }

    #[test]
    fn envelope_is_normalised_per_window() {
        let rate = 100;
        let mut track = vec![0i16; 10];
        track.extend(vec![16000i16; 10]);
        track.extend(vec![8000i16; 10]);
        let e = envelope(&track, rate, 10.0);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], 0.0);
        assert!((e[1] - 1.0).abs() < 1e-6);
        assert!((e[2] - 0.5).abs() < 1e-3);
    }
}
