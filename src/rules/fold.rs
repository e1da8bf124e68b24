//! Rules stage: folding, so that a rule written the plain way finds the
//! words news writes, in every language (docs/reference.md, "Concepts"). A plain term
//! gains alternatives once, when the rule is compiled, so that whatever
//! runs the rule (FTS5, live and in `search`) sees the same expanded rule:
//!
//! - a word or phrase that names a concept of the lexicon (`drone`, `Київ`,
//!   `"air defence"`), every form of that concept in the rule's languages
//!   (`lexicon`: UAV, безпілотник, БпЛА, Drohne…; Kyiv, Kiev, Києві…);
//! - any other Cyrillic word, its inflected forms: its stem (a light
//!   stripper of Ukrainian and Russian case endings) as a prefix query
//!   (`Іран` → `іран*`: Ірану, іранські, іранських).
//!
//! In `NEAR(…)`, which FTS5 allows no alternatives in, a concept's word
//! becomes its forms in its own language, and the group one NEAR per
//! combination (`NEAR_COMBINATIONS` at most). A prefix term (`iran*`) and
//! an exact one (`=drone`, `="air defence"`) are left as written. Pure.

use super::Node;
use crate::lexicon::{self, Form};

/// Cyrillic words shorter than this, and stems, are not folded.
const MIN_STEM: usize = 3;

/// A NEAR group expands into at most this many groups (one per
/// combination of its words' forms); past it, its words stay themselves.
const NEAR_COMBINATIONS: usize = 64;

/// The languages a rule's concepts expand into: all of the lexicon's, or
/// those the rule or the config names (`languages = ["en", "uk"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Languages(pub Option<Vec<String>>);

impl Languages {
    fn list(&self) -> Option<&[String]> {
        self.0.as_deref()
    }
}

/// What folding did to one term, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The term as written.
    pub term: String,
    /// The concept it names, if any.
    pub concept: Option<String>,
    /// What it now finds, in rule syntax, per language (`""` for forms
    /// of every language, or when the stemmer made them).
    pub finds: Vec<(String, Vec<String>)>,
    /// Why: which table or stemmer.
    pub why: &'static str,
}

/// The rule with its plain terms folded into `languages`, and what was
/// folded.
pub fn fold(node: Node, languages: &Languages) -> (Node, Vec<Folded>) {
    let mut log = Vec::new();
    let node = fold_in(node, languages, &mut log);
    (node, log)
}

fn fold_in(node: Node, langs: &Languages, log: &mut Vec<Folded>) -> Node {
    match node {
        Node::Term {
            text,
            prefix: false,
        } => fold_term(text, false, langs, log),
        Node::Phrase { text } => fold_term(text, true, langs, log),
        Node::Exact(inner) => {
            if let Node::Term { text, .. } | Node::Phrase { text } = inner.as_ref() {
                log.push(Folded {
                    term: text.clone(),
                    concept: None,
                    finds: vec![(String::new(), vec![text.clone()])],
                    why: "kept exact (=)",
                });
            }
            *inner
        }
        Node::And(parts) => Node::And(parts.into_iter().map(|p| fold_in(p, langs, log)).collect()),
        Node::Or(parts) => Node::Or(parts.into_iter().map(|p| fold_in(p, langs, log)).collect()),
        Node::Not { inner, at } => Node::Not {
            inner: Box::new(fold_in(*inner, langs, log)),
            at,
        },
        // The feed column holds feed names, not news: `feed:kyiv` is the
        // feed named so.
        Node::Field { field, inner } if field == "feed" => Node::Field { field, inner },
        Node::Field { field, inner } => Node::Field {
            field,
            inner: Box::new(fold_in(*inner, langs, log)),
        },
        Node::Near { terms, distance } => fold_near(terms, distance, langs, log),
        other => other,
    }
}

/// A plain term (`phrase`: a quoted one) and its alternatives.
fn fold_term(text: String, phrase: bool, langs: &Languages, log: &mut Vec<Folded>) -> Node {
    let lex = lexicon::lexicon();
    if let Some(found) = lex.lookup(&text) {
        let forms = lex.forms(found.concept, langs.list());
        log.push(Folded {
            term: text.clone(),
            concept: Some(found.concept.id.clone()),
            finds: by_language(&forms),
            why: "a concept: its forms in every language, from src/lexicon/concepts.tsv",
        });
        // The word as written, unless a form already finds it.
        let written = Form::new("all", lexicon::split(&text), false);
        let mut all = vec![&written];
        all.extend(forms);
        return Node::Or(lexicon::distinct(all).into_iter().map(node_of).collect());
    }
    if phrase {
        return Node::Phrase { text };
    }
    if let Some(forms) = cyrillic_forms(&text) {
        note(log, &text, forms.shown(), CYRILLIC);
        let mut alternatives = forms.nodes();
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

/// `NEAR(a b, n)` with each word's forms: one NEAR per combination, or,
/// when the combinations would be too many, the group with each word as
/// folding found it before concepts (a Cyrillic word its stem).
fn fold_near(terms: Vec<Node>, distance: u32, langs: &Languages, log: &mut Vec<Folded>) -> Node {
    let lex = lexicon::lexicon();
    // Per word: its choices, and what it is when there are too many.
    let mut choices: Vec<Vec<Node>> = Vec::new();
    let mut plain: Vec<Node> = Vec::new();
    let mut notes = Vec::new();
    for t in terms {
        let (text, phrase) = match &t {
            Node::Term {
                text,
                prefix: false,
            } => (text.clone(), false),
            Node::Phrase { text } => (text.clone(), true),
            Node::Exact(inner) => {
                choices.push(vec![inner.as_ref().clone()]);
                plain.push(inner.as_ref().clone());
                continue;
            }
            other => {
                choices.push(vec![other.clone()]);
                plain.push(t);
                continue;
            }
        };
        let stem = match cyrillic_forms(&text) {
            Some(Forms::Prefixes(stems)) if !phrase && stems.len() == 1 => {
                let shown = Forms::Prefixes(stems.clone()).shown();
                Some((
                    stems
                        .into_iter()
                        .map(|text| Node::Term { text, prefix: true })
                        .collect::<Vec<_>>(),
                    shown,
                ))
            }
            _ => None,
        };
        plain.push(
            stem.as_ref()
                .map_or_else(|| t.clone(), |(n, _)| n[0].clone()),
        );
        if let Some(found) = lex.lookup(&text) {
            // Its own language's forms: NEAR is about wording, and every
            // language's would multiply the groups.
            let own: Vec<&Form> = found
                .concept
                .forms
                .iter()
                .filter(|f| found.langs.contains(&f.lang))
                .filter(|f| {
                    f.lang == "all" || langs.list().is_none_or(|w| w.iter().any(|l| l == f.lang))
                })
                .collect();
            let forms = lexicon::distinct(own);
            if !forms.is_empty() {
                notes.push(Folded {
                    term: text,
                    concept: Some(found.concept.id.clone()),
                    finds: by_language(&forms),
                    why: "a concept in NEAR: its forms in the word's own language",
                });
                choices.push(forms.into_iter().map(node_of).collect());
                continue;
            }
        }
        match stem {
            Some((nodes, shown)) => {
                notes.push(Folded {
                    term: text,
                    concept: None,
                    finds: vec![(String::new(), shown)],
                    why: CYRILLIC,
                });
                choices.push(nodes);
            }
            None => choices.push(vec![t]),
        }
    }
    let combinations = choices
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.len().max(1)))
        .unwrap_or(usize::MAX);
    if combinations > NEAR_COMBINATIONS {
        log.push(Folded {
            term: format!(
                "NEAR({})",
                plain
                    .iter()
                    .map(|t| super::show(t, false))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            concept: None,
            finds: Vec::new(),
            why: "its words' forms make too many NEAR groups: each word as written (a Cyrillic word its stem)",
        });
        return Node::Near {
            terms: plain,
            distance,
        };
    }
    log.extend(notes);
    let mut groups: Vec<Vec<Node>> = vec![Vec::new()];
    for choice in choices {
        groups = groups
            .into_iter()
            .flat_map(|g| {
                choice.iter().map(move |c| {
                    let mut g = g.clone();
                    g.push(c.clone());
                    g
                })
            })
            .collect();
    }
    let mut nears: Vec<Node> = groups
        .into_iter()
        .map(|terms| Node::Near { terms, distance })
        .collect();
    if nears.len() == 1 {
        nears.remove(0)
    } else {
        Node::Or(nears)
    }
}

/// A lexicon form as a rule term: a word, a prefix, or a phrase (its last
/// word a prefix, as FTS5 allows).
fn node_of(form: &Form) -> Node {
    Node::Term {
        text: form.words.join(" "),
        prefix: form.prefix,
    }
}

/// Forms grouped by their language, in the lexicon's language order.
fn by_language(forms: &[&Form]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for lang in ["all"].into_iter().chain(lexicon::LANGUAGES) {
        let shown: Vec<String> = forms
            .iter()
            .filter(|f| f.lang == lang)
            .map(|f| f.shown())
            .collect();
        if !shown.is_empty() {
            out.push((lang.to_string(), shown));
        }
    }
    out
}

const CYRILLIC: &str = "a Cyrillic word: its inflected forms, by its stem";

fn note(log: &mut Vec<Folded>, term: &str, finds: Vec<String>, why: &'static str) {
    log.push(Folded {
        term: term.to_string(),
        concept: None,
        finds: vec![(String::new(), finds)],
        why,
    });
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
    /// As rule terms.
    fn nodes(self) -> Vec<Node> {
        match self {
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
        }
    }

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
/// finds Ирак and Ирина; docs/concepts.md). Not -ов/-ев: a word a rule names so is a nominative (Лавров,
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

    fn term(text: &str) -> Node {
        Node::Term {
            text: text.into(),
            prefix: false,
        }
    }

    /// Every form a term finds, in every language.
    fn finds(text: &str) -> Vec<String> {
        finds_in(text, &Languages::default())
    }

    fn finds_in(text: &str, langs: &Languages) -> Vec<String> {
        let (_, log) = fold(term(text), langs);
        log.into_iter()
            .flat_map(|f| f.finds)
            .flat_map(|(_, forms)| forms)
            .collect()
    }

    fn has(list: &[String], form: &str) -> bool {
        list.iter().any(|f| f == form)
    }

    #[test]
    fn a_concept_word_finds_every_language_and_wording() {
        let drone = finds("drone");
        for form in [
            "uav",
            "безпілотн*",
            "беспилотн*",
            "бпла",
            "drohne*",
            "шахед*",
        ] {
            assert!(has(&drone, form), "{form} in {drone:?}");
        }
        let kyiv = finds("Київ");
        for form in ["kiev", "kiew", "kijów", "києві", "киеве"] {
            assert!(has(&kyiv, form), "{form} in {kyiv:?}");
        }
        assert!(!has(&kyiv, "київ*"), "Київ* would find Київстар");
        assert!(has(&finds("iran"), "iranian*"), "adjectives stay");
        assert!(has(&finds("Türkiye"), "туреччин*"), "CLDR names");
        assert_eq!(finds("Turkiye"), finds("Türkiye"), "accents folded");
    }

    #[test]
    fn languages_limit_the_forms() {
        let uk_en = Languages(Some(vec!["uk".into(), "en".into()]));
        let drone = finds_in("drone", &uk_en);
        assert!(has(&drone, "безпілотн*") && has(&drone, "uav"));
        assert!(!has(&drone, "беспилотн*") && !has(&drone, "drohne*"));
    }

    #[test]
    fn other_cyrillic_words_find_their_forms() {
        assert_eq!(finds("перемовини"), ["перемовин*"]);
        assert_eq!(finds("Лавров"), ["лавров*"]);
        assert_eq!(finds("Харьков")[..], finds("Харків")[..], "one concept");
        // Too short to fold, or an acronym: exact.
        assert!(finds("ЄС").is_empty());
        assert!(finds("ЗСУ").is_empty());
        // A short stem is spelled out, never a prefix.
        let rak = finds("рак");
        assert!(has(&rak, "рака") && rak.iter().all(|f| !f.ends_with('*')));
    }

    #[test]
    fn exact_and_prefixed_terms_stay_as_written() {
        let exact = Node::Exact(Box::new(term("drone")));
        assert_eq!(fold(exact, &Languages::default()).0, term("drone"));
        let prefix = Node::Term {
            text: "iran".into(),
            prefix: true,
        };
        assert_eq!(fold(prefix.clone(), &Languages::default()).0, prefix);
    }

    #[test]
    fn near_finds_each_words_forms_in_its_own_language() {
        let near = Node::Near {
            terms: vec![term("дрон"), term("Київ")],
            distance: 12,
        };
        let Node::Or(groups) = fold(near, &Languages::default()).0 else {
            panic!("one NEAR per combination")
        };
        let shown: Vec<String> = groups.iter().map(|g| crate::rules::show(g, true)).collect();
        assert!(
            shown.iter().any(|g| g == "NEAR(дрон* києві, 12)"),
            "У Києві уламки дрона: {shown:?}"
        );
        assert!(
            shown.iter().all(|g| !g.contains("kiew")),
            "its own language only"
        );
        // Too many combinations: one NEAR, each word as written (a Cyrillic
        // word by its stem).
        let wide = Node::Near {
            terms: vec![term("drone"), term("Kyiv"), term("Iran")],
            distance: 5,
        };
        let (node, log) = fold(wide, &Languages::default());
        assert!(matches!(node, Node::Near { .. }), "{node:?}");
        assert!(
            log.iter().any(|f| f.why.contains("too many NEAR groups")),
            "said: {log:?}"
        );
    }
}
