//! The floors: what the same work costs without feedwatch, measured in
//! this process in the same run (reqwest fetching the farm, feed-rs parsing
//! it, the store's insert and match through the library), and the archive
//! of a million items the store and search figures are measured on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::generator::{feed_doc, rules, rules_as};

/// Fetches every feed at concurrency 16 (conditionally with `etags`);
/// optionally parses each body with feed-rs.
pub async fn fetch_all(
    addr: SocketAddr,
    feeds: usize,
    etags: Option<&HashMap<usize, String>>,
    parse: bool,
) -> Duration {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let started = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for f in 0..feeds {
        let (client, sem) = (client.clone(), sem.clone());
        let etag = etags.and_then(|e| e.get(&f).cloned());
        tasks.spawn(async move {
            let _p = sem.acquire_owned().await;
            let mut req = client.get(format!("http://{addr}/f/{f}.xml"));
            if let Some(e) = etag {
                req = req.header("If-None-Match", e);
            }
            let body = req
                .send()
                .await
                .expect("fetch")
                .bytes()
                .await
                .expect("body");
            if parse && !body.is_empty() {
                let body = body.to_vec();
                tokio::task::spawn_blocking(move || {
                    feed_rs::parser::parse(&body[..])
                        .map(|f| f.entries.len())
                        .unwrap_or(0)
                })
                .await
                .expect("parse");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    started.elapsed()
}

/// Feeds stored per `ingest_many` call in the in-process measurements: the
/// default `poll.concurrency`, which bounds the poll writer's groups.
const GROUP: usize = 16;

/// A fetch of feed `name` bringing `items`, as the poll's writer stores it
/// (no validators, no backfill, no redirect).
fn fetch_of<'a>(
    name: &'a str,
    items: &'a [feedwatch::model::Item],
    now: chrono::DateTime<chrono::Utc>,
) -> feedwatch::store::Batch<'a> {
    feedwatch::store::Batch::new(name, "https://example.org/", items, now)
}

/// Store and matching time over a run of items.
#[derive(Default)]
pub struct Window {
    pub store_and_match: Duration,
    pub matching: Duration,
    pub items: usize,
}

/// Ingests `n` items (50-item feeds of 100 names, GROUP feeds per call, 100
/// rules) into a new state dir; returns it with the timings on the empty
/// archive (first 50,000 items) and on the full one (a last 50,000 items),
/// and the text size.
pub fn build_archive(n: usize) -> (tempfile::TempDir, Window, Window, usize, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = feedwatch::store::Store::open_dir(&dir.path().join("state")).expect("store");
    let config_text = format!(
        "state_dir = \"state\"\n[email]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n{}",
        rules(100)
    );
    let config =
        feedwatch::config::parse(&config_text, &dir.path().join("x.toml"), None).expect("rules");
    let mut text_bytes = 0;
    let mut done = 0;
    let window = 50_000.min(n / 2).max(1);
    let mut empty = Window::default();
    let mut full = Window::default();
    let started_all = Instant::now();
    let mut f = 0;
    while done < n {
        let (parsed, count) = group_of_feeds(10_000, &mut f, done, n);
        text_bytes += parsed
            .iter()
            .flat_map(|(_, p)| &p.items)
            .map(|i| i.title.len() + i.summary.len())
            .sum::<usize>();
        let now = chrono::Utc::now();
        let batches: Vec<_> = parsed
            .iter()
            .map(|(name, p)| fetch_of(name, &p.items, now))
            .collect();
        let t = Instant::now();
        let matching_before = store.matching_time();
        for r in store.ingest_many(&batches, &config.rules) {
            r.expect("ingest");
        }
        let spent = t.elapsed();
        let matching = store.matching_time() - matching_before;
        let window = if done < window {
            Some(&mut empty)
        } else if done >= n - window {
            Some(&mut full)
        } else {
            None
        };
        if let Some(w) = window {
            w.store_and_match += spent;
            w.matching += matching;
            w.items += count;
        }
        let before = done;
        done += count;
        if done / 100_000 > before / 100_000 {
            eprintln!(
                "archive: {done} items ({:.0} s)",
                started_all.elapsed().as_secs_f64()
            );
        }
    }
    (dir, empty, full, text_bytes, n)
}

/// What concepts cost matching, in one run: `n` items stored and matched
/// into two archives, group by group in turn (so both see the same phase
/// of the machine), one with the 100 rules as written (`rules`, their
/// concepts expanded), one with the same rules with no word expanded
/// (`rules_as(_, false)`). Returns the matching time of each, and the
/// items.
pub fn concept_cost(n: usize) -> (Duration, Duration, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let compiled = |concepts: bool, name: &str| {
        let text = format!(
            "state_dir = \"{name}\"\n[email]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n{}",
            rules_as(100, concepts)
        );
        let config =
            feedwatch::config::parse(&text, &dir.path().join("x.toml"), None).expect("rules");
        let store = feedwatch::store::Store::open_dir(&dir.path().join(name)).expect("store");
        (store, config.rules)
    };
    let mut runs = [compiled(true, "with"), compiled(false, "without")];
    let mut spent = [Duration::ZERO; 2];
    let (mut done, mut f) = (0, 0);
    while done < n {
        let (parsed, count) = group_of_feeds(20_000, &mut f, done, n);
        let now = chrono::Utc::now();
        let batches: Vec<_> = parsed
            .iter()
            .map(|(name, p)| fetch_of(name, &p.items, now))
            .collect();
        // Each goes first in turn.
        for k in [f % 2, 1 - f % 2] {
            let (store, rules) = &mut runs[k];
            let before = store.matching_time();
            for r in store.ingest_many(&batches, rules) {
                r.expect("ingest");
            }
            spent[k] += store.matching_time() - before;
        }
        done += count;
    }
    (spent[0], spent[1], n)
}

/// The next GROUP feeds of 50 items (fewer at the end of `n`), parsed, as
/// a poll stores them in one call: feed numbers from `first + *f` on
/// (`f` counts the feeds made), their items from `done` on; and how many
/// items they hold.
fn group_of_feeds(
    first: usize,
    f: &mut usize,
    done: usize,
    n: usize,
) -> (Vec<(String, feedwatch::parse::ParsedFeed)>, usize) {
    let base = url::Url::parse("https://example.org/").expect("url");
    let mut parsed = Vec::new();
    let mut count = 0;
    while parsed.len() < GROUP && done + count < n {
        let c = 50.min(n - done - count);
        let doc = feed_doc(first + *f, done + count, c, 1);
        let p = feedwatch::parse::parse_feed(&doc.body, &base, 1000).expect("parse");
        parsed.push((format!("a{}", *f % 100), p));
        count += c;
        *f += 1;
    }
    (parsed, count)
}

/// Time to store `n` parsed items, GROUP feeds of 50 per call, no rules.
pub fn store_floor(n: usize) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = feedwatch::store::Store::open_dir(dir.path()).expect("store");
    let base = url::Url::parse("https://example.org/").expect("url");
    let feeds: Vec<(String, Vec<feedwatch::model::Item>)> = (0..n / 50)
        .map(|f| {
            let doc = feed_doc(20_000 + f, 0, 50, 1);
            let parsed = feedwatch::parse::parse_feed(&doc.body, &base, 1000).expect("parse");
            (format!("s{f}"), parsed.items)
        })
        .collect();
    let now = chrono::Utc::now();
    let started = Instant::now();
    for group in feeds.chunks(GROUP) {
        let batches: Vec<_> = group
            .iter()
            .map(|(name, items)| fetch_of(name, items, now))
            .collect();
        for r in store.ingest_many(&batches, &[]) {
            r.expect("ingest");
        }
    }
    started.elapsed()
}
