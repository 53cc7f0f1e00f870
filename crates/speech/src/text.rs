//! Script text: splitting into sentences, and estimating word times inside a sentence.

/// Splits a script into sentences at `.`, `!`, `?` (and `;` when a sentence runs long),
/// keeping the punctuation. Empty pieces are dropped. Sentences are the unit of synthesis,
/// so their timings are exact; long sentences split at `;` keep subtitles and timings
/// finer. Abbreviations are not known here: see [`crate::speakable::sentences`], which
/// knows them per language.
pub fn split_sentences(script: &str) -> Vec<String> {
    split_sentences_holding(script, &|_| false)
}

/// [`split_sentences`], except that a full stop at a char index for which `held` is true
/// (one that belongs to an abbreviation) never ends a sentence, and neither does a full
/// stop directly followed by a letter or a comma (the inner stops of `e.g.`, `i.e.,`).
pub fn split_sentences_holding(script: &str, held: &dyn Fn(usize) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = script.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        cur.push(c);
        let next = chars.get(i + 1).copied();
        let inner_stop = c == '.'
            && (held(i)
                || next.is_some_and(|n| n.is_alphanumeric() || matches!(n, ',' | ';' | ':')));
        let ends = (matches!(c, '.' | '!' | '?' | '…') && !inner_stop)
            || (c == ';' && cur.chars().count() > 60);
        // "...", "?!" stay with their sentence; a closing quote or bracket too.
        let continues = next.is_some_and(|n| matches!(n, '.' | '!' | '?') || is_closing(n));
        // A closing quote or bracket right after terminal punctuation ends the sentence.
        let closes = is_closing(c)
            && i > 0
            && matches!(chars[i - 1], '.' | '!' | '?')
            && !(chars[i - 1] == '.' && held(i - 1));
        if (ends || closes) && !continues {
            push_trimmed(&mut out, &cur);
            cur.clear();
        }
    }
    push_trimmed(&mut out, &cur);
    out
}

/// A quotation mark of any of the voices' languages (`"` `'` “ ” ‘ ’ « » ‹ › „ ‚): each
/// closes a quote in one of them (German closes with “ and opens with „ or »).
pub(crate) fn is_quote(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '”' | '‘' | '’' | '«' | '»' | '‹' | '›' | '„' | '‚'
    )
}

/// What may close a sentence's quote or bracket: a quotation mark or `)`.
fn is_closing(c: char) -> bool {
    c == ')' || (is_quote(c) && !matches!(c, '„' | '‚'))
}

fn push_trimmed(out: &mut Vec<String>, s: &str) {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().any(|c| c.is_alphanumeric()) {
        out.push(t);
    }
}

/// The words of a sentence as they are displayed (punctuation attached).
pub fn words(sentence: &str) -> Vec<&str> {
    sentence.split_whitespace().collect()
}

/// Spoken weight of a word: letters count, plus a little for the gap after it, plus a pause
/// for trailing punctuation. Used only to divide a sentence's exact duration among its
/// words, because neither local engine's command line reports word times.
fn weight(word: &str) -> f64 {
    let letters = word.chars().filter(|c| c.is_alphanumeric()).count() as f64;
    let pause = match word.chars().last() {
        Some(',' | ';' | ':' | '-' | '—' | '–') => 2.0,
        _ => 0.0,
    };
    letters + 1.0 + pause
}

/// Splits `[start, end]` among `words` proportionally to their spoken weight. The result
/// covers the interval exactly, in order, without gaps.
pub fn estimate_word_spans(words: &[&str], start: f64, end: f64) -> Vec<(f64, f64)> {
    let total: f64 = words.iter().map(|w| weight(w)).sum();
    let mut t = start;
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let d = if total > 0.0 {
            (end - start) * weight(w) / total
        } else {
            0.0
        };
        let e = if i + 1 == words.len() { end } else { t + d };
        out.push((t, e));
        t = e;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_terminal_punctuation() {
        let s = split_sentences("Welcome home.  A bright kitchen!Is it yours? Yes...  it is");
        assert_eq!(
            s,
            [
                "Welcome home.",
                "A bright kitchen!",
                "Is it yours?",
                "Yes...",
                "it is"
            ]
        );
    }

    #[test]
    fn quotes_stay_with_their_sentence() {
        let s = split_sentences("She said \"wow.\" Then she left.");
        assert_eq!(s, ["She said \"wow.\"", "Then she left."]);
    }

    #[test]
    fn every_languages_closing_quotes_stay_with_their_sentence() {
        for (script, first) in [
            (
                "Elle dit «Bienvenue.» Puis elle part.",
                "Elle dit «Bienvenue.»",
            ),
            (
                "Er sagt „Willkommen.“ Dann geht er.",
                "Er sagt „Willkommen.“",
            ),
            (
                "Er sagt »Willkommen.« Dann geht er.",
                "Er sagt »Willkommen.«",
            ),
        ] {
            let s = split_sentences(script);
            assert_eq!(s.len(), 2, "{s:?}");
            assert_eq!(s[0], first);
        }
    }

    #[test]
    fn punctuation_only_pieces_are_dropped() {
        assert_eq!(split_sentences(" . ! Hello. "), ["Hello."]);
    }

    #[test]
    fn word_spans_cover_the_sentence_proportionally() {
        let w = ["a", "wonderful", "view."];
        let spans = estimate_word_spans(&w, 1.0, 3.0);
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].0, 1.0);
        assert_eq!(spans[2].1, 3.0);
        for pair in spans.windows(2) {
            assert!((pair[0].1 - pair[1].0).abs() < 1e-12);
        }
        // "wonderful" is much longer than "a".
        assert!(spans[1].1 - spans[1].0 > 3.0 * (spans[0].1 - spans[0].0));
    }
}
