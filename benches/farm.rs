//! The feedwatch benchmark: a deterministic feed farm served on
//! loopback with ETag/Last-Modified, the real `feedwatch` binary run against
//! it, and the floors measured in the same run so that ratios compare like
//! with like. Run: `cargo bench --bench farm` (options after `--`:
//! `--feeds N --items M --archive K`; `--quick` for a small run;
//! `--parse-only` to profile the parse stage alone).
//!
//! Reports wall time, CPU time (user + system, from wait4) and peak RSS of
//! each feedwatch process, items/s, and the database size per item.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VOCAB: &[&str] = &[
    "government",
    "minister",
    "parliament",
    "election",
    "economy",
    "market",
    "bank",
    "inflation",
    "energy",
    "gas",
    "oil",
    "pipeline",
    "army",
    "border",
    "talks",
    "summit",
    "sanctions",
    "trade",
    "export",
    "import",
    "court",
    "police",
    "protest",
    "strike",
    "union",
    "health",
    "hospital",
    "vaccine",
    "school",
    "teachers",
    "climate",
    "flood",
    "storm",
    "drought",
    "harvest",
    "grain",
    "port",
    "shipping",
    "railway",
    "airport",
    "airline",
    "technology",
    "software",
    "hackers",
    "satellite",
    "space",
    "research",
    "university",
    "museum",
    "festival",
    "football",
    "league",
    "coach",
    "player",
    "record",
    "mayor",
    "city",
    "village",
    "region",
    "province",
    "president",
    "prime",
    "committee",
    "report",
    "budget",
    "tax",
    "reform",
    "pension",
    "housing",
    "rent",
    "investment",
    "company",
    "factory",
    "workers",
    "jobs",
    "wages",
    "prices",
    "fuel",
    "electricity",
    "grid",
    "missile",
    "defence",
    "navy",
    "aircraft",
    "soldiers",
    "ceasefire",
    "negotiations",
    "diplomats",
    "embassy",
    "refugees",
    "aid",
    "charity",
    "volunteers",
    "earthquake",
    "wildfire",
    "drought",
    "coast",
    "river",
    "bridge",
];

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

/// `--parse-only`: feedwatch's parse stage over the farm's documents, ten
/// times, and nothing else: a target for `perf record`.
fn parse_only(a: &Args) {
    let docs: Vec<Doc> = (0..a.feeds).map(|f| feed_doc(f, 0, a.items, 1)).collect();
    let base = url::Url::parse("https://example.org/").expect("url");
    let started = Instant::now();
    let mut items = 0;
    for _ in 0..10 {
        for d in &docs {
            items +=
                feedwatch::parse::parse_feed(&d.body, &base, 1000).map_or(0, |f| f.items.len());
        }
    }
    println!(
        "parse stage: {items} items, {:.0} items/s",
        items as f64 / started.elapsed().as_secs_f64()
    );
}

/// One generated feed document, as the server serves it.
#[derive(Clone)]
struct Doc {
    body: Arc<Vec<u8>>,
    etag: String,
    last_modified: String,
}

/// Item `n` of feed `f`: 1–3 KB of HTML; about 2% mention Iran, drones and
/// Ukraine (the example rule), the rest is ordinary news vocabulary.
fn item(rng: &mut fastrand::Rng, f: usize, n: usize) -> (String, String) {
    let words = |rng: &mut fastrand::Rng, k: usize| -> String {
        (0..k)
            .map(|_| VOCAB[rng.usize(..VOCAB.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Three of 2,000 rarer topic words per item: what rules look for.
    let topics = format!(
        "topic{} topic{} topic{}",
        rng.usize(..2000),
        rng.usize(..2000),
        rng.usize(..2000)
    );
    let mut title = format!("{} {topics} {} {}", words(rng, 5), f, n);
    let paragraphs = rng.usize(3..9);
    let mut html = String::new();
    for _ in 0..paragraphs {
        let _ = write!(
            html,
            "<p>{} <a href=\"https://example.org/{f}/{n}\">{}</a> {}.</p>",
            words(rng, 25),
            words(rng, 3),
            words(rng, 20)
        );
    }
    if rng.u8(..100) < 2 {
        title = format!("Iranian drones over Ukraine: {title}");
        html.push_str("<p>Iran supplied the drones used against Ukraine, officials said.</p>");
    }
    (title, html)
}

fn feed_doc(f: usize, first: usize, count: usize, version: u32) -> Doc {
    let mut rng = fastrand::Rng::with_seed((f as u64) << 20 | first as u64);
    let atom = f % 2 == 1;
    let mut out = String::with_capacity(count * 2500);
    if atom {
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Feed {f}</title><id>urn:feed:{f}</id><updated>2026-11-20T10:00:00Z</updated>"
        );
    } else {
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Feed {f}</title><link>https://example.org/{f}</link><description>d</description>"
        );
    }
    for n in (first..first + count).rev() {
        let (title, html) = item(&mut rng, f, n);
        let escaped = html
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let day = 1 + n % 28;
        if atom {
            let _ = write!(
                out,
                "<entry><id>urn:feed:{f}:item:{n}</id><title>{title}</title><link href=\"https://example.org/{f}/{n}\"/><updated>2026-11-{day:02}T08:00:00Z</updated><summary type=\"html\">{escaped}</summary></entry>"
            );
        } else {
            let _ = write!(
                out,
                "<item><guid>https://example.org/{f}/{n}</guid><title>{title}</title><link>https://example.org/{f}/{n}</link><pubDate>Fri, {day:02} Nov 2026 08:00:00 GMT</pubDate><description>{escaped}</description></item>"
            );
        }
    }
    out.push_str(if atom { "</feed>" } else { "</channel></rss>" });
    Doc {
        body: Arc::new(out.into_bytes()),
        etag: format!("\"{f}-{version}\""),
        last_modified: format!("Fri, 20 Nov 2026 10:{:02}:00 GMT", version % 60),
    }
}

type Farm = Arc<Mutex<Vec<Doc>>>;

/// HTTP/1.1 with keep-alive, ETag and Last-Modified, as nginx would serve files.
async fn serve(farm: Farm) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let farm = farm.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(2048);
                let mut chunk = [0u8; 2048];
                loop {
                    let end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end);
                    let path = head.split_whitespace().nth(1).unwrap_or("/");
                    let idx: Option<usize> = path
                        .trim_start_matches("/f/")
                        .trim_end_matches(".xml")
                        .parse()
                        .ok();
                    let doc = idx.and_then(|i| farm.lock().unwrap().get(i).cloned());
                    let Some(doc) = doc else {
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        continue;
                    };
                    let inm = head.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("if-none-match")
                            .then(|| v.trim().to_string())
                    });
                    let resp = if inm.as_deref() == Some(doc.etag.as_str()) {
                        format!(
                            "HTTP/1.1 304 Not Modified\r\nETag: {}\r\nLast-Modified: {}\r\n\r\n",
                            doc.etag, doc.last_modified
                        )
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nETag: {}\r\nLast-Modified: {}\r\n\r\n",
                            doc.body.len(),
                            doc.etag,
                            doc.last_modified
                        )
                    };
                    if stream.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                    if !resp.starts_with("HTTP/1.1 304")
                        && stream.write_all(&doc.body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// One run of the feedwatch binary.
struct Run {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    stdout: String,
    stderr: String,
}

/// Runs feedwatch and measures it. The measuring happens in a fresh copy of
/// this program (`--launch`): a child forked from this process would start
/// with this process's memory counted in its peak RSS (Linux copies the RSS
/// counters on fork), and this process holds the whole farm.
fn feedwatch(config: &Path, args: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (out, err, usage) = (
        out_dir.path().join("out"),
        out_dir.path().join("err"),
        out_dir.path().join("usage"),
    );
    let me = std::env::current_exe().expect("bench binary");
    let started = Instant::now();
    let status = Command::new(me)
        .arg("--launch")
        .arg(&usage)
        .arg(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::fs::File::create(&err).expect("err"))
        .status()
        .expect("start feedwatch");
    let wall = started.elapsed();
    assert!(
        status.success(),
        "feedwatch {args:?} failed: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    let numbers: Vec<u64> = std::fs::read_to_string(&usage)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    Run {
        wall,
        cpu: Duration::from_micros(numbers.first().copied().unwrap_or(0)),
        max_rss_kib: numbers.get(1).copied().unwrap_or(0) as i64,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// `--launch USAGE_FILE PROGRAM ARGS…`: runs PROGRAM, writes its CPU time
/// (µs) and peak RSS (KiB) from wait4 to USAGE_FILE, exits with its status.
// The child is reaped by wait4 (which also gives its rusage), not by wait().
#[allow(clippy::zombie_processes)]
fn launch(argv: &[String]) -> ! {
    let child = Command::new(&argv[1])
        .args(&argv[2..])
        .spawn()
        .expect("start");
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let _ = std::fs::write(&argv[0], format!("{cpu} {}", usage.ru_maxrss));
    let ok = pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    std::process::exit(if ok { 0 } else { 1 })
}

fn write_config(dir: &Path, addr: Option<SocketAddr>, feeds: usize, extra: &str) -> PathBuf {
    let mut text = format!(
        "state_dir = \"state\"\n[poll]\nconcurrency = 16\nper_host = 16\nbackfill = \"all\"\n\
         [email]\nfrom = \"feedwatch <fw@example.org>\"\nto = [\"analyst@example.org\"]\n{extra}\n"
    );
    if let Some(addr) = addr {
        for f in 0..feeds {
            let _ = write!(
                text,
                "[[feeds]]\nname = \"f{f}\"\nurl = \"http://{addr}/f/{f}.xml\"\n"
            );
        }
    }
    text.push_str(&rules(100));
    let path = dir.join("feedwatch.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// The example rule and 99 more, in every form of the rule language, each
/// matching well under 1% of items (as watch rules do): they look for the
/// farm's rarer topic words, alone or with common vocabulary.
fn rules(n: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut out =
        String::from("[[rules]]\nname = \"r0\"\nquery = 'iran* AND drone* AND ukrain*'\n");
    for i in 1..n {
        let t = |rng: &mut fastrand::Rng| format!("topic{}", rng.usize(..2000));
        let w = VOCAB[rng.usize(..VOCAB.len())];
        let q = match i % 5 {
            0 => format!("{} OR {}", t(&mut rng), t(&mut rng)),
            1 => format!("{} AND {w}", t(&mut rng)),
            2 => format!("NEAR({} {w}, 10)", t(&mut rng)),
            3 => format!("title:{}", t(&mut rng)),
            _ => format!("{} -{}", t(&mut rng), t(&mut rng)),
        };
        let _ = write!(out, "[[rules]]\nname = \"r{i}\"\nquery = '{q}'\n");
    }
    out
}

struct Row {
    what: String,
    wall: String,
    cpu: String,
    rss: String,
    rate: String,
}

fn row(what: &str, run: &Run, items: usize) -> Row {
    Row {
        what: what.into(),
        wall: format!("{:.3} s", run.wall.as_secs_f64()),
        cpu: format!("{:.3} s", run.cpu.as_secs_f64()),
        rss: format!("{:.1} MB", run.max_rss_kib as f64 / 1024.0),
        rate: if items > 0 {
            format!("{:.0} items/s", items as f64 / run.wall.as_secs_f64())
        } else {
            "-".into()
        },
    }
}

fn floor(what: &str, wall: Duration, items: usize) -> Row {
    Row {
        what: what.into(),
        wall: format!("{:.3} s", wall.as_secs_f64()),
        cpu: "-".into(),
        rss: "-".into(),
        rate: if items > 0 {
            format!("{:.0} items/s", items as f64 / wall.as_secs_f64())
        } else {
            "-".into()
        },
    }
}

/// Fetches every feed at concurrency 16 (conditionally with `etags`);
/// optionally parses each body with feed-rs.
async fn fetch_all(
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

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--launch") {
        launch(&argv[2..]);
    }
    let a = args();
    if std::env::args().any(|a| a == "--parse-only") {
        parse_only(&a);
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    eprintln!("generating {} feeds × {} items…", a.feeds, a.items);
    let docs: Vec<Doc> = (0..a.feeds).map(|f| feed_doc(f, 0, a.items, 1)).collect();
    let bytes: usize = docs.iter().map(|d| d.body.len()).sum();
    let farm: Farm = Arc::new(Mutex::new(docs));
    let addr = rt.block_on(serve(farm.clone()));
    let total_items = a.feeds * a.items;
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    // Floors, in this process.
    let fetch = rt.block_on(fetch_all(addr, a.feeds, None, false));
    let etags: HashMap<usize, String> = farm
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| (i, d.etag.clone()))
        .collect();
    let not_modified = rt.block_on(fetch_all(addr, a.feeds, Some(&etags), false));
    let fetch_parse = rt.block_on(fetch_all(addr, a.feeds, None, true));
    rows.push(floor(
        "floor: fetch all (reqwest, concurrency 16)",
        fetch,
        0,
    ));
    rows.push(floor("floor: all 304", not_modified, 0));
    rows.push(floor(
        "floor: fetch + feed-rs parse",
        fetch_parse,
        total_items,
    ));

    // Parsing alone, on one core: feed-rs, then feedwatch's parse stage
    // (feed-rs, HTML to text, identity, links) over the same documents.
    {
        let docs = farm.lock().unwrap();
        let base = url::Url::parse("https://example.org/").expect("url");
        let t = Instant::now();
        let n: usize = docs
            .iter()
            .map(|d| feed_rs::parser::parse(&d.body[..]).map_or(0, |f| f.entries.len()))
            .sum();
        rows.push(floor("parse, one core: feed-rs alone", t.elapsed(), n));
        let t = Instant::now();
        let n: usize = docs
            .iter()
            .map(|d| {
                feedwatch::parse::parse_feed(&d.body, &base, 1000).map_or(0, |f| f.items.len())
            })
            .sum();
        rows.push(floor(
            "parse, one core: feedwatch's parse stage",
            t.elapsed(),
            n,
        ));
    }

    // feedwatch against the farm.
    let config = write_config(dir.path(), Some(addr), a.feeds, "transport = \"stdout\"");
    eprintln!("first poll…");
    let first = feedwatch(&config, &["poll"]);
    assert_eq!(
        first
            .stdout
            .lines()
            .filter(|l| l.contains("FAILED"))
            .count(),
        0,
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    rows.push(row("feedwatch: first poll", &first, total_items));
    let nochange = feedwatch(&config, &["poll"]);
    rows.push(row("feedwatch: no-change poll (all 304)", &nochange, 0));
    {
        let mut docs = farm.lock().unwrap();
        for f in (0..a.feeds).filter(|f| f % 10 == 0) {
            docs[f] = feed_doc(f, 5, a.items, 2);
        }
    }
    let changed = feedwatch(&config, &["poll"]);
    rows.push(row(
        "feedwatch: 10% of feeds changed (5 new items each)",
        &changed,
        a.feeds / 10 * 5,
    ));
    let state = dir.path().join("state");
    let store = feedwatch::store::Store::open_dir(&state).expect("store");
    let first_db = store.size_bytes().expect("size");
    drop(store);

    // Storing and matching, in this process, in groups of GROUP feeds of 50
    // items (as the poll's writer takes them when the store is busy).
    let store_only = store_floor(20_000);
    rows.push(floor(
        "floor: store only (insert-new-only + FTS index, 0 rules)",
        store_only,
        20_000,
    ));
    let (archive_dir, match_empty, match_full, text_bytes, items_stored) = build_archive(a.archive);
    for (w, stored) in [
        (&match_empty, "empty archive".to_string()),
        (&match_full, format!("{} items stored", a.archive)),
    ] {
        rows.push(floor(
            &format!("store + match, 100 rules, {stored}"),
            w.store_and_match,
            w.items,
        ));
        rows.push(floor(
            &format!("matching alone (scratch index + 100 rules), {stored}"),
            w.matching,
            w.items,
        ));
    }

    // search over the archive, through the binary (median of 5).
    let archive_config = write_config(archive_dir.path(), None, 0, "transport = \"stdout\"");
    let mut runs: Vec<Run> = (0..5)
        .map(|_| feedwatch(&archive_config, &["search", "iran drones ukraine"]))
        .collect();
    runs.sort_by_key(|r| r.wall);
    let search = &runs[2];
    rows.push(row(
        &format!("feedwatch search, 3 terms, {} items", items_stored),
        search,
        0,
    ));
    let archive_store =
        feedwatch::store::Store::open_dir(&archive_dir.path().join("state")).expect("store");
    let db = archive_store.size_bytes().expect("size");
    notes.push(format!(
        "database: {:.0} bytes per item, {:.2}× the stored text ({} items, {:.1} MB of text, {:.1} MB file)",
        db as f64 / items_stored as f64,
        db as f64 / text_bytes as f64,
        items_stored,
        text_bytes as f64 / 1e6,
        db as f64 / 1e6
    ));
    drop(archive_store);
    if let Ok(conn) = rusqlite::Connection::open(archive_dir.path().join("state/feedwatch.db"))
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
        notes.push(format!("largest tables: {}", tables.join(", ")));
    }

    // A digest of 10,000 matches sent to an SMTP server on loopback.
    let digest = digest_10k();
    rows.push(row(
        "feedwatch digest: 10,000 matches → loopback SMTP",
        &digest.0,
        10_000,
    ));
    notes.push(format!(
        "the 10,000-match digest went out as {} messages",
        digest.1
    ));

    // The idle daemon.
    let idle = idle_rss(&config);
    notes.push(format!(
        "idle daemon 15 s after its first poll: {:.1} MB RSS ({:.1} MB its own memory, {:.1} MB pages of the binary)",
        idle.rss as f64 / 1024.0,
        idle.anon as f64 / 1024.0,
        idle.file as f64 / 1024.0
    ));
    notes.push(format!(
        "farm: {} feeds × {} items, {:.1} MB of RSS/Atom; first-poll database {:.1} MB",
        a.feeds,
        a.items,
        bytes as f64 / 1e6,
        first_db as f64 / 1e6
    ));

    println!("\n| measurement | wall | CPU | peak RSS | rate |\n|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.wall, r.cpu, r.rss, r.rate
        );
    }
    println!();
    for n in &notes {
        println!("- {n}");
    }
    println!(
        "- ratios: first poll wall / fetch+parse floor = {:.2}; no-change poll / 304 floor = {:.2}",
        first.wall.as_secs_f64() / fetch_parse.as_secs_f64(),
        nochange.wall.as_secs_f64() / not_modified.as_secs_f64()
    );
}

/// Feeds stored per `ingest_many` call in the in-process measurements: the
/// default `poll.concurrency`, which bounds the poll writer's groups.
const GROUP: usize = 16;

/// Store and matching time over a run of items.
#[derive(Default)]
struct Window {
    store_and_match: Duration,
    matching: Duration,
    items: usize,
}

/// Ingests `n` items (50-item feeds of 100 names, GROUP feeds per call, 100
/// rules) into a new state dir; returns it with the timings on the empty
/// archive (first 50,000 items) and on the full one (a last 50,000 items),
/// and the text size.
fn build_archive(n: usize) -> (tempfile::TempDir, Window, Window, usize, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = feedwatch::store::Store::open_dir(&dir.path().join("state")).expect("store");
    let config_text = format!(
        "state_dir = \"state\"\n[email]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n{}",
        rules(100)
    );
    let config =
        feedwatch::config::parse(&config_text, &dir.path().join("x.toml"), None).expect("rules");
    let base = url::Url::parse("https://example.org/").expect("url");
    let mut text_bytes = 0;
    let mut done = 0;
    let window = 50_000.min(n / 2).max(1);
    let mut empty = Window::default();
    let mut full = Window::default();
    let started_all = Instant::now();
    let mut f = 0;
    while done < n {
        let mut parsed = Vec::new();
        let mut count = 0;
        while parsed.len() < GROUP && done + count < n {
            let c = 50.min(n - done - count);
            let doc = feed_doc(10_000 + f, done + count, c, 1);
            let p = feedwatch::parse::parse_feed(&doc.body, &base, 1000).expect("parse");
            text_bytes += p
                .items
                .iter()
                .map(|i| i.title.len() + i.summary.len())
                .sum::<usize>();
            parsed.push((format!("a{}", f % 100), p));
            count += c;
            f += 1;
        }
        let now = chrono::Utc::now();
        let validators = Default::default();
        let batches: Vec<_> = parsed
            .iter()
            .map(|(name, p)| feedwatch::store::Batch {
                feed: name,
                url: "https://example.org/",
                status: Some(200),
                validators: &validators,
                items: &p.items,
                backfill_cutoff: None,
                moved_to: None,
                not_before: None,
                now,
            })
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

/// Time to store `n` parsed items, GROUP feeds of 50 per call, no rules.
fn store_floor(n: usize) -> Duration {
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
    let validators = Default::default();
    let now = chrono::Utc::now();
    let started = Instant::now();
    for group in feeds.chunks(GROUP) {
        let batches: Vec<_> = group
            .iter()
            .map(|(name, items)| feedwatch::store::Batch {
                feed: name,
                url: "https://example.org/",
                status: Some(200),
                validators: &validators,
                items,
                backfill_cutoff: None,
                moved_to: None,
                not_before: None,
                now,
            })
            .collect();
        for r in store.ingest_many(&batches, &[]) {
            r.expect("ingest");
        }
    }
    started.elapsed()
}

/// 10,000 pending matches in a fresh state dir, then `feedwatch digest` to a
/// loopback SMTP server. Returns the run and the number of messages.
fn digest_10k() -> (Run, usize) {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<usize>>);
    impl mailin_embedded::Handler for Sink {
        fn data_end(&mut self) -> mailin_embedded::Response {
            *self.0.lock().unwrap() += 1;
            mailin_embedded::response::OK
        }
    }
    let sink = Sink::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind smtp");
    let port = listener.local_addr().expect("addr").port();
    let mut server = mailin_embedded::Server::new(sink.clone());
    server.with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        None,
        0,
        &format!("smtp = \"smtp://127.0.0.1:{port}\""),
    );
    let cfg = feedwatch::config::load(&config).expect("config");
    let mut store = feedwatch::store::Store::open_dir(&cfg.state_dir).expect("store");
    let base = url::Url::parse("https://example.org/").expect("url");
    let only_seed = [cfg.rules[0].clone()];
    let mut matched = 0;
    let mut f = 0;
    while matched < 10_000 {
        // Items that all match the example rule, each its own story.
        let mut doc = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..50 {
            let _ = write!(
                doc,
                "<item><guid>m{f}-{i}</guid><title>Iran drones over Ukraine, report {f}-{i}</title><description>Unique words {f}x{i}a {f}x{i}b {f}x{i}c {f}x{i}d about Iranian drones in Ukraine {f}x{i}e {f}x{i}f.</description></item>"
            );
        }
        doc.push_str("</channel></rss>");
        let parsed = feedwatch::parse::parse_feed(doc.as_bytes(), &base, 1000).expect("parse");
        let r = store
            .ingest(
                &feedwatch::store::Batch {
                    feed: &format!("d{}", f % 20),
                    url: "https://example.org/",
                    status: Some(200),
                    validators: &Default::default(),
                    items: &parsed.items,
                    backfill_cutoff: None,
                    moved_to: None,
                    not_before: None,
                    now: chrono::Utc::now(),
                },
                &only_seed,
            )
            .expect("ingest");
        matched += r.matched_items;
        f += 1;
    }
    drop(store);
    let run = feedwatch(&config, &["digest"]);
    let sent = *sink.0.lock().unwrap();
    (run, sent)
}

/// RSS of `feedwatch run` once its first poll is done and it is waiting.
fn idle_rss(config: &Path) -> Idle {
    let dir = config.parent().expect("dir");
    let _ = std::fs::remove_dir_all(dir.join("state"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("daemon.log")).expect("log"))
        .spawn()
        .expect("daemon");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if std::fs::read_to_string(dir.join("daemon.log"))
            .unwrap_or_default()
            .contains("poll finished")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Idle: connections closed (5 s), the blocking pool's threads gone (10 s).
    std::thread::sleep(Duration::from_secs(15));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(-1)
    };
    let _ = child.kill();
    let _ = child.wait();
    Idle {
        rss: kib("VmRSS:"),
        anon: kib("RssAnon:"),
        file: kib("RssFile:"),
    }
}

/// The idle daemon's resident memory in KiB: all of it, its own (heap,
/// stacks) and the binary's pages mapped from the page cache.
struct Idle {
    rss: i64,
    anon: i64,
    file: i64,
}
