//! Subtitles as an ASS script for libass (api.md §8.4): four presets, at most two lines per
//! cue, at most 42 characters per line in landscape and 28 in portrait, timed from the
//! narration (exact sentence times, estimated word times).

use std::fmt::Write as _;

use peakreel_speech::SentenceTiming;

use crate::fonts::FontFamily;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubtitlePreset {
    /// White on a translucent dark box, bottom.
    Classic,
    /// Bold sans with an outline, lower third.
    Modern,
    /// Large uppercase, centre.
    Bold,
    /// Word-by-word highlight.
    Karaoke,
}

impl SubtitlePreset {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "classic" => SubtitlePreset::Classic,
            "modern" => SubtitlePreset::Modern,
            "bold" => SubtitlePreset::Bold,
            "karaoke" => SubtitlePreset::Karaoke,
            _ => return None,
        })
    }

    /// The font the preset draws with (and whether bold), so the renderer can check it is
    /// installed before starting.
    pub fn font(self) -> (FontFamily, bool) {
        match self {
            SubtitlePreset::Classic => (FontFamily::Inter, false),
            SubtitlePreset::Modern => (FontFamily::Montserrat, true),
            SubtitlePreset::Bold => (FontFamily::Inter, true),
            SubtitlePreset::Karaoke => (FontFamily::Roboto, true),
        }
    }

    /// Characters per line: the spec's maximum, less for the large bold preset whose
    /// uppercase letters are about 1.6 times as wide.
    pub fn max_chars(self, portrait: bool) -> usize {
        let max = if portrait { 28 } else { 42 };
        match self {
            SubtitlePreset::Bold => max * 3 / 5,
            _ => max,
        }
    }
}

/// One subtitle on screen: up to two lines of words with their times.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// Lines of (word, start, end).
    pub lines: Vec<Vec<(String, f64, f64)>>,
}

impl Cue {
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.iter().map(|w| w.0.as_str()).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Greedy line breaking of word lengths at `width`; returns the number of words per line.
fn break_lines(lens: &[usize], width: usize) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut len, mut count) = (0usize, 0usize);
    for &l in lens {
        let need = if count == 0 { l } else { len + 1 + l };
        if need > width && count > 0 {
            lines.push(count);
            len = l;
            count = 1;
        } else {
            len = need;
            count += 1;
        }
    }
    if count > 0 {
        lines.push(count);
    }
    lines
}

/// A word longer than a line, in even pieces of at most `max_chars` characters, each
/// but the last ending in a hyphen. Shorter words are returned whole.
fn split_long_word(word: &str, max_chars: usize) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() <= max_chars || max_chars < 2 {
        return vec![word.to_string()];
    }
    // Room for the hyphen on every piece; the first `extra` pieces take one more letter.
    let pieces = chars.len().div_ceil(max_chars - 1);
    let (per, extra) = (chars.len() / pieces, chars.len() % pieces);
    let mut rest = &chars[..];
    let mut out: Vec<String> = (0..pieces)
        .map(|i| {
            let (piece, tail) = rest.split_at(per + usize::from(i < extra));
            rest = tail;
            piece.iter().collect()
        })
        .collect();
    let last = out.len() - 1;
    for piece in &mut out[..last] {
        piece.push('-');
    }
    out
}

/// Breaks sentences into cues. A sentence always starts a new cue; a word longer than a
/// line is broken into hyphenated pieces that each fit one. Lines are balanced: a
/// sentence that needs three lines at full width is set in four shorter ones, so no cue
/// is left holding a lone last word.
pub fn cues(sentences: &[SentenceTiming], max_chars: usize) -> Vec<Cue> {
    let mut out: Vec<Cue> = Vec::new();
    for s in sentences {
        // Pieces of a broken word share its times.
        let words: Vec<(String, f64, f64)> = s
            .words
            .iter()
            .flat_map(|w| {
                split_long_word(&w.word, max_chars)
                    .into_iter()
                    .map(move |piece| (piece, w.start, w.end))
            })
            .collect();
        if words.is_empty() {
            continue;
        }
        let lens: Vec<usize> = words.iter().map(|w| w.0.chars().count()).collect();
        let full = break_lines(&lens, max_chars).len();
        let target = if full > 1 { full + full % 2 } else { 1 };
        let total = lens.iter().sum::<usize>() + lens.len() - 1;
        let longest = lens.iter().copied().max().unwrap_or(0);
        let mut width = total.div_ceil(target).max(longest).min(max_chars);
        while break_lines(&lens, width).len() > target && width < max_chars {
            width += 1;
        }
        let mut words = words.into_iter();
        let lines: Vec<Vec<(String, f64, f64)>> = break_lines(&lens, width)
            .into_iter()
            .map(|n| words.by_ref().take(n).collect())
            .collect();
        for pair in lines.chunks(2) {
            out.push(cue_of(pair.to_vec()));
        }
    }
    // Hold each cue until the next one if the pause is short, so text does not flicker.
    for i in 0..out.len() {
        let next = out.get(i + 1).map(|c| c.start);
        let end = out[i].end;
        out[i].end = match next {
            Some(n) if n - end < 0.6 => n,
            Some(n) => (end + 0.3).min(n),
            None => end + 0.3,
        };
    }
    out
}

fn cue_of(lines: Vec<Vec<(String, f64, f64)>>) -> Cue {
    let lines: Vec<_> = lines.into_iter().filter(|l| !l.is_empty()).collect();
    Cue {
        start: lines[0][0].1,
        end: lines.last().and_then(|l| l.last()).map_or(0.0, |w| w.2),
        lines,
    }
}

fn ass_time(t: f64) -> String {
    let cs = (t.max(0.0) * 100.0).round() as u64;
    format!(
        "{}:{:02}:{:02}.{:02}",
        cs / 360_000,
        cs / 6000 % 60,
        cs / 100 % 60,
        cs % 100
    )
}

/// ASS override syntax uses `{}` and `\`; they must never reach libass from user text.
fn clean(word: &str) -> String {
    word.replace('\\', "/").replace('{', "(").replace('}', ")")
}

/// Writes the complete ASS script for a `width`×`height` video.
pub fn ass(
    preset: SubtitlePreset,
    sentences: &[SentenceTiming],
    width: u32,
    height: u32,
) -> String {
    script(preset, sentences, width, height, Timing::Narration)
}

/// The picture of each cue needs drawing only once when nothing changes within a cue:
/// true of every preset but karaoke, whose words light up one by one.
pub fn cues_are_still(preset: SubtitlePreset) -> bool {
    preset != SubtitlePreset::Karaoke
}

/// When each cue is on screen (the same cues as [`ass`]), in seconds.
pub fn cue_spans(
    preset: SubtitlePreset,
    sentences: &[SentenceTiming],
    width: u32,
    height: u32,
) -> Vec<(f64, f64)> {
    cues(sentences, preset.max_chars(height > width))
        .iter()
        .map(|c| (c.start, c.end))
        .collect()
}

/// The script of [`ass`] with cue `i` shown from second `i` to second `i + 1`: one frame
/// per second at `i + 0.5` then shows every cue once, as the video would.
pub fn ass_one_cue_per_second(
    preset: SubtitlePreset,
    sentences: &[SentenceTiming],
    width: u32,
    height: u32,
) -> String {
    script(preset, sentences, width, height, Timing::OnePerSecond)
}

#[derive(Clone, Copy, PartialEq)]
enum Timing {
    Narration,
    OnePerSecond,
}

fn script(
    preset: SubtitlePreset,
    sentences: &[SentenceTiming],
    width: u32,
    height: u32,
    timing: Timing,
) -> String {
    let portrait = height > width;
    let base = width.min(height) as f64;
    let (family, bold) = preset.font();
    let font = family.installed_family();
    let b = if bold { -1 } else { 0 };
    let px = |f: f64| (base * f).round() as i64;
    let margin_h = px(0.06);
    // Font size, outline and shadow (px) of each preset.
    let (size, outline, shadow) = match preset {
        SubtitlePreset::Classic => (px(0.05), px(0.012), 0),
        SubtitlePreset::Modern => (px(0.056), px(0.004).max(2), px(0.002).max(1)),
        SubtitlePreset::Bold => (px(0.085), px(0.006).max(2), px(0.003).max(1)),
        SubtitlePreset::Karaoke => (px(0.058), px(0.004).max(2), px(0.002).max(1)),
    };
    // Colours are &HAABBGGRR, alpha 00 = opaque.
    let style = match preset {
        SubtitlePreset::Classic => format!(
            "Style: Main,{font},{size},&H00FFFFFF,&H00FFFFFF,&H80000000,&H80000000,{b},0,0,0,100,100,0,0,3,{outline},{shadow},2,{margin_h},{margin_h},{},1",
            (height as f64 * 0.06).round()
        ),
        SubtitlePreset::Modern => format!(
            "Style: Main,{font},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H64000000,{b},0,0,0,100,100,0,0,1,{outline},{shadow},2,{margin_h},{margin_h},{},1",
            (height as f64 * 0.24).round()
        ),
        SubtitlePreset::Bold => format!(
            "Style: Main,{font},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,{b},0,0,0,100,100,1,0,1,{outline},{shadow},5,{margin_h},{margin_h},0,1"
        ),
        SubtitlePreset::Karaoke => format!(
            "Style: Main,{font},{size},&H0000D7FF,&H00FFFFFF,&H00000000,&H80000000,{b},0,0,0,100,100,0,0,1,{outline},{shadow},2,{margin_h},{margin_h},{},1",
            (height as f64 * 0.08).round()
        ),
    };
    // What a line may span: the frame less the side margins, the outline (or the box's
    // padding) on both sides and the shadow's offset.
    let avail = width as f64 - 2.0 * (margin_h + outline) as f64 - shadow as f64;
    let fit = |lines: Vec<String>| {
        crate::subtitle_fit::shrink_percent(&lines, family, bold, size as f64, avail)
            .map_or(String::new(), |p| format!("{{\\fscx{p}\\fscy{p}}}"))
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "[Script Info]\nScriptType: v4.00+\nPlayResX: {width}\nPlayResY: {height}\nWrapStyle: 2\nScaledBorderAndShadow: yes\n\n\
         [V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
         {style}\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    );
    for (i, cue) in cues(sentences, preset.max_chars(portrait))
        .iter()
        .enumerate()
    {
        let text = match preset {
            SubtitlePreset::Karaoke => {
                // \k durations in centiseconds; each word lights up when it is spoken.
                // libass adds the durations up from the cue's (rounded) start, so they
                // are differences of rounded times: rounding each duration on its own
                // let the errors add up along a cue (a word lit 50 ms early was seen).
                let mut t = String::new();
                let centis = |s: f64| (s.max(0.0) * 100.0).round() as i64;
                let mut clock = centis(cue.start);
                for (li, line) in cue.lines.iter().enumerate() {
                    if li > 0 {
                        t.push_str("\\N");
                    }
                    for (wi, (w, ws, we)) in line.iter().enumerate() {
                        // Any pause before the word is folded into its highlight time.
                        let cs = (centis(we.max(*ws)) - clock).max(1);
                        clock += cs;
                        let sep = if wi > 0 { " " } else { "" };
                        let _ = write!(t, "{sep}{{\\k{cs}}}{}", clean(w));
                    }
                }
                t
            }
            SubtitlePreset::Bold => clean(&cue.text().to_uppercase()).replace('\n', "\\N"),
            _ => clean(&cue.text()).replace('\n', "\\N"),
        };
        let shown: Vec<String> = cue
            .lines
            .iter()
            .map(|l| {
                let line = l.iter().map(|w| w.0.as_str()).collect::<Vec<_>>().join(" ");
                match preset {
                    SubtitlePreset::Bold => line.to_uppercase(),
                    _ => line,
                }
            })
            .collect();
        let text = fit(shown) + &text;
        let (start, end) = match timing {
            Timing::Narration => (cue.start, cue.end),
            Timing::OnePerSecond => (i as f64, i as f64 + 1.0),
        };
        let _ = writeln!(
            s,
            "Dialogue: 0,{},{},Main,,0,0,0,,{text}",
            ass_time(start),
            ass_time(end)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(text: &str, start: f64, end: f64) -> SentenceTiming {
        SentenceTiming::spoken(text, start, end)
    }

    #[test]
    fn cues_respect_line_length_and_two_lines() {
        let long = "This generous family home offers four bright bedrooms, a renovated kitchen with an island, a sunny garden with mature trees and a quiet street close to every school.";
        for max in [42, 28] {
            let cs = cues(&[sentence(long, 0.5, 9.5)], max);
            assert!(cs.len() >= 2);
            for c in &cs {
                assert!(c.lines.len() <= 2);
                for line in c.text().lines() {
                    assert!(line.chars().count() <= max, "{line:?} > {max}");
                }
                assert!(c.end > c.start);
            }
            // All words kept, in order.
            let joined: Vec<String> = cs.iter().map(|c| c.text().replace('\n', " ")).collect();
            assert_eq!(joined.join(" "), long);
        }
    }

    #[test]
    fn a_word_longer_than_a_line_is_broken_into_hyphenated_pieces() {
        let word = "Donaudampfschifffahrtsgesellschaftskapitän";
        assert_eq!(word.chars().count(), 42);
        let s = format!("Ein {word} wohnt hier.");
        for preset in [
            SubtitlePreset::Classic,
            SubtitlePreset::Modern,
            SubtitlePreset::Bold,
            SubtitlePreset::Karaoke,
        ] {
            let max = preset.max_chars(true);
            let cs = cues(&[sentence(&s, 0.5, 4.0)], max);
            let mut pieces = Vec::new();
            for c in &cs {
                assert!(c.lines.len() <= 2);
                for line in c.text().lines() {
                    assert!(line.chars().count() <= max, "{preset:?}: {line:?} > {max}");
                }
                pieces.extend(c.lines.iter().flatten().map(|w| w.0.clone()));
            }
            let joined: String = pieces.concat();
            assert!(
                joined.replace('-', "").contains(word),
                "{preset:?}: {pieces:?}"
            );
            assert!(pieces.iter().filter(|p| p.ends_with('-')).count() >= 1);
        }
        // Words that fit are never broken.
        assert_eq!(split_long_word("kitchen", 7), ["kitchen"]);
        assert_eq!(
            split_long_word("abcdefghij", 4),
            ["abc-", "def-", "gh-", "ij"]
        );
    }

    #[test]
    fn a_cue_wider_than_the_frame_is_drawn_smaller_and_others_are_not() {
        // Sixteen wide capitals fill the bold preset's line count but not its width.
        let wide = [sentence("WWWWWWWWWWWWWWW.", 0.5, 2.0)];
        let b = ass(SubtitlePreset::Bold, &wide, 1080, 1920);
        assert!(b.contains("\\fscx"), "{b}");
        let plain = [sentence("A bright home.", 0.5, 2.0)];
        for preset in [SubtitlePreset::Classic, SubtitlePreset::Bold] {
            assert!(!ass(preset, &plain, 1080, 1920).contains("fscx"));
        }
    }

    #[test]
    fn lines_are_balanced_not_orphaned() {
        let s = "Welcome to a bright family home on a quiet, leafy street.";
        let cs = cues(&[sentence(s, 0.5, 3.5)], 28);
        // 57 characters: four lines of about 14, in two full cues, not "street." alone.
        assert_eq!(cs.len(), 2);
        assert!(cs.iter().all(|c| c.lines.len() == 2));
        for c in &cs {
            for line in c.text().lines() {
                assert!(line.chars().count() >= 8, "{line:?}");
            }
        }
        // A short sentence stays on one line.
        assert_eq!(
            cues(&[sentence("Welcome home.", 0.5, 1.5)], 28)[0]
                .lines
                .len(),
            1
        );
    }

    #[test]
    fn each_sentence_starts_a_cue_and_cues_do_not_overlap() {
        let cs = cues(
            &[
                sentence("Welcome home.", 0.5, 1.5),
                sentence("Enjoy it.", 1.8, 2.6),
            ],
            42,
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].end, cs[1].start, "short pause is bridged");
        assert!((cs[1].end - 2.9).abs() < 1e-9);
    }

    #[test]
    fn karaoke_durations_add_up_to_the_word_starts() {
        // Words of 125 ms: each duration rounded alone is 13 cs, 5 ms too long a word.
        let words: Vec<(String, f64, f64)> = (0..12)
            .map(|i| {
                (
                    format!("w{i}"),
                    0.5 + 0.125 * i as f64,
                    0.5 + 0.125 * (i + 1) as f64,
                )
            })
            .collect();
        let text = words
            .iter()
            .map(|w| w.0.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut s = sentence(&text, 0.5, 2.0);
        for (w, (_, a, b)) in s.words.iter_mut().zip(&words) {
            (w.start, w.end) = (*a, *b);
        }
        let k = ass(SubtitlePreset::Karaoke, &[s], 1920, 1080);
        let mut lit_at = 50; // the cue's start, in centiseconds
        let mut starts = Vec::new();
        for part in k.split("{\\k").skip(1) {
            starts.push(lit_at);
            lit_at += part.split('}').next().unwrap().parse::<i64>().unwrap();
        }
        let expected: Vec<i64> = words.iter().map(|w| (w.1 * 100.0).round() as i64).collect();
        assert_eq!(starts, expected, "{k}");
    }

    #[test]
    fn ass_times_and_presets() {
        assert_eq!(ass_time(3723.456), "1:02:03.46");
        let s = [sentence("A bright {home} here.", 0.5, 2.0)];
        let k = ass(SubtitlePreset::Karaoke, &s, 1920, 1080);
        assert!(k.contains("{\\k"), "{k}");
        assert!(k.contains("(home)"), "braces never reach libass");
        let b = ass(SubtitlePreset::Bold, &s, 1080, 1920);
        assert!(b.contains("A BRIGHT"));
        assert!(b.contains("PlayResY: 1920"));
        let c = ass(SubtitlePreset::Classic, &s, 1920, 1080);
        assert!(c.contains(",3,"), "classic uses an opaque box");
        assert!(c.contains("Dialogue: 0,0:00:00.50,"));
    }

    #[test]
    fn one_cue_per_second_keeps_the_cues_and_their_look() {
        let s = [
            sentence(
                "Welcome to a bright family home on a quiet, leafy street.",
                0.5,
                3.5,
            ),
            sentence("Come and see it.", 3.9, 5.0),
        ];
        let spans = cue_spans(SubtitlePreset::Classic, &s, 1920, 1080);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].0, 0.5);
        let real = ass(SubtitlePreset::Classic, &s, 1920, 1080);
        let moved = ass_one_cue_per_second(SubtitlePreset::Classic, &s, 1920, 1080);
        assert!(
            moved.contains("Dialogue: 0,0:00:00.00,0:00:01.00,"),
            "{moved}"
        );
        assert!(
            moved.contains("Dialogue: 0,0:00:01.00,0:00:02.00,"),
            "{moved}"
        );
        // Same header and styles, same texts: only the times differ.
        let body = |a: &str| -> Vec<String> {
            a.lines()
                .map(|l| match l.strip_prefix("Dialogue: 0,") {
                    Some(rest) => rest.splitn(3, ',').nth(2).unwrap().to_string(),
                    None => l.to_string(),
                })
                .collect()
        };
        assert_eq!(body(&real), body(&moved));
        assert!(!cues_are_still(SubtitlePreset::Karaoke));
        // Cues laid out before the narration (untimed) are the narration's cues.
        let script = "Welcome to a bright family home on a quiet, leafy street! The open kitchen \
                      flows into a sunny dining room; there is space for friends and family. Come?";
        let untimed = peakreel_speech::untimed_sentences(script, "en");
        let timed: Vec<SentenceTiming> = untimed
            .iter()
            .enumerate()
            .map(|(i, s)| sentence(&s.text, 0.5 + 3.0 * i as f64, 3.2 + 3.0 * i as f64))
            .collect();
        for portrait in [false, true] {
            let (w, h) = if portrait { (1080, 1920) } else { (1920, 1080) };
            let texts = |ss: &[SentenceTiming]| -> Vec<String> {
                cues(ss, SubtitlePreset::Classic.max_chars(portrait))
                    .iter()
                    .map(Cue::text)
                    .collect()
            };
            assert_eq!(texts(&untimed), texts(&timed));
            assert_eq!(
                cue_spans(SubtitlePreset::Modern, &untimed, w, h).len(),
                cue_spans(SubtitlePreset::Modern, &timed, w, h).len()
            );
        }
        assert!(cues_are_still(SubtitlePreset::Bold));
    }
}
