//! Store, the feeds' rows: what a poll needs to know before fetching a
//! feed (validators, backoff, a permanent move), and the three ways a fetch
//! ends on its row — items stored (in `ingest`), a 304, a failure with its
//! backoff. The functions take a connection so that the writer can run them
//! inside its group's transaction (docs/fetching.md, "Fetching").

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::ingest::Failure;
use super::{Result, Store, to_ts};
use crate::model::Validators;

/// What a poll needs to know about a feed before fetching it. A feed never
/// stored has the default: no validators, not backing off, not moved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollState {
    pub validators: Validators,
    /// Not to be fetched before this (backoff, Retry-After, max-age).
    pub next_fetch_at: Option<DateTime<Utc>>,
    /// Where its URL redirects permanently, and how many fetches in a row
    /// confirmed it.
    pub moved: Option<(String, i64)>,
    /// Its last fetch failed: a wait is its backoff, not its own refresh
    /// interval (`<ttl>`, max-age).
    pub failing: bool,
}

/// The feed's row id, creating the row on first sight (or updating its URL).
/// Takes a connection so that it also works inside a transaction.
pub(super) fn upsert_feed(conn: &Connection, name: &str, url: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO feeds(name, url) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET url = excluded.url RETURNING id",
        )?
        .query_row(params![name, url], |r| r.get(0))?)
}

/// A 304 on the feed's row: one statement for a feed the store knows
/// (every feed that sent validators), the row made first otherwise.
pub(super) fn mark_not_modified(
    conn: &Connection,
    feed: &str,
    url: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = conn.prepare_cached(
        "UPDATE feeds SET url = ?2, last_fetch_at = ?3, last_success_at = ?3, last_status = 304, last_error = NULL,
         consecutive_errors = 0, failing_since = NULL, next_fetch_at = NULL, polls_ok = polls_ok + 1
         WHERE name = ?1",
    )?;
    if update.execute(params![feed, url, to_ts(now)])? == 0 {
        upsert_feed(conn, feed, url)?;
        update.execute(params![feed, url, to_ts(now)])?;
    }
    Ok(())
}

/// Counts one more failure in a row on the feed's row.
fn count_failure(
    conn: &Connection,
    feed_id: i64,
    status: Option<u16>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE feeds SET last_fetch_at = ?2, last_status = ?3, last_error = ?4,
             consecutive_errors = consecutive_errors + 1,
             failing_since = coalesce(failing_since, ?2) WHERE id = ?1
             RETURNING consecutive_errors",
        )?
        .query_row(params![feed_id, to_ts(now), status, error], |r| r.get(0))?)
}

/// A failure and its backoff, together.
pub(super) fn record_failure(conn: &Connection, f: &Failure<'_>) -> Result<()> {
    let id = upsert_feed(conn, f.feed, f.url)?;
    let failures = count_failure(conn, id, f.status, f.error, f.now)?;
    conn.prepare_cached("UPDATE feeds SET next_fetch_at = ?2 WHERE id = ?1")?
        .execute(params![id, to_ts((f.retry_at)(failures))])?;
    Ok(())
}

impl Store {
    /// What a poll needs to know about every stored feed before fetching
    /// it, in one query (a poll of 1,000 feeds asked 3,000 times).
    pub(crate) fn poll_states(&self) -> Result<HashMap<String, PollState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, etag, last_modified, next_fetch_at, moved_to, moved_count,
                    consecutive_errors FROM feeds",
        )?;
        let rows = stmt.query_map([], |r| {
            let moved_to: Option<String> = r.get(4)?;
            let moved_count: i64 = r.get(5)?;
            Ok((
                r.get::<_, String>(0)?,
                PollState {
                    validators: Validators {
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                    },
                    next_fetch_at: super::from_ts(r.get(3)?),
                    moved: moved_to.map(|to| (to, moved_count)),
                    failing: r.get::<_, i64>(6)? > 0,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
