//! Scripts checked against the voice (issue 14, part 6): a script written in letters of
//! a writing system none of the voice's languages uses would be read out letter by letter
//! ("Chinese letter, Chinese letter, …"), and one with no letter at all has nothing to
//! speak. Both are refused at creation, before any charge, with `VALIDATION_ERROR` on
//! `script`.
//!
//! Writing systems are the Unicode `Script_Extension` property of each letter (from the
//! `unicode-script` crate): a letter passes when its extension contains a script of one
//! of the voice's languages. Combining marks and shared punctuation are `Inherited` or
//! `Common` and fit every language, so `é` written as `e` + U+0301 is accepted wherever
//! `e` is.

use peakreel_types::{ApiError, FieldError};
use unicode_script::{Script, UnicodeScript};

use crate::CreateRequest;

/// The writing systems each language is written in: ISO 639-1 code → Unicode scripts.
/// A language missing here is not judged (every letter passes).
const LANGUAGE_SCRIPTS: &[(&str, &[Script])] = &[
    ("en", &[Script::Latin]),
    ("es", &[Script::Latin]),
    ("fr", &[Script::Latin]),
    ("de", &[Script::Latin]),
    ("it", &[Script::Latin]),
    ("pt", &[Script::Latin]),
    ("nl", &[Script::Latin]),
    ("sv", &[Script::Latin]),
    ("da", &[Script::Latin]),
    ("nb", &[Script::Latin]),
    ("no", &[Script::Latin]),
    ("fi", &[Script::Latin]),
    ("pl", &[Script::Latin]),
    ("cs", &[Script::Latin]),
    ("sk", &[Script::Latin]),
    ("hu", &[Script::Latin]),
    ("ro", &[Script::Latin]),
    ("hr", &[Script::Latin]),
    ("tr", &[Script::Latin]),
    ("id", &[Script::Latin]),
    ("vi", &[Script::Latin]),
    ("sr", &[Script::Cyrillic, Script::Latin]),
    ("ru", &[Script::Cyrillic]),
    ("uk", &[Script::Cyrillic]),
    ("bg", &[Script::Cyrillic]),
    ("el", &[Script::Greek]),
    ("ar", &[Script::Arabic]),
    ("fa", &[Script::Arabic]),
    ("he", &[Script::Hebrew]),
    ("hi", &[Script::Devanagari]),
    ("bn", &[Script::Bengali]),
    ("ta", &[Script::Tamil]),
    ("th", &[Script::Thai]),
    ("zh", &[Script::Han]),
    ("ja", &[Script::Han, Script::Hiragana, Script::Katakana]),
    ("ko", &[Script::Hangul, Script::Han]),
];

/// Whether `code` is an ISO 639-1 language this table knows (lower case).
pub fn is_known_language(code: &str) -> bool {
    LANGUAGE_SCRIPTS.iter().any(|(l, _)| *l == code)
}

/// Why a script cannot be spoken by a voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unspeakable {
    /// Not one letter: only punctuation and spaces.
    NothingToSpeak,
    /// Letters of a writing system none of the voice's languages uses.
    ForeignLetters {
        /// The writing system of the first such letter (Unicode script name, e.g. `Han`).
        script: &'static str,
        /// 1-based character position of the first such letter.
        position: usize,
        /// How many letters of the script fall outside the voice's writing systems.
        count: usize,
    },
}

impl Unspeakable {
    /// The field message, naming the voice's languages for foreign letters.
    pub fn message(&self, languages: &[&str]) -> String {
        match self {
            Unspeakable::NothingToSpeak => {
                "has nothing to speak: it contains no letters, only punctuation and spaces"
                    .to_string()
            }
            Unspeakable::ForeignLetters {
                script,
                position,
                count,
            } => format!(
                "contains {count} {} of the {script} writing system (the first at character {position}), which the voice cannot speak: it speaks {}. Write the script in one of those languages or choose a voice that speaks the script's language",
                if *count == 1 { "letter" } else { "letters" },
                languages.join(", ")
            ),
        }
    }
}

/// A script with no letter at all (field rule: needs no voice).
pub fn has_nothing_to_speak(script: &str) -> bool {
    !script.chars().any(char::is_alphabetic)
}

/// Checks `script` against the languages of the voice that will speak it (ISO 639-1
/// codes; a region suffix such as `en-GB` is ignored). Languages this module does not
/// know do not restrict anything.
pub fn check(script: &str, languages: &[&str]) -> Result<(), Unspeakable> {
    if has_nothing_to_speak(script) {
        return Err(Unspeakable::NothingToSpeak);
    }
    let mut allowed: Vec<Script> = Vec::new();
    for lang in languages {
        let base = lang
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match LANGUAGE_SCRIPTS.iter().find(|(code, _)| *code == base) {
            Some((_, scripts)) => allowed.extend_from_slice(scripts),
            None => return Ok(()),
        }
    }
    let foreign = |c: &char| {
        c.is_alphabetic() && {
            let ext = c.script_extension();
            !allowed.iter().any(|s| ext.contains_script(*s))
        }
    };
    let Some((index, first)) = script.chars().enumerate().find(|(_, c)| foreign(c)) else {
        return Ok(());
    };
    let script_of_first = first.script();
    let count = script
        .chars()
        .filter(|c| foreign(c) && c.script() == script_of_first)
        .count();
    Err(Unspeakable::ForeignLetters {
        script: script_of_first.full_name(),
        position: index + 1,
        count,
    })
}

/// The voice step of creation (api.md §3 order: after the voice is found, before
/// credits): `voice.language` must be one of the voice's `languages`, and the script must
/// be speakable by them. Every violation is reported in one `VALIDATION_ERROR`. Shared by
/// every create route and `peakreel render`.
pub fn check_voice_fit(
    request: &CreateRequest,
    voice_id: &str,
    languages: &[&str],
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(language) = &request.language {
        if !languages.contains(&language.as_str()) {
            errors.push(FieldError::new(
                "voice.language",
                format!(
                    "the voice {voice_id} does not speak `{language}`; it speaks: {}",
                    languages.join(", ")
                ),
            ));
        }
    }
    if let Err(why) = check(&request.script, languages) {
        errors.push(FieldError::new("script", why.message(languages)));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_writing_systems_are_refused_with_their_name() {
        for (text, name) in [
            ("这是一个明亮的家，有阳光花园。", "Han"),
            ("בית מואר עם גינה שטופת שמש", "Hebrew"),
            ("منزل مشرق مع حديقة مشمسة", "Arabic"),
            ("Светлый дом с садом", "Cyrillic"),
        ] {
            let err = check(text, &["en", "es", "fr", "de"]).unwrap_err();
            let Unspeakable::ForeignLetters {
                script, position, ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(*script, name);
            assert_eq!(*position, 1);
            let msg = err.message(&["en", "es", "fr", "de"]);
            assert!(
                msg.contains("en, es, fr, de") && msg.contains(name),
                "{msg}"
            );
        }
        // One foreign word in an English script is found and counted.
        let err = check("A bright home with a garden 花园 and a view.", &["en"]).unwrap_err();
        assert_eq!(
            err,
            Unspeakable::ForeignLetters {
                script: "Han",
                position: 29,
                count: 2
            }
        );
    }

    #[test]
    fn letters_of_the_voices_languages_pass_with_their_marks() {
        // Precomposed and decomposed accents, ß, ñ, œ: all Latin (marks are Inherited).
        let latin = "Une belle maison: cafe\u{301}, Straße, niño, œuvre, façade, Zoë.";
        assert_eq!(check(latin, &["fr"]), Ok(()));
        assert_eq!(check("Ein schönes Haus mit Garten.", &["en", "de"]), Ok(()));
        // Any one of the voice's languages is enough.
        assert_eq!(check("Светлый дом с садом.", &["en", "ru"]), Ok(()));
        // Devanagari with its vowel signs and virama for a Hindi voice.
        assert_eq!(check("सुंदर घर और बगीचा।", &["hi"]), Ok(()));
        assert_eq!(check("明るい家とカタカナ、ひらがな。", &["ja"]), Ok(()));
        // A language this module does not know is not judged.
        assert_eq!(check("这是一个家。", &["xx"]), Ok(()));
    }

    #[test]
    fn punctuation_alone_has_nothing_to_speak() {
        for text in [" . , ! ? ... -- ( ) ", "\u{201C}\u{201D}…", ""] {
            assert!(has_nothing_to_speak(text));
            assert_eq!(check(text, &["en"]), Err(Unspeakable::NothingToSpeak));
        }
        assert!(!has_nothing_to_speak("... Hi!"));
    }
}
