//! Text made speakable (issue 14, part 5): abbreviations such as `Dr.`, `St.` or `z. B.`
//! neither end a sentence nor reach the voice as written. The script is split into
//! sentences knowing which full stops belong to an abbreviation, and each sentence is
//! given to the engine with its abbreviations spoken in full in the voice's language,
//! while subtitles and caption files keep what the user wrote.
//!
//! The abbreviations are data: one tab-separated table per language beside this file
//! (`speakable/en.tsv`, `es`, `fr`, `de`), whose header explains the columns.

use std::ops::Range;
use std::sync::OnceLock;

use crate::text::split_sentences_holding;

/// One sentence of the script: as written (subtitles) and as the voice should say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// The user's words, whitespace collapsed.
    pub written: String,
    /// The same sentence with abbreviations and (for languages with a number speller)
    /// numbers spelt out; what the engine is given.
    pub spoken: String,
    /// For each written word ([`crate::text::words`] of `written`), the indices of the
    /// spoken words (`words` of `spoken`) it became, in order and covering them all:
    /// `Dr.` → `Doctor` is one to one, `1,250` → `one thousand two hundred and fifty` one
    /// to six, and `sq. ft.` → `square feet` pairs its two words. A written word may get an
    /// empty range (a written group with more words than it is spoken as); its time is
    /// then that of the spoken word at the range's start.
    pub spans: Vec<Range<usize>>,
}

impl Sentence {
    /// Start times of the written words from those of the spoken words (one per spoken
    /// word, seconds). `None` when `spoken_starts` does not have one time per spoken word.
    pub fn written_starts(&self, spoken_starts: &[f64]) -> Option<Vec<f64>> {
        let n = crate::text::words(&self.spoken).len();
        if spoken_starts.len() != n || n == 0 {
            return None;
        }
        Some(
            self.spans
                .iter()
                .map(|r| spoken_starts[r.start.min(n - 1)])
                .collect(),
        )
    }
}

/// Splits `script` into sentences for a voice speaking `language` (ISO 639-1, a region
/// suffix such as `en-GB` is ignored). Languages without a table get the generic rules
/// only (a full stop directly followed by a letter, as in `e.g.`, never ends a sentence).
pub fn sentences(script: &str, language: &str) -> Vec<Sentence> {
    let table = table_for(language);
    let chars: Vec<char> = script.chars().collect();
    let tokens = tokenize(&chars);
    let mut held: Vec<usize> = analyse(&tokens, table)
        .iter()
        .flat_map(|m| m.held_stops(&tokens))
        .chain(initialisms_held(&tokens))
        .collect();
    held.sort_unstable();
    split_sentences_holding(script, &|i| held.binary_search(&i).is_ok())
        .into_iter()
        .map(|written| {
            let (spoken, spans) = speak(&written, table, language);
            Sentence {
                written,
                spoken,
                spans,
            }
        })
        .collect()
}

/// The final full stops of initialisms no table lists (`a.m.`, `p.m.`, `U.S.`: single
/// letters each followed by a full stop) that no capitalised word follows: like a table's
/// `before-capital` row, such a stop ends the sentence only before a capitalised word.
fn initialisms_held(tokens: &[Token]) -> impl Iterator<Item = usize> + '_ {
    tokens.iter().enumerate().filter_map(|(i, t)| {
        let next_capital = tokens.get(i + 1).is_some_and(Token::capitalised);
        (is_initialism(&t.core) && !next_capital)
            .then_some(t.stop)
            .flatten()
    })
}

/// `a.m.`, `U.S.`, `e.g.`: two or more letters, each followed by a full stop.
fn is_initialism(core: &str) -> bool {
    let chars: Vec<char> = core.chars().collect();
    chars.len() >= 4
        && chars.len().is_multiple_of(2)
        && chars
            .chunks(2)
            .all(|pair| pair[0].is_alphabetic() && pair[1] == '.')
}

/// Where an abbreviation is expected relative to a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Any,
    BeforeName,
    AfterName,
}

/// One row of a language table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    /// Lower-cased tokens of the written form (`["sq.", "ft."]`).
    words: Vec<String>,
    /// A one-letter form (`M.`) only matches in its own case.
    exact: Option<String>,
    place: Place,
    /// Whether its last full stop may end a sentence (only before a capitalised word).
    may_end: bool,
    spoken: String,
}

fn parse_table(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let [written, place, ends, spoken] = cols[..] else {
                panic!("abbreviation row {line:?} needs four tab-separated columns");
            };
            let place = match place {
                "any" => Place::Any,
                "before-name" => Place::BeforeName,
                "after-name" => Place::AfterName,
                other => panic!("abbreviation row {line:?}: unknown place {other:?}"),
            };
            let may_end = match ends {
                "never" => false,
                "before-capital" => true,
                other => panic!("abbreviation row {line:?}: unknown ends {other:?}"),
            };
            let letters = written.chars().filter(|c| c.is_alphabetic()).count();
            Row {
                words: written.split(' ').map(str::to_lowercase).collect(),
                exact: (letters == 1).then(|| written.to_string()),
                place,
                may_end,
                spoken: spoken.to_string(),
            }
        })
        .collect()
}

fn table_for(language: &str) -> &'static [Row] {
    static TABLES: OnceLock<[Vec<Row>; 4]> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        [
            parse_table(include_str!("speakable/en.tsv")),
            parse_table(include_str!("speakable/es.tsv")),
            parse_table(include_str!("speakable/fr.tsv")),
            parse_table(include_str!("speakable/de.tsv")),
        ]
    });
    let base = language
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match base.as_str() {
        "en" => &tables[0],
        "es" => &tables[1],
        "fr" => &tables[2],
        "de" => &tables[3],
        _ => &[],
    }
}

/// A whitespace-separated token, with the punctuation around its core split off.
#[derive(Debug, Clone)]
struct Token {
    /// Opening quotes and brackets before the core.
    lead: String,
    /// The word itself, full stops included (`Dr.`, `e.g.`).
    core: String,
    /// Commas, closing quotes and the like after the core.
    trail: String,
    /// Char index in the script of the core's final full stop, if it ends with one.
    stop: Option<usize>,
}

impl Token {
    fn capitalised(&self) -> bool {
        self.core.chars().next().is_some_and(char::is_uppercase)
    }

    /// Whether the token ends with sentence-ending punctuation.
    fn terminal(&self) -> bool {
        let last = self.trail.chars().rev().find(|c| !is_closer(*c));
        let last = last.or_else(|| self.core.chars().last());
        matches!(last, Some('.' | '!' | '?' | '…'))
    }
}

fn is_opener(c: char) -> bool {
    matches!(c, '(' | '¿' | '¡') || crate::text::is_quote(c)
}

fn is_closer(c: char) -> bool {
    c == ')' || crate::text::is_quote(c)
}

fn tokenize(chars: &[char]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let word = &chars[start..i];
        let lead_len = word.iter().take_while(|c| is_opener(**c)).count();
        let trail_len = word[lead_len..]
            .iter()
            .rev()
            .take_while(|c| is_closer(**c) || matches!(c, ',' | ';' | ':' | '!' | '?'))
            .count();
        let core_end = word.len() - trail_len;
        let core: String = word[lead_len..core_end].iter().collect();
        tokens.push(Token {
            lead: word[..lead_len].iter().collect(),
            stop: core.ends_with('.').then(|| start + core_end - 1),
            core,
            trail: word[core_end..].iter().collect(),
        });
    }
    tokens
}

/// An abbreviation found at tokens `first..=last`.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    first: usize,
    last: usize,
    spoken: &'static str,
    /// Its last full stop does not end the sentence here.
    holds: bool,
}

impl Found {
    /// The char indices of the full stops that do not end a sentence: every one inside a
    /// written group (`sq.` of `sq. ft.`, `z.` of `z. B.`), and the last one unless the
    /// abbreviation closes the sentence.
    fn held_stops<'t>(&self, tokens: &'t [Token]) -> impl Iterator<Item = usize> + 't {
        let (first, last, holds) = (self.first, self.last, self.holds);
        tokens[first..=last]
            .iter()
            .enumerate()
            .filter(move |(k, _)| holds || first + k < last)
            .filter_map(|(_, t)| t.stop)
    }
}

/// Finds the abbreviations of `tokens`, left to right (a token belongs to at most one).
fn analyse(tokens: &[Token], table: &'static [Row]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // A word starts a sentence when nothing precedes it or the word before ended one
        // (and was no abbreviation holding its full stop).
        let starts = |k: usize| {
            k == 0
                || (tokens[k - 1].terminal() && !found.iter().any(|f| f.last == k - 1 && f.holds))
        };
        let Some((len, rows)) = longest_match(tokens, i, table) else {
            i += 1;
            continue;
        };
        let last = i + len - 1;
        let next_capital = tokens.get(last + 1).is_some_and(Token::capitalised);
        // A name right before: a capitalised word, not the sentence's first, adjacent
        // (no comma or bracket in between).
        let after_name = i > 0
            && !starts(i - 1)
            && tokens[i - 1].capitalised()
            && tokens[i - 1].trail.is_empty()
            && tokens[i].lead.is_empty();
        let fits = |row: &&&Row| match row.place {
            Place::Any => true,
            Place::AfterName => after_name,
            Place::BeforeName => !after_name && next_capital,
        };
        let row = rows.iter().find(fits).copied().unwrap_or(rows[0]);
        found.push(Found {
            first: i,
            last,
            spoken: &row.spoken,
            holds: !(row.may_end && next_capital),
        });
        i = last + 1;
    }
    found
}

/// The longest table form starting at token `i`, with every row of that form in table order.
fn longest_match(
    tokens: &[Token],
    i: usize,
    table: &'static [Row],
) -> Option<(usize, Vec<&'static Row>)> {
    let matches = |row: &Row| {
        let n = row.words.len();
        if i + n > tokens.len() {
            return false;
        }
        // Only the first token may carry an opener and only the last a trailer.
        let inner_clean = (i..i + n).all(|k| {
            (k == i || tokens[k].lead.is_empty()) && (k == i + n - 1 || tokens[k].trail.is_empty())
        });
        inner_clean
            && match &row.exact {
                Some(exact) => n == 1 && tokens[i].core == *exact,
                None => (0..n).all(|k| tokens[i + k].core.to_lowercase() == row.words[k]),
            }
    };
    let best = table
        .iter()
        .filter(|r| matches(r))
        .map(|r| r.words.len())
        .max()?;
    let rows: Vec<&Row> = table
        .iter()
        .filter(|r| r.words.len() == best && matches(r))
        .collect();
    Some((best, rows))
}

/// The sentence with its abbreviations and numbers spelt out, and for each written word
/// the spoken words it became (see [`Sentence::spans`]).
fn speak(sentence: &str, table: &'static [Row], language: &str) -> (String, Vec<Range<usize>>) {
    let chars: Vec<char> = sentence.chars().collect();
    let tokens = tokenize(&chars);
    let found = analyse(&tokens, table);
    let mut pieces: Vec<String> = Vec::with_capacity(tokens.len());
    let mut spans: Vec<Range<usize>> = Vec::with_capacity(tokens.len());
    let mut spoken_words = 0;
    let mut i = 0;
    let mut next = found.iter().peekable();
    while i < tokens.len() {
        let (piece, written) = match next.next_if(|f| f.first == i) {
            Some(f) => {
                let (first, last) = (&tokens[f.first], &tokens[f.last]);
                let mut spoken = f.spoken.to_string();
                if i == 0 && first.capitalised() {
                    spoken = capitalise(&spoken);
                }
                // The abbreviation's own full stop was the sentence's: keep the intonation.
                let end = if f.last + 1 == tokens.len() && !last.trail.contains(['!', '?']) {
                    "."
                } else {
                    ""
                };
                (
                    format!("{}{spoken}{end}{}", first.lead, last.trail),
                    f.last + 1 - f.first,
                )
            }
            _ => {
                let t = &tokens[i];
                let core =
                    crate::numbers::spell(&t.core, language).unwrap_or_else(|| t.core.clone());
                (format!("{}{core}{}", t.lead, t.trail), 1)
            }
        };
        let said = piece.split_whitespace().count();
        spans.extend(share(spoken_words, said, written));
        spoken_words += said;
        pieces.push(piece);
        i += written;
    }
    (pieces.join(" "), spans)
}

/// Pairs `written` words with the `said` spoken words starting at `at`: one to one when
/// the counts agree, else in order and as evenly as they go (one written word gets all;
/// more written than spoken words leaves some written words an empty range).
fn share(at: usize, said: usize, written: usize) -> impl Iterator<Item = Range<usize>> {
    (0..written).map(move |j| at + j * said / written..at + (j + 1) * said / written)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(script: &str, lang: &str) -> Vec<(String, String)> {
        sentences(script, lang)
            .into_iter()
            .map(|s| (s.written, s.spoken))
            .collect()
    }

    #[test]
    fn the_issue_example_is_one_sentence_spoken_in_full() {
        let s = split(
            "Dr. Green and Mrs. Hale welcome you to St. Mary Lane.",
            "en",
        );
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(
            s[0].0,
            "Dr. Green and Mrs. Hale welcome you to St. Mary Lane."
        );
        assert_eq!(
            s[0].1,
            "Doctor Green and Missus Hale welcome you to Saint Mary Lane."
        );
    }

    #[test]
    fn st_is_saint_before_a_name_and_street_after_one() {
        let s = split(
            "The flat on Baker St. has a view of St. Paul's Church. Park on Elm St. The garage is free.",
            "en",
        );
        let spoken: Vec<&str> = s.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(
            spoken,
            [
                "The flat on Baker Street has a view of Saint Paul's Church.",
                "Park on Elm Street.",
                "The garage is free."
            ]
        );
        // The sentence's first word is no name: "Near St. Anne" is a saint.
        assert_eq!(
            split("Near St. Anne Park.", "en")[0].1,
            "Near Saint Anne Park."
        );
        // A comma between them: no longer "after a name".
        assert_eq!(
            split("Hello Anna, Dr. Lee will show you round.", "en")[0].1,
            "Hello Anna, Doctor Lee will show you round."
        );
    }

    #[test]
    fn inner_abbreviations_never_end_a_sentence_and_trailing_ones_may() {
        let s = split(
            "Rooms are bright, e.g. the study (approx. two hundred sq. ft.) faces south. \
             It has a desk, shelves, etc. The lift, i.e., the elevator, is new.",
            "en",
        );
        let written: Vec<&str> = s.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            written,
            [
                "Rooms are bright, e.g. the study (approx. two hundred sq. ft.) faces south.",
                "It has a desk, shelves, etc.",
                "The lift, i.e., the elevator, is new."
            ]
        );
        assert_eq!(
            s[0].1,
            "Rooms are bright, for example the study (approximately two hundred square feet) faces south."
        );
        assert_eq!(s[1].1, "It has a desk, shelves, et cetera.");
        assert_eq!(s[2].1, "The lift, that is, the elevator, is new.");
        // Before a lower-case word a trailing abbreviation does not end the sentence.
        assert_eq!(split("Five sq. ft. of storage.", "en").len(), 1);
    }

    #[test]
    fn spanish_french_and_german_tables() {
        // (language, script, what the voice is given, sentence by sentence)
        let cases: [(&str, &str, &[&str]); 3] = [
            (
                "es",
                "La Sra. Ruiz y el Dr. Gómez viven en la Avda. del Mar, aprox. cerca.",
                &["La señora Ruiz y el doctor Gómez viven en la avenida del Mar, aproximadamente cerca."],
            ),
            (
                "fr",
                "M. Martin et Mme Dubois habitent av. Foch, env. dix minutes.",
                &["Monsieur Martin et madame Dubois habitent avenue Foch, environ dix minutes."],
            ),
            (
                "de-DE",
                "Hr. Braun und Fr. Vogel zeigen z. B. die Küche, ca. zwanzig Schritte von der Str. entfernt usw. Danke.",
                &[
                    "Herr Braun und Frau Vogel zeigen zum Beispiel die Küche, circa zwanzig Schritte von der Straße entfernt und so weiter.",
                    "Danke.",
                ],
            ),
        ];
        for (lang, script, spoken) in cases {
            let got: Vec<String> = split(script, lang).into_iter().map(|s| s.1).collect();
            assert_eq!(got, spoken, "{lang}");
        }
        // The tables are per language: German "Fr." means nothing to an English voice.
        assert_eq!(split("Ask Fr. Tom.", "en").len(), 2);
    }

    #[test]
    fn every_written_word_gets_the_spoken_words_it_became() {
        // (language, sentence, the spoken sentence, each written word's spoken words)
        let cases: [(&str, &str, &str, &[std::ops::Range<usize>]); 4] = [
            (
                "en",
                "Dr. Lee measured approx. 1,250 sq. ft. and 3 rooms.",
                "Doctor Lee measured approximately one thousand two hundred and fifty square feet and three rooms.",
                &[0..1, 1..2, 2..3, 3..4, 4..10, 10..11, 11..12, 12..13, 13..14, 14..15],
            ),
            (
                "en",
                "Bright rooms, e.g. the study, etc.",
                "Bright rooms, for example the study, et cetera.",
                &[0..1, 1..2, 2..4, 4..5, 5..6, 6..8],
            ),
            (
                "de",
                "Hr. Braun zeigt z. B. 12 Zimmer usw.",
                "Herr Braun zeigt zum Beispiel 12 Zimmer und so weiter.",
                &[0..1, 1..2, 2..3, 3..4, 4..5, 5..6, 6..7, 7..10],
            ),
            ("fr", "Il y a 21 pièces.", "Il y a vingt et un pièces.", &[0..1, 1..2, 2..3, 3..6, 6..7]),
        ];
        for (lang, written, spoken, spans) in cases {
            let s = sentences(written, lang);
            assert_eq!(s.len(), 1, "{s:?}");
            assert_eq!(s[0].spoken, spoken);
            assert_eq!(s[0].spans, spans, "{written}");
            assert_eq!(s[0].spans.len(), crate::text::words(written).len());
        }
        // Times of the spoken words (here: their index) reach the written words.
        let s = &sentences("Dr. Lee has 1,250 sq. ft.", "en")[0];
        let spoken: Vec<f64> = (0..crate::text::words(&s.spoken).len())
            .map(|i| i as f64)
            .collect();
        assert_eq!(
            s.written_starts(&spoken),
            Some(vec![0.0, 1.0, 2.0, 3.0, 9.0, 10.0])
        );
        assert_eq!(s.written_starts(&spoken[1..]), None);
    }

    #[test]
    fn a_group_spoken_as_fewer_words_shares_them_in_order() {
        assert_eq!(share(4, 1, 2).collect::<Vec<_>>(), [4..4, 4..5]);
        let whole: Vec<std::ops::Range<usize>> = share(0, 3, 1).collect();
        assert_eq!(whole, vec![std::ops::Range { start: 0, end: 3 }]);
        assert_eq!(share(2, 2, 2).collect::<Vec<_>>(), [2..3, 3..4]);
    }

    #[test]
    fn a_group_that_closes_a_sentence_ends_it_at_its_last_stop_only() {
        // (language, script, the sentences as written, the first as spoken)
        let cases: [(&str, &str, &[&str], &str); 4] = [
            (
                "en",
                "The loft has twelve hundred sq. ft. The kitchen is new.",
                &["The loft has twelve hundred sq. ft.", "The kitchen is new."],
                "The loft has twelve hundred square feet.",
            ),
            (
                "en",
                "The terrace is forty SQ. M. Its view is wide.",
                &["The terrace is forty SQ. M.", "Its view is wide."],
                "The terrace is forty square metres.",
            ),
            (
                "es",
                "Hay piscina, jardín, etc. La cocina es nueva.",
                &["Hay piscina, jardín, etc.", "La cocina es nueva."],
                "Hay piscina, jardín, etcétera.",
            ),
            (
                "de",
                "Es gibt Garten, Keller usw. Die Küche ist neu.",
                &["Es gibt Garten, Keller usw.", "Die Küche ist neu."],
                "Es gibt Garten, Keller und so weiter.",
            ),
        ];
        for (lang, script, written, spoken) in cases {
            let s = sentences(script, lang);
            let got: Vec<&str> = s.iter().map(|p| p.written.as_str()).collect();
            assert_eq!(got, written, "{lang}: {script}");
            assert_eq!(s[0].spoken, spoken);
        }
    }

    #[test]
    fn initialisms_no_table_lists_end_a_sentence_only_before_a_capital() {
        let s = split(
            "Open house from ten a.m. to two p.m. on Sunday. Built in the U.S. The roof is new.",
            "en",
        );
        let written: Vec<&str> = s.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            written,
            [
                "Open house from ten a.m. to two p.m. on Sunday.",
                "Built in the U.S.",
                "The roof is new."
            ]
        );
        for word in ["a.m.", "U.S.", "e.g.", "A.B.C."] {
            assert!(is_initialism(word), "{word}");
        }
        for word in ["St.", "a.", "etc.", "sq.", "..", "1.2."] {
            assert!(!is_initialism(word), "{word}");
        }
    }

    #[test]
    fn british_titles_without_a_full_stop_are_spoken_in_full() {
        assert_eq!(
            split(
                "Dr Green and Ms Hale welcome you to St Mary Lane, off Elm St.",
                "en"
            ),
            [(
                "Dr Green and Ms Hale welcome you to St Mary Lane, off Elm St.".to_string(),
                "Doctor Green and Miz Hale welcome you to Saint Mary Lane, off Elm Street."
                    .to_string()
            )]
        );
        // Only as whole words: "1st", "MSc" and "Drive" are left alone.
        assert_eq!(
            split("The 1st floor, an MSc and a Drive.", "en")[0].1,
            "The 1st floor, an MSc and a Drive."
        );
    }

    #[test]
    fn abbreviations_inside_any_languages_quotes_are_found() {
        let s = split(
            "Elle dit «M. Martin habite av. Foch.» Puis elle part.",
            "fr",
        );
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].1, "Elle dit «monsieur Martin habite avenue Foch.»");
        let s = split(
            "Er sagt „Hr. Braun wohnt in der Str. am Park.“ Danke.",
            "de",
        );
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].1, "Er sagt „Herr Braun wohnt in der Straße am Park.“");
    }

    #[test]
    fn sentence_initial_abbreviations_are_capitalised() {
        assert_eq!(
            split("E.g. the hall is wide.", "en")[0].1,
            "For example the hall is wide."
        );
    }

    #[test]
    fn every_table_parses_and_has_the_required_entries() {
        for (lang, must) in [
            (
                "en",
                &[
                    "Dr.", "Mr.", "Mrs.", "Ms.", "St.", "Ave.", "e.g.", "i.e.", "approx.",
                    "sq. ft.",
                ][..],
            ),
            ("es", &["Sra.", "Sr.", "Dra.", "Avda.", "aprox."][..]),
            ("fr", &["M.", "Mme", "Mlle", "av.", "env."][..]),
            ("de", &["Hr.", "Fr.", "Str.", "z. B.", "ca.", "usw."][..]),
        ] {
            let table = table_for(lang);
            for form in must {
                let words: Vec<String> = form.split(' ').map(str::to_lowercase).collect();
                assert!(
                    table.iter().any(|r| r.words == words),
                    "{lang} lacks {form}"
                );
            }
        }
        assert!(table_for("ja").is_empty());
    }
}
