//! Faults inside the store that must cost only what they touch, driven
//! through the binary as an operator meets them: FTS5 unable to mark a
//! match (a valid rule whose marks FTS5 reports as damage), and a stored
//! text that cannot be read.

use std::path::Path;

use crate::support::*;

/// A feed file of `items` (title, summary), each published now.
fn write_feed(path: &Path, items: &[(&str, &str)]) {
    let now = chrono::Utc::now().to_rfc2822();
    let entries: String = items
        .iter()
        .enumerate()
        .map(|(n, (title, summary))| {
            format!(
                "<item><title>{title}</title><link>https://news.example/{n}</link>\
                 <guid>item-{n}</guid><pubDate>{now}</pubDate><description>{summary}</description></item>"
            )
        })
        .collect();
    std::fs::write(
        path,
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wire</title>\
             <link>https://news.example/</link><description>news</description>{entries}</channel></rss>"
        ),
    )
    .unwrap();
}

/// The rule the attacker found, and two ordinary items it matches: the
/// second has every word of the NEAR but not the phrase, which left FTS5's
/// marks reading the first item's positions.
const NEAR_RULE: &str = "[[rules]]\nname = \"near\"\nquery = 'NEAR(\"iran drone\" kyiv) OR iran'\n";
const NEAR_ITEMS: [(&str, &str); 2] = [
    (
        "Drone strikes",
        "Overnight, an Iran drone struck a power plant near Kyiv, officials said on Monday; \
         more drones were seen over the city later.",
    ),
    ("Iran says Kyiv talks", "Iran's envoy spoke of a drone."),
];

#[test]
fn a_near_phrase_rule_ored_with_a_term_stores_delivers_and_searches() {
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!("[[feeds]]\nname = \"wire\"\nurl = \"file://wire.xml\"\n{NEAR_RULE}"),
    );
    write_feed(&setup.dir.path().join("wire.xml"), &NEAR_ITEMS);
    let out = feedwatch_with(&setup.path, &["poll"], &[]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert_eq!(said.trim(), "wire: 2 new items, 2 matched");
    assert!(
        !text(&out.stderr).contains("damaged"),
        "not called damage: {}",
        text(&out.stderr)
    );

    let out = feedwatch_with(&setup.path, &["digest"], &[]);
    let message = decode_quoted_printable(&text(&out.stdout));
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (title, _) in NEAR_ITEMS {
        assert!(message.contains(title), "{title} in:\n{message}");
    }
    assert!(
        message.contains("envoy spoke of a drone"),
        "the second item has its snippet:\n{message}"
    );

    for args in [
        &["search", "--rule", "near"][..],
        &["search", "NEAR(\"iran drone\" kyiv) OR iran"],
    ] {
        let out = feedwatch_with(&setup.path, args, &[]);
        let found = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        for (title, _) in NEAR_ITEMS {
            assert!(found.contains(title), "{args:?}: {title} in:\n{found}");
        }
        assert!(found.contains("*Iran's* envoy"), "marked: {found}");
    }
}

/// Four items a rule on "iran" matches, each text long enough to be stored
/// packed (a zstd frame).
fn packed_items() -> Vec<(String, String)> {
    (1..=4)
        .map(|n| {
            (
                format!("Iran story {n}"),
                format!(
                    "Story {n}: {}",
                    "Iran said its drones were not sold to Russia, officials said. ".repeat(4)
                ),
            )
        })
        .collect()
}

/// Overwrites the stored text of the item titled `title` with bytes that
/// begin as a zstd frame and are not one, as a bad disk or a bad copy
/// would leave it; the rest of the database stays as it was.
fn damage_text(setup: &Setup, title: &str) {
    use rusqlite::functions::FunctionFlags;
    let conn = rusqlite::Connection::open(setup.dir.path().join("state/feedwatch.db")).unwrap();
    // `items.summary` calls it: the statement needs it to prepare.
    conn.create_scalar_function(
        "unpack_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |_| Ok(None::<String>),
    )
    .unwrap();
    let changed = conn
        .execute(
            "UPDATE items SET packed = x'28b52ffd0058deadbeefdeadbeefdeadbeef' \
             WHERE title = ?1 AND typeof(packed) = 'blob'",
            [title],
        )
        .unwrap();
    assert_eq!(changed, 1, "{title} is stored packed");
}

/// A state with the four items stored and matched, and the text of the
/// second damaged.
fn damaged_archive(feeds_and_rules: &str) -> Setup {
    let setup = Setup::new("transport = \"stdout\"", feeds_and_rules);
    let items = packed_items();
    let items: Vec<(&str, &str)> = items
        .iter()
        .map(|(t, s)| (t.as_str(), s.as_str()))
        .collect();
    write_feed(&setup.dir.path().join("wire.xml"), &items);
    let out = feedwatch_with(&setup.path, &["poll"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    damage_text(&setup, "Iran story 2");
    setup
}

const WIRE: &str = "[[feeds]]\nname = \"wire\"\nurl = \"file://wire.xml\"\n";

#[test]
fn a_damaged_text_costs_its_row_only_and_is_reported_with_the_way_back() {
    let setup = damaged_archive(&format!(
        "{WIRE}[[rules]]\nname = \"iran\"\nquery = 'iran'\n"
    ));

    // Search finds every item; the damaged one by its title and link.
    let out = feedwatch_with(&setup.path, &["search", "iran"], &[]);
    let (found, said) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    for n in 1..=4 {
        assert!(found.contains(&format!("Iran story {n}")), "{found}");
    }
    assert!(
        found.contains("*Iran* story 1") || found.contains("*Iran* said"),
        "{found}"
    );
    assert!(
        found.contains("https://news.example/1\n    (its text cannot be read"),
        "{found}"
    );
    assert!(said.contains("restore the last backup"), "{said}");
    assert!(
        !said.contains("cannot mark"),
        "a damaged text is no fault of the marks: {said}"
    );

    // The digest carries every match, the damaged one by its title and
    // link, and exits 1 with the way back.
    let out = feedwatch_with(&setup.path, &["digest"], &[]);
    let (message, said) = (
        decode_quoted_printable(&text(&out.stdout)),
        text(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
    for n in 1..=4 {
        assert!(message.contains(&format!("Iran story {n}")), "{message}");
    }
    assert!(message.contains("https://news.example/1"), "{message}");
    assert!(
        said.contains("the text of 1 stored item cannot be read")
            && said.contains("restore the last backup"),
        "{said}"
    );

    // Nothing stays pending; status names the row and the way back.
    let out = feedwatch_with(&setup.path, &["status"], &[]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("default") && l.contains(" 0 ")),
        "{shown}"
    );
    let line = shown
        .lines()
        .find(|l| l.contains("UNREADABLE TEXT"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("restore the last backup"), "{line}");
    assert!(shown.contains("item 2 (found "), "{shown}");
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch_with(&setup.path, &["status", "--json"], &[]).stdout)
            .unwrap();
    assert_eq!(json["database"]["unreadable_items"], 1, "{json}");
    assert_eq!(json["database"]["unreadable"][0]["item"], 2, "{json}");
}

#[test]
fn run_once_checks_the_whole_database_daily_and_finds_a_text_nobody_read() {
    // The damaged item matches no rule: no delivery meets it.
    let setup = damaged_archive(&format!(
        "{WIRE}[[rules]]\nname = \"story-one\"\nquery = '\"story 1\"'\n"
    ));
    let out = feedwatch_with(&setup.path, &["run", "--once"], &[]);
    let (message, said) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        message.contains("Iran story 1"),
        "delivered all the same: {message}"
    );
    assert!(
        said.contains("the text of 1 stored item cannot be read")
            && said.contains("restore the last backup"),
        "{said}"
    );
    let shown = text(&feedwatch_with(&setup.path, &["status"], &[]).stdout);
    assert!(
        shown.contains("DATABASE  checked in full ") && shown.contains("item 2 (found "),
        "{shown}"
    );
    // Checked today: the next run does not check again, and has nothing to say.
    let out = feedwatch_with(&setup.path, &["run", "--once"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A poll's failed write reaches its caller typed: the feed's report and
/// the poll's `writes` carry the one `StoreError` the store answered the
/// group with, told by its kind (here SQLite's constraint code from a
/// trigger that refuses every new item), not by the words of its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_keeps_the_stores_error_typed() {
    use feedwatch::pipeline::{FeedError, FeedOutcome, WriteError};
    use feedwatch::store::StoreError;
    let setup = Setup::new(
        "transport = \"stdout\"",
        "[[feeds]]\nname = \"wire\"\nurl = \"file://wire.xml\"\n",
    );
    write_feed(&setup.dir.path().join("wire.xml"), &NEAR_ITEMS);
    let ctx = setup.context();
    let db = setup.dir.path().join("state").join("feedwatch.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_items BEFORE INSERT ON items \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let feeds = ctx.config.feeds.clone();
    let polled = feedwatch::pipeline::poll_feeds_with_progress(&ctx, &feeds, &|_| {}).await;
    let writes = polled.writes.expect_err("the write failed");
    let Some(StoreError::Sqlite(e)) = writes.store() else {
        panic!("not the store's own error: {writes:?}");
    };
    assert_eq!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    );
    match &polled.reports[0].outcome {
        FeedOutcome::Failed(FeedError::Store(w @ WriteError::Store(_))) => {
            assert_eq!(w, &writes, "the same error, shared")
        }
        other => panic!("the feed's report: {other:?}"),
    }
}
