//! Store, full text (docs/fetching.md, "Full text"): a `full_text` feed's new items
//! are stored before their articles are read. Those that may alert and
//! link to an article are held (`held`, schema 13) unmatched; when their
//! articles are in, the article joins the stored text (the archive's index
//! is told of the change) and they are matched like any new item. The
//! attempt at a page is recorded before it is parsed, so that a page that
//! crashed the reader (or was being read when feedwatch stopped) is not
//! read again: the next poll matches its item on the feed's text. The
//! hosts that asked to be left alone (429, 503) are kept here too, so a
//! `poll` run by cron honours them as the daemon does.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::codec::Packer;
use super::ingest::index_row;
use super::{Result, Store, from_ts, to_ts};
use crate::model::{ArticleTally, Item};

/// A held item's articles read (or failed), for `Write::Articles`: the
/// items, each with its row id and, when read, its article.
#[derive(Clone)]
pub struct Articles<'a> {
    pub feed: &'a str,
    pub items: &'a [(i64, Item)],
    pub tally: ArticleTally,
    pub now: DateTime<Utc>,
}

/// A held item whose poll did not finish it (a crash, a stop).
#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub feed: String,
    pub item_id: i64,
    /// The item as stored (the feed's text, no article).
    pub item: Item,
    /// Its page was being parsed when the poll ended: not to be read again.
    pub attempted: bool,
    /// Its stored text cannot be read (damaged): it is matched as it is,
    /// its article not read (the index entry cannot be replaced).
    pub unreadable: bool,
}

/// Holds `item_id` for its article.
pub(super) fn hold(conn: &Connection, item_id: i64, now: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO held(item_id, held_at) VALUES (?1, ?2)")?
        .execute(params![item_id, to_ts(now)])?;
    Ok(())
}

/// Releases the items, and puts each read article into its item's stored
/// text and the archive's index (the old entry out, the new one staged
/// with the group's); the feed's article counts go on its row. Whether
/// each item was still held: one another process finished is left as it
/// is (its index entry is no longer the feed's text alone).
pub(super) fn finish(
    conn: &Connection,
    a: &Articles<'_>,
    packer: &mut Packer,
) -> Result<Vec<bool>> {
    let mut forget = conn.prepare_cached(
        "INSERT INTO items_fts(items_fts, rowid, title, summary, author, category, feed)
         VALUES ('delete', ?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut repack = conn.prepare_cached("UPDATE items SET packed = ?2 WHERE id = ?1")?;
    let mut stage = conn.prepare_cached(super::ingest::STAGE_FOR_INDEX)?;
    let mut release = conn.prepare_cached("DELETE FROM held WHERE item_id = ?1")?;
    let mut released = Vec::with_capacity(a.items.len());
    for (id, item) in a.items {
        let held = release.execute([id])? == 1;
        released.push(held);
        if !held || item.article.as_deref().is_none_or(str::is_empty) {
            continue;
        }
        // The index holds what was stored: the feed's text alone.
        forget.execute(index_row(*id, item, &item.summary, a.feed))?;
        let summary = item.full_summary();
        repack.execute(params![id, packer.pack(&summary)])?;
        stage.execute(index_row(*id, item, &summary, a.feed))?;
    }
    conn.prepare_cached(
        "UPDATE feeds SET articles_fetched = articles_fetched + ?2,
         articles_failed = articles_failed + ?3, articles_unread = articles_unread + ?3,
         last_article_error = coalesce(?4, last_article_error)
         WHERE name = ?1",
    )?
    .execute(params![
        a.feed,
        a.tally.fetched,
        a.tally.failed,
        a.tally.last_error
    ])?;
    Ok(released)
}

impl Store {
    /// Records that the pages of `item_ids` are about to be parsed.
    pub fn article_attempted(&mut self, item_ids: &[i64], now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut mark =
                tx.prepare_cached("UPDATE held SET attempted_at = ?2 WHERE item_id = ?1")?;
            for id in item_ids {
                mark.execute(params![id, to_ts(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Claims the items held since before `before`, which no poll is still
    /// reading articles for (a crash or a stop left them): they count as
    /// held from `now`, so that another process does not claim them too.
    pub(crate) fn claim_orphans(
        &mut self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Orphan>> {
        let tx = self.conn.transaction()?;
        let orphans = {
            let mut stmt = tx.prepare_cached(
                "SELECT i.feed, i.id, i.link, i.title, i.summary, i.author, i.category,
                        i.published, h.attempted_at IS NOT NULL
                 FROM held h JOIN items i ON i.id = h.item_id
                 WHERE h.held_at < ?1 ORDER BY i.id",
            )?;
            let rows = stmt.query_map([to_ts(before)], |r| {
                let summary: Option<String> = r.get(4)?;
                Ok(Orphan {
                    feed: r.get(0)?,
                    item_id: r.get(1)?,
                    unreadable: summary.is_none(),
                    item: Item {
                        key: String::new(),
                        link: r.get(2)?,
                        title: r.get(3)?,
                        summary: summary.unwrap_or_default(),
                        author: r.get(5)?,
                        category: r.get(6)?,
                        published: from_ts(r.get(7)?),
                        article: None,
                    },
                    attempted: r.get(8)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        {
            let mut claim = tx.prepare_cached("UPDATE held SET held_at = ?2 WHERE item_id = ?1")?;
            for o in &orphans {
                claim.execute(params![o.item_id, to_ts(now)])?;
            }
        }
        tx.commit()?;
        Ok(orphans)
    }

    /// The hosts of articles that asked to be left alone, and until when.
    pub(crate) fn article_holds(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT host, hold_until FROM article_hosts WHERE hold_until > ?1")?;
        let rows = stmt.query_map([to_ts(now)], |r| {
            Ok((r.get::<_, String>(0)?, from_ts(r.get(1)?)))
        })?;
        Ok(rows
            .filter_map(|r| match r {
                Ok((host, Some(until))) => Some(Ok((host, until))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Leaves `host` alone until `until` (a 429 or 503), and forgets the
    /// holds that are over.
    pub(crate) fn hold_article_host(
        &mut self,
        host: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM article_hosts WHERE hold_until <= ?1",
            [to_ts(now)],
        )?;
        tx.execute(
            "INSERT INTO article_hosts(host, hold_until) VALUES (?1, ?2)
             ON CONFLICT(host) DO UPDATE SET hold_until = max(hold_until, excluded.hold_until)",
            params![host, to_ts(until)],
        )?;
        tx.commit()?;
        Ok(())
    }
}
