//! Command line: `check` (and `check --probe`). Problems that make the
//! config invalid never reach here: loading reports them, one
//! `file:line:column: message` line each, and exits 2. What is left is what
//! would trip the service up later (warnings, with their fix, on stderr) and
//! what is worth knowing (notes, on stdout).

use super::output::{Out, outln};
use super::{CliError, plural};
use crate::config::Config;
use crate::pipeline::{self, ArticleProbe, FeedError, Probe};

pub async fn check(config: &Config, probe: bool) -> Result<(), CliError> {
    let report = pipeline::check(config);
    let mut out = Out::new();
    for note in &report.notes {
        outln!(out, "{note}");
    }
    for warning in &report.warnings {
        let line = warning.located(&config.path, "warning: ");
        super::logging::eprint_at(super::logging::WARNING, &line);
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

/// What the newest item's article gives, for judging whether `full_text`
/// helps the site: its length and first words.
fn article_line(a: &ArticleProbe) -> String {
    match a {
        ArticleProbe::Text { link, text } => {
            let words: Vec<&str> = text.split_whitespace().collect();
            let first = words.iter().take(25).copied().collect::<Vec<_>>().join(" ");
            format!(
                "{link}: {} characters, {} words: \"{first}{}\"",
                text.chars().count(),
                words.len(),
                if words.len() > 25 { " …" } else { "" }
            )
        }
        ArticleProbe::Failed { link, why } => {
            format!(
                "{link}: no article text ({why}); its items would be matched on the feed's text"
            )
        }
        ArticleProbe::NoLink => "the feed's items have no links to read".into(),
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
                article,
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
                if let Some(article) = article {
                    outln!(
                        out,
                        "  full text of the newest item: {}",
                        article_line(article)
                    );
                }
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
