//! `say ENGINE MODEL OUT.wav TEXT`: narrates TEXT with one engine and voice (for
//! bench/voices.sh) and prints the CPU seconds it took and the seconds of audio.

use peakreel_speech::{EngineKind, NarrationOptions, Speech, VoiceProfile};
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut children: libc::rusage = unsafe { std::mem::zeroed() };
    let mut me: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut children);
        libc::getrusage(libc::RUSAGE_SELF, &mut me);
    }
    let t = |r: &libc::rusage| {
        r.ru_utime.tv_sec as f64
            + r.ru_utime.tv_usec as f64 / 1e6
            + r.ru_stime.tv_sec as f64
            + r.ru_stime.tv_usec as f64 / 1e6
    };
    t(&children) + t(&me)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, engine, model, out, text] = &args[..] else {
        eprintln!("usage: say ENGINE MODEL OUT.wav TEXT");
        std::process::exit(2);
    };
    let speech = Speech::detect().await;
    let mut voice = VoiceProfile::espeak(model);
    match engine.as_str() {
        "piper" => {
            voice.engine = EngineKind::Piper;
            voice.piper_model = Some(model.clone());
        }
        "flite" => {
            voice.engine = EngineKind::Flite;
            voice.flite_voice = Some(model.clone());
        }
        _ => {}
    }
    let dir = tempfile::tempdir().unwrap();
    let before = cpu_seconds();
    let n = speech
        .narrate(
            text,
            &voice,
            NarrationOptions {
                lead: 0.0,
                tail: 0.0,
                ..NarrationOptions::default()
            },
            dir.path(),
            Instant::now() + Duration::from_secs(300),
        )
        .await
        .expect("narration");
    let cpu = cpu_seconds() - before;
    std::fs::copy(&n.wav, out).unwrap();
    println!("{cpu:.3} {:.3}", n.total_duration);
}
