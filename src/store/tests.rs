//! Unit tests of the store on `:memory:`: insert-new-only, matching through
//! FTS5 (folding, prefixes, fields), backfill, the outbox claim, search.

use chrono::Duration;

use super::ingest::{Batch, Failure, Write};
use super::outbox::NewOutbox;
use super::*;
use crate::model::{CompiledRule, IngestReport, Item, Validators};
use crate::rules::{TermSets, compile_query};

fn item(key: &str, title: &str, summary: &str, days_ago: i64) -> Item {
    Item {
        key: key.into(),
        link: Some(format!("https://e.org/{key}")),
        title: title.into(),
        summary: summary.into(),
        author: String::new(),
        category: String::new(),
        published: Some(Utc::now() - Duration::days(days_ago)),
        article: None,
    }
}

fn rule(name: &str, q: &str) -> CompiledRule {
    crate::rules::rule_from_query(name, q, &TermSets::new()).unwrap()
}

/// A successful fetch of `feed` bringing `items`: no validators, no
/// backfill, no redirect; tests change the fields they are about.
fn batch<'a>(feed: &'a str, items: &'a [Item]) -> Batch<'a> {
    Batch::new(feed, "https://e.org/feed", items, Utc::now())
}

fn ingest(
    s: &mut Store,
    feed: &str,
    items: &[Item],
    rules: &[CompiledRule],
) -> crate::model::IngestReport {
    let v1 = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: None,
    };
    s.ingest(
        &Batch {
            validators: &v1,
            ..batch(feed, items)
        },
        rules,
    )
    .unwrap()
}

/// Writes a small outbox row for `digest` claiming `ids`.
fn enqueue(s: &mut Store, digest: &str, message_id: &str, ids: &[i64]) -> Result<i64> {
    let msg = NewOutbox {
        digest,
        message_id,
        from: "a@x",
        recipients: &["b@x".to_string()],
        message: b"hello",
        marks: &super::Marks::default(),
    };
    s.enqueue(&msg, ids, &[], Utc::now())
}

fn matched(q: &str, title: &str, summary: &str) -> bool {
    let mut s = Store::open_in_memory().unwrap();
    ingest(
        &mut s,
        "f",
        &[item("1", title, summary, 0)],
        &[rule("r", q)],
    )
    .matched_items
        == 1
}

#[test]
fn migrations_set_the_schema_version_and_refuse_newer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as i64
    );
    // Reopening applies nothing twice.
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        MIGRATIONS.len() as i64
    );
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).err().expect("newer schema refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn the_archive_index_merges_in_steps_of_16() {
    let s = Store::open_in_memory().unwrap();
    let automerge: i64 = s
        .conn
        .query_row(
            "SELECT v FROM items_fts_config WHERE k = 'automerge'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(automerge, 16);
}

#[test]
fn processes_opening_a_new_database_at_once_migrate_it_once() {
    // Regression: the daemon and `status` opening a fresh state dir together
    // failed with "table feeds already exists" or "database is locked".
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version().ok()))
            })
            .collect();
        for h in handles {
            let opened = h.join().unwrap();
            assert_eq!(opened.unwrap(), Some(MIGRATIONS.len() as i64));
        }
    }
}

#[test]
fn new_databases_use_32k_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("db")).unwrap();
    let size: i64 = s
        .conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    assert_eq!(size, 32768);
}

#[test]
fn items_are_new_exactly_once() {
    let mut s = Store::open_in_memory().unwrap();
    let a = item("a", "Iran drone deal", "", 0);
    let r = [rule("r", "iran drone")];
    assert_eq!(
        ingest(&mut s, "f", std::slice::from_ref(&a), &r).new_items,
        1
    );
    let mut edited = a.clone();
    edited.title = "Iran drone deal (updated)".into();
    let report = ingest(&mut s, "f", &[edited], &r);
    assert_eq!(
        (report.new_items, report.matched_items),
        (0, 0),
        "an edit never alerts again"
    );
    let mut new_id = a.clone();
    new_id.key = "id:https-now".into();
    assert_eq!(
        ingest(&mut s, "f", &[new_id], &r).new_items,
        0,
        "same canonical link, new id: same item"
    );
    // It drops out of the feed, then comes back.
    let b = item("b", "Something else", "", 0);
    assert_eq!(
        ingest(&mut s, "f", std::slice::from_ref(&b), &r).new_items,
        1
    );
    let report = ingest(&mut s, "f", &[a.clone(), b], &r);
    assert_eq!(
        (report.new_items, report.matched_items),
        (0, 0),
        "a returning item is not new"
    );
    assert_eq!(
        ingest(&mut s, "other", &[a], &r).new_items,
        1,
        "identity is per feed"
    );
    assert_eq!(
        s.poll_states().unwrap()["f"].validators.etag.as_deref(),
        Some("\"v1\"")
    );
}

#[test]
fn the_feed_name_is_searched_only_with_feed() {
    let mut s = Store::open_in_memory().unwrap();
    let rules = [rule("kyiv", "kyiv")];
    let weather = item("w", "Sunny weekend ahead", "Warm and dry", 0);
    let power = item("p", "Kyiv power restored", "", 0);
    let report = ingest(&mut s, "kyiv-city", &[weather, power], &rules);
    assert_eq!(
        report.matched_items, 1,
        "the weather story is not about Kyiv"
    );
    let search = |q: &str| {
        let fts = compile_query(q, &TermSets::new()).unwrap();
        s.search(&fts, None, None, 10).unwrap().len()
    };
    assert_eq!(search("kyiv"), 1);
    assert_eq!(search("city"), 0);
    assert_eq!(search("feed:city"), 2);
    assert_eq!(search("sunny feed:kyiv"), 1);
}

#[test]
fn items_that_share_one_link_are_each_new() {
    // A status page: every event links to the same page, with its own id.
    let mut s = Store::open_in_memory().unwrap();
    let event = |n: usize| {
        let mut i = item(&format!("evt-{n}"), &format!("Event {n}"), "", 0);
        i.link = Some("https://status.example.org/".into());
        i
    };
    let first: Vec<Item> = (1..=3).map(event).collect();
    assert_eq!(ingest(&mut s, "status", &first, &[]).new_items, 3);
    let second: Vec<Item> = (1..=4).map(event).collect();
    assert_eq!(
        ingest(&mut s, "status", &second, &[]).new_items,
        1,
        "evt-4 is new"
    );
    // Alone in a later fetch, a new event with that link is new too: the
    // link is known with several ids, so it names no single item.
    assert_eq!(ingest(&mut s, "status", &[event(5)], &[]).new_items, 1);
    let many: Vec<Item> = (100..1100).map(event).collect();
    assert_eq!(ingest(&mut s, "status", &many, &[]).new_items, 1000);
    // The rule still holds where the link names one item.
    let mut rebuilt = item("page-1", "Story", "", 0);
    assert_eq!(
        ingest(&mut s, "news", std::slice::from_ref(&rebuilt), &[]).new_items,
        1
    );
    rebuilt.key = "id:https-now".into();
    assert_eq!(ingest(&mut s, "news", &[rebuilt], &[]).new_items, 0);
}

#[test]
fn matching_folds_case_accents_and_inflections_whole_words() {
    assert!(matched("kyiv", "Strikes on Kyïv", ""));
    assert!(matched("drone", "Drones over the city", ""));
    assert!(matched(
        "iran* drone* ukrain*",
        "Ukraine and Iranian drones",
        ""
    ));
    assert!(!matched("iran", "Tirana summit", ""));
    assert!(matched("україн*", "Новини України", ""));
    assert!(matched(
        "\"iranian drones\"",
        "",
        "talks on Iranian drones used"
    ));
    assert!(!matched("\"iranian drones\"", "", "drones, Iranian ones"));
    assert!(matched("NEAR(iran drone, 2)", "", "iran sent a drone"));
    assert!(!matched(
        "NEAR(iran drone, 2)",
        "",
        "iran said that many months later a drone"
    ));
    assert!(matched("title:iran", "Iran", "nothing"));
    assert!(!matched("title:iran", "Nothing", "iran"));
    assert!(matched(
        "title:(iran OR tehran) -israel",
        "Tehran talks",
        ""
    ));
    assert!(!matched("iran -israel", "Iran and Israel", ""));
    assert!(matched("feed:f iran", "Iran", ""));
}

#[test]
fn backfill_limits_alerts_on_first_fetch_only() {
    let mut s = Store::open_in_memory().unwrap();
    let r = [rule("r", "iran")];
    let old = item("old", "Iran old", "", 10);
    let recent = item("recent", "Iran recent", "", 0);
    let mut undated = item("undated", "Iran undated", "", 0);
    undated.published = None;
    let now = Utc::now();
    let report = s
        .ingest(
            &Batch {
                backfill_cutoff: Some(now - Duration::days(1)),
                ..batch("f", &[old, recent, undated])
            },
            &r,
        )
        .unwrap();
    assert_eq!((report.new_items, report.matched_items), (3, 1));
    // After the first fetch, every new item alerts, however old.
    let report = s
        .ingest(
            &Batch {
                backfill_cutoff: Some(now - Duration::days(1)),
                ..batch("f", &[item("older", "Iran older", "", 30)])
            },
            &r,
        )
        .unwrap();
    assert_eq!(report.matched_items, 1);
    assert_eq!(
        s.search("\"iran\"", None, None, 10).unwrap().len(),
        4,
        "the backlog is searchable"
    );
}

#[test]
fn rule_scope_by_feed() {
    let mut s = Store::open_in_memory().unwrap();
    let mut r = rule("r", "iran");
    r.feeds = Some(vec!["a".into()]);
    assert_eq!(
        ingest(&mut s, "b", &[item("1", "Iran", "", 0)], &[r.clone()]).matched_items,
        0
    );
    assert_eq!(
        ingest(&mut s, "a", &[item("1", "Iran", "", 0)], &[r]).matched_items,
        1
    );
}

#[test]
fn a_group_of_feeds_is_stored_indexed_and_matched_as_each_feed_alone() {
    let mut s = Store::open_in_memory().unwrap();
    let mut scoped = rule("only-a", "iran");
    scoped.feeds = Some(vec!["a".into()]);
    let rules = [rule("all", "drone*"), scoped];
    let a = [item("1", "Iran drones", "", 0), item("2", "Weather", "", 0)];
    let b = [item("1", "Iran drones", "", 0)];
    let c = [item("9", "Nothing here", "", 0)];
    let reports: Vec<_> = s
        .ingest_many(&[batch("a", &a), batch("b", &b), batch("c", &c)], &rules)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    // The scoped rule matched the same words in b, and does not count there;
    // an item two rules matched is one matched item.
    assert_eq!(
        reports
            .iter()
            .map(|r| (r.new_items, r.matched_items))
            .collect::<Vec<_>>(),
        [(2, 1), (1, 1), (1, 0)]
    );
    let pending: Vec<(String, Vec<String>)> = s
        .pending("default")
        .unwrap()
        .into_iter()
        .map(|m| (m.feed, m.rules))
        .collect();
    assert_eq!(pending.len(), 2);
    assert!(pending.contains(&("a".into(), vec!["all".into(), "only-a".into()])));
    assert!(pending.contains(&("b".into(), vec!["all".into()])));
    // Every row of the group is in the archive's index, and a second group
    // neither re-indexes nor re-matches them.
    let q = compile_query("iran OR weather OR nothing", &TermSets::new()).unwrap();
    assert_eq!(s.search(&q, None, None, 10).unwrap().len(), 4);
    let more = [item("3", "Iran again", "", 0)];
    let again = s.ingest_many(&[batch("a", &a), batch("a", &more)], &rules);
    assert_eq!(
        again.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(),
        [
            IngestReport::default(),
            IngestReport {
                new_items: 1,
                matched_items: 1,
                held: Vec::new()
            }
        ]
    );
    assert_eq!(s.search(&q, None, None, 10).unwrap().len(), 5);
    // FTS5 compares its index with the items table, row by row.
    s.conn
        .execute(
            "INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
}

#[test]
fn a_304_that_cannot_be_recorded_fails_alone() {
    let mut s = Store::open_in_memory().unwrap();
    ingest(&mut s, "good", &[item("1", "a", "", 0)], &[]);
    // Stands in for any write error of one feed's row.
    s.conn
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON feeds WHEN new.name = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let now = Utc::now();
    let results = s.write_group(
        &[
            Write::NotModified {
                feed: "good",
                url: "u",
                now,
            },
            Write::NotModified {
                feed: "bad",
                url: "u",
                now,
            },
        ],
        &[],
    );
    assert!(results[0].is_ok());
    assert!(
        results[1]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("refused"))
    );
    let status = s.feed_status().unwrap();
    assert_eq!(
        status
            .iter()
            .map(|f| (f.name.as_str(), f.last_status))
            .collect::<Vec<_>>(),
        [("good", Some(304))],
        "the good feed's 304 is recorded, the bad feed has no row"
    );
}

#[test]
fn matching_works_after_the_store_released_its_memory() {
    let mut s = Store::open_in_memory().unwrap();
    let rules = [rule("r", "iran")];
    assert_eq!(
        ingest(&mut s, "f", &[item("1", "Iran", "", 0)], &rules).matched_items,
        1
    );
    s.release_memory().unwrap();
    assert!(s.check_query("r", &rules[0].fts_query).is_ok());
    assert_eq!(
        ingest(&mut s, "f", &[item("2", "Iran", "", 0)], &rules).matched_items,
        1
    );
    assert_eq!(s.pending("default").unwrap().len(), 2);
}

#[test]
fn a_feed_that_cannot_be_written_fails_alone_and_its_group_is_stored() {
    let mut s = Store::open_in_memory().unwrap();
    // Stands in for any write error of one feed's rows.
    s.conn
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON items WHEN new.feed = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let rules = [rule("r", "iran")];
    let good = [item("1", "Iran", "", 0)];
    let reports = s.ingest_many(&[batch("good", &good), batch("bad", &good)], &rules);
    assert_eq!(
        reports[0].as_ref().unwrap(),
        &IngestReport {
            new_items: 1,
            matched_items: 1,
            held: Vec::new()
        }
    );
    assert!(
        reports[1]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("refused"))
    );
    let q = compile_query("iran", &TermSets::new()).unwrap();
    let hits = s.search(&q, None, None, 10).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.feed.as_str()).collect::<Vec<_>>(),
        ["good"],
        "the good feed's rows are stored and indexed once, the bad feed's not at all"
    );
    assert_eq!(s.pending("default").unwrap().len(), 1);
    // The bad feed stored nothing, so it is still new next time.
    s.conn.execute_batch("DROP TRIGGER refuse;").unwrap();
    assert_eq!(
        s.ingest(&batch("bad", &good), &rules).unwrap(),
        IngestReport {
            new_items: 1,
            matched_items: 1,
            held: Vec::new()
        }
    );
}

/// A full disk read \"database error: database or disk is full\" (or
/// \"disk I/O error\" at open): it is said as what it is, with what to do.
/// `max_page_count` makes SQLite answer SQLITE_FULL as a full disk would.
#[test]
fn a_full_disk_is_said_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open_dir(dir.path()).unwrap();
    let pages: i64 = s
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let _: i64 = s
        .conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    let text = "Iranian drones over Ukraine, again and again. ".repeat(200);
    let items: Vec<Item> = (0..100)
        .map(|i| item(&format!("k{i}"), "Drones", &text, 0))
        .collect();
    let err = s.ingest(&batch("wire", &items), &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the disk holding the state directory is full: free space"),
        "{err}"
    );
}

/// Two items the attacker's rule matches: the second has the NEAR's words
/// but not its phrase, which FTS5's marks read as the first item's.
fn near_items() -> [Item; 2] {
    [
        item(
            "1",
            "Drone strikes",
            "Overnight, an Iran drone struck a power plant near Kyiv, officials said on Monday",
            0,
        ),
        item(
            "2",
            "Iran says Kyiv talks",
            "Iran's envoy spoke of a drone.",
            0,
        ),
    ]
}

#[test]
fn a_near_fts5_would_mark_wrong_is_marked_right_and_search_still_finds_it() {
    // The rule's own query, which FTS5's snippet() fails on with
    // SQLITE_CORRUPT (docs/DESIGN.md §6). The live matcher asks marks
    // with the rule's words that the matched items have, never with it.
    let mut r = rule("near", "NEAR(\"iran drone\" kyiv) OR iran");
    r.mark_query = None;
    let mut s = Store::open_in_memory().unwrap();
    let report = ingest(&mut s, "f", &near_items(), std::slice::from_ref(&r));
    assert_eq!((report.new_items, report.matched_items), (2, 2));
    let pending = s.pending("default").unwrap();
    let second = pending.iter().find(|m| m.item_id == 2).unwrap();
    assert_eq!(
        (second.snippet.as_str(), second.title_marked.as_str()),
        (
            "\u{2}Iran's\u{3} envoy spoke of a drone.",
            "\u{2}Iran\u{3} says \u{2}Kyiv\u{3} talks"
        )
    );
    let hits = s.search(&r.fts_query, None, None, 10).unwrap();
    assert_eq!(hits.len(), 2);
    // Asked one by one, the first is marked; the second is its text's start.
    let snippets: Vec<&str> = hits.iter().map(|h| h.snippet.as_str()).collect();
    assert!(
        snippets.contains(&"Iran's envoy spoke of a drone."),
        "{snippets:?}"
    );
    assert!(
        snippets.iter().any(|s| s.contains("\u{2}Kyiv\u{3}")),
        "{snippets:?}"
    );
}

#[test]
fn pending_groups_rules_per_item_and_enqueue_claims_atomically() {
    let mut s = Store::open_in_memory().unwrap();
    let rules = [rule("iran", "iran"), rule("drones", "drone*")];
    ingest(
        &mut s,
        "f",
        &[
            item(
                "1",
                "Iran drones",
                "Tehran says Iran sent no drones to anyone",
                0,
            ),
            item("2", "Iran only", "Talks resume next week in Oman", 1),
        ],
        &rules,
    );
    let pending = s.pending("default").unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        pending[0].rules,
        vec!["iran".to_string(), "drones".to_string()]
    );
    // The snippet is the summary's, with the words of both rules marked.
    assert_eq!(
        pending[0].snippet,
        "Tehran says \u{2}Iran\u{3} sent no \u{2}drones\u{3} to anyone"
    );
    // Matched in the title only: the summary's beginning, not the title.
    assert_eq!(pending[1].snippet, "Talks resume next week in Oman");
    let ids: Vec<i64> = pending.iter().flat_map(|m| m.match_ids.clone()).collect();
    let id = enqueue(&mut s, "default", "<1@x>", &ids).unwrap();
    assert!(s.pending("default").unwrap().is_empty());
    // A second claim of the same matches writes nothing.
    assert!(matches!(
        enqueue(&mut s, "default", "<2@x>", &ids),
        Err(StoreError::Conflict)
    ));
    let due = s.due(Utc::now(), None).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (
            due[0].id,
            due[0].message_id.as_str(),
            due[0].message.as_slice()
        ),
        (id, "<1@x>", &b"hello"[..])
    );
    s.mark_failed(id, "down", Utc::now() + Duration::minutes(5))
        .unwrap();
    assert!(s.due(Utc::now(), None).unwrap().is_empty());
    assert_eq!(s.outbox_status().unwrap().failed, 1);
    assert_eq!(
        s.due(Utc::now() + Duration::minutes(6), None)
            .unwrap()
            .len(),
        1
    );
    s.mark_sent(id, Utc::now()).unwrap();
    assert!(
        s.due(Utc::now() + Duration::days(1), None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.outbox_status().unwrap().sent, 1);
}

#[test]
fn search_is_newest_first_with_since_and_limit() {
    let mut s = Store::open_in_memory().unwrap();
    ingest(
        &mut s,
        "f",
        &[
            item("1", "Iran a", "", 5),
            item("2", "Iran b", "", 1),
            item("3", "Iran c", "", 40),
        ],
        &[],
    );
    let q = compile_query("iran", &TermSets::new()).unwrap();
    let titles =
        |hits: Vec<crate::model::SearchHit>| hits.into_iter().map(|h| h.title).collect::<Vec<_>>();
    assert_eq!(
        titles(s.search(&q, None, None, 10).unwrap()),
        ["Iran b", "Iran a", "Iran c"]
    );
    assert_eq!(
        titles(
            s.search(&q, None, Some(Utc::now() - Duration::days(30)), 10)
                .unwrap()
        ),
        ["Iran b", "Iran a"]
    );
    assert_eq!(titles(s.search(&q, None, None, 1).unwrap()), ["Iran b"]);
}

#[test]
fn search_can_be_limited_to_a_rule_scope() {
    let mut s = Store::open_in_memory().unwrap();
    ingest(&mut s, "a", &[item("1", "Iran a", "", 1)], &[]);
    ingest(&mut s, "b", &[item("2", "Iran b", "", 2)], &[]);
    let q = compile_query("iran", &TermSets::new()).unwrap();
    let only_b = ["b".to_string()];
    let hits = s.search(&q, Some(&only_b), None, 10).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.title.as_str()).collect::<Vec<_>>(),
        ["Iran b"]
    );
    assert_eq!(s.search(&q, Some(&[]), None, 10).unwrap().len(), 0);
}

/// A failed fetch as a poll writes it: through `write_group`, with its
/// backoff (an hour after `now`), as the writer does.
fn record_failure(
    s: &mut Store,
    feed: &str,
    url: &str,
    status: Option<u16>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let retry_at = move |_failures: i64| now + Duration::hours(1);
    let failure = Write::Failed(Failure {
        feed,
        url,
        status,
        error,
        now,
        retry_at: &retry_at,
    });
    s.write_group(&[failure], &[])
        .pop()
        .expect("one result")
        .map(drop)
}

/// A 304 as a poll writes it.
fn not_modified(s: &mut Store, feed: &str, url: &str, now: DateTime<Utc>) -> Result<()> {
    let write = Write::NotModified { feed, url, now };
    s.write_group(&[write], &[])
        .pop()
        .expect("one result")
        .map(drop)
}

#[test]
fn failures_and_304_show_in_status() {
    let mut s = Store::open_in_memory().unwrap();
    record_failure(
        &mut s,
        "bad",
        "https://bad/",
        Some(500),
        "HTTP 500",
        Utc::now(),
    )
    .unwrap();
    record_failure(&mut s, "bad", "https://bad/", None, "timeout", Utc::now()).unwrap();
    not_modified(&mut s, "good", "https://good/", Utc::now()).unwrap();
    let st = s.feed_status().unwrap();
    assert_eq!(st[0].name, "bad");
    assert_eq!(
        (st[0].consecutive_errors, st[0].last_error.as_deref()),
        (2, Some("timeout"))
    );
    // The failure set its backoff; the 304 cleared any.
    let states = s.poll_states().unwrap();
    assert!(states["bad"].failing && states["bad"].next_fetch_at.is_some());
    assert!(!states["good"].failing && states["good"].next_fetch_at.is_none());
    assert_eq!(
        (st[1].last_status, st[1].consecutive_errors),
        (Some(304), 0)
    );
}

#[test]
fn a_query_fts5_rejects_is_a_clear_error() {
    let mut s = Store::open_in_memory().unwrap();
    assert!(s.check_query("r", "\"iran\" AND").is_err());
    assert!(s.check_query("r", "title : ((\"a\" OR \"b\"))").is_ok());
}

#[test]
fn a_database_from_schema_version_1_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        // What the first release wrote.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO feeds(name, url, consecutive_errors) VALUES ('old', 'https://o/', 3)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO items(feed_id, key, link, title, summary, author, category, feed, fetched_at)
             VALUES (1, 'id:seen-before', 'https://o/1', 'Iran', '', '', '', 'old', 0)",
            [],
        )
        .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let st = s.feed_status().unwrap();
    assert_eq!(
        (st[0].name.as_str(), st[0].consecutive_errors),
        ("old", 3),
        "data kept"
    );
    record_failure(
        &mut s,
        "old",
        "https://o/",
        Some(500),
        "HTTP 500",
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        s.attention(3).unwrap().never_fetched.len(),
        1,
        "the new column works (the feed never had a successful fetch)"
    );
    let mut again = item("x", "Iran", "", 0);
    again.key = "id:seen-before".into();
    let report = ingest(&mut s, "old", &[again], &[rule("r", "iran")]);
    assert_eq!(report.new_items, 0, "identities carried into `seen`");
    // Version 6 indexes new rows without the trigger; the old row is still
    // indexed, and the new one exactly once.
    ingest(&mut s, "old", &[item("new", "Iran now", "", 0)], &[]);
    let q = compile_query("iran", &TermSets::new()).unwrap();
    assert_eq!(s.search(&q, None, None, 10).unwrap().len(), 2);
}

/// An archive from before schema 11 is packed step by step, reporting its
/// progress; a packing stopped half-way goes on where it was, and nothing
/// is lost or doubled: every item reads back and is found once.
#[test]
fn packing_an_archive_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let n = 12_345;
    {
        let mut conn = Connection::open(&path).unwrap();
        codec::register(&conn).unwrap();
        codec::register_pack(&conn).unwrap();
        for (v, sql) in MIGRATIONS.iter().enumerate().take(10) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", v as i64 + 1)
                .unwrap();
        }
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO feeds(name, url) VALUES ('old', 'https://o/')",
            [],
        )
        .unwrap();
        for i in 0..n {
            let summary = format!(
                "Report {i}: Kyiv air defence downed Iranian drones overnight, {}",
                "officials said the drones came from the south. ".repeat(4)
            );
            tx.execute(
                "INSERT INTO items(feed_id, key, link, title, summary, author, category, feed, fetched_at)
                 VALUES (1, ?1, ?2, ?3, ?4, '', '', 'old', 0)",
                rusqlite::params![format!("id:{i}"), format!("https://o/{i}"), format!("Story {i}"), summary],
            )
            .unwrap();
        }
        tx.execute_batch(
            "INSERT INTO items_fts(rowid, title, summary, author, category, feed)
             SELECT id, title, summary, author, category, feed FROM items;",
        )
        .unwrap();
        tx.commit().unwrap();
        // Schema 11 applied and two steps copied, then the process died.
        conn.execute_batch(MIGRATIONS[10]).unwrap();
        conn.pragma_update(None, "user_version", 11).unwrap();
        for _ in 0..2 {
            compact::copy_after_last(&conn, Some(5_000)).unwrap();
        }
    }
    let mut seen = Vec::new();
    let s = Store::init(Connection::open(&path).unwrap(), &mut |p| seen.push(p)).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(
        seen,
        [Progress {
            done: n as u64,
            total: n as u64
        }],
        "one step left, reported"
    );
    let count: i64 = s
        .conn
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, n);
    let summary: String = s
        .conn
        .query_row("SELECT summary FROM items WHERE id = 777", [], |r| r.get(0))
        .unwrap();
    assert!(summary.starts_with("Report 776: Kyiv"), "{summary}");
    let packed: String = s
        .conn
        .query_row("SELECT typeof(packed) FROM items WHERE id = 777", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(packed, "blob");
    let q = compile_query("\"Report 776\"", &TermSets::new()).unwrap();
    let hits = s.search(&q, None, None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].snippet.contains('\u{2}'),
        "snippets read the packed text"
    );
    let key_index: i64 = s
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'items' AND name LIKE 'sqlite_autoindex%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(key_index, 0, "the key index is gone");
    let fk: i64 = s
        .conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
}

#[test]
fn attention_names_feeds_failing_a_few_polls_in_a_row_gone_feeds_and_undelivered_messages() {
    let mut s = Store::open_in_memory().unwrap();
    let now = Utc::now();
    // Feeds that worked once, then failed.
    for feed in ["long", "brief"] {
        ingest(&mut s, feed, &[], &[]);
    }
    for at in [now - Duration::days(2), now - Duration::hours(1)] {
        record_failure(&mut s, "long", "u", Some(503), "HTTP 503", at).unwrap();
    }
    record_failure(&mut s, "long", "u", Some(503), "HTTP 503 again", now).unwrap();
    // Two failed polls: a blip, not yet an outage (failing_after = 3).
    for _ in 0..2 {
        record_failure(
            &mut s,
            "brief",
            "u",
            None,
            "timeout",
            now - Duration::hours(2),
        )
        .unwrap();
    }
    record_failure(&mut s, "gone", "u", Some(410), "HTTP 410", now).unwrap();
    record_failure(
        &mut s,
        "healed",
        "u",
        None,
        "timeout",
        now - Duration::days(3),
    )
    .unwrap();
    not_modified(&mut s, "healed", "u", now).unwrap();
    // A feed added with a wrong URL: said at once, not after a day.
    record_failure(&mut s, "typo", "u", Some(404), "HTTP 404", now).unwrap();
    let id = enqueue(&mut s, "morning", "<1@x>", &[]).unwrap();
    s.mark_failed(id, "550 no such user", now).unwrap();
    let a = s.attention(3).unwrap();
    assert_eq!(a.failing.len(), 1);
    assert_eq!(a.failing[0].feed, "long");
    assert_eq!(a.failing[0].error, "HTTP 503 again", "the latest error");
    assert_eq!(
        a.never_fetched,
        [crate::model::NeverFetched {
            feed: "typo".to_string(),
            error: "HTTP 404".to_string()
        }]
    );
    assert!(
        (a.failing[0].since - (now - Duration::days(2)))
            .num_seconds()
            .abs()
            <= 1,
        "failing since the first failure"
    );
    assert_eq!(a.gone, vec!["gone".to_string()]);
    assert_eq!(a.undelivered.len(), 1);
    assert_eq!(
        (a.undelivered[0].digest.as_str(), a.undelivered[0].attempts),
        ("morning", 1)
    );
}

#[test]
fn pruned_items_leave_search_but_never_alert_again() {
    let mut s = Store::open_in_memory().unwrap();
    let r = [rule("r", "iran")];
    let sent = item("sent", "Iran sent", "long text", 0);
    let waiting = item("waiting", "Iran waiting", "", 0);
    ingest(&mut s, "f", std::slice::from_ref(&sent), &r);
    // The first match goes out; the second stays pending.
    let ids: Vec<i64> = s
        .pending("default")
        .unwrap()
        .iter()
        .flat_map(|m| m.match_ids.clone())
        .collect();
    let out = enqueue(&mut s, "default", "<p@x>", &ids).unwrap();
    s.mark_sent(out, Utc::now()).unwrap();
    ingest(&mut s, "f", &[waiting], &r);
    let later = Utc::now() + Duration::days(200);
    let pruned = s.prune(later).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            items: 1,
            messages: 1
        },
        "the pending match keeps its item"
    );
    let q = compile_query("iran", &TermSets::new()).unwrap();
    let titles: Vec<String> = s
        .search(&q, None, None, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.title)
        .collect();
    assert_eq!(titles, ["Iran waiting"]);
    let report = ingest(&mut s, "f", &[sent], &r);
    assert_eq!(
        (report.new_items, report.matched_items),
        (0, 0),
        "a pruned item is still known"
    );
    assert_eq!(s.pending("default").unwrap().len(), 1);
}

/// A busy feed for a simulated year (60 items a day of ~1.2 KB), pruned
/// daily with a 30-day retention, against the same year unpruned: the
/// database stops growing with the text. Prints the figures in docs/operations.md.
#[test]
fn retention_bounds_the_database_over_a_simulated_half_year() {
    let dir = tempfile::tempdir().unwrap();
    let start = Utc::now() - Duration::days(182);
    // Words in random order, as news text is to a compressor: a repeated
    // sentence would pack to nothing (store::codec).
    let words: Vec<&str> = "Kyiv drone strike report with plenty of words about the war and \
         the weather officials said on Monday after talks in Brussels over sanctions energy \
         prices grain exports shelling overnight air defence regional governor power grid"
        .split_whitespace()
        .collect();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut text = || -> String {
        (0..170)
            .map(|_| words[rng.usize(..words.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text_len = text().len();
    let mut sizes = Vec::new();
    for retention in [Some(30), None] {
        let mut s = Store::open(&dir.path().join(format!("db-{retention:?}"))).unwrap();
        for day in 0..182 {
            let now = start + Duration::days(day);
            let items: Vec<Item> = (0..60)
                .map(|i| {
                    let mut it = item(
                        &format!("d{day}i{i}"),
                        &format!("Story {day}-{i}"),
                        &format!("{} {day} {i}", text()),
                        0,
                    );
                    it.published = Some(now);
                    it
                })
                .collect();
            s.ingest(
                &Batch {
                    now,
                    articles: Default::default(),
                    ..batch("busy", &items)
                },
                &[],
            )
            .unwrap();
            if let Some(days) = retention {
                s.prune(now - Duration::days(days)).unwrap();
            }
            if day == 90 {
                sizes.push(s.size_bytes().unwrap());
            }
        }
        sizes.push(s.size_bytes().unwrap());
    }
    let text_per_day = 60 * (text_len + 30);
    eprintln!(
        "simulated half-year, 60 items/day of {} bytes: 30-day retention {} KiB, no retention {} KiB ({} KiB of text a month)",
        text_len,
        sizes[1] / 1024,
        sizes[3] / 1024,
        text_per_day * 30 / 1024
    );
    // From the third month to the sixth, the file with retention grows by
    // the identities it keeps (and FTS5's unmerged deletions), well under
    // half as much as the other, which grows with the text.
    assert!(
        (sizes[1] - sizes[0]) * 2 < sizes[3] - sizes[2],
        "retention: {sizes:?}"
    );
    // What remains is a month of text plus a small identity row per item.
    assert!(
        sizes[1] < (text_per_day as i64 * 30) * 3 + 182 * 60 * 200,
        "{sizes:?}"
    );
}

/// Overwrites page `page` (1-based) of the database file with noise.
fn damage_page(path: &std::path::Path, page: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start((page - 1) * 32768)).unwrap();
    let mut rng = fastrand::Rng::with_seed(page);
    let noise: Vec<u8> = (0..32768).map(|_| rng.u8(..)).collect();
    f.write_all(&noise).unwrap();
}

#[test]
fn damage_is_found_at_open_in_the_small_tables_and_by_the_full_check_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedwatch.db");
    let (items_root, matches_root) = {
        let mut s = Store::open(&path).unwrap();
        let many: Vec<Item> = (0..200)
            .map(|n| item(&n.to_string(), "Iran drones", &"text ".repeat(50), 0))
            .collect();
        ingest(&mut s, "f", &many, &[rule("r", "iran")]);
        let root = |name: &str| -> u64 {
            s.conn
                .query_row(
                    "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                    [name],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap() as u64
        };
        (root("items"), root("matches"))
    };
    // The archive's own table: a command opening the database does not
    // read it, the daemon's full check does, and records what it found.
    damage_page(&path, items_root);
    let mut s = Store::open(&path).expect("the small tables are intact");
    let e = s.check_integrity(true).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    assert!(e.to_string().contains("restore the last backup"), "{e}");
    s.record_integrity(Utc::now(), Some("page 3: bad")).unwrap();
    assert_eq!(
        s.last_integrity().unwrap().map(|(_, p)| p),
        Some(Some("page 3: bad".to_string()))
    );
    drop(s);
    // A table every command uses: opening the database says so.
    damage_page(&path, matches_root);
    let e = Store::open(&path).err().expect("refused");
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
    let e = Store::open_read_only(dir.path()).err().expect("refused");
    assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
}

#[test]
fn a_text_that_cannot_be_read_fails_no_query_and_outlives_retention() {
    let mut s = Store::open_in_memory().unwrap();
    let text = "Iran said its drones were not sold to Russia, officials said. ".repeat(4);
    let items = [item("1", "Iran a", &text, 0), item("2", "Iran b", &text, 0)];
    ingest(&mut s, "f", &items, &[rule("iran", "iran")]);
    ingest(&mut s, "g", &[item("3", "Kept", &text, 0)], &[]);
    // Not a zstd frame, where one was.
    s.conn
        .execute(
            "UPDATE items SET packed = x'28b52ffd0058deadbeef' WHERE title IN ('Iran a', 'Kept')",
            [],
        )
        .unwrap();
    let pending = s.pending("default").unwrap();
    let lost: Vec<(&str, &str)> = pending
        .iter()
        .filter(|m| m.unreadable)
        .map(|m| (m.title.as_str(), m.summary.as_str()))
        .collect();
    assert_eq!((pending.len(), lost), (2, vec![("Iran a", "")]));
    let hits = s
        .search("\"iran\"", Some(&["f".to_string()]), None, 10)
        .unwrap();
    assert_eq!(
        hits.iter()
            .map(|h| (h.title.as_str(), h.unreadable))
            .collect::<Vec<_>>(),
        [("Iran b", false), ("Iran a", true)]
    );
    assert_eq!(
        s.recent_texts(&["f".to_string()], 10).unwrap()["f"].len(),
        1,
        "left out of the feed's texts"
    );
    // Pruned with its index entry, the text would be needed to delete it.
    let pruned = s.prune(Utc::now() + Duration::days(1)).unwrap();
    assert_eq!(
        pruned.items, 0,
        "'Iran …' have matches; 'Kept' cannot be read"
    );
    let check = s.check_full(Utc::now()).unwrap();
    assert_eq!(
        check
            .unreadable
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        [1, 3]
    );
    assert!(check.problem().unwrap().contains("restore the last backup"));
    assert_eq!(s.unreadable().unwrap().items, 2);
}

/// Two processes finishing the same held items (a daemon and a cron `poll`
/// after a crash) deleted the index entry twice, the second time with the
/// feed's text from an entry made of the article, and matched the items
/// twice: only the first finish counts now, and only one claims orphans.
#[test]
fn held_items_are_finished_and_claimed_once() {
    let mut s = Store::open_in_memory().unwrap();
    let teaser = "Overnight attack on the port.";
    let items = [item("1", "Port attack", teaser, 0)];
    let then = Utc::now() - Duration::hours(1);
    let mut b = Batch::new("wire", "https://e.org/feed", &items, then);
    b.hold_for_articles = true;
    let rules = [rule("r", "iran AND drone")];
    let report = s.ingest(&b, &rules).unwrap();
    assert_eq!((report.matched_items, report.held.len()), (0, 1));
    let id = report.held[0].1;
    let claimed = s.claim_orphans(Utc::now(), Utc::now()).unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(!claimed[0].attempted && !claimed[0].unreadable);
    assert!(
        s.claim_orphans(Utc::now() - Duration::minutes(1), Utc::now())
            .unwrap()
            .is_empty(),
        "claimed once"
    );
    let mut with_article = items[0].clone();
    with_article.article = Some("Iranian drones struck the grain terminal.".into());
    let finish = |s: &mut Store, article: &Item| {
        let done = [(id, article.clone())];
        let write = Write::Articles(held::Articles {
            feed: "wire",
            items: &done,
            tally: Default::default(),
            now: Utc::now(),
        });
        s.write_group(std::slice::from_ref(&write), &rules)
            .pop()
            .unwrap()
            .unwrap()
    };
    assert_eq!(finish(&mut s, &with_article).matched_items, 1);
    // The second finisher read no article: its text must not replace the
    // first's, nor its match be counted again.
    assert_eq!(finish(&mut s, &items[0]).matched_items, 0);
    let q = compile_query("grain", &TermSets::new()).unwrap();
    assert_eq!(s.search(&q, None, None, 10).unwrap().len(), 1);
    s.conn
        .execute(
            "INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
    assert_eq!(s.pending("default").unwrap().len(), 1);
}

/// What a digest covered is counted from its last message: a 304 is a
/// read (a feed that did not change is not dead), new items are counted
/// once, and a message composed on a stale view of the digest (another
/// process sent it meanwhile) is a conflict even with no matches to claim.
#[test]
fn coverage_counts_since_the_digests_last_message_and_a_304_is_a_read() {
    let mut s = Store::open_in_memory().unwrap();
    let feeds = vec!["f".to_string(), "g".to_string()];
    ingest(
        &mut s,
        "f",
        &[item("1", "a", "", 0), item("2", "b", "", 0)],
        &[],
    );
    let (c, counters) = s.coverage("d", &feeds).unwrap();
    assert_eq!((c.read, c.items), (1, 2));
    assert_eq!(c.unread, ["g"], "never polled");
    // The digest goes out an hour from now, keeping the counters.
    let t0 = Utc::now() + Duration::hours(1);
    let sent = Marks {
        follows: Some(None),
        coverage: counters,
        told: None,
    };
    let to = ["b@x".to_string()];
    let first = NewOutbox {
        digest: "d",
        message_id: "<1@x>",
        from: "a@x",
        recipients: &to,
        message: b"hello",
        marks: &sent,
    };
    s.enqueue(&first, &[], &[], t0).unwrap();
    let (c, _) = s.coverage("d", &feeds).unwrap();
    assert_eq!(c.from, from_ts(Some(to_ts(t0))));
    assert_eq!((c.read, c.items), (0, 0), "nothing fetched since");
    assert!(c.unreadable_articles.is_empty());
    // A 304 after it is a read, with nothing new.
    let results = s.write_group(
        &[Write::NotModified {
            feed: "f",
            url: "u",
            now: t0 + Duration::minutes(5),
        }],
        &[],
    );
    assert!(results[0].is_ok());
    // Two articles of `f` could not be read since (a full_text feed's
    // finish counts them on its row).
    s.conn
        .execute(
            "UPDATE feeds SET articles_unread = articles_unread + 2 WHERE name = 'f'",
            [],
        )
        .unwrap();
    let (c, _) = s.coverage("d", &feeds).unwrap();
    assert_eq!((c.read, c.items), (1, 0));
    assert_eq!(c.unread, ["g"]);
    assert_eq!(c.unreadable_articles, [("f".to_string(), 2)]);
    // Composed before the first was written: another message now.
    let stale = Marks {
        follows: Some(None),
        ..Marks::default()
    };
    let second = NewOutbox {
        message_id: "<2@x>",
        marks: &stale,
        ..first
    };
    assert!(matches!(
        s.enqueue(&second, &[], &[], t0),
        Err(StoreError::Conflict)
    ));
}

/// Marks are per digest: an item two rules of one digest matched has the
/// words of both marked in its snippet and its headline; a rule of another
/// digest marks nothing there (its words are not this reader's).
#[test]
fn marks_are_the_words_of_this_digests_rules_only() {
    let in_digest = |name: &str, q: &str, digest: &str| CompiledRule {
        digest: digest.into(),
        ..rule(name, q)
    };
    let rules = [
        in_digest("strikes", "kyiv", "flash"),
        in_digest("drones", "drone", "flash"),
        in_digest("iran", "tehran", "desk"),
    ];
    let mut s = Store::open_in_memory().unwrap();
    ingest(
        &mut s,
        "f",
        &[item(
            "1",
            "Kyiv drone attack",
            "A drone hit Kyiv at night; Tehran denied sending it.",
            0,
        )],
        &rules,
    );
    let flash = s.pending("flash").unwrap();
    assert_eq!(flash.len(), 1);
    let marked = |s: &str| s.replace('\u{2}', "[").replace('\u{3}', "]");
    assert_eq!(marked(&flash[0].title_marked), "[Kyiv] [drone] attack");
    let snippet = marked(&flash[0].snippet);
    assert!(
        snippet.contains("[drone]") && snippet.contains("[Kyiv]"),
        "{snippet}"
    );
    assert!(
        !snippet.contains("[Tehran]"),
        "another digest's word: {snippet}"
    );
    // Each rule keeps its own snippet too, for the line pointing to the
    // item from its section.
    let own: Vec<(String, String)> = flash[0]
        .rule_snippets
        .iter()
        .map(|(r, s)| (r.clone(), marked(s)))
        .collect();
    assert_eq!(own.len(), 2, "{own:?}");
    assert!(
        own.iter()
            .any(|(r, s)| r == "strikes" && s.contains("[Kyiv]") && !s.contains("[drone]")),
        "{own:?}"
    );
    assert!(
        own.iter()
            .any(|(r, s)| r == "drones" && s.contains("[drone]") && !s.contains("[Kyiv]")),
        "{own:?}"
    );
    let desk = s.pending("desk").unwrap();
    let snippet = marked(&desk[0].snippet);
    assert!(snippet.contains("[Tehran]"), "{snippet}");
    assert!(
        !snippet.contains("[drone]") && !snippet.contains("[Kyiv]"),
        "{snippet}"
    );
    assert_eq!(marked(&desk[0].title_marked), "Kyiv drone attack");
}

#[test]
fn a_state_dir_this_user_may_not_enter_is_not_called_empty() {
    let dir = std::path::Path::new("/var/lib/private/feedwatch");
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let said = not_there(Err(denied), dir).unwrap().to_string();
    assert!(said.contains("may not read"), "{said}");
    assert!(!said.contains("first poll"), "{said}");
    let said = not_there(Ok(false), dir).unwrap().to_string();
    assert!(said.contains("no feedwatch database"), "{said}");
    assert!(not_there(Ok(true), dir).is_none());
}

#[test]
fn pruning_goes_in_steps_of_a_bounded_number_of_items_each_committed() {
    let mut s = Store::open_in_memory().unwrap();
    let items: Vec<Item> = (0..25)
        .map(|i| item(&format!("k{i}"), &format!("Story {i}"), "text", 0))
        .collect();
    ingest(&mut s, "f", &items, &[]);
    let later = Utc::now() + Duration::days(1);
    let steps: Vec<usize> = std::iter::from_fn(|| {
        let n = s.prune_some(later, 10).unwrap().items;
        (n > 0).then_some(n)
    })
    .collect();
    assert_eq!(steps, [10, 10, 5], "oldest first, ten at a time");
    // Identities stay: the items are not new again.
    assert_eq!(ingest(&mut s, "f", &items, &[]).new_items, 0);
    // `prune` takes every step.
    ingest(&mut s, "g", &items, &[]);
    assert_eq!(s.prune(later).unwrap().items, 25);
}

/// The archive index built from the matcher's tokens (`tokenizer::Replay`)
/// is the index porter builds, byte for byte: the same items stored and
/// matched (then indexed from the recording) and stored only (older than
/// the backfill window: porter tokenises), on text of every kind unicode61
/// and porter treat apart.
#[test]
fn the_index_from_the_matchers_tokens_is_porters_index() {
    const TEXTS: &[&str] = &[
        "Iranian drones over Ukraine: Shahed-136 strikes on Kyiv's power grid, 2026",
        "Іранські безпілотники атакували Київ; ППО збила 40 з 52",
        "Иранские беспилотники «Шахед» над Одессой — ночная атака",
        "Drohnenangriff auf Charkiw: Straße gesperrt, Öl-Depot in Flammen",
        "Ataque con drones iraníes: Kiev, Járkov y Odesa sin luz",
        "پهپادهای ایرانی در اوکراین",
        "İstanbul'da İHA toplantısı; ıssız İzmir",
        "ﬁnancial ﬂows ǅ ǈ Ⅻ ① ½ x² ＦＵＬＬＷＩＤＴＨ",
        "a b c 1 22 333 running runs ran runner's generalizations",
        "supercalifragilisticexpialidocioussupercalifragilisticexpialidocious-and-more-than-sixty-four",
        "e\u{301}le\u{300}ve cafe\u{301} na\u{ef}ve coo\u{308}perate",
        "emoji 😀 🇺🇦 and \u{200d}zero\u{200b}width joiners",
        "",
    ];
    let items: Vec<Item> = TEXTS
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut it = item(&format!("k{i}"), t, TEXTS[(i + 3) % TEXTS.len()], 0);
            it.author = TEXTS[(i + 5) % TEXTS.len()].to_string();
            it.category = "Війна, Politik".into();
            it
        })
        .collect();
    let rules = [rule("any", "drone*")];
    let index = |matched: bool| {
        let mut s = Store::open_in_memory().unwrap();
        let mut b = batch("feed-ß", &items);
        if !matched {
            // Older than the backfill window: stored, indexed, not matched.
            b.backfill_cutoff = Some(Utc::now() + Duration::days(1));
        }
        s.ingest(&b, &rules).unwrap();
        let blocks: Vec<(i64, Vec<u8>)> = s
            .conn
            .prepare("SELECT id, block FROM items_fts_data ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        (blocks, s.replay.replayed_count())
    };
    let (replayed, texts_replayed) = index(true);
    let (porters, none) = index(false);
    // The texts were given the matcher's tokens (all but those with a word
    // whose stem cannot be known from the word alone); none unmatched.
    assert!(texts_replayed >= TEXTS.len() * 3, "{texts_replayed}");
    assert_eq!(none, 0);
    assert_eq!(replayed, porters);
}

/// The replaying porter replays only into tables made with the archive's
/// porter arguments: another porter table on the same connection tokenises
/// a recorded text itself.
#[test]
fn only_the_archives_porter_replays() {
    let s = Store::open_in_memory().unwrap();
    let text = "Drones flew over Kyiv";
    // A recording that is not the text's tokens: whoever takes it indexes
    // "zzz" alone.
    let mut bogus = tokenizer::Recording::default();
    bogus.push(b"zzz", 0, 6);
    s.replay.record(text, bogus);
    s.conn
        .execute_batch(
            "CREATE VIRTUAL TABLE ascii USING fts5(x, tokenize = 'porter ascii');
             CREATE VIRTUAL TABLE archive_like USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2');",
        )
        .unwrap();
    for table in ["ascii", "archive_like"] {
        s.conn
            .execute(&format!("INSERT INTO {table}(x) VALUES (?1)"), [text])
            .unwrap();
    }
    let hits = |table: &str, query: &str| -> i64 {
        s.conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {table} MATCH ?1"),
                [query],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!((hits("ascii", "drone"), hits("ascii", "zzz")), (1, 0));
    // The archive's arguments replay the recording, as the index would.
    assert_eq!(
        (hits("archive_like", "drone"), hits("archive_like", "zzz")),
        (0, 1)
    );
}
