//! espeak-ng through its C library (Debian `libespeak-ng1`; `libespeak-ng-dev` to build),
//! because only the library reports where each word starts in the audio: its
//! word events carry the word's character position in the text and its time in the
//! output. The library has one global state, so one sentence is synthesised at a time,
//! on a blocking thread, under a lock.

use std::ffi::{c_char, c_int, c_short, c_uint, c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::engines::{BoxFuture, Clip, SpeechEngine};
use crate::process::Cmd;
use crate::word_times::starts_from_char_events;
use crate::{SpeechError, VoiceProfile};

#[repr(C)]
struct EspeakEvent {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: *const c_char,
}

type SynthCallback = unsafe extern "C" fn(*mut c_short, c_int, *mut EspeakEvent) -> c_int;

#[link(name = "espeak-ng")]
extern "C" {
    fn espeak_Initialize(
        output: c_int,
        buflength: c_int,
        path: *const c_char,
        options: c_int,
    ) -> c_int;
    fn espeak_SetSynthCallback(cb: SynthCallback);
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_SetParameter(parameter: c_int, value: c_int, relative: c_int) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn espeak_Synth(
        text: *const c_void,
        size: usize,
        position: c_uint,
        position_type: c_int,
        end_position: c_uint,
        flags: c_uint,
        unique_identifier: *mut c_uint,
        user_data: *mut c_void,
    ) -> c_int;
}

const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
const POS_CHARACTER: c_int = 1;
const CHARS_UTF8: c_uint = 1;
const EVENT_LIST_TERMINATED: c_int = 0;
const EVENT_WORD: c_int = 1;
const PARAM_RATE: c_int = 1;
const PARAM_PITCH: c_int = 3;

/// What one synthesis collects through the callback's `user_data`.
struct Sink {
    samples: Vec<i16>,
    /// (character index from 0, seconds) of each word event.
    words: Vec<(usize, f64)>,
    deadline: Instant,
    timed_out: bool,
}

unsafe extern "C" fn on_audio(wav: *mut c_short, n: c_int, events: *mut EspeakEvent) -> c_int {
    let mut ev = events;
    // SAFETY: espeak-ng passes an event list terminated by EVENT_LIST_TERMINATED whose
    // user_data is the `Sink` given to espeak_Synth, alive until espeak_Synth returns.
    unsafe {
        let Some(first) = ev.as_ref() else { return 0 };
        let sink = &mut *(first.user_data as *mut Sink);
        while (*ev).kind != EVENT_LIST_TERMINATED {
            if (*ev).kind == EVENT_WORD {
                let pos = ((*ev).text_position - 1).max(0) as usize;
                sink.words
                    .push((pos, f64::from((*ev).audio_position) / 1000.0));
            }
            ev = ev.add(1);
        }
        if !wav.is_null() && n > 0 {
            sink.samples
                .extend_from_slice(std::slice::from_raw_parts(wav, n as usize));
        }
        if Instant::now() > sink.deadline {
            sink.timed_out = true;
            return 1; // stop synthesis
        }
    }
    0
}

/// The library's sample rate once initialised (`None`: it could not start, e.g. its data
/// is missing). Guarded by the lock every use of the library takes.
static LIBRARY: Mutex<Option<Option<u32>>> = Mutex::new(None);

fn unavailable(reason: impl Into<String>) -> SpeechError {
    SpeechError::Unavailable {
        engine: "espeak-ng",
        reason: reason.into(),
    }
}

/// One spoken sentence: its samples, their rate, and its word starts in seconds.
struct Spoken {
    samples: Vec<i16>,
    rate: u32,
    starts: Option<Vec<f64>>,
}

/// One sentence, blocking.
fn speak_blocking(
    sentence: &str,
    voice: &VoiceProfile,
    wpm: u32,
    deadline: Instant,
) -> Result<Spoken, SpeechError> {
    let mut lib = LIBRARY.lock().unwrap_or_else(|p| p.into_inner());
    let rate = *lib.get_or_insert_with(|| {
        // SAFETY: called once, under the lock; a null path means espeak-ng's default
        // data directory.
        let r = unsafe {
            espeak_Initialize(
                AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                std::ptr::null(),
                INITIALIZE_DONT_EXIT,
            )
        };
        if r <= 0 {
            return None;
        }
        // SAFETY: a plain function pointer with the signature the library expects.
        unsafe { espeak_SetSynthCallback(on_audio) };
        Some(r as u32)
    });
    let rate = rate.ok_or_else(|| unavailable("the espeak-ng library could not start"))?;
    let name =
        CString::new(voice.espeak_voice.as_str()).map_err(|_| unavailable("bad voice name"))?;
    let text = CString::new(sentence.replace('\0', " ")).expect("no NUL left");
    let mut sink = Sink {
        samples: Vec::new(),
        words: Vec::new(),
        deadline,
        timed_out: false,
    };
    // SAFETY: the lock is held; every pointer outlives the synchronous calls.
    let status = unsafe {
        if espeak_SetVoiceByName(name.as_ptr()) != 0 {
            return Err(unavailable(format!(
                "espeak-ng has no voice {:?}",
                voice.espeak_voice
            )));
        }
        espeak_SetParameter(PARAM_RATE, wpm as c_int, 0);
        espeak_SetParameter(PARAM_PITCH, c_int::from(voice.pitch), 0);
        espeak_Synth(
            text.as_ptr() as *const c_void,
            text.as_bytes_with_nul().len(),
            0,
            POS_CHARACTER,
            0,
            CHARS_UTF8,
            std::ptr::null_mut(),
            &mut sink as *mut Sink as *mut c_void,
        )
    };
    drop(lib);
    if sink.timed_out {
        return Err(SpeechError::Engine {
            engine: "espeak-ng",
            source: crate::process::ProcessError::Timeout {
                program: "espeak-ng".into(),
                timeout: std::time::Duration::ZERO,
                stderr_tail: String::new(),
            },
        });
    }
    if status != 0 {
        return Err(unavailable(format!("espeak_Synth failed ({status})")));
    }
    Ok(Spoken {
        starts: starts_from_char_events(sentence, &sink.words),
        samples: sink.samples,
        rate,
    })
}

/// espeak-ng, the engine for every language (and the last resort for English): its C
/// library by default, which reports word times; or a program with espeak-ng's command
/// line (tests wrap the real one to inject failures), whose words are aligned afterwards.
#[derive(Debug, Clone, Default)]
pub struct EspeakEngine {
    program: Option<PathBuf>,
}

impl EspeakEngine {
    /// espeak-ng's natural pace in words per minute; `rate` scales it.
    pub const BASE_WPM: f32 = 165.0;

    /// An engine running `program` (espeak-ng's command line) instead of the library.
    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        EspeakEngine {
            program: Some(program.into()),
        }
    }

    /// The command line this engine runs instead of the library, if any.
    pub(crate) fn program(&self) -> Option<&Path> {
        self.program.as_deref()
    }

    async fn run_program(
        program: &Path,
        sentence: &str,
        voice: &VoiceProfile,
        wpm: u32,
        wav: &Path,
        deadline: Instant,
    ) -> Result<(), SpeechError> {
        // Text goes through stdin so a sentence starting with "-" is never taken for an
        // option.
        Cmd::new(program)
            .arg("-v")
            .arg(&voice.espeak_voice)
            .arg("-s")
            .arg(wpm.to_string())
            .arg("-p")
            .arg(voice.pitch.to_string())
            .arg("-w")
            .arg(wav)
            .stdin(sentence.as_bytes().to_vec())
            .deadline(deadline)
            .run()
            .await
            .map(drop)
            .map_err(|source| SpeechError::Engine {
                engine: "espeak-ng",
                source,
            })
    }
}

impl SpeechEngine for EspeakEngine {
    fn name(&self) -> &'static str {
        "espeak-ng"
    }

    fn synthesize<'a>(
        &'a self,
        sentences: &'a [String],
        voice: &'a VoiceProfile,
        dir: &'a Path,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<Clip>, SpeechError>> {
        Box::pin(async move {
            let wpm = (Self::BASE_WPM * voice.rate).round().clamp(80.0, 450.0) as u32;
            let mut out = Vec::with_capacity(sentences.len());
            for (i, sentence) in sentences.iter().enumerate() {
                let wav = dir.join(format!("espeak-{i:03}.wav"));
                if let Some(program) = &self.program {
                    Self::run_program(program, sentence, voice, wpm, &wav, deadline).await?;
                    out.push(Clip::untimed(wav));
                    continue;
                }
                // Work like any other engine's: it takes a slot of the process door.
                let _slot = crate::process::slot(deadline)
                    .await
                    .ok_or_else(|| unavailable("no free slot before the deadline"))?;
                let (s, v) = (sentence.clone(), voice.clone());
                let spoken =
                    tokio::task::spawn_blocking(move || speak_blocking(&s, &v, wpm, deadline))
                        .await
                        .map_err(|e| unavailable(e.to_string()))??;
                write_wav(&wav, &spoken.samples, spoken.rate)?;
                out.push(Clip {
                    wav,
                    word_starts: spoken.starts,
                });
            }
            Ok(out)
        })
    }
}

fn write_wav(path: &Path, samples: &[i16], rate: u32) -> Result<(), SpeechError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let io = |e: hound::Error| SpeechError::Io(std::io::Error::other(e.to_string()));
    let mut w = hound::WavWriter::create(path, spec).map_err(io)?;
    for s in samples {
        w.write_sample(*s).map_err(io)?;
    }
    w.finalize().map_err(io)
}
