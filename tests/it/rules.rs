//! The rule language against SQLite itself: a property test (seeded, so
//! reproducible) that no input makes the parser panic and that whatever it
//! accepts compiles to a query FTS5 accepts; and backtesting — `search`
//! returns exactly what live matching matched.

use feedwatch::rules::{self, TermSets};
use feedwatch::store::Store;

/// Pieces that exercise every branch of the grammar, and some that are not
/// in it at all.
const PIECES: &[&str] = &[
    "iran",
    "drone*",
    "\"iranian drones\"",
    "AND",
    "OR",
    "NOT",
    "-",
    "(",
    ")",
    "NEAR(",
    ",",
    "5",
    "x9",
    "title:",
    "summary:",
    "feed:",
    "author:",
    "category:",
    "bogus:",
    "@drones",
    "@nope",
    "\"",
    "*",
    ":",
    "україн*",
    "Kyïv",
    "{",
    "}",
    "^",
    "+",
    "'",
    "NEAR",
    "a",
    "\u{0}",
    "ß",
    "\u{2}",
    "\\",
    "AND)",
    "((",
    "-(",
    "\"\"",
    "@",
];

fn sets() -> TermSets {
    let mut sets = TermSets::new();
    sets.insert(
        "drones".into(),
        rules::parse("drone* OR UAV* OR \"unmanned aerial\"", &TermSets::new()).unwrap(),
    );
    sets
}

fn check(q: &str, sets: &TermSets, scratch: &mut Store, accepted: &mut usize) {
    match rules::compile_query(q, sets) {
        Ok(fts) => {
            *accepted += 1;
            if let Err(e) = scratch.check_query("fuzz", &fts) {
                panic!("query {q:?} compiled to {fts:?}, which FTS5 rejects: {e}");
            }
        }
        Err(e) => {
            assert!(
                e.pos >= 1 && e.pos <= q.chars().count() + 1,
                "{q:?}: position {} out of range",
                e.pos
            );
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn no_query_panics_the_parser_and_every_accepted_one_is_valid_fts5() {
    let mut scratch = Store::open_in_memory().unwrap();
    let sets = sets();
    let mut rng = fastrand::Rng::with_seed(0x5eed_f33d);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let n = rng.usize(0..12);
        let q: String = (0..n)
            .map(|_| {
                let sep = if rng.bool() { " " } else { "" };
                format!("{}{sep}", PIECES[rng.usize(..PIECES.len())])
            })
            .collect();
        check(&q, &sets, &mut scratch, &mut accepted);
    }
    for _ in 0..5_000 {
        let q: String = (0..rng.usize(0..20)).map(|_| rng.char(..)).collect();
        check(&q, &sets, &mut scratch, &mut accepted);
    }
    // The generator must reach the accepting paths, or the test proves little.
    assert!(
        accepted > 2_000,
        "only {accepted} generated queries were accepted"
    );
}

/// A feed of generated items over a small news vocabulary, in several
/// scripts, so that rules match some items and not others.
fn generated_feed(seed: u64, n: usize) -> String {
    const WORDS: &[&str] = &[
        "Iran",
        "Iranian",
        "drone",
        "drones",
        "Shahed",
        "Ukraine",
        "Ukrainian",
        "Kyiv",
        "Kyïv",
        "Tehran",
        "sanctions",
        "Russia",
        "talks",
        "Tirana",
        "україна",
        "України",
        "дрони",
        "UAV",
        "unmanned",
        "aerial",
        "ministry",
        "said",
        "press",
        "release",
        "the",
        "of",
        "on",
        "and",
    ];
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut words = |k: usize| {
        (0..k)
            .map(|_| WORDS[rng.usize(..WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut rss = String::from("<rss version=\"2.0\"><channel><title>generated</title>");
    for i in 0..n {
        rss.push_str(&format!(
            "<item><guid>g{seed}-{i}</guid><title>{}</title><description>{}</description>\
             <pubDate>Mon, 24 Jun 2024 {:02}:00:00 GMT</pubDate></item>",
            words(6),
            words(30),
            i % 24
        ));
    }
    rss.push_str("</channel></rss>");
    rss
}

#[tokio::test]
async fn search_returns_exactly_what_live_matching_matched() {
    use feedwatch::pipeline;
    use std::collections::{BTreeMap, BTreeSet};

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.xml"), generated_feed(1, 150)).unwrap();
    std::fs::write(dir.path().join("b.xml"), generated_feed(2, 150)).unwrap();
    std::fs::copy(
        crate::support::sample_feed_path(),
        dir.path().join("sample.xml"),
    )
    .unwrap();
    let rules = [
        ("seed", "iran* AND drone* AND ukrain*", Some("tag:ua")),
        ("titles", "title:(iran OR tehran)", None),
        ("phrase", "\"iranian drones\"", None),
        ("near", "NEAR(drones ukrain*, 5)", None),
        ("negation", "kyiv -sanctions", Some("a")),
        ("sets", "@ukraine @drones", None),
        ("folding", "kyiv україн*", None),
        ("lists", "", None),
    ];
    let mut config = String::from(
        "state_dir = \"state\"\n[poll]\nbackfill = \"all\"\n[email]\nfrom = \"f@example.org\"\nto = [\"t@example.org\"]\n\
         transport = \"stdout\"\n[terms]\nukraine = [\"ukrain*\", \"україн*\", \"kyiv\"]\ndrones = [\"drone*\", \"UAV\", \"Shahed\"]\n\
         [[feeds]]\nname = \"a\"\nurl = \"file://a.xml\"\ntags = [\"ua\"]\n[[feeds]]\nname = \"b\"\nurl = \"file://b.xml\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample.xml\"\ntags = [\"ua\"]\n",
    );
    for (name, query, feeds) in rules {
        config.push_str(&format!("[[rules]]\nname = \"{name}\"\n"));
        if query.is_empty() {
            config.push_str("all = [\"@drones\"]\nany = [\"iran*\", \"tehran\"]\nnone = ['\"press release\"']\n");
        } else {
            config.push_str(&format!("query = '{query}'\n"));
        }
        if let Some(f) = feeds {
            config.push_str(&format!("feeds = [\"{f}\"]\n"));
        }
    }
    let path = dir.path().join("feedwatch.toml");
    std::fs::write(&path, config).unwrap();
    let config = feedwatch::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let ctx = pipeline::Context::open(
        config,
        Default::default(),
        &mut feedwatch::store::log_progress,
    )
    .unwrap();
    pipeline::poll_all(&ctx).await;

    let store = feedwatch::store::Store::open_dir(&dir.path().join("state")).unwrap();
    let mut live: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for m in store.pending("default").unwrap() {
        for r in &m.rules {
            live.entry(r.clone()).or_default().insert(m.item_id);
        }
    }
    for rule in &ctx.config.rules {
        let found: BTreeSet<i64> = store
            .search(&rule.fts_query, rule.feeds.as_deref(), None, 100_000)
            .unwrap()
            .into_iter()
            .map(|h| h.item_id)
            .collect();
        let matched = live.get(&rule.name).cloned().unwrap_or_default();
        assert!(
            !matched.is_empty(),
            "rule {} matched nothing: the test proves little",
            rule.name
        );
        assert_eq!(
            found, matched,
            "rule {}: search and live matching disagree",
            rule.name
        );
    }
}

#[tokio::test]
async fn a_rule_added_later_does_not_alert_on_items_already_stored() {
    use feedwatch::pipeline::{self, FeedOutcome};

    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.xml");
    std::fs::copy(crate::support::sample_feed_path(), &feed).unwrap();
    let path = dir.path().join("feedwatch.toml");
    let base = "state_dir = \"state\"\n[poll]\nbackfill = \"all\"\n[email]\nfrom = \"f@example.org\"\n\
                to = [\"t@example.org\"]\ntransport = \"stdout\"\n[[feeds]]\nname = \"f\"\nurl = \"file://feed.xml\"\n";
    std::fs::write(
        &path,
        format!("{base}[[rules]]\nname = \"eu\"\nquery = 'sanctions'\n"),
    )
    .unwrap();
    let ctx = pipeline::Context::open(
        feedwatch::config::load(&path).unwrap(),
        Default::default(),
        &mut feedwatch::store::log_progress,
    )
    .unwrap();
    pipeline::poll_all(&ctx).await;

    // The user adds a rule (as on reload) that matches stored items.
    std::fs::write(
        &path,
        format!("{base}[[rules]]\nname = \"eu\"\nquery = 'sanctions'\n[[rules]]\nname = \"iran\"\nquery = 'iran*'\n"),
    )
    .unwrap();
    let ctx = ctx
        .with_config(feedwatch::config::load(&path).unwrap())
        .unwrap();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 0 && r.matched_items == 0),
        "{reports:?}"
    );

    // A new item does alert under the new rule.
    let text = std::fs::read_to_string(&feed).unwrap().replace(
        "<item>",
        "<item><title>Iran unveils new drone</title><guid>new-1</guid></item><item>",
    );
    std::fs::write(&feed, text).unwrap();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 1 && r.matched_items == 1),
        "{reports:?}"
    );
    let store = feedwatch::store::Store::open_dir(&dir.path().join("state")).unwrap();
    let pending = store.pending("default").unwrap();
    let iran: Vec<_> = pending
        .iter()
        .filter(|m| m.rules.contains(&"iran".to_string()))
        .collect();
    assert_eq!(iran.len(), 1);
    assert_eq!(iran[0].title, "Iran unveils new drone");
}
