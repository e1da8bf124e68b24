//! Store: retention (docs/operations.md, "Operations"). Items stored longer ago than `retention` are
//! deleted with their text and FTS entries; their identity (feed, key,
//! canonical link) stays in `seen`, so they never alert again. An item with
//! a match not yet sent stays whatever its age, and so does an item whose
//! text cannot be read (`damage`): FTS5 deletes an index entry by the text
//! it was made of, which is lost. Sent messages and their
//! match rows go after the same time. SQLite reuses the freed pages, so the
//! file stops growing with the text once retention is reached.

use chrono::{DateTime, Utc};

use super::{Result, Store, to_ts};

/// What one pruning pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub items: usize,
    pub messages: usize,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, step: Pruned) {
        self.items += step.items;
        self.messages += step.messages;
    }
}

impl Pruned {
    /// A step that removed fewer items than a full one: nothing is left.
    pub(crate) fn last_step(&self) -> bool {
        self.items < PRUNE_BATCH
    }
}

/// Items deleted in one transaction (`Store::prune_some`): each deleted
/// row re-tokenises its text for the FTS5 index, so one transaction over a
/// large archive whose `retention` was lowered held the store for minutes,
/// past the watchdog, and was rolled back by the restart to start over.
pub const PRUNE_BATCH: usize = 500;

impl Store {
    /// Prunes everything stored before `cutoff`, `PRUNE_BATCH` items per
    /// transaction.
    pub fn prune(&mut self, cutoff: DateTime<Utc>) -> Result<Pruned> {
        let mut all = Pruned::default();
        loop {
            let step = self.prune_some(cutoff, PRUNE_BATCH)?;
            let last = step.last_step();
            all += step;
            if last {
                return Ok(all);
            }
        }
    }

    /// One step of pruning, in one transaction: at most `limit` items
    /// stored before `cutoff` (the oldest first), and the sent messages
    /// and story memory older than it. Fewer than `limit` items: nothing
    /// is left to prune. Each step commits what it did, so a step cut short
    /// by a stop is not done again.
    pub(crate) fn prune_some(&mut self, cutoff: DateTime<Utc>, limit: usize) -> Result<Pruned> {
        let cutoff = to_ts(cutoff);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM matches WHERE outbox_id IN
               (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?1)",
            [cutoff],
        )?;
        let messages = tx.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?1",
            [cutoff],
        )?;
        tx.execute("DELETE FROM sent_stories WHERE sent_at < ?1", [cutoff])?;
        let items = tx.execute(
            "DELETE FROM items WHERE id IN (
               SELECT id FROM items WHERE fetched_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.item_id = items.id)
                 AND summary IS NOT NULL
               ORDER BY id LIMIT ?2)",
            rusqlite::params![cutoff, limit],
        )?;
        tx.commit()?;
        Ok(Pruned { items, messages })
    }

    /// Bytes the database file takes (pages in use and free).
    pub fn size_bytes(&self) -> Result<i64> {
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))?;
        let size: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        Ok(pages * size)
    }
}
