//! The feedwatch benchmark: a deterministic feed farm served on
//! loopback with ETag/Last-Modified, the real `feedwatch` binary run against
//! it, and the floors measured in the same run so that ratios compare like
//! with like. Run: `cargo bench --bench farm` (options after `--`:
//! `--feeds N --items M --archive K`; `--quick` for a small run;
//! `--parse-only` and `--match-only` to profile one stage alone; `--scale`
//! for how cost grows from 200 to 10,000 feeds; `--versus` for the first
//! poll beside other binaries and rss2email).
//!
//! Reports wall time, CPU time (user + system, from wait4) and peak RSS of
//! each feedwatch process, items/s, and the database size per item.
//!
//! - `generator`: the farm's feeds and the rules.
//! - `server`: the farm's HTTP server.
//! - `measure`: running the binary and measuring it; the results table.
//! - `floors`: the same work without feedwatch, and the archive.
//! - `scale`: the farm at three sizes.
//! - `versus`: the first poll beside other programs, interleaved.

mod floors;
mod generator;
mod measure;
mod scale;
mod server;
mod versus;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use generator::{Doc, TEASERS_PER_FEED, feed_doc};
use measure::{Report, Run, feedwatch, floor, row, write_config};
use server::Farm;

struct Args {
    feeds: usize,
    items: usize,
    archive: usize,
}

fn args() -> Args {
    let mut a = Args {
        feeds: 1000,
        items: 50,
        archive: 1_000_000,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let next = || argv.get(i + 1).and_then(|v| v.parse().ok());
        match argv[i].as_str() {
            "--feeds" => a.feeds = next().unwrap_or(a.feeds),
            "--items" => a.items = next().unwrap_or(a.items),
            "--archive" => a.archive = next().unwrap_or(a.archive),
            "--quick" => {
                a.feeds = 200;
                a.archive = 100_000;
            }
            _ => {}
        }
        i += 1;
    }
    a
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--launch") {
        measure::launch(&argv[2..]);
    }
    let a = args();
    if std::env::args().any(|a| a == "--parse-only") {
        parse_only(&a);
        return;
    }
    if std::env::args().any(|a| a == "--match-only") {
        let mut report = Report::default();
        let (archive, text_bytes, items) = match_rows(&a, &mut report);
        concept_rows(&mut report);
        search_row(archive.path(), items, &mut report);
        database_notes(archive.path(), text_bytes, items, &mut report);
        if std::env::var_os("FARM_KEEP").is_some() {
            eprintln!("kept: {}", archive.keep().display());
        }
        report.print();
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    if std::env::args().any(|a| a == "--versus") {
        versus::run(&rt, &a);
        return;
    }
    if std::env::args().any(|a| a == "--scale") {
        scale::run(&rt);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    eprintln!("generating {} feeds × {} items…", a.feeds, a.items);
    let docs: Vec<Doc> = (0..a.feeds).map(|f| feed_doc(f, 0, a.items, 1)).collect();
    let bytes: usize = docs.iter().map(|d| d.body.len()).sum();
    let farm: Farm = Arc::new(Mutex::new(docs));
    let addr = rt.block_on(server::serve(farm.clone()));
    let mut report = Report::default();

    let network = network_floors(&rt, addr, &farm, &a, &mut report);
    parse_floors(&farm, &mut report);
    let config = write_config(dir.path(), Some(addr), a.feeds, "transport = \"stdout\"");
    let (first, nochange, _) = polls(&config, &farm, &a, &mut report);
    let store = feedwatch::store::Store::open_dir(&dir.path().join("state")).expect("store");
    let first_db = store.size_bytes().expect("size");
    drop(store);
    article_path(addr, &mut report);
    store_and_search(&a, &mut report);
    digest(&mut report);
    idle(&config, &mut report);
    report.notes.push(format!(
        "farm: {} feeds × {} items, {:.1} MB of RSS/Atom; first-poll database {:.1} MB",
        a.feeds,
        a.items,
        bytes as f64 / 1e6,
        first_db as f64 / 1e6
    ));
    report.print();
    println!(
        "- ratios: first poll wall / fetch+parse floor = {:.2}; no-change poll / 304 floor = {:.2}",
        first.wall.as_secs_f64() / network.fetch_parse.as_secs_f64(),
        nochange.wall.as_secs_f64() / network.not_modified.as_secs_f64()
    );
}

/// `--parse-only`: feed-rs alone, then feedwatch's parse stage, over the
/// farm's documents, ten times each, and nothing else: the ratio the parse
/// stage is held to (at most 1.5× feed-rs), and a target for `perf record`
/// (with `--stage-only`, the parse stage alone).
fn parse_only(a: &Args) {
    let docs: Vec<Doc> = (0..a.feeds).map(|f| feed_doc(f, 0, a.items, 1)).collect();
    let base = url::Url::parse("https://example.org/").expect("url");
    let time = |parse: &dyn Fn(&[u8]) -> usize| {
        let started = Instant::now();
        let items: usize = (0..10)
            .map(|_| docs.iter().map(|d| parse(&d.body)).sum::<usize>())
            .sum();
        (items, items as f64 / started.elapsed().as_secs_f64())
    };
    let skip_stage = std::env::args().any(|a| a == "--stage-only");
    let (_, alone) = if skip_stage {
        (0, f64::NAN)
    } else {
        time(&|b| feed_rs::parser::parse(b).map_or(0, |f| f.entries.len()))
    };
    let (items, stage) =
        time(&|b| feedwatch::parse::parse_feed(b, &base, 1000).map_or(0, |f| f.items.len()));
    println!("feed-rs alone: {alone:.0} items/s");
    println!("parse stage: {items} items, {stage:.0} items/s");
    println!(
        "parse stage / feed-rs alone: {:.2}× the time",
        alone / stage
    );
}

/// The network floors the polls are compared with.
struct NetworkFloors {
    fetch_parse: Duration,
    not_modified: Duration,
}

/// reqwest fetching the farm (all of it, all 304, and with feed-rs parsing).
fn network_floors(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    farm: &Farm,
    a: &Args,
    report: &mut Report,
) -> NetworkFloors {
    let fetch = rt.block_on(floors::fetch_all(addr, a.feeds, None, false));
    let etags: HashMap<usize, String> = farm
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| (i, d.etag.clone()))
        .collect();
    let not_modified = rt.block_on(floors::fetch_all(addr, a.feeds, Some(&etags), false));
    let fetch_parse = rt.block_on(floors::fetch_all(addr, a.feeds, None, true));
    let total_items = a.feeds * a.items;
    report.rows.push(floor(
        "floor: fetch all (reqwest, concurrency 16)",
        fetch,
        0,
    ));
    report.rows.push(floor("floor: all 304", not_modified, 0));
    report.rows.push(floor(
        "floor: fetch + feed-rs parse",
        fetch_parse,
        total_items,
    ));
    NetworkFloors {
        fetch_parse,
        not_modified,
    }
}

/// Parsing alone, on one core: feed-rs, then feedwatch's parse stage
/// (feed-rs, HTML to text, identity, links) over the same documents.
fn parse_floors(farm: &Farm, report: &mut Report) {
    let docs = farm.lock().unwrap();
    let base = url::Url::parse("https://example.org/").expect("url");
    let t = Instant::now();
    let n: usize = docs
        .iter()
        .map(|d| feed_rs::parser::parse(&d.body[..]).map_or(0, |f| f.entries.len()))
        .sum();
    report
        .rows
        .push(floor("parse, one core: feed-rs alone", t.elapsed(), n));
    let t = Instant::now();
    let n: usize = docs
        .iter()
        .map(|d| feedwatch::parse::parse_feed(&d.body, &base, 1000).map_or(0, |f| f.items.len()))
        .sum();
    report.rows.push(floor(
        "parse, one core: feedwatch's parse stage",
        t.elapsed(),
        n,
    ));
}

/// feedwatch against the farm: the first poll, a poll with nothing new,
/// and one with 10% of the feeds changed.
fn polls(config: &Path, farm: &Farm, a: &Args, report: &mut Report) -> (Run, Run, Run) {
    eprintln!("first poll…");
    let first = feedwatch(config, &["poll"]);
    let failed = first.stdout.lines().filter(|l| l.contains("FAILED"));
    assert_eq!(failed.count(), 0, "{}\n{}", first.stdout, first.stderr);
    report
        .rows
        .push(row("feedwatch: first poll", &first, a.feeds * a.items));
    let nochange = feedwatch(config, &["poll"]);
    report
        .rows
        .push(row("feedwatch: no-change poll (all 304)", &nochange, 0));
    {
        let mut docs = farm.lock().unwrap();
        for f in (0..a.feeds).filter(|f| f % 10 == 0) {
            docs[f] = feed_doc(f, 5, a.items, 2);
        }
    }
    let changed = feedwatch(config, &["poll"]);
    report.rows.push(row(
        "feedwatch: 10% of feeds changed (5 new items each)",
        &changed,
        a.feeds / 10 * 5,
    ));
    (first, nochange, changed)
}

/// The article path (docs/fetching.md, "Full text"): 16 teaser feeds of
/// `TEASERS_PER_FEED` items polled without and with `full_text` (16
/// articles in flight: one per feed, no delay between requests); the
/// difference per article, and the peak memory. Then the article reader
/// alone over the same pages, in this process.
fn article_path(addr: SocketAddr, report: &mut Report) {
    let feeds = 16;
    let articles = feeds * TEASERS_PER_FEED;
    let poll = |full_text: bool| -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        // The farm stands in for the public internet: its articles are on
        // loopback, which the guard refuses unless allowed.
        let mut text = format!(
            "state_dir = \"state\"\n[poll]\nconcurrency = 16\nper_host = 16\nbackfill = \"all\"\n\
             article_delay = \"0s\"\nallow_internal = [\"{addr}\"]\n\
             [email]\nfrom = \"fw@example.org\"\nto = [\"a@example.org\"]\n\
             transport = \"stdout\"\n",
        );
        for f in 0..feeds {
            text.push_str(&format!(
                "[[feeds]]\nname = \"t{f}\"\nurl = \"http://{addr}/af/{f}.xml\"\nfull_text = {full_text}\n"
            ));
        }
        text.push_str(&generator::rules(100));
        let config = dir.path().join("feedwatch.toml");
        std::fs::write(&config, text).expect("config");
        feedwatch(&config, &["poll"])
    };
    let plain = poll(false);
    let full = poll(true);
    report.rows.push(row(
        &format!("feedwatch: {feeds} teaser feeds, {articles} items, feed text only"),
        &plain,
        articles,
    ));
    report.rows.push(row(
        &format!("feedwatch: the same with full_text ({articles} articles, 16 in flight)"),
        &full,
        articles,
    ));
    let per =
        |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64() * 1000.0 / articles as f64;
    report.notes.push(format!(
        "article path: {:.2} ms wall and {:.2} ms CPU per article (fetch over loopback, read, store, match); peak RSS {:.1} MB with 16 articles in flight, against {:.1} MB without",
        per(full.wall, plain.wall),
        per(full.cpu, plain.cpu),
        full.max_rss_kib as f64 / 1024.0,
        plain.max_rss_kib as f64 / 1024.0
    ));
    let pages: Vec<Doc> = (0..feeds)
        .flat_map(|f| (0..TEASERS_PER_FEED).map(move |n| generator::article_page(f, n)))
        .collect();
    let url = url::Url::parse("https://example.org/art").expect("url");
    let t = Instant::now();
    let read = pages
        .iter()
        .filter(|p| {
            feedwatch::parse::article_text(
                &p.body,
                Some("text/html"),
                &url,
                feedwatch::parse::PageLimits::DEFAULT,
            )
            .is_ok()
        })
        .count();
    assert_eq!(read, pages.len(), "every farm article is read");
    report.rows.push(floor(
        "article reader alone (dom_smoothie), one core",
        t.elapsed(),
        read,
    ));
}

/// Storing and matching, in this process, in groups of feeds of 50 items
/// (as the poll's writer takes them when the store is busy); `search` over
/// the archive through the binary (median of 5); the database's size.
fn store_and_search(a: &Args, report: &mut Report) {
    report.rows.push(floor(
        "floor: store only (insert-new-only + FTS index, 0 rules)",
        floors::store_floor(20_000),
        20_000,
    ));
    let (archive_dir, text_bytes, items_stored) = match_rows(a, report);
    search_row(archive_dir.path(), items_stored, report);
    database_notes(archive_dir.path(), text_bytes, items_stored, report);
}

/// `search` of 3 terms over the archive through the binary, median of 5.
fn search_row(dir: &Path, items: usize, report: &mut Report) {
    let archive_config = write_config(dir, None, 0, "transport = \"stdout\"");
    let mut runs: Vec<Run> = (0..5)
        .map(|_| feedwatch(&archive_config, &["search", "iran drones ukraine"]))
        .collect();
    runs.sort_by_key(|r| r.wall);
    report.rows.push(row(
        &format!("feedwatch search, 3 terms, {items} items"),
        &runs[2],
        0,
    ));
}

/// Storing and matching into an archive of `a.archive` items: on the empty
/// archive and on the full one. Returns the archive, its text and items.
fn match_rows(a: &Args, report: &mut Report) -> (tempfile::TempDir, usize, usize) {
    let (archive_dir, match_empty, match_full, text_bytes, items_stored) =
        floors::build_archive(a.archive);
    for (w, stored) in [
        (&match_empty, "empty archive".to_string()),
        (&match_full, format!("{} items stored", a.archive)),
    ] {
        report.rows.push(floor(
            &format!("store + match, 100 rules, {stored}"),
            w.store_and_match,
            w.items,
        ));
        report.rows.push(floor(
            &format!("matching alone (tokenise, 100 rules, snippets), {stored}"),
            w.matching,
            w.items,
        ));
    }
    (archive_dir, text_bytes, items_stored)
}

/// Matching with the rules' concepts expanded and without, in one run
/// (`floors::concept_cost`, 100,000 items).
fn concept_rows(report: &mut Report) {
    let (with, without, items) = floors::concept_cost(100_000);
    report.rows.push(floor(
        "matching alone, 100 rules, concepts expanded (same run as the next row)",
        with,
        items,
    ));
    report.rows.push(floor(
        "matching alone, the same 100 rules, no word expanded",
        without,
        items,
    ));
    report.notes.push(format!(
        "concepts cost matching {:+.0}% of its time",
        (with.as_secs_f64() / without.as_secs_f64() - 1.0) * 100.0
    ));
}

/// The archive's size per item and against its text, and its largest tables.
fn database_notes(dir: &Path, text_bytes: usize, items: usize, report: &mut Report) {
    let store = feedwatch::store::Store::open_dir(&dir.join("state")).expect("store");
    let db = store.size_bytes().expect("size");
    drop(store);
    report.notes.push(format!(
        "database: {:.0} bytes per item, {:.2}× the stored text ({} items, {:.1} MB of text, {:.1} MB file)",
        db as f64 / items as f64,
        db as f64 / text_bytes as f64,
        items,
        text_bytes as f64 / 1e6,
        db as f64 / 1e6
    ));
    if let Ok(conn) = rusqlite::Connection::open(dir.join("state/feedwatch.db"))
        && let Ok(mut st) = conn
            .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6")
    {
        let tables: Vec<String> = st
            .query_map([], |r| {
                Ok(format!(
                    "{} {:.1} MB",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as f64 / 1e6
                ))
            })
            .map(|rows| rows.flatten().collect())
            .unwrap_or_default();
        report
            .notes
            .push(format!("largest tables: {}", tables.join(", ")));
    }
}

/// A digest of 10,000 matches sent to an SMTP server on loopback.
fn digest(report: &mut Report) {
    let (run, messages) = measure::digest_10k();
    report.rows.push(row(
        "feedwatch digest: 10,000 matches → loopback SMTP",
        &run,
        10_000,
    ));
    report.notes.push(format!(
        "the 10,000-match digest went out as {messages} messages"
    ));
}

/// The idle daemon.
fn idle(config: &Path, report: &mut Report) {
    let idle = measure::idle_rss(config);
    report.notes.push(format!(
        "idle daemon 15 s after its first poll: {:.1} MB RSS ({:.1} MB its own memory, {:.1} MB pages of the binary)",
        idle.rss as f64 / 1024.0,
        idle.anon as f64 / 1024.0,
        idle.file as f64 / 1024.0
    ));
}
