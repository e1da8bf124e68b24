//! Measuring the real binary: each feedwatch run in a fresh copy of this
//! program (`--launch`) that reports its CPU time and peak RSS from wait4;
//! the idle daemon's memory from /proc; the results table.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::generator::rules;

/// One run of the feedwatch binary.
pub struct Run {
    /// Whether it exited 0.
    pub ok: bool,
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_kib: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs feedwatch and measures it; it must succeed.
pub fn feedwatch(config: &Path, args: &[&str]) -> Run {
    let mut argv: Vec<&OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    argv.extend(args.iter().map(OsStr::new));
    let run = launched(Path::new(env!("CARGO_BIN_EXE_feedwatch")), &argv);
    assert!(run.ok, "feedwatch {args:?} failed: {}", run.stderr);
    run
}

/// Runs `program` with `args` and measures it. The measuring happens in a
/// fresh copy of this program (`--launch`): a child forked from this
/// process would start with this process's memory counted in its peak RSS
/// (Linux copies the RSS counters on fork), and this process holds the
/// whole farm.
pub fn launched(program: &Path, args: &[&OsStr]) -> Run {
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
        .arg(program)
        .args(args)
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::fs::File::create(&err).expect("err"))
        .status()
        .expect("start the program");
    let wall = started.elapsed();
    let numbers: Vec<u64> = std::fs::read_to_string(&usage)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    Run {
        ok: status.success(),
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
pub fn launch(argv: &[String]) -> ! {
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

/// A config for `feeds` feeds of the farm at `addr` (none without it), the
/// 100 rules, and `extra` under [email].
pub fn write_config(dir: &Path, addr: Option<SocketAddr>, feeds: usize, extra: &str) -> PathBuf {
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

/// A line of the results table.
pub struct Row {
    what: String,
    wall: String,
    cpu: String,
    rss: String,
    rate: String,
}

/// A measured feedwatch run.
pub fn row(what: &str, run: &Run, items: usize) -> Row {
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

/// A time measured in this process.
pub fn floor(what: &str, wall: Duration, items: usize) -> Row {
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

/// The results table and the notes under it.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn print(&self) {
        println!("\n| measurement | wall | CPU | peak RSS | rate |\n|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} |",
                r.what, r.wall, r.cpu, r.rss, r.rate
            );
        }
        println!();
        for n in &self.notes {
            println!("- {n}");
        }
    }
}

/// 10,000 pending matches in a fresh state dir, then `feedwatch digest` to a
/// loopback SMTP server. Returns the run and the number of messages.
pub fn digest_10k() -> (Run, usize) {
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
        let feed = format!("d{}", f % 20);
        let batch = feedwatch::store::Batch::new(
            &feed,
            "https://example.org/",
            &parsed.items,
            chrono::Utc::now(),
        );
        let r = store.ingest(&batch, &only_seed).expect("ingest");
        matched += r.matched_items;
        f += 1;
    }
    drop(store);
    let run = feedwatch(&config, &["digest"]);
    let sent = *sink.0.lock().unwrap();
    (run, sent)
}

/// RSS of `feedwatch run` once its first poll is done and it is waiting.
pub fn idle_rss(config: &Path) -> Idle {
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
pub struct Idle {
    pub rss: i64,
    pub anon: i64,
    pub file: i64,
}
