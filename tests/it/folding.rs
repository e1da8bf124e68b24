//! Concepts, measured (docs/reference.md, "Concepts"): the labelled set in
//! `tests/fixtures/multilingual/` — 457 news items in eight languages,
//! written by hand and labelled before any rule ran — gives the precision
//! and recall of eight rules written the plain way (`iran AND drone AND
//! ukraine`, `Київ AND ППО`, `Sanktionen AND Russland`), per language, with
//! concepts and without them (every word kept exact). The targets are
//! asserted; docs/concepts.md reports the figures.

use std::collections::{BTreeMap, HashSet};

use feedwatch::model::Item;
use feedwatch::rules::{self, Languages, Node, TermSets};
use feedwatch::store::Store;

pub struct Labelled {
    pub rules: Vec<(String, String)>,
    pub items: Vec<Labelled1>,
}

pub struct Labelled1 {
    pub lang: String,
    pub event: String,
    pub title: String,
    pub summary: String,
    pub wants: Vec<String>,
}

const LANGS: [&str; 8] = ["en", "uk", "ru", "de", "fr", "es", "pl", "fa"];

pub fn labelled() -> Labelled {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/multilingual");
    let read = |name: &str| -> toml::Table {
        std::fs::read_to_string(format!("{dir}/{name}.toml"))
            .unwrap()
            .parse()
            .unwrap()
    };
    let s = |v: &toml::Value, k: &str| v[k].as_str().unwrap().to_string();
    let rules = read("rules")["rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(r, "name"), s(r, "query")))
        .collect();
    let mut items = Vec::new();
    for lang in LANGS {
        for i in read(lang)["item"].as_array().unwrap() {
            assert_eq!(s(i, "lang"), lang);
            items.push(Labelled1 {
                lang: s(i, "lang"),
                event: s(i, "event"),
                title: s(i, "title"),
                summary: s(i, "summary"),
                wants: i["wants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_str().unwrap().to_string())
                    .collect(),
            });
        }
    }
    Labelled { rules, items }
}

/// Item `n`, linking to `…/n` (how `found` finds it again).
pub fn news_item(n: usize, title: &str, summary: &str) -> Item {
    Item {
        key: format!("id:{n}"),
        link: Some(format!("https://news.example/{n}")),
        title: title.to_string(),
        summary: summary.to_string(),
        author: String::new(),
        category: String::new(),
        published: None,
        article: None,
    }
}

/// The set stored as one feed's items; item `n` has the link `…/n`.
fn archive(set: &Labelled) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_dir(dir.path()).unwrap();
    let items: Vec<Item> = set
        .items
        .iter()
        .enumerate()
        .map(|(n, i)| news_item(n, &i.title, &i.summary))
        .collect();
    crate::support::store_fetch(&mut store, "f", &items, &[]);
    (dir, store)
}

/// The items `fts` finds.
fn found(store: &Store, fts: &str) -> HashSet<usize> {
    store
        .search(fts, None, None, 10_000)
        .unwrap()
        .iter()
        .filter_map(|h| h.link.as_deref()?.rsplit('/').next()?.parse().ok())
        .collect()
}

/// Every plain word of a rule kept exact: the rule without concepts.
fn exact(node: Node) -> Node {
    match node {
        Node::Term {
            text,
            prefix: false,
        } => Node::Exact(Box::new(Node::Term {
            text,
            prefix: false,
        })),
        Node::Phrase { text } => Node::Exact(Box::new(Node::Phrase { text })),
        Node::And(p) => Node::And(p.into_iter().map(exact).collect()),
        Node::Or(p) => Node::Or(p.into_iter().map(exact).collect()),
        Node::Not { inner, at } => Node::Not {
            inner: Box::new(exact(*inner)),
            at,
        },
        other => other,
    }
}

/// (true positives, found, wanted) per language, over every rule.
type Counts = BTreeMap<String, (usize, usize, usize)>;

fn tally(set: &Labelled, store: &Store, concepts: bool, per_rule: &mut String) -> Counts {
    let mut counts: Counts = LANGS.iter().map(|l| (l.to_string(), (0, 0, 0))).collect();
    for (name, query) in &set.rules {
        let node = rules::parse(query, &TermSets::new()).unwrap();
        let node = if concepts { node } else { exact(node) };
        let fts = rules::compile_rule(node, query, &Languages::default())
            .unwrap()
            .fts_query;
        let hits = found(store, &fts);
        let (mut tp, mut fp, mut fneg) = (0, Vec::new(), Vec::new());
        for (n, item) in set.items.iter().enumerate() {
            let wanted = item.wants.contains(name);
            let hit = hits.contains(&n);
            let c = counts.get_mut(&item.lang).unwrap();
            c.0 += usize::from(wanted && hit);
            c.1 += usize::from(hit);
            c.2 += usize::from(wanted);
            tp += usize::from(wanted && hit);
            if hit && !wanted {
                fp.push(format!("{}:{}", item.lang, item.title));
            }
            if wanted && !hit {
                fneg.push(format!("{}:{}", item.lang, item.title));
            }
        }
        if concepts {
            per_rule.push_str(&format!(
                "{name} `{query}`: {tp} found right, missed {:?}, wrongly found {:?}\n",
                fneg, fp
            ));
        }
    }
    counts
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[test]
fn plain_rules_find_the_story_in_every_language() {
    let set = labelled();
    assert!(set.items.len() >= 400, "{} items", set.items.len());
    let (_dir, store) = archive(&set);
    let mut per_rule = String::new();
    let before = tally(&set, &store, false, &mut per_rule);
    let after = tally(&set, &store, true, &mut per_rule);
    let mut table = String::from(
        "| language | items | wanted | without concepts P / R | with concepts P / R |\n|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for lang in LANGS {
        let (tp0, f0, w0) = before[lang];
        let (tp1, f1, w1) = after[lang];
        let items = set.items.iter().filter(|i| i.lang == lang).count();
        let (p, r) = (ratio(tp1, f1), ratio(tp1, w1));
        table.push_str(&format!(
            "| {lang} | {items} | {w1} | {:.2} / {:.2} | {p:.2} / {r:.2} |\n",
            ratio(tp0, f0),
            ratio(tp0, w0)
        ));
        // Persian misses one of its 18 on purpose: an item that writes
        // Kyiv کیف, which is also a bag and a wallet, kept out of the
        // lexicon as a false friend (Persian outlets mostly write کی‌یف).
        let least_recall = if lang == "fa" { 0.90 } else { 0.95 };
        if p < 0.90 || r < least_recall {
            failures.push(format!("{lang}: precision {p:.2}, recall {r:.2}"));
        }
    }
    eprintln!("{table}\n{per_rule}");
    assert!(failures.is_empty(), "{failures:?}\n{table}\n{per_rule}");
}

/// The issue's example: the rule a new user writes from the example
/// sentence finds it in three languages, through live matching.
#[test]
fn the_example_sentence_in_three_languages_is_found_live() {
    let texts = [
        "Kyiv says Iranian-made Shaheds hit Odesa — Ukrainian air defence downed most of the Iranian drones.",
        "Іранські «шахеди» атакували Одесу: українська ППО збила більшість безпілотників.",
        "Иранские беспилотники атаковали Одессу — украинская ПВО сбила большинство БПЛА.",
    ];
    for (n, text) in texts.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_dir(dir.path()).unwrap();
        let rule =
            rules::rule_from_query("r", "iran AND drone AND ukraine", &TermSets::new()).unwrap();
        let item = news_item(n, text, "");
        let report =
            crate::support::store_fetch(&mut store, "f", std::slice::from_ref(&item), &[rule]);
        assert_eq!(report.matched_items, 1, "finds: {text}");
    }
}

#[test]
fn false_friends_stay_out_and_exact_words_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_dir(dir.path()).unwrap();
    let texts = [
        "Iraqi officials met in Baghdad",
        "Lesya Ukrainka's poems in a new edition",
        "Ірак і Туреччина підписали угоду",
        "Київстар відновив зв'язок після збою",
        "Ціни на газ у Європі зросли",
        "Поставки газа в Европу сократились",
        "Gazeta Wyborcza pisze o cenach gazu",
        "Юна тенісистка отримала нову ракетку",
        "UAV makers meet in Paris",
    ];
    let items: Vec<Item> = texts
        .iter()
        .enumerate()
        .map(|(n, t)| news_item(n, t, ""))
        .collect();
    crate::support::store_fetch(&mut store, "f", &items, &[]);
    let titles = |q: &str| -> Vec<String> {
        let fts = rules::compile_query(q, &TermSets::new()).unwrap();
        store
            .search(&fts, None, None, 100)
            .unwrap()
            .into_iter()
            .map(|h| h.title)
            .collect()
    };
    assert!(titles("iran").is_empty(), "not Iraq, not Ірак");
    assert!(titles("ukraine").is_empty(), "not Ukrainka");
    assert!(titles("Kyiv").is_empty(), "not Київстар");
    assert!(titles("gaza").is_empty(), "not gas, not Gazeta");
    assert!(titles("missile").is_empty(), "not a tennis racket");
    assert_eq!(titles("drone"), ["UAV makers meet in Paris"]);
    assert!(titles("=drone").is_empty(), "=drone is the word drone only");
}

/// The index stems every word with porter, and FTS5 stems a prefix query
/// too: a prefix porter shortens (`ukrainer*` → `ukrain*`) would find
/// more than the lexicon says (Lesya Ukrainka). A prefix form of one word
/// loses at most its last letter to porter (drohne* → drohn*), and keeps
/// five letters at least (indie* → indi* would find "indirect").
#[test]
fn prefix_forms_survive_the_index_stemmer() {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2');
         CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row');",
    )
    .unwrap();
    let mut shortened = Vec::new();
    for concept in feedwatch::lexicon::lexicon().concepts() {
        for form in concept
            .forms
            .iter()
            .filter(|f| f.prefix && f.words.len() == 1)
        {
            let last = form.words.last().unwrap();
            db.execute("DELETE FROM t", []).unwrap();
            db.execute("INSERT INTO t (x) VALUES (?1)", [last]).unwrap();
            let term: String = db
                .query_row("SELECT term FROM v", [], |r| r.get(0))
                .unwrap();
            let folded: String = db
                .query_row(
                    "SELECT group_concat(term, '') FROM (SELECT term FROM v)",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            let (stem, written) = (
                term.chars().count(),
                feedwatch::lexicon::fold(last).chars().count(),
            );
            let latin = last
                .chars()
                .all(|c| c.is_ascii_alphabetic() || !c.is_alphabetic() || (c as u32) < 0x250);
            if latin && (stem + 1 < written || stem < 5) {
                shortened.push(format!("{}: {}* → {folded}*", concept.id, last));
            }
        }
    }
    assert!(shortened.is_empty(), "{shortened:#?}");
}

/// One event told in several languages is one digest entry: the grouping
/// (`digest::same_event`), measured on the set's on-topic items, whose
/// events include different events on one topic on one day (two strikes
/// on Kharkiv, two Shahed attacks in one night), over pairs of items.
#[test]
fn one_event_in_several_languages_is_grouped() {
    let set = labelled();
    let on_topic: Vec<&Labelled1> = set.items.iter().filter(|i| !i.wants.is_empty()).collect();
    let texts: Vec<(&str, &str)> = on_topic
        .iter()
        .map(|i| (i.title.as_str(), i.summary.as_str()))
        .collect();
    let truth: Vec<&str> = on_topic.iter().map(|i| i.event.as_str()).collect();
    let (p, r) = grouping(&texts, &truth);
    if std::env::var_os("GROUPING_DEBUG").is_some() {
        use feedwatch::digest::same_event;
        let roots = same_event::join(&(0..texts.len()).collect::<Vec<_>>(), |i| {
            same_event::event(texts[i].0, texts[i].1)
        });
        for a in 0..texts.len() {
            for b in a + 1..texts.len() {
                let (g, s) = (roots[a] == roots[b], truth[a] == truth[b]);
                if g != s {
                    eprintln!(
                        "{} {} | {} | {}\n   {:?}\n   {:?}",
                        if g { "WRONG" } else { "MISSED" },
                        truth[a],
                        texts[a].0,
                        texts[b].0,
                        same_event::event(texts[a].0, texts[a].1),
                        same_event::event(texts[b].0, texts[b].1)
                    );
                }
            }
        }
    }
    eprintln!(
        "same event, {} on-topic items: precision {p:.2}, recall {r:.2}",
        texts.len()
    );
    // Measured: precision 0.90, recall 0.66 (docs/concepts.md; Persian has
    // no capitals to tell its names by); this keeps it from getting worse.
    assert!(p >= 0.87 && r >= 0.63, "precision {p:.2}, recall {r:.2}");
}

/// Pairs of items the digest's grouping (`same_event::join` over items
/// that are each their own story) puts together, against the pairs that
/// are one event (`truth`: each item's event): (precision, recall).
fn grouping(texts: &[(&str, &str)], truth: &[&str]) -> (f64, f64) {
    use feedwatch::digest::same_event;
    let roots = same_event::join(&(0..texts.len()).collect::<Vec<_>>(), |i| {
        same_event::event(texts[i].0, texts[i].1)
    });
    let (mut both, mut grouped, mut same) = (0, 0, 0);
    for a in 0..texts.len() {
        for b in a + 1..texts.len() {
            let g = roots[a] == roots[b];
            let s = truth[a] == truth[b];
            both += usize::from(g && s);
            grouped += usize::from(g);
            same += usize::from(s);
        }
    }
    (ratio(both, grouped), ratio(both, same))
}
