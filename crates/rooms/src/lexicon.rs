//! Which rooms a narration sentence names (issue 13 §1), per voice language: words for a
//! room and for the features only that room has ("island", "shower", "fireplace"), read
//! from one table per language (`lexicon/*.tsv`, compiled in).
//!
//! Matching works on folded words: lower case, accents dropped (German umlauts written
//! out as `ae`, `oe`, `ue` and `ß` as `ss`, so "Küchen" never folds into "Kuchen", cake),
//! apostrophes separating words (French elisions: "l'îlot" is "l" + "ilot"). A hyphenated
//! word is tried whole, then by its last part, the part that names the thing:
//! "Gäste-WC" is a bathroom, "kitchen-ready" names no room.
//!
//! At each word the longest table entry that matches wins (most words, then most
//! letters), so "outdoor kitchen" is a garden, "Schwimmbad" a pool rather than a bath,
//! and entries whose room is `-` ("in front of", "Kindergarten") name nothing and hide
//! the shorter entries inside them.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::Room;

/// The languages with a table (ISO 639-1).
pub const LANGUAGES: [&str; 4] = ["en", "es", "fr", "de"];

/// The rooms `sentence` names, in the order it names them, each once. `language` is an
/// ISO 639-1 code, optionally with a region (`en`, `de-AT`, `fr_CA`); a language without
/// a table names no rooms (the planner then orders as it did before room labels).
/// Never returns [`Room::Other`].
pub fn mentions(sentence: &str, language: &str) -> Vec<Room> {
    let Some(lexicon) = lexicon(language) else {
        return Vec::new();
    };
    let lang = primary(language);
    let words = words(sentence, lang);
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match lexicon.longest_at(&words, i) {
            Some((len, room)) => {
                if let Some(room) = room {
                    if !out.contains(&room) {
                        out.push(room);
                    }
                }
                i += len;
            }
            None => i += 1,
        }
    }
    out
}

/// The first room `sentence` names, if any (see [`mentions`]).
pub fn first_mention(sentence: &str, language: &str) -> Option<Room> {
    mentions(sentence, language).into_iter().next()
}

fn primary(language: &str) -> &str {
    language.split(['-', '_']).next().unwrap_or(language).trim()
}

/// One table row: the folded words of the entry (each may start or end with `*`, any
/// letters) and what it names (`None`: nothing, it hides shorter entries).
struct Entry {
    words: Vec<Pattern>,
    room: Option<Room>,
    letters: usize,
}

struct Pattern {
    text: String,
    /// `*word`: the word may have anything before it (German compounds).
    any_before: bool,
    /// `word*`: the word may have anything after it (inflections).
    any_after: bool,
}

impl Pattern {
    fn parse(word: &str) -> Pattern {
        let any_before = word.starts_with('*');
        let any_after = word.len() > 1 && word.ends_with('*');
        Pattern {
            text: word.trim_matches('*').to_string(),
            any_before,
            any_after,
        }
    }

    /// Whether `word` (folded) matches; a wildcard never spans a hyphen.
    fn matches(&self, word: &str) -> bool {
        let hit = match (self.any_before, self.any_after) {
            (false, false) => word == self.text,
            (false, true) => word
                .strip_prefix(&self.text)
                .is_some_and(|rest| !rest.contains('-')),
            (true, false) => word
                .strip_suffix(&self.text)
                .is_some_and(|rest| !rest.contains('-')),
            (true, true) => word
                .split('-')
                .any(|part| part.contains(self.text.as_str())),
        };
        hit && !self.text.is_empty()
    }
}

struct Lexicon {
    /// Entries by the folded text of their first word when it has no leading wildcard;
    /// the others are tried at every word.
    by_first: HashMap<String, Vec<Entry>>,
    open: Vec<Entry>,
}

impl Lexicon {
    fn parse(table: &str, lang: &str) -> Lexicon {
        let mut lexicon = Lexicon {
            by_first: HashMap::new(),
            open: Vec::new(),
        };
        for (n, line) in table.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (room, phrase) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("{lang}.tsv line {}: room<TAB>words", n + 1));
            let room = match room {
                "-" => None,
                name => Some(
                    Room::parse(name)
                        .unwrap_or_else(|| panic!("{lang}.tsv line {}: room {name}", n + 1)),
                ),
            };
            let words: Vec<Pattern> = fold_words(phrase, lang, true)
                .iter()
                .map(|w| Pattern::parse(w))
                .collect();
            assert!(!words.is_empty(), "{lang}.tsv line {}: no words", n + 1);
            let letters = words.iter().map(|w| w.text.len()).sum();
            let first = &words[0];
            let key = (!first.any_before && !first.any_after).then(|| first.text.clone());
            let entry = Entry {
                words,
                room,
                letters,
            };
            match key {
                Some(k) => lexicon.by_first.entry(k).or_default().push(entry),
                None => lexicon.open.push(entry),
            }
        }
        lexicon
    }

    /// The longest entry matching at `words[i]`: how many words it covers and its room.
    fn longest_at(&self, words: &[String], i: usize) -> Option<(usize, Option<Room>)> {
        // A hyphenated word also stands for its last part ("gaeste-wc" → "wc").
        let head = words[i].rsplit('-').next().unwrap_or(&words[i]);
        let candidates = self
            .by_first
            .get(words[i].as_str())
            .into_iter()
            .chain(self.by_first.get(head))
            .flatten()
            .chain(&self.open);
        candidates
            .filter(|e| e.matches_at(words, i))
            .max_by_key(|e| (e.words.len(), e.letters))
            .map(|e| (e.words.len(), e.room))
    }
}

impl Entry {
    fn matches_at(&self, words: &[String], i: usize) -> bool {
        if i + self.words.len() > words.len() {
            return false;
        }
        self.words.iter().enumerate().all(|(k, p)| {
            let w = &words[i + k];
            // Only the first word of an entry may be matched by its last hyphen part;
            // inside a phrase the words must match whole.
            p.matches(w)
                || (k == 0 && w.contains('-') && p.matches(w.rsplit('-').next().unwrap_or(w)))
        })
    }
}

fn lexicon(language: &str) -> Option<&'static Lexicon> {
    static TABLES: OnceLock<Vec<(&'static str, Lexicon)>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        [
            ("en", include_str!("lexicon/en.tsv")),
            ("es", include_str!("lexicon/es.tsv")),
            ("fr", include_str!("lexicon/fr.tsv")),
            ("de", include_str!("lexicon/de.tsv")),
        ]
        .into_iter()
        .map(|(lang, table)| (lang, Lexicon::parse(table, lang)))
        .collect()
    });
    let lang = primary(language).to_ascii_lowercase();
    tables.iter().find(|(l, _)| *l == lang).map(|(_, t)| t)
}

/// `sentence`'s words, folded for `lang` (see the module documentation).
fn words(sentence: &str, lang: &str) -> Vec<String> {
    fold_words(sentence, lang, false)
}

/// Folds and splits `text`; `wildcards` keeps `*` (table entries).
fn fold_words(text: &str, lang: &str, wildcards: bool) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match (lang, c) {
            ("de", 'ä') => folded.push_str("ae"),
            ("de", 'ö') => folded.push_str("oe"),
            ("de", 'ü') => folded.push_str("ue"),
            (_, 'ß') => folded.push_str("ss"),
            (_, 'œ') => folded.push_str("oe"),
            (_, 'æ') => folded.push_str("ae"),
            _ => folded.push(c),
        }
    }
    let plain: String = folded.nfd().filter(|c| !is_combining_mark(*c)).collect();
    plain
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '‐' || (wildcards && c == '*')))
        .map(|w| w.replace('‐', "-").trim_matches('-').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Room::*;

    fn check(lang: &str, cases: &[(&str, &[Room])]) {
        for (sentence, want) in cases {
            assert_eq!(&mentions(sentence, lang), want, "{lang}: {sentence}");
        }
    }

    #[test]
    fn every_table_parses_and_names_every_room_but_other() {
        for lang in LANGUAGES {
            let table = lexicon(lang).expect("table");
            let rooms: std::collections::BTreeSet<Room> = table
                .by_first
                .values()
                .flatten()
                .chain(&table.open)
                .filter_map(|e| e.room)
                .collect();
            let want: std::collections::BTreeSet<Room> =
                Room::ALL.into_iter().filter(|r| *r != Other).collect();
            assert_eq!(rooms, want, "{lang}");
        }
    }

    #[test]
    fn english_rooms_features_and_inflections() {
        check(
            "en",
            &[
                ("The kitchen offers generous counters.", &[Kitchen]),
                ("Granite countertops and a large island.", &[Kitchen]),
                ("A walk-in pantry and a double oven.", &[Kitchen]),
                ("Upstairs, three quiet bedrooms wait for you.", &[Bedroom]),
                ("The primary suite has a walk-in closet.", &[Bedroom]),
                ("A modern en-suite with a rain shower.", &[Bathroom]),
                ("Soak in the freestanding bathtub.", &[Bathroom]),
                ("Relax by the fireplace in the lounge.", &[LivingRoom]),
                ("The living room has tall windows.", &[LivingRoom]),
                ("A formal dining room seats ten.", &[DiningRoom]),
                ("Curb appeal for days, with a wide driveway.", &[Exterior]),
                ("A covered porch welcomes you home.", &[Exterior]),
                (
                    "The backyard has a sparkling pool and a lawn.",
                    &[GardenPool],
                ),
                ("Dine on the patio or the deck.", &[GardenPool]),
                (
                    "The kitchen opens onto the terrace, next to the dining area.",
                    &[Kitchen, GardenPool, DiningRoom],
                ),
                ("KITCHENS, BATHROOMS!", &[Kitchen, Bathroom]),
            ],
        );
    }

    #[test]
    fn english_false_friends_name_nothing_or_the_right_room() {
        check(
            "en",
            &[
                ("Welcome to this bright family home.", &[]),
                ("Book a visit today, close to parks and schools.", &[]),
                ("Every room is kitchen-ready and bathed in light.", &[]),
                ("A wide range of shops is a short walk away.", &[]),
                ("Sit in front of the windows and watch the sunset.", &[]),
                ("A pool of morning light fills the hall.", &[]),
                ("Minutes from Long Island beaches.", &[]),
                ("Fine dining and cafés nearby.", &[]),
                // Longer entries win over the words inside them.
                ("An outdoor kitchen and a hot tub.", &[GardenPool]),
                ("Roses fill every flower bed.", &[GardenPool]),
                ("A guest-bathroom near the entry.", &[Bathroom]),
            ],
        );
    }

    #[test]
    fn spanish_with_and_without_accents() {
        check(
            "es",
            &[
                (
                    "La cocina tiene una isla y encimeras de cuarzo.",
                    &[Kitchen],
                ),
                ("Tres dormitorios luminosos en la planta alta.", &[Bedroom]),
                ("El baño principal tiene ducha y bañera.", &[Bathroom]),
                ("El bano principal tiene ducha.", &[Bathroom]),
                ("Un salón amplio con chimenea.", &[LivingRoom]),
                ("La sala de estar da al comedor.", &[LivingRoom, DiningRoom]),
                ("La fachada es de piedra.", &[Exterior]),
                ("Un jardín con piscina y césped.", &[GardenPool]),
                ("Bienvenidos a esta casa familiar.", &[]),
                ("Cerca de la Isla de Mallorca y sus playas.", &[]),
            ],
        );
    }

    #[test]
    fn french_elisions_and_accents() {
        check(
            "fr",
            &[
                ("La cuisine équipée s'ouvre sur l'îlot central.", &[Kitchen]),
                ("L'ilot et les plans de travail en marbre.", &[Kitchen]),
                ("Trois chambres lumineuses à l'étage.", &[Bedroom]),
                ("Une suite parentale avec dressing.", &[Bedroom]),
                ("La salle de bains offre une baignoire.", &[Bathroom]),
                ("Une salle d'eau avec douche à l'italienne.", &[Bathroom]),
                ("Le séjour et sa cheminée.", &[LivingRoom]),
                ("La salle à manger accueille huit convives.", &[DiningRoom]),
                ("La façade en pierre a beaucoup de charme.", &[Exterior]),
                ("Le jardin, la terrasse et la piscine.", &[GardenPool]),
                ("Bienvenue dans cette maison familiale.", &[]),
                (
                    "Les restaurants de cuisine du monde sont tout proches.",
                    &[],
                ),
            ],
        );
    }

    #[test]
    fn german_compounds_umlauts_and_false_friends() {
        check(
            "de",
            &[
                ("Die Einbauküche hat eine Kochinsel.", &[Kitchen]),
                ("Die Wohnküche mit Arbeitsplatten aus Granit.", &[Kitchen]),
                ("Drei helle Schlafzimmer im Obergeschoss.", &[Bedroom]),
                ("Das Badezimmer hat eine Regendusche.", &[Bathroom]),
                ("Ein Gäste-WC und ein Duschbad.", &[Bathroom]),
                ("Das Wohnzimmer mit Kamin.", &[LivingRoom]),
                ("Das Esszimmer bietet Platz für zehn.", &[DiningRoom]),
                ("Die Fassade wurde frisch gestrichen.", &[Exterior]),
                ("Der Garten mit Terrasse und Schwimmbad.", &[GardenPool]),
                ("Die Kueche ist hell.", &[Kitchen]),
                ("Willkommen in diesem Familienhaus.", &[]),
                ("Es gibt Kuchen beim Bäcker nebenan.", &[]),
                ("Der Kindergarten liegt um die Ecke.", &[]),
            ],
        );
    }

    #[test]
    fn languages_with_a_region_use_their_table_and_others_name_nothing() {
        assert_eq!(mentions("Die Küche ist neu.", "de-AT"), [Kitchen]);
        assert_eq!(mentions("The kitchen is new.", "en_GB"), [Kitchen]);
        assert_eq!(mentions("The kitchen is new.", "it"), []);
        assert_eq!(first_mention("A bedroom and a bath.", "en"), Some(Bedroom));
    }
}
