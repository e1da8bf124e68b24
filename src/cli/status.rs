//! Command line: `status` (and `--json`). Reads without writing (it works
//! on a read-only state directory while the daemon runs). People get times
//! in the config's zone with its abbreviation, scripts RFC 3339 in UTC; the
//! feed column is as wide as the longest name.

use chrono::Utc;
use chrono_tz::Tz;

use super::output::{Out, outln};
use super::{CliError, local_time, rfc3339};
use crate::config::Config;
use crate::pipeline::{self, NextSend, Status};
use crate::store::unreadable_way_back;

/// A full check older than this is said to be late: the daemon checks
/// daily, `run --once` when the last check is a day old.
pub(super) const LATE: chrono::Duration = chrono::Duration::days(2);

/// How `status` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The table, cut to `columns` when given (a terminal's width).
    Table {
        columns: Option<usize>,
    },
    Json,
    /// One line and a Nagios exit code (`monitor`).
    Check,
    /// The Prometheus text format (`monitor`).
    Prometheus,
}

pub fn status(config: &Config, form: Form) -> Result<(), CliError> {
    let now = Utc::now();
    let status = match pipeline::status(config, now) {
        Ok(status) => status,
        // A monitor that cannot read the database is critical, said its way.
        Err(e) if form == Form::Check => {
            let mut out = Out::new();
            outln!(out, "FEEDWATCH CRITICAL - cannot read the database: {e}");
            return Err(CliError::Exit(2));
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = Out::new();
    let columns = match form {
        Form::Json => {
            outln!(out, "{:#}", to_json(&status));
            return Ok(());
        }
        Form::Check => return super::monitor::check(&status, now, config.poll.failing_after),
        Form::Prometheus => {
            outln!(out, "{}", super::monitor::prometheus(&status).trim_end());
            return Ok(());
        }
        Form::Table { columns } => columns,
    };
    let tz = config.timezone;
    feeds(&mut out, &status, tz, columns)?;
    full_text(&mut out, &status)?;
    digests(&mut out, &status, tz)?;
    outbox(&mut out, &status)?;
    database(&mut out, &status, tz)
}

/// The width of the terminal standard output is, when it is one.
pub fn terminal_columns() -> Option<usize> {
    let term = console::Term::stdout();
    if !term.is_term() {
        return None;
    }
    term.size_checked().map(|(_, columns)| usize::from(columns))
}

/// The feeds table's columns other than the name and the last error, with
/// the two spaces after each.
const FEED_COLUMNS: usize = 20 + 2 + 4 + 2 + 7 + 2 + 6 + 2 + 20 + 2 + 2;

/// The widths of the feed name and of the last error, for names as wide
/// as `longest` on a terminal of `columns` (None: in full). A name keeps
/// at least 16 characters and the error at least 20; one 91-character name
/// padded every line to about 200 columns.
fn fit(longest: usize, columns: Option<usize>) -> (usize, Option<usize>) {
    let Some(columns) = columns else {
        return (longest, None);
    };
    let name = longest.min(columns.saturating_sub(FEED_COLUMNS + 20).max(16));
    let error = columns.saturating_sub(FEED_COLUMNS + name).max(20);
    (name, Some(error))
}

/// `text` in at most `width` characters, its end cut to "…".
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn feeds(out: &mut Out, status: &Status, tz: Tz, columns: Option<usize>) -> Result<(), CliError> {
    let time =
        |t: Option<chrono::DateTime<Utc>>| t.map_or_else(|| "never".into(), |t| local_time(t, tz));
    let longest = column_width(status.feeds.iter().map(|f| f.status.name.as_str()), "FEED");
    let (width, error_width) = fit(longest, columns);
    outln!(
        out,
        "{:<width$}  {:<20}  {:>4}  {:>7}  {:>6}  {:<20}  LAST ERROR",
        "FEED",
        "LAST FETCH",
        "HTTP",
        "ITEMS",
        "ERRORS",
        "NEXT POLL"
    );
    for row in &status.feeds {
        let f = &row.status;
        let next = match (row.configured, row.next_poll) {
            (false, _) => "not in the config".to_string(),
            (true, next) => time(next),
        };
        let note = f
            .last_error
            .clone()
            .or_else(|| {
                f.moved_to
                    .as_ref()
                    .map(|to| format!("moved permanently to {to}"))
            })
            .unwrap_or_default();
        let note = match error_width {
            Some(w) => cut(&note, w),
            None => note,
        };
        outln!(
            out,
            "{:<width$}  {:<20}  {:>4}  {:>7}  {:>6}  {:<20}  {note}",
            cut(&f.name, width),
            time(f.last_fetch),
            f.last_status.map_or("-".into(), |s| s.to_string()),
            f.items,
            f.consecutive_errors,
            next,
        );
    }
    Ok(())
}

/// The articles of `full_text` feeds (docs/fetching.md, "Full text"): read, and
/// failed (those items were matched on the feed's text).
fn full_text(out: &mut Out, status: &Status) -> Result<(), CliError> {
    let rows: Vec<_> = status.feeds.iter().filter(|r| r.full_text).collect();
    if rows.is_empty() {
        return Ok(());
    }
    outln!(out, "\nFULL TEXT (articles of new items)");
    for row in rows {
        let a = &row.status.articles;
        let last = a
            .last_error
            .as_ref()
            .map(|e| format!("; last failure: {e}"))
            .unwrap_or_default();
        let failed = if a.failed > 0 {
            format!("{} failed (matched on the feed's text)", a.failed)
        } else {
            "0 failed".to_string()
        };
        outln!(
            out,
            "  {}: {} read, {failed}{last}",
            row.status.name,
            a.fetched
        );
    }
    Ok(())
}

fn digests(out: &mut Out, status: &Status, tz: Tz) -> Result<(), CliError> {
    let width = column_width(status.digests.iter().map(|d| d.name.as_str()), "DIGEST");
    outln!(
        out,
        "\n{:<width$}  {:>13}  NEXT SEND",
        "DIGEST",
        "PENDING ITEMS"
    );
    for d in &status.digests {
        let next = match d.next {
            NextSend::At(t) => local_time(t, tz),
            NextSend::AfterEachPoll => {
                "right after each poll that finds matches, or a feed of its going down or back"
                    .into()
            }
            NextSend::Never => "never (its schedule has no next date)".into(),
        };
        outln!(out, "{:<width$}  {:>13}  {next}", d.name, d.pending_items);
    }
    Ok(())
}

fn outbox(out: &mut Out, status: &Status) -> Result<(), CliError> {
    let o = &status.outbox;
    outln!(
        out,
        "\nOUTBOX (messages)  queued {}  failed {}  sent {}",
        o.queued,
        o.failed,
        o.sent
    );
    for (digest, attempts, error) in &status.outbox_errors {
        outln!(
            out,
            "  {digest}: {attempts} attempt(s), last error: {error}"
        );
    }
    if let Some(f) = &status.mail_failure {
        outln!(
            out,
            "  MAIL NOT SET UP since {} (every digest's matches stay pending): {}",
            f.since.format("%Y-%m-%d %H:%M UTC"),
            f.error
        );
    }
    Ok(())
}

/// The last full check of the database file, and the stored texts that
/// cannot be read (docs/operations.md, "Bad input").
fn database(out: &mut Out, status: &Status, tz: Tz) -> Result<(), CliError> {
    let line = match &status.integrity {
        None => "not checked in full yet (the daemon checks at start and daily, \
                 `run --once` when the last check is a day old)"
            .to_string(),
        Some((at, damage)) => {
            let found = match damage {
                None if status.unreadable.items > 0 => "no damage to its structure".to_string(),
                None => "no damage".to_string(),
                Some(damage) => format!(
                    "DAMAGED ({damage}); stop feedwatch and restore the last backup \
                     (docs/operations.md, \"Operations\")"
                ),
            };
            let late = Utc::now() - *at > LATE;
            let late = if late {
                " (over two days ago: is the daemon or `run --once` running?)"
            } else {
                ""
            };
            format!("checked in full {}{late}: {found}", local_time(*at, tz))
        }
    };
    outln!(out, "\nDATABASE  {line}");
    if let Some(f) = &status.store_failure {
        outln!(
            out,
            "  DOES NOT TAKE WRITES since {} ({} in a row; nothing new is stored or sent): {}",
            local_time(f.since, tz),
            super::plural(f.polls as usize, "poll"),
            f.last_error
        );
    }
    let u = &status.unreadable;
    if u.items > 0 {
        outln!(out, "  UNREADABLE TEXT: {}", unreadable_way_back(u.items));
        for (item, found, why) in &u.first {
            outln!(
                out,
                "    item {item} (found {}): {why}",
                local_time(*found, tz)
            );
        }
        if u.items > u.first.len() as i64 {
            outln!(out, "    and {} more", u.items - u.first.len() as i64);
        }
    }
    Ok(())
}

/// As wide as the longest name, and at least as wide as the heading.
fn column_width<'a>(names: impl Iterator<Item = &'a str>, heading: &str) -> usize {
    names
        .map(|n| n.chars().count())
        .chain([heading.len()])
        .max()
        .unwrap_or(heading.len())
}

fn to_json(status: &Status) -> serde_json::Value {
    let time = |t: Option<chrono::DateTime<Utc>>| t.map(rfc3339);
    serde_json::json!({
        "feeds": status.feeds.iter().map(|row| {
            let f = &row.status;
            serde_json::json!({
                "name": f.name, "url": f.url, "configured": row.configured,
                "last_fetch": time(f.last_fetch), "http_status": f.last_status,
                "items": f.items, "consecutive_errors": f.consecutive_errors,
                "next_poll": time(row.next_poll), "last_error": f.last_error,
                "moved_to": f.moved_to,
                "full_text": row.full_text.then(|| serde_json::json!({
                    "articles_read": f.articles.fetched,
                    "articles_failed": f.articles.failed,
                    "last_failure": f.articles.last_error,
                })),
            })
        }).collect::<Vec<_>>(),
        "digests": status.digests.iter().map(|d| serde_json::json!({
            "name": d.name,
            "pending_items": d.pending_items,
            "next_send": match d.next {
                NextSend::At(t) => serde_json::Value::from(rfc3339(t)),
                NextSend::AfterEachPoll => "after each poll".into(),
                NextSend::Never => serde_json::Value::Null,
            },
        })).collect::<Vec<_>>(),
        "outbox": {
            "queued": status.outbox.queued,
            "failed": status.outbox.failed,
            "sent": status.outbox.sent,
            "mail_failure": status.mail_failure.as_ref().map(|f| serde_json::json!({
                "since": rfc3339(f.since), "error": f.error,
            })),
        },
        "database": {
            "checked_at": status.integrity.as_ref().map(|(at, _)| rfc3339(*at)),
            "damage": status.integrity.as_ref().and_then(|(_, problems)| problems.clone()),
            "unreadable_items": status.unreadable.items,
            "unreadable": status.unreadable.first.iter().map(|(item, found, why)| serde_json::json!({
                "item": item, "found_at": rfc3339(*found), "error": why,
            })).collect::<Vec<_>>(),
            "way_back": (status.unreadable.items > 0).then(|| unreadable_way_back(status.unreadable.items)),
            "store_failure": status.store_failure.as_ref().map(|f| serde_json::json!({
                "since": rfc3339(f.since), "polls": f.polls, "last_error": f.last_error,
            })),
        },
    })
}

#[cfg(test)]
mod fit_tests {
    use super::*;

    #[test]
    fn a_long_name_is_cut_to_the_terminal_and_shown_in_full_otherwise() {
        let long = 91;
        // 80 columns: the name keeps 16, the error the rest, 20 at least.
        let (name, error) = fit(long, Some(80));
        assert_eq!((name, error), (16, Some(20)));
        // 160 columns: the name gets what the error's 20 leave.
        let (name, error) = fit(long, Some(160));
        assert_eq!(name + FEED_COLUMNS + error.unwrap(), 160);
        // Short names are not padded further; --wide or piped: in full.
        assert_eq!(fit(17, Some(160)).0, 17);
        assert_eq!(fit(long, None), (91, None));
        assert_eq!(cut("Ukrainska Pravda — news", 10), "Ukrainska…");
        assert_eq!(cut("short", 10), "short");
    }
}
