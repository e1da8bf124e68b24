//! Store: stored link identities follow the link canonicalisation rules.
//! An item without an id is identified by its canonical link (`link:…`);
//! when the rules change (a new tracking parameter, say), the same link
//! comes out differently, and the item would be new again. So the database
//! records the version of the rules its links were made with, and when the
//! running rules are newer, every stored link (and `link:` key) is made
//! again with them, in one transaction.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store};

impl Store {
    /// The version of the link rules the stored links were made with (0:
    /// before versions were recorded).
    pub fn link_rules(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'link_rules'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0))
    }

    /// Makes every stored link again with `canonical` when the stored ones
    /// were made with rules older than `version`. Returns how many changed.
    pub(crate) fn relink(
        &mut self,
        version: u32,
        canonical: &dyn Fn(&str) -> Option<String>,
    ) -> Result<usize> {
        if self.link_rules()? >= version {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut changed = 0;
        let rows: Vec<(i64, String, String)> = tx
            .prepare("SELECT feed_id, key, link FROM seen WHERE link IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (feed_id, key, link) in rows {
            let Some(new) = canonical(&link).filter(|n| *n != link) else {
                continue;
            };
            let new_key = if key == format!("link:{link}") {
                format!("link:{new}")
            } else {
                key.clone()
            };
            // The new identity may be known already: then this row is a
            // second record of it, and goes.
            let moved = tx.execute(
                "UPDATE OR IGNORE seen SET key = ?3, link = ?4 WHERE feed_id = ?1 AND key = ?2",
                params![feed_id, key, new_key, new],
            )?;
            if moved == 0 {
                tx.execute(
                    "DELETE FROM seen WHERE feed_id = ?1 AND key = ?2",
                    params![feed_id, key],
                )?;
            }
            changed += 1;
        }
        // The archive's copies of the links, by row id (items keep no key).
        let items: Vec<(i64, String)> = tx
            .prepare("SELECT id, link FROM items WHERE link IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut relink = tx.prepare("UPDATE items SET link = ?2 WHERE id = ?1")?;
        for (id, link) in items {
            if let Some(new) = canonical(&link).filter(|n| *n != link) {
                relink.execute(params![id, new])?;
            }
        }
        drop(relink);
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('link_rules', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [version],
        )?;
        tx.commit()?;
        Ok(changed)
    }
}
