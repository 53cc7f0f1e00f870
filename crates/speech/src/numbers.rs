//! Numbers spelt out before synthesis, so that the words a voice says are the words the
//! engine is given and word times can be paired with what the user wrote (a `1,250` the
//! engine expands itself is one written word it says as five, unknown to the timings).

use num2words::{Lang, Num2Words};

/// Longest digit run spelt out; longer ones (a phone number, say) are left to the engine.
const MAX_DIGITS: usize = 15;

/// `core` spelt out in `language` (ISO 639-1, region ignored) when it is a plain number:
/// English `3`, `1,250`, `2.5`; French `12` (French groups and decimals differently, so
/// only whole numbers without separators). A final full stop is kept (`3.` at the end of
/// a sentence). Hyphens between number words become spaces so every spoken word is a
/// word of its own (`forty two`). `None` for anything else, and for languages without a
/// speller (the engine then reads the digits itself).
pub fn spell(core: &str, language: &str) -> Option<String> {
    let (number, stop) = match core.strip_suffix('.') {
        Some(n) => (n, "."),
        None => (core, ""),
    };
    let base = language.split(['-', '_']).next().unwrap_or("");
    let (lang, digits) = match base.to_ascii_lowercase().as_str() {
        "en" => (Lang::English, english_digits(number)?),
        "fr" => (Lang::French, whole(number)?.to_string()),
        _ => return None,
    };
    let words = Num2Words::parse(&digits)?.lang(lang).to_words().ok()?;
    Some(format!("{}{stop}", words.replace('-', " ")))
}

/// Digits with optional thousands commas (`1,250`) and decimals (`2.5`), commas removed.
fn english_digits(s: &str) -> Option<String> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(whole(f)?)),
        None => (s, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let int: String = groups.concat();
    whole(&int)?;
    if !grouped_ok || (int.len() > 1 && int.starts_with('0')) {
        return None;
    }
    Some(match frac {
        Some(f) => format!("{int}.{f}"),
        None => int,
    })
}

/// `s` when it is 1 to [`MAX_DIGITS`] ASCII digits.
fn whole(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= MAX_DIGITS && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::spell;

    #[test]
    fn plain_numbers_are_spelt_in_the_voice_language() {
        for (lang, written, spoken) in [
            ("en", "3", "three"),
            ("en-US", "42", "forty two"),
            ("en", "1,250", "one thousand two hundred and fifty"),
            ("en", "2.5", "two point five"),
            ("en", "12.", "twelve."),
            ("fr", "12", "douze"),
        ] {
            assert_eq!(spell(written, lang).as_deref(), Some(spoken), "{written}");
        }
    }

    #[test]
    fn other_tokens_and_languages_are_left_to_the_engine() {
        for (lang, written) in [
            ("en", "12,50"),
            ("en", "1,2500"),
            ("en", "007"),
            ("en", "3rd"),
            ("en", "1234567890123456"),
            ("en", "abc"),
            ("fr", "2,5"),
            ("de", "3"),
        ] {
            assert_eq!(spell(written, lang), None, "{lang} {written}");
        }
    }
}
