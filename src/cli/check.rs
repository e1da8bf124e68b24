//! Command line: `check` (and `check --probe`). Problems that make the
//! config invalid never reach here: loading reports them, one
//! `file:line:column: message` line each, and exits 2. What is left is what
//! would trip the service up later (warnings, with their fix, on stderr) and
//! what is worth knowing (notes, on stdout).

use super::output::{Out, outln};
use super::{CliError, plural};
use crate::config::Config;
use crate::pipeline::{self, FeedError, Probe};

pub async fn check(config: &Config, probe: bool) -> Result<(), CliError> {
    let report = pipeline::check(config);
    let mut out = Out::new();
    for note in &report.notes {
        outln!(out, "{note}");
    }
    for warning in &report.warnings {
        eprintln!("{}: warning: {warning}", config.path.display());
    }
    outln!(
        out,
        "{}: OK ({}, {}, {}{})",
        config.path.display(),
        plural(config.feeds.len(), "feed"),
        plural(config.rules.len(), "rule"),
        plural(config.digests.len(), "digest"),
        match report.warnings.len() {
            0 => String::new(),
            n => format!("; {} above", plural(n, "warning")),
        }
    );
    if probe {
        probe_feeds(config, &mut out).await
    } else {
        Ok(())
    }
}

/// Fetches every feed once and says what it is. Exit 1 if any fails.
async fn probe_feeds(config: &Config, out: &mut Out) -> Result<(), CliError> {
    let probes = pipeline::probe(config)
        .await
        .map_err(|e| CliError::Runtime(e.into()))?;
    let mut failed = 0;
    for (name, probe) in &probes {
        match probe {
            Probe::Feed {
                items,
                moved_to,
                advertised,
            } => {
                let mut line = match advertised {
                    Some(feed) => format!(
                        "{name}: a web page; the feed it advertises is {feed} ({}): put that URL in the config",
                        plural(*items, "item")
                    ),
                    None => format!("{name}: OK, {}", plural(*items, "item")),
                };
                if let Some(to) = moved_to {
                    line.push_str(&format!(", moved permanently to {to} (update the config)"));
                }
                outln!(out, "{line}");
            }
            Probe::Failed(e) => {
                failed += 1;
                let what = match e {
                    FeedError::Parse { .. } => "not a feed, nor a page that advertises one",
                    _ => "FAILED",
                };
                outln!(out, "{name}: {what}: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{} failed the probe",
            plural(failed, "feed")
        )));
    }
    Ok(())
}
