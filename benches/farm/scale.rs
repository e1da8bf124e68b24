//! `--scale`: how cost grows with the number of feeds. The same farm at
//! 200 × 50, 1,000 × 50 and 10,000 × 10 items, each with its own floors
//! (fetch + feed-rs parse, all 304) measured in the same run: the first
//! poll, a poll with nothing new, one with 10% of the feeds changed, and
//! `status`, with CPU per item and per feed, so that a cost growing faster
//! than the farm shows as a rising per-item figure. With `FARM_KEEP` set,
//! each farm's state directory is kept (to profile `status` on it, say).

use std::sync::{Arc, Mutex};

use crate::generator::{Doc, feed_doc};
use crate::measure::{Report, feedwatch, row, write_config};
use crate::server::{self, Farm};
use crate::{Args, network_floors, polls};

/// The farms: feeds × items per feed.
const SIZES: [(usize, usize); 3] = [(200, 50), (1_000, 50), (10_000, 10)];

pub fn run(rt: &tokio::runtime::Runtime) {
    let mut summary = vec![
        "| feeds × items | first poll CPU | CPU per item | CPU per feed | first poll wall / fetch+parse floor | no-change wall / 304 floor | 10% changed CPU | status wall |".to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for (feeds, items) in SIZES {
        eprintln!("scale: {feeds} feeds × {items} items…");
        let a = Args {
            feeds,
            items,
            archive: 0,
        };
        let docs: Vec<Doc> = (0..feeds).map(|f| feed_doc(f, 0, items, 1)).collect();
        let farm: Farm = Arc::new(Mutex::new(docs));
        let addr = rt.block_on(server::serve(farm.clone()));
        let mut report = Report::default();
        let network = network_floors(rt, addr, &farm, &a, &mut report);
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(dir.path(), Some(addr), feeds, "transport = \"stdout\"");
        let (first, nochange, changed) = polls(&config, &farm, &a, &mut report);
        let status = feedwatch(&config, &["status"]);
        report.rows.push(row("feedwatch status", &status, 0));
        if std::env::var_os("FARM_KEEP").is_some() {
            eprintln!("kept: {}", dir.keep().display());
        }
        println!("\n### {feeds} feeds × {items} items");
        report.print();
        let total = (feeds * items) as f64;
        summary.push(format!(
            "| {feeds} × {items} | {:.2} s | {:.0} µs | {:.2} ms | {:.1}× | {:.1}× | {:.3} s | {:.3} s |",
            first.cpu.as_secs_f64(),
            first.cpu.as_secs_f64() * 1e6 / total,
            first.cpu.as_secs_f64() * 1e3 / feeds as f64,
            first.wall.as_secs_f64() / network.fetch_parse.as_secs_f64(),
            nochange.wall.as_secs_f64() / network.not_modified.as_secs_f64(),
            changed.cpu.as_secs_f64(),
            status.wall.as_secs_f64(),
        ));
    }
    println!("\n### How cost grows\n");
    for line in summary {
        println!("{line}");
    }
}
