//! Command line: `status --check` and `status --prometheus`, for the
//! monitoring operators already run (docs/operations.md, "Monitoring"). `--check` is a
//! Nagios plugin: one line, exit 0 OK, 1 WARNING, 2 CRITICAL. `--prometheus`
//! prints the Prometheus text exposition format (version 0.0.4), which
//! node-exporter's textfile collector reads too. Both read what `status`
//! reads, and write nothing.

use chrono::{DateTime, Utc};

use super::output::{Out, outln};
use super::{CliError, plural};
use crate::pipeline::Status;

/// How healthy feedwatch is, as Nagios says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Ok = 0,
    Warning = 1,
    Critical = 2,
}

/// The worst of what `status` shows, and why, in one line. A feed is
/// failing after `failing_after` failed polls in a row (`[poll]
/// failing_after`: one failure is often a blip of the site's server).
pub fn health(status: &Status, now: DateTime<Utc>, failing_after: u32) -> (Health, String) {
    let feeds: Vec<_> = status.feeds.iter().filter(|f| f.configured).collect();
    let failing: Vec<&str> = feeds
        .iter()
        .filter(|f| f.status.consecutive_errors >= i64::from(failing_after))
        .map(|f| f.status.name.as_str())
        .collect();
    let damaged = status
        .integrity
        .as_ref()
        .is_some_and(|(_, problems)| problems.is_some())
        || status.unreadable.items > 0;
    let mut problems: Vec<(Health, String)> = Vec::new();
    if let Some(f) = &status.store_failure {
        let since = f.since.format("%Y-%m-%d %H:%M UTC");
        problems.push((
            Health::Critical,
            format!(
                "the database does not take writes since {since}: {}",
                f.last_error
            ),
        ));
    }
    if damaged {
        problems.push((Health::Critical, "the database is damaged".into()));
    }
    if let Some(f) = &status.mail_failure {
        problems.push((
            Health::Critical,
            format!(
                "mail cannot be set up since {}: {}",
                f.since.format("%Y-%m-%d %H:%M UTC"),
                f.error
            ),
        ));
    }
    if status.outbox.failed > 0 {
        let failed = plural(status.outbox.failed as usize, "message");
        problems.push((Health::Critical, format!("{failed} not delivered")));
    }
    if !failing.is_empty() {
        let level = if failing.len() == feeds.len() {
            Health::Critical
        } else {
            Health::Warning
        };
        problems.push((level, format!("failing: {}", failing.join(", "))));
    }
    if status
        .integrity
        .as_ref()
        .is_some_and(|(at, _)| now - *at > super::status::LATE)
    {
        problems.push((Health::Warning, "the database's full check is late".into()));
    }
    let level = problems.iter().map(|p| p.0).max().unwrap_or(Health::Ok);
    let pending: i64 = status.digests.iter().map(|d| d.pending_items).sum();
    let mut line = format!(
        "FEEDWATCH {} - ",
        match level {
            Health::Ok => "OK",
            Health::Warning => "WARNING",
            Health::Critical => "CRITICAL",
        }
    );
    for (_, p) in &problems {
        line.push_str(p);
        line.push_str("; ");
    }
    line.push_str(&format!(
        "{} failing of {}, {} pending, {} queued | failing={} feeds={} pending={} queued={} undelivered={}",
        failing.len(),
        plural(feeds.len(), "feed"),
        plural(pending as usize, "item"),
        plural(status.outbox.queued as usize, "message"),
        failing.len(),
        feeds.len(),
        pending,
        status.outbox.queued,
        status.outbox.failed,
    ));
    (level, line)
}

/// `status --check`: the line, and the exit code as an error.
pub fn check(status: &Status, now: DateTime<Utc>, failing_after: u32) -> Result<(), CliError> {
    let (level, line) = health(status, now, failing_after);
    let mut out = Out::new();
    outln!(out, "{line}");
    match level {
        Health::Ok => Ok(()),
        level => Err(CliError::Exit(level as i32)),
    }
}

/// `status --prometheus`: the metrics, one family at a time.
pub fn prometheus(status: &Status) -> String {
    let mut text = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let feed = |name: &str| format!("{{feed=\"{}\"}}", label(name));
    let feeds: Vec<_> = status.feeds.iter().filter(|f| f.configured).collect();
    family(
        "feedwatch_feed_last_success_timestamp_seconds",
        "When the feed was last fetched successfully (a 200 or a 304), in Unix time; absent if never.",
        feeds
            .iter()
            .filter_map(|f| {
                let at = f.status.last_success?;
                Some((feed(&f.status.name), at.timestamp() as f64))
            })
            .collect(),
    );
    family(
        "feedwatch_feed_consecutive_failures",
        "Failed polls of the feed in a row.",
        feeds
            .iter()
            .map(|f| {
                let n = f.status.consecutive_errors as f64;
                (feed(&f.status.name), n)
            })
            .collect(),
    );
    family(
        "feedwatch_digest_pending_items",
        "Matched items waiting for the digest.",
        status
            .digests
            .iter()
            .map(|d| {
                let labels = format!("{{digest=\"{}\"}}", label(&d.name));
                (labels, d.pending_items as f64)
            })
            .collect(),
    );
    let o = &status.outbox;
    family(
        "feedwatch_outbox_messages",
        "Digest messages by state: queued (not tried yet), failed (tried, queued for a retry), sent.",
        [("queued", o.queued), ("failed", o.failed), ("sent", o.sent)]
            .into_iter()
            .map(|(state, n)| (format!("{{state=\"{state}\"}}"), n as f64))
            .collect(),
    );
    let damaged = status
        .integrity
        .as_ref()
        .is_some_and(|(_, problems)| problems.is_some());
    let healthy = !damaged && status.unreadable.items == 0 && status.store_failure.is_none();
    family(
        "feedwatch_store_healthy",
        "1 when the database takes writes and no damage is known in it (its last full check, texts found unreadable), else 0.",
        vec![(String::new(), f64::from(u8::from(healthy)))],
    );
    family(
        "feedwatch_store_unreadable_texts",
        "Stored texts found unreadable (damaged).",
        vec![(String::new(), status.unreadable.items as f64)],
    );
    if let Some((at, _)) = &status.integrity {
        family(
            "feedwatch_store_last_check_timestamp_seconds",
            "When the database was last checked in full, in Unix time.",
            vec![(String::new(), at.timestamp() as f64)],
        );
    }
    text
}

/// A label value as the exposition format quotes it: backslash, double
/// quote and line feed escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_format_says() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
