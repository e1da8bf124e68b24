//! `--versus`: the first poll's CPU of feedwatch beside other programs on
//! the same farm, in the same run, interleaved round by round so that the
//! machine's phase is the same for all: other feedwatch binaries
//! (`--binary NAME=PATH`, say one built from an older commit by
//! `benches/regression.sh`) and rss2email's `run --no-send`
//! (`--rss2email PATH`, installed by `benches/rss2email.sh`). The farm is
//! 200 feeds (`--feeds`) × 50 items (`--items`), with the
//! one rule `iran* AND drone*` and `backfill = "all"`: every item is
//! matched. The config uses only keys every feedwatch since the first wave
//! reads. A ratio drifting from one run to the next is a regression (or a
//! gain) in the binary under test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Args;
use crate::generator::{Doc, feed_doc};
use crate::measure::{Run, launched};
use crate::server::{self, Farm};

/// One program measured: its name, and how to run its first poll in a
/// fresh directory.
struct Contender {
    name: String,
    program: Contestant,
}

enum Contestant {
    Feedwatch(PathBuf),
    Rss2email(PathBuf),
}

pub fn run(rt: &tokio::runtime::Runtime, a: &Args) {
    let argv: Vec<String> = std::env::args().collect();
    let value = |flag: &str| -> Vec<String> {
        argv.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    };
    let rounds: usize = value("--rounds")
        .first()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut contenders = vec![Contender {
        name: "feedwatch (this build)".into(),
        program: Contestant::Feedwatch(PathBuf::from(env!("CARGO_BIN_EXE_feedwatch"))),
    }];
    for b in value("--binary") {
        let (name, path) = b.split_once('=').unwrap_or(("other", &b));
        contenders.push(Contender {
            name: format!("feedwatch {name}"),
            program: Contestant::Feedwatch(PathBuf::from(path)),
        });
    }
    for r in value("--rss2email") {
        contenders.push(Contender {
            name: "rss2email run --no-send".into(),
            program: Contestant::Rss2email(PathBuf::from(r)),
        });
    }
    // `--poll 'backfill = "24h"'`: the [poll] table's keys instead of the
    // farm's own (lines separated by ';').
    let poll = value("--poll").first().map_or_else(
        || "concurrency = 16\nper_host = 16\nbackfill = \"all\"".to_string(),
        |p| p.replace(';', "\n"),
    );
    // `--farm-rules`: the farm's 100 rules (`generator::rules`) instead.
    let rules = if argv.iter().any(|x| x == "--farm-rules") {
        crate::generator::rules(100)
    } else {
        "[[rules]]\nname = \"seed\"\nquery = \"iran* AND drone*\"\n".to_string()
    };
    // `--again`: the poll measured is the second, with nothing new (all 304).
    let again = argv.iter().any(|x| x == "--again");
    let feeds = if argv.iter().any(|x| x == "--feeds") {
        a.feeds
    } else {
        200
    };
    let items = a.items;
    eprintln!("versus: {feeds} feeds × {items} items, {rounds} rounds");
    let docs: Vec<Doc> = (0..feeds).map(|f| feed_doc(f, 0, items, 1)).collect();
    let farm: Farm = Arc::new(Mutex::new(docs));
    let addr = rt.block_on(server::serve(farm));
    let urls: Vec<String> = (0..feeds)
        .map(|f| format!("http://{addr}/f/{f}.xml"))
        .collect();
    let mut runs: Vec<Vec<Run>> = contenders.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (c, runs) in contenders.iter().zip(runs.iter_mut()) {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut run = first_poll(&c.program, dir.path(), &urls, &poll, &rules);
            if again {
                run = first_poll(&c.program, dir.path(), &urls, &poll, &rules);
            }
            eprintln!(
                "round {}: {}: {:.3} s CPU, {:.3} s wall",
                round + 1,
                c.name,
                run.cpu.as_secs_f64(),
                run.wall.as_secs_f64()
            );
            runs.push(run);
        }
    }
    let which = if again {
        "No-change poll"
    } else {
        "First poll"
    };
    println!("\n### {which}, {feeds} feeds × {items} items, {rounds} rounds interleaved\n");
    println!(
        "| program | CPU (min) | CPU (median) | wall (median) | peak RSS (median) | CPU per item | × this build's CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let ours = median(runs[0].iter().map(|r| r.cpu).collect());
    for (c, runs) in contenders.iter().zip(&runs) {
        let cpu = median(runs.iter().map(|r| r.cpu).collect());
        let min = runs.iter().map(|r| r.cpu).min().unwrap_or_default();
        let wall = median(runs.iter().map(|r| r.wall).collect());
        let mut rss: Vec<i64> = runs.iter().map(|r| r.max_rss_kib).collect();
        rss.sort_unstable();
        println!(
            "| {} | {:.3} s | {:.3} s | {:.3} s | {:.1} MB | {:.0} µs | {:.2}× |",
            c.name,
            min.as_secs_f64(),
            cpu.as_secs_f64(),
            wall.as_secs_f64(),
            rss[rss.len() / 2] as f64 / 1024.0,
            cpu.as_secs_f64() * 1e6 / (feeds * items) as f64,
            cpu.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

/// The program's poll of the farm in `dir`, which it has to itself (its
/// first, unless `dir` has its state already).
fn first_poll(program: &Contestant, dir: &Path, urls: &[String], poll: &str, rules: &str) -> Run {
    match program {
        Contestant::Feedwatch(binary) => {
            let mut text = format!(
                "state_dir = \"state\"\n[poll]\n{poll}\n\
                 [email]\nfrom = \"fw@example.org\"\nto = [\"analyst@example.org\"]\ntransport = \"stdout\"\n",
            );
            for (f, url) in urls.iter().enumerate() {
                let _ = write!(text, "[[feeds]]\nname = \"f{f}\"\nurl = \"{url}\"\n");
            }
            text.push_str(rules);
            let config = dir.join("feedwatch.toml");
            std::fs::write(&config, text).expect("config");
            let run = launched(
                binary,
                &["--config".as_ref(), config.as_os_str(), "poll".as_ref()],
            );
            assert!(run.ok, "{} failed: {}", binary.display(), run.stderr);
            run
        }
        Contestant::Rss2email(r2e) => {
            // rss2email's own config format: a section per feed.
            let mut text = String::from("[DEFAULT]\nto = analyst@example.org\n");
            for (f, url) in urls.iter().enumerate() {
                let _ = write!(text, "[feed.f{f}]\nurl = {url}\n");
            }
            let config = dir.join("rss2email.cfg");
            std::fs::write(&config, text).expect("config");
            let data = dir.join("rss2email.json");
            let run = launched(
                r2e,
                &[
                    "-c".as_ref(),
                    config.as_os_str(),
                    "-d".as_ref(),
                    data.as_os_str(),
                    "run".as_ref(),
                    "--no-send".as_ref(),
                ],
            );
            assert!(run.ok, "rss2email failed: {}", run.stderr);
            assert!(data.exists(), "rss2email saved no state: {}", run.stderr);
            run
        }
    }
}
