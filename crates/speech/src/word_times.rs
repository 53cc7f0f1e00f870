//! Word start times from what engines and aligners report, mapped onto the words of a
//! sentence as [`crate::text::words`] splits it (what subtitles show).

use crate::text::words;

/// Character ranges (in `char`s) of the sentence's words.
fn word_ranges(sentence: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in sentence.chars().chain(std::iter::once(' ')).enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// From events at character positions (`(char index, seconds)`, e.g. espeak-ng's word
/// events or a provider's character times): each word starts at its first event. Words
/// without one (the engine merged them with a neighbour) start where the previous word
/// did, so the times never go backwards. `None` when no word got an event.
pub fn starts_from_char_events(sentence: &str, events: &[(usize, f64)]) -> Option<Vec<f64>> {
    let ranges = word_ranges(sentence);
    let mut starts: Vec<Option<f64>> = vec![None; ranges.len()];
    for &(pos, t) in events {
        if let Some(i) = ranges.iter().position(|&(a, b)| pos >= a && pos < b) {
            starts[i].get_or_insert(t);
        } else if let Some(i) = ranges.iter().position(|&(a, _)| pos < a) {
            // An event in the space before a word belongs to that word.
            starts[i].get_or_insert(t);
        }
    }
    fill(starts)
}

/// From a recogniser's forced alignment (`(lower-case word, seconds)` in spoken order,
/// out-of-vocabulary words left out): each displayed word starts at the first aligned
/// word it contains, in order.
pub fn starts_from_aligned_words(sentence: &str, aligned: &[(String, f64)]) -> Option<Vec<f64>> {
    let mut next = aligned.iter().peekable();
    let starts = words(sentence)
        .iter()
        .map(|w| {
            let tokens = tokens_of(w);
            let mut start = None;
            for t in &tokens {
                if next.peek().is_some_and(|(a, _)| a == t) {
                    let (_, s) = next.next().expect("peeked");
                    start.get_or_insert(*s);
                }
            }
            start
        })
        .collect();
    fill(starts)
}

/// The recogniser's spelling of a displayed word's parts: lower-case letter runs with
/// apostrophes (`"Owner's"` → `owner's`, `open-plan` → `open`, `plan`).
pub fn tokens_of(word: &str) -> Vec<String> {
    word.to_lowercase()
        .split(|c: char| !(c.is_alphabetic() || c == '\''))
        .map(|t| t.trim_matches('\''))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Gaps take the previous start (or the next one at the beginning); starts are made
/// non-decreasing.
fn fill(starts: Vec<Option<f64>>) -> Option<Vec<f64>> {
    let first = starts.iter().flatten().next().copied()?;
    let mut last = first;
    Some(
        starts
            .into_iter()
            .map(|s| {
                last = s.unwrap_or(last).max(last);
                last
            })
            .collect(),
    )
}

/// Word spans from starts: each word lasts until the next begins, the last until `end`.
pub fn spans_from_starts(starts: &[f64], end: f64) -> Vec<(f64, f64)> {
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, starts.get(i + 1).copied().unwrap_or(end).max(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_events_map_to_words_and_gaps_hold() {
        let s = "A sunny, open-plan kitchen.";
        // Events at "A", "sunny", "kitchen" (none for "open-plan").
        let starts = starts_from_char_events(s, &[(0, 0.1), (2, 0.3), (19, 0.9)]).unwrap();
        assert_eq!(starts, vec![0.1, 0.3, 0.3, 0.9]);
        assert!(starts_from_char_events(s, &[]).is_none());
    }

    #[test]
    fn aligned_words_map_through_hyphens_and_unknown_words() {
        let s = "The open-plan Zyxqo kitchen.";
        let aligned = [("the", 0.0), ("open", 0.2), ("plan", 0.5), ("kitchen", 1.2)]
            .map(|(w, t)| (w.to_string(), t));
        let starts = starts_from_aligned_words(s, &aligned).unwrap();
        assert_eq!(starts, vec![0.0, 0.2, 0.2, 1.2]);
        assert_eq!(
            spans_from_starts(&starts, 1.6),
            vec![(0.0, 0.2), (0.2, 0.2), (0.2, 1.2), (1.2, 1.6)]
        );
    }
}
