//! Background music generated here, seeded per task so a re-render is identical
//! (api.md §8.4): a four-chord progression played by a soft, slowly breathing pad with a
//! bass note and a gentle plucked arpeggio on top. Instruments are band-limited wavetables
//! (a few harmonics at falling amplitude), so the sound is warm rather than buzzy, and a
//! table lookup per voice keeps generation fast even in a debug build.

use std::f64::consts::PI;
use std::path::Path;

use crate::plan::SplitMix;

pub const SAMPLE_RATE: u32 = 48_000;

/// Progressions as scale degrees (0 = tonic) of a major key, each chord a triad.
const PROGRESSIONS: [[usize; 4]; 4] = [[0, 4, 5, 3], [5, 3, 0, 4], [0, 5, 3, 4], [0, 3, 5, 4]];
const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const TABLE: usize = 2048;

/// The musical choices a seed makes; exposed so tests can check the audio against them.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrangement {
    /// MIDI note of the key's tonic (around C4).
    pub tonic: i32,
    pub bpm: f64,
    pub progression: [usize; 4],
}

impl Arrangement {
    pub fn from_seed(seed: u64) -> Self {
        let mut rng = SplitMix(seed ^ 0x006D_7573_6963);
        // Keys C, D, Eb, F, G, A: comfortable pad registers.
        let keys = [60, 62, 63, 65, 67, 57];
        Arrangement {
            tonic: keys[(rng.next() % keys.len() as u64) as usize],
            bpm: 70.0 + (rng.next() % 17) as f64,
            progression: PROGRESSIONS[(rng.next() % PROGRESSIONS.len() as u64) as usize],
        }
    }

    /// MIDI notes of chord `index` (root position triad, with the third and fifth folded
    /// into one octave above the tonic region for smooth voice leading).
    pub fn chord(&self, index: usize) -> [i32; 3] {
        let degree = self.progression[index % 4];
        let note = |step: usize| {
            let d = degree + step;
            self.tonic + MAJOR[d % 7] + 12 * (d / 7) as i32
        };
        let mut c = [note(0), note(2), note(4)];
        for n in &mut c {
            while *n > self.tonic + 9 {
                *n -= 12;
            }
        }
        c
    }

    /// Seconds per chord: two bars of four beats.
    pub fn chord_seconds(&self) -> f64 {
        8.0 * 60.0 / self.bpm
    }
}

fn midi_hz(note: i32) -> f64 {
    440.0 * 2f64.powf((note as f64 - 69.0) / 12.0)
}

fn table(harmonics: &[f64]) -> Vec<f32> {
    let mut t: Vec<f32> = (0..TABLE)
        .map(|i| {
            let ph = 2.0 * PI * i as f64 / TABLE as f64;
            harmonics
                .iter()
                .enumerate()
                .map(|(k, a)| a * ((k + 1) as f64 * ph).sin())
                .sum::<f64>() as f32
        })
        .collect();
    let peak = t.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for v in &mut t {
        *v /= peak;
    }
    t
}

struct Osc {
    phase: f64,
    step: f64,
}

impl Osc {
    fn new(hz: f64, phase: f64) -> Self {
        Osc {
            phase,
            step: hz * TABLE as f64 / SAMPLE_RATE as f64,
        }
    }

    #[inline]
    fn tick(&mut self, t: &[f32]) -> f32 {
        let v = t[self.phase as usize];
        self.phase += self.step;
        if self.phase >= TABLE as f64 {
            self.phase -= TABLE as f64;
        }
        v
    }
}

/// Renders `seconds` of stereo music (interleaved f32 in −1..1) for `seed`.
pub fn generate(seed: u64, seconds: f64) -> Vec<f32> {
    let arr = Arrangement::from_seed(seed);
    let pad_t = table(&[1.0, 0.45, 0.25, 0.12, 0.06, 0.03]);
    let pluck_t = table(&[1.0, 0.3, 0.1]);
    let frames = (seconds * SAMPLE_RATE as f64).round() as usize;
    let chord_len = arr.chord_seconds();
    let beat = 60.0 / arr.bpm;
    let mut out = vec![0.0f32; frames * 2];
    let sr = SAMPLE_RATE as f64;

    let chords = (seconds / chord_len).ceil() as usize + 1;
    let mut rng = SplitMix(seed);
    for c in 0..chords {
        let start = c as f64 * chord_len;
        if start >= seconds {
            break;
        }
        let notes = arr.chord(c);
        // Pad voices overlap the next chord by a second so changes breathe, not click.
        let end = (start + chord_len + 1.0).min(seconds);
        let (a, b) = ((start * sr) as usize, (end * sr) as usize);
        let mut voices: Vec<(Osc, f32, f32)> = Vec::new();
        for (k, &n) in notes.iter().enumerate() {
            for detune in [-0.07, 0.0, 0.07] {
                let hz = midi_hz(n) * 2f64.powf(detune / 12.0);
                // Spread voices across the stereo field.
                let pan = 0.5 + 0.3 * detune / 0.07 * if k % 2 == 0 { 1.0 } else { -1.0 };
                voices.push((
                    Osc::new(hz, rng.unit() * TABLE as f64),
                    (1.0 - pan) as f32,
                    pan as f32,
                ));
            }
        }
        let mut bass = Osc::new(midi_hz(notes[0] - 24), 0.0);
        for i in a..b {
            let t = (i - a) as f64 / sr;
            let len = (b - a) as f64 / sr;
            // Slow attack and release: the pad swells in and out.
            let env = (t / 1.2).min(1.0).min((len - t) / 1.2).max(0.0) as f32;
            let (mut l, mut r) = (0.0f32, 0.0f32);
            for (o, gl, gr) in &mut voices {
                let v = o.tick(&pad_t);
                l += v * *gl;
                r += v * *gr;
            }
            let bv = bass.tick(&pad_t) * 0.6;
            out[2 * i] += (l * 0.07 + bv * 0.25) * env;
            out[2 * i + 1] += (r * 0.07 + bv * 0.25) * env;
        }
        // Arpeggio: one plucked chord tone per beat, an octave up, decaying.
        let beats = (chord_len / beat).round() as usize;
        for bt in 0..beats {
            let at = start + bt as f64 * beat;
            if at >= seconds {
                break;
            }
            let note = notes[[0, 1, 2, 1][bt % 4]] + 12;
            let mut o = Osc::new(midi_hz(note), 0.0);
            let a = (at * sr) as usize;
            let b = ((at + beat * 1.5) * sr).min(frames as f64) as usize;
            let pan = if bt % 2 == 0 { 0.35f32 } else { 0.65 };
            for i in a..b {
                let t = (i - a) as f64 / sr;
                let env = ((t / 0.01).min(1.0) * (-t * 3.0).exp()) as f32 * 0.12;
                let v = o.tick(&pluck_t) * env;
                out[2 * i] += v * (1.0 - pan);
                out[2 * i + 1] += v * pan;
            }
        }
    }

    // A gentle one-pole low-pass per channel takes the edge off the upper harmonics.
    let alpha = (1.0 - (-2.0 * PI * 3500.0 / sr).exp()) as f32;
    let (mut zl, mut zr) = (0.0f32, 0.0f32);
    for f in out.chunks_mut(2) {
        zl += alpha * (f[0] - zl);
        zr += alpha * (f[1] - zr);
        f[0] = zl;
        f[1] = zr;
    }

    // Fade in over 1.5 s and out over the last 2.5 s, then normalise the peak to −6 dBFS.
    for (i, f) in out.chunks_mut(2).enumerate() {
        let t = i as f64 / sr;
        let g = (t / 1.5).min(1.0).min((seconds - t) / 2.5).clamp(0.0, 1.0) as f32;
        f[0] *= g;
        f[1] *= g;
    }
    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        let g = 0.5 / peak;
        for v in &mut out {
            *v *= g;
        }
    }
    out
}

/// Writes [`generate`]'s output as a 16-bit stereo WAV.
pub fn write_wav(path: &Path, seed: u64, seconds: f64) -> std::io::Result<()> {
    let samples = generate(seed, seconds);
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let io = |e: hound::Error| std::io::Error::other(e.to_string());
    let mut w = hound::WavWriter::create(path, spec).map_err(io)?;
    for s in samples {
        w.write_sample((s * 32767.0).round() as i16).map_err(io)?;
    }
    w.finalize().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goertzel power of `hz` in a mono signal.
    fn power(x: &[f32], hz: f64) -> f64 {
        let w = 2.0 * PI * hz / SAMPLE_RATE as f64;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = v as f64 + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - c * s1 * s2) / x.len() as f64
    }

    #[test]
    fn same_seed_same_music_other_seed_other_music() {
        assert_eq!(generate(9, 3.0), generate(9, 3.0));
        let a = Arrangement::from_seed(1);
        let differs = (2..40).any(|s| Arrangement::from_seed(s) != a);
        assert!(differs);
    }

    #[test]
    fn length_level_and_fades() {
        let x = generate(3, 10.0);
        assert_eq!(x.len(), 2 * 10 * SAMPLE_RATE as usize);
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 1e-3);
        // Silent at both ends (faded), clearly audible in the middle.
        assert!(x[..200].iter().all(|v| v.abs() < 0.01));
        assert!(x[x.len() - 200..].iter().all(|v| v.abs() < 0.01));
        let mid = &x[x.len() / 2 - 48_000..x.len() / 2 + 48_000];
        let rms = (mid.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        assert!(rms > 0.05, "{rms}");
    }

    #[test]
    fn plays_the_chord_not_a_single_tone() {
        let seed = 5;
        let arr = Arrangement::from_seed(seed);
        let x = generate(seed, arr.chord_seconds() * 2.0);
        // Mono mix of the second half of the first chord, well after the fade-in.
        let sr = SAMPLE_RATE as f64;
        let (a, b) = ((2.0 * sr) as usize, (arr.chord_seconds() * sr) as usize);
        let mono: Vec<f32> = (a..b).map(|i| 0.5 * (x[2 * i] + x[2 * i + 1])).collect();
        let chord = arr.chord(0);
        let off_key = midi_hz(chord[0]) * 2f64.powf(6.0 / 12.0); // a tritone away
        for n in chord {
            let p = power(&mono, midi_hz(n));
            assert!(p > 20.0 * power(&mono, off_key), "note {n} is missing");
        }
    }
}
