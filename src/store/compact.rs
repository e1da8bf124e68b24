//! Store, packing an archive from before schema 11 (docs/DESIGN.md §3):
//! the old `items` rows are copied into `items_packed`, their summaries
//! packed (`codec`), a step of `STEP` rows per transaction, then schema 12
//! swaps the tables in one transaction. Resumable: a step starts after
//! the largest row id already copied, so a stopped or killed migration
//! goes on where it was. Each step reports its progress, which the daemon
//! turns into a log line and into `EXTEND_TIMEOUT_USEC` for systemd, so a
//! large archive does not hit the service's start timeout.

use rusqlite::{Connection, TransactionBehavior, params};

use super::Result;

/// Rows per transaction. A step of 5,000 items of 1–3 KB takes about a
/// quarter of a second (packing is most of it), so progress comes often
/// and a killed migration loses little.
const STEP: i64 = 5_000;

/// How far packing the archive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// The schema version whose migration swaps the packed table in
/// (012_packed_items_done.sql); `fill` runs before it.
pub(super) const SWAP_VERSION: usize = 12;

/// Copies every row of `items` not yet in `items_packed`, step by step.
pub(super) fn fill(conn: &mut Connection, report: &mut dyn FnMut(Progress)) -> Result<()> {
    // Counted in a transaction that first checks the version: another
    // process may have swapped the tables (and dropped `items_packed`)
    // since this one read it.
    let (total, mut done) = {
        let tx = conn.transaction()?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version as usize + 1 != SWAP_VERSION {
            return Ok(());
        }
        let count = |table: &str| -> Result<u64> {
            let n: i64 =
                tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        };
        (count("items")?, count("items_packed")?)
    };
    while done < total {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process (a `poll` or `digest` started beside this one)
        // may have finished the packing and swapped the tables meanwhile.
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version as usize + 1 != SWAP_VERSION {
            break;
        }
        let copied = copy_after_last(&tx, Some(STEP))?;
        tx.commit()?;
        if copied == 0 {
            break;
        }
        done += copied as u64;
        report(Progress { done, total });
    }
    Ok(())
}

/// Copies up to `limit` rows (all with `None`) after the largest row id
/// already in `items_packed`; returns how many.
pub(super) fn copy_after_last(conn: &Connection, limit: Option<i64>) -> Result<usize> {
    let last: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM items_packed", [], |r| {
        r.get(0)
    })?;
    Ok(conn.execute(
        "INSERT INTO items_packed(id, feed_id, link, title, packed, author, category, feed, published, fetched_at)
         SELECT id, feed_id, link, title, pack_text(summary), author, category, feed, published, fetched_at
         FROM items WHERE id > ?1 ORDER BY id LIMIT ?2",
        params![last, limit.unwrap_or(-1)],
    )?)
}
