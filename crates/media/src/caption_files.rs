//! Caption files of the narration (issue 14, part 4): WebVTT and SRT with exactly the cues
//! the burned-in subtitles use ([`subtitles::cues`]: same sentence breaks, line breaks and
//! times), whether or not subtitles are burned in. Without a subtitle preset the cues are
//! those the `classic` preset would draw. Texts keep the user's case (the `bold` preset's
//! capitals are a drawing style). WebVTT cues carry each word's start as a timestamp tag
//! (`<00:00:01.200>`), from the narration's word times.

use std::fmt::Write as _;

use peakreel_speech::SentenceTiming;

use crate::subtitles::{self, Cue, SubtitlePreset};

/// A WebVTT and an SRT document of the same cues (UTF-8 text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captions {
    /// `text/vtt`.
    pub vtt: String,
    /// `application/x-subrip`.
    pub srt: String,
}

impl Captions {
    /// The captions of a `width`×`height` video narrated as `sentences` (seconds from
    /// the start of the video), with the cues of `preset` (`None`: not burned in, the
    /// `classic` layout).
    pub fn of(
        preset: Option<SubtitlePreset>,
        sentences: &[SentenceTiming],
        width: u32,
        height: u32,
    ) -> Captions {
        let preset = preset.unwrap_or(SubtitlePreset::Classic);
        let cues = subtitles::cues(sentences, preset.max_chars(height > width));
        Captions {
            vtt: webvtt(&cues),
            srt: srt(&cues),
        }
    }
}

/// Whole milliseconds, so both files and the tags agree to the millisecond.
fn millis(t: f64) -> u64 {
    (t.max(0.0) * 1000.0).round() as u64
}

fn clock(ms: u64, decimal: char) -> String {
    format!(
        "{:02}:{:02}:{:02}{decimal}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A cue's start and end in milliseconds, the end at least 1 ms after the start.
fn span(cue: &Cue) -> (u64, u64) {
    let start = millis(cue.start);
    (start, millis(cue.end).max(start + 1))
}

/// WebVTT (W3C): a header, then one block per cue numbered from 1; `&`, `<` and `>` are
/// escaped; each word after the first carries its start time as a timestamp tag when that
/// lies strictly inside the cue and after the previous tag.
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, cue) in cues.iter().enumerate() {
        let (start, end) = span(cue);
        let _ = write!(
            out,
            "\n{}\n{} --> {}\n",
            i + 1,
            clock(start, '.'),
            clock(end, '.')
        );
        let mut last_tag = start;
        for (li, line) in cue.lines.iter().enumerate() {
            if li > 0 {
                out.push('\n');
            }
            for (wi, (word, word_start, _)) in line.iter().enumerate() {
                if wi > 0 {
                    out.push(' ');
                }
                let at = millis(*word_start);
                if at > last_tag && at < end {
                    let _ = write!(out, "<{}>", clock(at, '.'));
                    last_tag = at;
                }
                out.push_str(&escape(word));
            }
        }
        out.push('\n');
    }
    out
}

/// SubRip: one block per cue numbered from 1, `hh:mm:ss,mmm` times, the cue's lines.
pub fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        let (start, end) = span(cue);
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{}\n{} --> {}\n{}",
            i + 1,
            clock(start, ','),
            clock(end, ','),
            cue.text()
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn narration() -> Vec<SentenceTiming> {
        vec![
            SentenceTiming::spoken("Dr. Green welcomes you.", 0.5, 2.0),
            SentenceTiming::spoken(
                "The kitchen opens onto a sunny terrace with room for a long table & chairs.",
                2.3,
                6.25,
            ),
        ]
    }

    #[test]
    fn srt_blocks_follow_the_cues() {
        let cues = subtitles::cues(&narration(), 42);
        let srt = srt(&cues);
        let blocks: Vec<&str> = srt.split("\n\n").collect();
        assert_eq!(blocks.len(), cues.len());
        assert!(
            blocks[0].starts_with("1\n00:00:00,500 --> 00:00:02,300\nDr. Green welcomes you."),
            "{srt}"
        );
        assert!(srt.ends_with('\n'));
        for (block, cue) in blocks.iter().zip(&cues) {
            let text: Vec<&str> = block.lines().skip(2).collect();
            assert_eq!(text.join("\n"), cue.text());
        }
    }

    #[test]
    fn webvtt_has_the_same_cues_with_word_tags() {
        let cues = subtitles::cues(&narration(), 42);
        let vtt = webvtt(&cues);
        assert!(vtt.starts_with("WEBVTT\n\n1\n00:00:00.500 --> 00:00:02.300\nDr. <00:00:"));
        assert!(
            vtt.contains("table <00:00:05.823>&amp; <00:00:05.876>chairs."),
            "{vtt}"
        );
        // Tags removed, the text is the SRT's; every tag lies inside its cue, increasing.
        let srt = srt(&cues);
        let strip = |s: &str| {
            let mut out = String::new();
            let mut in_tag = false;
            for c in s.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out.replace("&amp;", "&")
        };
        let vtt_texts: Vec<String> = vtt
            .split("\n\n")
            .skip(1)
            .map(|b| strip(&b.lines().skip(2).collect::<Vec<_>>().join("\n")))
            .collect();
        let srt_texts: Vec<String> = srt
            .split("\n\n")
            .map(|b| b.lines().skip(2).collect::<Vec<_>>().join("\n"))
            .collect();
        assert_eq!(vtt_texts, srt_texts);
        // Estimated word times rise strictly, so every word but a cue's first is tagged.
        let words: usize = cues
            .iter()
            .map(|c| c.lines.iter().map(Vec::len).sum::<usize>())
            .sum();
        assert_eq!(vtt.matches("<00:").count(), words - cues.len(), "{vtt}");
    }

    #[test]
    fn captions_without_a_preset_use_the_classic_layout() {
        let n = narration();
        let plain = Captions::of(None, &n, 1920, 1080);
        assert_eq!(
            plain,
            Captions::of(Some(SubtitlePreset::Classic), &n, 1920, 1080)
        );
        // The bold preset has shorter lines, so its cues differ, as on screen.
        let bold = Captions::of(Some(SubtitlePreset::Bold), &n, 1920, 1080);
        assert_ne!(plain.srt, bold.srt);
        assert!(
            !bold.srt.contains("DR. GREEN"),
            "captions keep the user's case"
        );
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(3_723_456, '.'), "01:02:03.456");
        assert_eq!(clock(millis(0.0004), ','), "00:00:00,000");
    }
}
