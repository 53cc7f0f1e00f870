//! Issue 14, parts 4–6, over HTTP against the real binary: caption files that match the
//! burned-in subtitles, abbreviations that do not split sentences, and scripts the voice
//! cannot speak refused at creation without a charge.
//!
//! The caption files are checked without reading the renderer's cue list: the cue texts
//! must be the script's sentences as this test writes them, the times must lie inside the
//! decoded video, and the subtitle pixels must be on screen exactly while a cue is active
//! (compared with the same video rendered without subtitles).

use crate::living_support::{duration, raw_frame, start_living};
use crate::support::{assert_validation, Server, LIVING, SLIDESHOW, VOICE};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(600);

/// Two sentences, one cue each at 640×360 (42 characters a line, two lines a cue); the
/// first is the example, the second has `St.` after a name (Street).
const SENTENCES: [&str; 2] = [
    "Dr. Green and Mrs. Hale welcome you to St. Mary Lane.",
    "Park on Elm St. today.",
];

/// One cue of a caption file: times in seconds, text lines joined by `\n`, and (WebVTT)
/// the word timestamp tags inside it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedCue {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tags: Vec<f64>,
}

/// `hh:mm:ss.mmm` (WebVTT) or `hh:mm:ss,mmm` (SRT) in seconds.
fn parse_clock(s: &str) -> f64 {
    let s = s.trim().replace(',', ".");
    let parts: Vec<&str> = s.split(':').collect();
    assert_eq!(parts.len(), 3, "clock {s:?}");
    let h: f64 = parts[0].parse().unwrap();
    let m: f64 = parts[1].parse().unwrap();
    let sec: f64 = parts[2].parse().unwrap();
    assert!(parts[2].len() == 6 && m < 60.0 && sec < 60.0, "clock {s:?}");
    h * 3600.0 + m * 60.0 + sec
}

/// Splits `a --> b` into seconds.
fn parse_timing(line: &str) -> (f64, f64) {
    let (a, b) = line
        .split_once(" --> ")
        .unwrap_or_else(|| panic!("timing {line:?}"));
    (parse_clock(a), parse_clock(b))
}

fn parse_srt(text: &str) -> Vec<ParsedCue> {
    let blocks: Vec<&str> = text.trim_end().split("\n\n").collect();
    blocks
        .iter()
        .enumerate()
        .map(|(i, block)| {
            let lines: Vec<&str> = block.lines().collect();
            assert_eq!(lines[0], (i + 1).to_string(), "SRT numbering: {text}");
            let (start, end) = parse_timing(lines[1]);
            ParsedCue {
                start,
                end,
                text: lines[2..].join("\n"),
                tags: Vec::new(),
            }
        })
        .collect()
}

fn parse_vtt(text: &str) -> Vec<ParsedCue> {
    let mut blocks = text.trim_end().split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"), "header: {text}");
    blocks
        .map(|block| {
            let lines: Vec<&str> = block.lines().collect();
            // An optional identifier line precedes the timing line.
            let at = lines.iter().position(|l| l.contains(" --> ")).unwrap();
            let (start, end) = parse_timing(lines[at]);
            let raw = lines[at + 1..].join("\n");
            let (mut plain, mut tags) = (String::new(), Vec::new());
            let mut rest = raw.as_str();
            while let Some(open) = rest.find('<') {
                plain.push_str(&rest[..open]);
                let close = rest[open..].find('>').unwrap() + open;
                tags.push(parse_clock(&rest[open + 1..close]));
                rest = &rest[close + 1..];
            }
            plain.push_str(rest);
            let text = plain
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            ParsedCue {
                start,
                end,
                text,
                tags,
            }
        })
        .collect()
}

/// Downloads both caption files of a completed task and checks they agree: the SRT cues.
async fn captions_of(s: &Server, task: &Value) -> Vec<ParsedCue> {
    caption_files(s, task).await.1
}

/// The WebVTT cues of a completed task, with their word timestamps (checked against the
/// SRT file as [`captions_of`] does).
pub(crate) async fn word_cues(s: &Server, task: &Value) -> Vec<ParsedCue> {
    caption_files(s, task).await.0
}

/// Both caption files of a completed task, (WebVTT, SRT), checked to agree.
async fn caption_files(s: &Server, task: &Value) -> (Vec<ParsedCue>, Vec<ParsedCue>) {
    let captions = &task["result"]["captions"];
    let fetch = |field: &str| {
        let url = captions[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {task}"))
            .to_string();
        async move {
            let r = s.get_url(&url, None).await;
            assert_eq!(r.status, 200, "{url}");
            (
                r.header("content-type").unwrap_or("").to_string(),
                String::from_utf8(r.bytes.to_vec()).expect("UTF-8 captions"),
            )
        }
    };
    let (vtt_type, vtt) = fetch("vtt_url").await;
    let (srt_type, srt) = fetch("srt_url").await;
    assert!(vtt_type.starts_with("text/vtt"), "{vtt_type}");
    assert!(srt_type.starts_with("application/x-subrip"), "{srt_type}");
    let (vtt, srt) = (parse_vtt(&vtt), parse_srt(&srt));
    assert_eq!(vtt.len(), srt.len());
    for (v, s) in vtt.iter().zip(&srt) {
        assert_eq!(v.text, s.text, "same cue text in both files");
        assert!((v.start - s.start).abs() < 1e-6 && (v.end - s.end).abs() < 1e-6);
        assert!(v.start < v.end, "{v:?}");
        // Word tags: inside the cue, rising, and one for each word but the first.
        let mut last = v.start;
        for &t in &v.tags {
            assert!(t > last && t < v.end, "tag {t} in {v:?}");
            last = t;
        }
        // One tag per word but the first, except where the engine reports two words
        // starting at the same millisecond (they share the earlier tag: WebVTT tags must
        // rise strictly).
        let tagged = v.text.split_whitespace().count() - 1;
        assert!(
            v.tags.len() <= tagged && v.tags.len() * 4 >= tagged * 3,
            "{} tags for {tagged} words: {v:?}",
            v.tags.len()
        );
    }
    for pair in srt.windows(2) {
        assert!(
            pair[0].end <= pair[1].start + 1e-6,
            "cues overlap: {pair:?}"
        );
    }
    (vtt, srt)
}

/// The middle half of the frame's bottom third (where the classic preset draws) at `t`
/// seconds, grey, 160×30.
fn bottom_band(video: &Path, t: f64) -> Vec<u8> {
    let band = raw_frame(video, t, "crop=iw/2:ih/3:iw/4:2*ih/3,scale=160:30", "gray");
    assert_eq!(band.len(), 160 * 30, "frame at {t}");
    band
}

/// The share of pixels (0–1) that differ by more than 32 grey levels: text and its box,
/// not the encoder's noise.
fn changed_share(a: &[u8], b: &[u8]) -> f64 {
    let changed = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.abs_diff(**y) > 32)
        .count();
    changed as f64 / a.len() as f64
}

fn one_exterior(s: &Server, script: &str, subtitles: bool) -> Value {
    let mut body = json!({
        "images": [{ "url": s.image_url(0), "room_type": "exterior" }],
        "voice": { "voice_id": VOICE },
        "script": script,
    });
    if subtitles {
        body["subtitle"] = json!({ "subtitle_style_preset": "classic" });
    }
    body
}

#[tokio::test]
async fn caption_files_carry_the_burned_cues_one_per_sentence() {
    let (s, _) = start_living(false).await;
    let acct = s.account("Max", 100).await;
    let key = acct.live.key.clone();
    let out = tempfile::tempdir().unwrap();
    let script = SENTENCES.join(" ");

    let mut ids = Vec::new();
    for subtitles in [true, false] {
        let r = s
            .post(LIVING, &key, &one_exterior(&s, &script, subtitles))
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
        ids.push(r.json["task_id"].as_str().unwrap().to_string());
    }
    // A test key gets the sample video, with the captions of the sample's own narration.
    let sample = s
        .post(LIVING, &acct.test.key, &one_exterior(&s, &script, true))
        .await;
    assert_eq!(sample.status, 202, "{}", sample.json);

    let mut videos = Vec::new();
    let mut cue_lists = Vec::new();
    for id in &ids {
        let t = s.wait_done(&key, id, LIMIT).await;
        assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
        cue_lists.push(captions_of(&s, &t).await);
        videos.push(s.download(&t, out.path()).await);
    }
    let (with, without) = (&videos[0], &videos[1]);
    let cues = &cue_lists[0];
    // Burned in or not, the same cues.
    assert_eq!(cues, &cue_lists[1]);

    // One cue per sentence, as written (the voice said "Doctor", the text keeps "Dr.").
    let texts: Vec<String> = cues.iter().map(|c| c.text.replace('\n', " ")).collect();
    assert_eq!(texts, SENTENCES);
    let d = duration(with);
    assert!((duration(without) - d).abs() < 0.05);
    for c in cues {
        assert!(c.start >= 0.3 && c.end <= d + 1e-3, "{c:?} outside 0..{d}");
    }

    // The subtitle is drawn while each cue is active, and not before the first one.
    let drawn = |t: f64| changed_share(&bottom_band(with, t), &bottom_band(without, t));
    for c in cues {
        let mid = (c.start + c.end) / 2.0;
        let diff = drawn(mid);
        eprintln!(
            "cue {:?} at {mid:.2} s: {:.1} % of the bottom band changed",
            c.text,
            diff * 100.0
        );
        assert!(
            diff > 0.03,
            "no subtitle drawn at {mid} s for {c:?} ({diff})"
        );
    }
    let before = drawn(cues[0].start / 2.0);
    eprintln!("before the first cue: {:.2} % changed", before * 100.0);
    assert!(before < 0.005, "a subtitle before the first cue ({before})");
    let after = cues.last().unwrap().end + 0.25;
    if after < d - 0.1 {
        let diff = drawn(after);
        assert!(diff < 0.005, "a subtitle after the last cue ({diff})");
    }

    let t = s
        .wait_done(
            &acct.test.key,
            sample.json["task_id"].as_str().unwrap(),
            LIMIT,
        )
        .await;
    assert_eq!(t["status"], "completed", "{t}");
    let sample_cues = captions_of(&s, &t).await;
    assert_eq!(
        sample_cues[0].text.replace('\n', " "),
        "This is a PeakReel sample video."
    );
}

/// A group abbreviation that closes a sentence (`sq. ft.` before a capital) ends it at
/// its last full stop only, and an initialism no table lists (`a.m.`) before a lower-case
/// word ends none: one cue per sentence, in both caption files and for every preset.
#[tokio::test]
async fn closing_group_abbreviations_and_initialisms_keep_their_sentences() {
    let (s, _) = start_living(false).await;
    let acct = s.account("Max", 100).await;
    let sentences = [
        "The loft has twelve hundred sq. ft.",
        "The tour starts at ten a.m. on Sunday.",
    ];
    let script = sentences.join(" ");
    let mut ids = Vec::new();
    for preset in ["classic", "karaoke"] {
        let mut body = one_exterior(&s, &script, true);
        body["subtitle"] = json!({ "subtitle_style_preset": preset });
        let r = s.post(LIVING, &acct.live.key, &body).await;
        assert_eq!(r.status, 202, "{}", r.json);
        ids.push(r.json["task_id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let t = s.wait_done(&acct.live.key, id, LIMIT).await;
        assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
        let (vtt, srt) = caption_files(&s, &t).await;
        let texts: Vec<String> = srt.iter().map(|c| c.text.replace('\n', " ")).collect();
        assert_eq!(texts, sentences, "{id}");
        // "sq." and "ft." are timed apart, by "square" and "feet".
        assert_eq!(vtt[0].tags.len(), 6, "{:?}", vtt[0]);
    }
}

/// The typographic quotes of the voice's languages (French « », German „ “ and » «)
/// are punctuation a script may hold, as English curly quotes are; the voice speaks the
/// quoted sentence as one and the cue keeps the quotes.
#[tokio::test]
async fn typographic_quotes_of_the_voices_languages_are_accepted() {
    let (s, _) = start_living(false).await;
    let acct = s.account("Max", 100).await;
    let (mut ids, mut charged) = (Vec::new(), 0);
    for (language, script) in [
        (
            "fr",
            "Elle dit «Bienvenue chez vous.» La maison est claire, le jardin est calme.",
        ),
        (
            "de",
            "Er sagt „Willkommen zu Hause.“ Das Haus ist hell und der Garten ist ruhig.",
        ),
        (
            "de",
            "Er sagt »Willkommen zu Hause.« Das Haus ist hell und der Garten ist ruhig.",
        ),
    ] {
        let mut body = one_exterior(&s, script, false);
        body["voice"]["language"] = json!(language);
        let r = s.post(LIVING, &acct.live.key, &body).await;
        assert_eq!(r.status, 202, "{script}: {}", r.json);
        charged += r.json["credits_charged"].as_i64().unwrap();
        ids.push((script, r.json["task_id"].as_str().unwrap().to_string()));
    }
    // Other symbols are still refused, before any charge.
    let mut body = one_exterior(
        &s,
        "A bright home <with> a calm garden and a sunny kitchen, come and see it.",
        false,
    );
    body["voice"]["language"] = json!("en");
    let errors = assert_validation(&s.post(LIVING, &acct.live.key, &body).await, &[]);
    assert_eq!(errors[0].0, "script", "{errors:?}");
    assert_eq!(s.credits(&acct.live.key).await, 100 - charged);
    for (script, id) in &ids {
        let t = s.wait_done(&acct.live.key, id, LIMIT).await;
        assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
        let texts: Vec<String> = captions_of(&s, &t)
            .await
            .iter()
            .map(|c| c.text.replace('\n', " "))
            .collect();
        // One cue per sentence, the first ending with its closing quote.
        let end = [".»", ".“", ".«"]
            .iter()
            .find_map(|close| script.find(close).map(|i| i + close.len()))
            .unwrap();
        assert_eq!(texts, [&script[..end], script[end..].trim()], "{id}");
    }
}

/// `n` characters of `text` repeated.
fn repeat(text: &str, n: usize) -> String {
    text.chars()
        .cycle()
        .take(n)
        .collect::<String>()
        .trim()
        .to_string()
}

#[tokio::test]
async fn scripts_the_voice_cannot_speak_are_refused_before_any_charge() {
    let s = Server::start().await;
    let acct = s.account("Pro", 100).await;
    let key = &acct.live.key;
    let slideshow = |script: String| {
        let mut body = s.slideshow(6);
        body["script"] = json!(script);
        body
    };
    let script_error = |r: &crate::support::Resp| -> String {
        let errors = assert_validation(r, &[]);
        let (_, message) = errors
            .iter()
            .find(|(f, _)| f == "script")
            .unwrap_or_else(|| panic!("no script error: {}", r.json));
        message.clone()
    };

    // Chinese, Hebrew and Arabic with a voice speaking en, es, fr, de.
    for (letters, name) in [
        ("这是一个明亮的家庭住宅有阳光花园和安静的街道", "Han"),
        ("בית משפחתי מואר עם גינה שטופת שמש ורחוב שקט ", "Hebrew"),
        ("منزل عائلي مشرق مع حديقة مشمسة وشارع هادئ ", "Arabic"),
    ] {
        let r = s
            .post(SLIDESHOW, key, &slideshow(repeat(letters, 250)))
            .await;
        let message = script_error(&r);
        assert!(message.contains("en, es, fr, de"), "{message}");
        assert!(message.contains(name), "{message}");
        // The living-property route goes through the same check.
        let mut living = s.living(3);
        living["script"] = json!(repeat(letters, 220));
        let message = script_error(&s.post(LIVING, key, &living).await);
        assert!(message.contains("en, es, fr, de"), "{message}");
    }
    // An English-only voice is named with its one language; one foreign word is enough.
    let mut english = slideshow(format!(
        "{} 花园.",
        crate::support::script(240)
            .trim_end_matches('.')
            .chars()
            .take(236)
            .collect::<String>()
    ));
    english["voice"] = json!({ "voice_id": "21m00Tcm4TlvDq8ikWAM" });
    let message = script_error(&s.post(SLIDESHOW, key, &english).await);
    assert!(message.contains("speaks en."), "{message}");

    // Nothing to speak: punctuation and spaces only, of a valid length.
    let r = s
        .post(SLIDESHOW, key, &slideshow(repeat(". , ! ? - ", 245)))
        .await;
    let message = script_error(&r);
    assert!(message.contains("nothing to speak"), "{message}");

    // The spec's order still holds: a too-short foreign script is SCRIPT_TOO_SHORT (field
    // rules), an unknown voice is VOICE_NOT_FOUND (voice lookup comes before the check).
    let r = s
        .post(SLIDESHOW, key, &slideshow(repeat("这是一个家", 100)))
        .await;
    assert_eq!(r.json["error"]["code"], "SCRIPT_TOO_SHORT", "{}", r.json);
    let mut unknown = slideshow(repeat("这是一个明亮的家", 250));
    unknown["voice"] = json!({ "voice_id": "ZZZZZZZZZZZZZZZZZZZZ" });
    let r = s.post(SLIDESHOW, key, &unknown).await;
    assert_eq!(r.json["error"]["code"], "VOICE_NOT_FOUND", "{}", r.json);
    // A wrong voice.language and foreign letters are reported together.
    let mut both = slideshow(repeat("这是一个明亮的家", 250));
    both["voice"]["language"] = json!("ja");
    let errors = assert_validation(&s.post(SLIDESHOW, key, &both).await, &[]);
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["voice.language", "script"]);

    // Nothing was charged for any of it.
    assert_eq!(s.assert_ledger_consistent(&acct).await, 100);

    // The OpenAPI document describes the result's caption files.
    let doc = s.get("/openapi.json", None).await.json;
    let captions = &doc["components"]["schemas"]["TaskCaptions"]["properties"];
    assert!(
        captions["vtt_url"].is_object() && captions["srt_url"].is_object(),
        "{doc}"
    );
    let result = &doc["components"]["schemas"]["TaskResult"]["properties"]["captions"];
    assert!(result.to_string().contains("TaskCaptions"), "{result}");

    // Letters with combining marks (decomposed accents) in a language the voice speaks
    // are accepted, and charged as usual.
    let accented = repeat(
        "Une belle maison, cafe\u{301} et jardin, pre\u{300}s du parc. ",
        250,
    );
    let r = s.post(SLIDESHOW, key, &slideshow(accented)).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(s.assert_ledger_consistent(&acct).await, 95);
}

/// Runs `peakreel render` on a one-photo living-property request with `script`.
fn render_cli(dir: &Path, script: &str) -> std::process::Output {
    let photo = dir.join("front.jpg");
    std::fs::write(&photo, peakreel_testkit::photo_jpeg("house100_frontal.jpg")).unwrap();
    let request = json!({
        "images": [{ "url": photo.to_str().unwrap(), "room_type": "exterior" }],
        "voice": { "voice_id": VOICE },
        "script": script,
        "subtitle": { "subtitle_style_preset": "modern" },
    });
    std::fs::write(dir.join("request.json"), request.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_peakreel"))
        .args(["render", "--type", "living-property", "--request"])
        .arg(dir.join("request.json"))
        .arg("--output")
        .arg(dir.join("tour.mp4"))
        .arg("--captions")
        .arg(dir.join("captions"))
        .env("PEAKREEL_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn render_cli_writes_the_caption_files_and_checks_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = render_cli(dir.path(), &SENTENCES.join(" "));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read =
        |name: &str| std::fs::read_to_string(dir.path().join("captions").join(name)).unwrap();
    let (vtt, srt) = (parse_vtt(&read("tour.vtt")), parse_srt(&read("tour.srt")));
    let texts: Vec<String> = srt.iter().map(|c| c.text.replace('\n', " ")).collect();
    assert_eq!(texts, SENTENCES);
    let d = duration(&dir.path().join("tour.mp4"));
    for (v, s) in vtt.iter().zip(&srt) {
        assert_eq!((v.start, v.end, &v.text), (s.start, s.end, &s.text));
        assert!(s.start > 0.0 && s.end <= d + 1e-3, "{s:?} outside 0..{d}");
        assert!(!v.tags.is_empty());
    }

    // The same refusal as the API, before anything is rendered.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    let out = render_cli(&foreign, &repeat("这是一个明亮的家庭住宅有阳光花园", 75));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("VALIDATION_ERROR") && stderr.contains("en, es, fr, de"),
        "{stderr}"
    );
    assert!(!foreign.join("tour.mp4").exists() && !foreign.join("captions").exists());
}
