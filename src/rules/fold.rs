//! Rules stage: folding, so that a rule written the plain way finds the
//! words news writes (README, "Rule syntax"). A plain term gains
//! alternatives once, when the rule is compiled, so that whatever runs the
//! rule (FTS5, live and in `search`) sees the same expanded rule:
//!
//! - a place name, its adjectives and demonyms (`iran` → Iranian, `kyiv` →
//!   Kyivan), from `demonyms.tsv` (sources and licence in its header);
//! - a Cyrillic word, its inflected forms: its stem (a light stripper of
//!   Ukrainian and Russian case endings) as a prefix query (`Іран` →
//!   `іран*`: Ірану, іранські, іранських).
//!
//! A quoted term, a prefix term (`iran*`) and the terms inside `NEAR(…)`
//! (which FTS5 allows no alternatives in) are left as written. Pure.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Node;

/// Cyrillic words shorter than this, and stems, are not folded.
const MIN_STEM: usize = 3;

/// What folding did to one term, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The term as written.
    pub term: String,
    /// What it now finds, in rule syntax (`iran`, `iranian`; `іран*`).
    pub finds: Vec<String>,
    /// Why: which table or stemmer.
    pub why: &'static str,
}

/// The rule with its plain terms folded, and what was folded.
pub fn fold(node: Node) -> (Node, Vec<Folded>) {
    let mut log = Vec::new();
    let node = fold_in(node, &mut log);
    (node, log)
}

fn fold_in(node: Node, log: &mut Vec<Folded>) -> Node {
    match node {
        Node::Term {
            text,
            prefix: false,
        } => fold_term(text, log),
        Node::And(parts) => Node::And(parts.into_iter().map(|p| fold_in(p, log)).collect()),
        Node::Or(parts) => Node::Or(parts.into_iter().map(|p| fold_in(p, log)).collect()),
        Node::Not { inner, at } => Node::Not {
            inner: Box::new(fold_in(*inner, log)),
            at,
        },
        // The feed column holds feed names, not news: `feed:kyiv` is the
        // feed named so.
        Node::Field { field, inner } if field == "feed" => Node::Field { field, inner },
        Node::Field { field, inner } => Node::Field {
            field,
            inner: Box::new(fold_in(*inner, log)),
        },
        Node::Near { terms, distance } => Node::Near {
            terms: terms
                .into_iter()
                .map(|t| match t {
                    Node::Term {
                        text,
                        prefix: false,
                    } => match cyrillic_forms(&text) {
                        Some(Forms::Prefixes(stems)) if stems.len() == 1 => {
                            let finds = Forms::Prefixes(stems.clone()).shown();
                            note(log, &text, finds, CYRILLIC);
                            Node::Term {
                                text: stems.into_iter().next().unwrap_or(text),
                                prefix: true,
                            }
                        }
                        _ => Node::Term {
                            text,
                            prefix: false,
                        },
                    },
                    other => other,
                })
                .collect(),
            distance,
        },
        other => other,
    }
}

fn fold_term(text: String, log: &mut Vec<Folded>) -> Node {
    if let Some(forms) = demonyms().get(latin_key(&text).as_str()) {
        let finds: Vec<String> = forms.iter().map(|f| f.to_string()).collect();
        log.push(Folded {
            term: text.clone(),
            finds: std::iter::once(text.clone()).chain(finds.clone()).collect(),
            why: "a place name: also its adjective and demonym, from src/rules/demonyms.tsv",
        });
        let mut alternatives = vec![Node::Term {
            text,
            prefix: false,
        }];
        alternatives.extend(finds.into_iter().map(|text| Node::Term {
            text,
            prefix: false,
        }));
        return Node::Or(alternatives);
    }
    if let Some(forms) = cyrillic_forms(&text) {
        note(log, &text, forms.shown(), CYRILLIC);
        let mut alternatives: Vec<Node> = match forms {
            Forms::Prefixes(stems) => stems
                .into_iter()
                .map(|text| Node::Term { text, prefix: true })
                .collect(),
            Forms::Words(words) => words
                .into_iter()
                .map(|text| Node::Term {
                    text,
                    prefix: false,
                })
                .collect(),
        };
        return if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Node::Or(alternatives)
        };
    }
    Node::Term {
        text,
        prefix: false,
    }
}

const CYRILLIC: &str = "a Cyrillic word: its inflected forms, by its stem";

fn note(log: &mut Vec<Folded>, term: &str, finds: Vec<String>, why: &'static str) {
    log.push(Folded {
        term: term.to_string(),
        finds,
        why,
    });
}

/// The place-name table: name → its forms.
fn demonyms() -> &'static HashMap<&'static str, Vec<&'static str>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("demonyms.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cells = l.split('\t').map(str::trim);
                let name = cells.next()?;
                Some((name, cells.filter(|c| !c.is_empty()).collect()))
            })
            .collect()
    })
}

/// A Latin-script term as the table writes its names: lower case, accents
/// removed (as the index's `remove_diacritics 2` removes them).
fn latin_key(term: &str) -> String {
    term.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
            'ç' | 'ć' | 'č' => 'c',
            'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
            'ì'..='ï' | 'ī' | 'į' | 'ı' => 'i',
            'ñ' | 'ń' | 'ň' => 'n',
            'ò'..='ö' | 'ø' | 'ō' | 'ő' => 'o',
            'ù'..='ü' | 'ū' | 'ů' | 'ű' => 'u',
            'ý' | 'ÿ' => 'y',
            'š' | 'ś' | 'ş' => 's',
            'ž' | 'ź' | 'ż' => 'z',
            'ř' => 'r',
            'ł' => 'l',
            'ğ' => 'g',
            c => c,
        })
        .collect()
}

/// How a Cyrillic word is searched.
#[derive(Debug, Clone, PartialEq)]
enum Forms {
    /// Every word starting with one of these stems (`іран*`).
    Prefixes(Vec<String>),
    /// These words: a stem too short to be a prefix (`газ*` would find
    /// газета), with the case endings spelled out (газа, газу, газі…).
    Words(Vec<String>),
}

impl Forms {
    /// In rule syntax, for `--explain`.
    fn shown(&self) -> Vec<String> {
        match self {
            Forms::Prefixes(stems) => stems.iter().map(|s| format!("{s}*")).collect(),
            Forms::Words(words) => words.clone(),
        }
    }
}

/// Stems shorter than this are not searched as prefixes.
const MIN_PREFIX: usize = 4;

/// The case endings a short stem is spelled out with.
const SHORT_STEM_ENDINGS: &[&str] = &[
    "а", "у", "і", "и", "ы", "е", "ю", "я", "ою", "ой", "ом", "ам", "ах", "ами", "ові", "ей",
];

/// How a Cyrillic word is searched; `None` when the term is not one
/// Cyrillic word, is shorter than `MIN_STEM`, or is an acronym in capitals
/// (НАТО, ЗСУ, ППО: not inflected, and short stems of them find words).
fn cyrillic_forms(term: &str) -> Option<Forms> {
    let cyrillic = |c: char| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё' | 'і' | 'І' | 'ї' | 'Ї' | 'є' | 'Є' | 'ґ' | 'Ґ');
    if term.chars().count() < MIN_STEM
        || !term.chars().all(cyrillic)
        || term.chars().all(char::is_uppercase)
    {
        return None;
    }
    let word = term.to_lowercase();
    let stems = stems(&word);
    if stems.iter().all(|s| s.chars().count() >= MIN_PREFIX) {
        return Some(Forms::Prefixes(stems));
    }
    let stem = stems.into_iter().next().unwrap_or_else(|| word.clone());
    let mut words = vec![word];
    for ending in SHORT_STEM_ENDINGS {
        let form = format!("{stem}{ending}");
        if !words.contains(&form) {
            words.push(form);
        }
    }
    Some(Forms::Words(words))
}

/// The case and number endings of Ukrainian and Russian nouns and
/// adjectives. Only endings: a derivational suffix stays, so that a place
/// name keeps its whole root (`Иран` → иран, not Snowball's `ира`, which
/// finds Ирак and Ирина; measured on the labelled set, README "Rule
/// syntax"). Not -ов/-ев: a word a rule names so is a nominative (Лавров,
/// Харьков), not a genitive plural.
const ENDINGS: &[&str] = &[
    // Three letters.
    "ами", "ями", "ого", "его", "ому", "ему", "ими", "ыми", "ові", "еві", "єві", // Two.
    "ая", "яя", "ое", "ее", "ые", "ие", "ый", "ий", "ій", "ой", "их", "ых", "им", "ым", "ої", "ою",
    "ею", "єю", "ом", "ем", "єм", "ах", "ях", "ам", "ям", "ей", "ую", "юю", // One.
    "а", "я", "о", "е", "є", "ы", "и", "і", "ї", "у", "ю", "ь", "й",
];

/// A light stemmer for both languages (Snowball has no Ukrainian): the
/// longest ending that leaves at least `MIN_STEM` letters is removed. A
/// Ukrainian word ending in -ів/-їв (Харків, Київ, Львів) changes its vowel
/// when inflected (Харкова, Києва): both stems are given.
fn stems(word: &str) -> Vec<String> {
    for (ending, other) in [("ів", "ов"), ("їв", "єв")] {
        if let Some(stem) = word.strip_suffix(ending) {
            return vec![word.to_string(), format!("{stem}{other}")];
        }
    }
    // ENDINGS is ordered longest first.
    for ending in ENDINGS {
        if let Some(stem) = word.strip_suffix(ending)
            && stem.chars().count() >= MIN_STEM
        {
            return vec![stem.to_string()];
        }
    }
    vec![word.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds(term: &str) -> Vec<String> {
        let (_, log) = fold(Node::Term {
            text: term.into(),
            prefix: false,
        });
        log.into_iter().flat_map(|f| f.finds).collect()
    }

    #[test]
    fn place_names_find_their_adjectives() {
        assert_eq!(finds("iran"), ["iran", "iranian"]);
        assert_eq!(finds("Ukraine"), ["Ukraine", "ukrainian"]);
        assert_eq!(finds("russia"), ["russia", "russian"]);
        assert_eq!(finds("israel"), ["israel", "israeli"]);
        assert_eq!(finds("kyiv"), ["kyiv", "kyivan"]);
        assert_eq!(
            finds("Türkiye")[1..],
            finds("turkiye")[1..],
            "accents folded"
        );
        assert!(finds("Türkiye").len() > 1);
        assert!(finds("drone").is_empty());
    }

    #[test]
    fn cyrillic_words_find_their_forms() {
        assert_eq!(finds("Іран"), ["іран*"]);
        assert_eq!(finds("Україна"), ["україн*"]);
        assert_eq!(finds("Росія"), ["росі*"]);
        assert_eq!(finds("Харків"), ["харків*", "харков*"]);
        assert_eq!(finds("Київ"), ["київ*", "києв*"]);
        assert_eq!(finds("дрон"), ["дрон*"]);
        assert_eq!(finds("Иран"), ["иран*"]);
        assert_eq!(finds("беспилотник"), ["беспилотник*"]);
        assert_eq!(finds("Россия"), ["росси*"], "России, российский");
        assert_eq!(finds("Харьков"), ["харьков*"], "a nominative, not a plural");
        assert_eq!(finds("Лавров"), ["лавров*"]);
        // Too short to fold, or an acronym: exact.
        assert!(finds("ЄС").is_empty());
        assert!(finds("НАТО").is_empty());
        assert!(finds("ЗСУ").is_empty());
        // A short stem is spelled out, never a prefix: Газа finds Газі,
        // not газета (nor газ, the gas).
        let gaza = finds("Газа");
        assert!(gaza.contains(&"газі".to_string()) && gaza.contains(&"газою".to_string()));
        assert!(gaza.iter().all(|f| !f.ends_with('*')) && !gaza.contains(&"газ".to_string()));
        let rak = finds("рак");
        assert!(rak.contains(&"рака".to_string()) && rak.iter().all(|f| !f.ends_with('*')));
    }

    #[test]
    fn quoted_prefixed_and_near_terms_stay_as_written() {
        let phrase = Node::Phrase {
            text: "iran".into(),
        };
        assert_eq!(fold(phrase.clone()).0, phrase);
        let prefix = Node::Term {
            text: "iran".into(),
            prefix: true,
        };
        assert_eq!(fold(prefix.clone()).0, prefix);
        let near = Node::Near {
            terms: vec![
                Node::Term {
                    text: "iran".into(),
                    prefix: false,
                },
                Node::Term {
                    text: "дрон".into(),
                    prefix: false,
                },
            ],
            distance: 5,
        };
        let Node::Near { terms, .. } = fold(near).0 else {
            panic!("still NEAR")
        };
        assert_eq!(
            terms,
            [
                Node::Term {
                    text: "iran".into(),
                    prefix: false
                },
                Node::Term {
                    text: "дрон".into(),
                    prefix: true
                }
            ],
            "a place name stays itself in NEAR; a Cyrillic word is its stem"
        );
    }
}
