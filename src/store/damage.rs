//! Store, damage (docs/operations.md, "Bad input"; docs/DESIGN.md §3): SQLite's
//! structural check — of the small tables whenever the database is opened,
//! of the whole file by the full check — and the stored texts that cannot
//! be read (a damaged zstd frame, `codec`). Damage costs the damaged rows
//! only: a text that cannot be read is NULL to every query while the row's
//! title and link stay, whoever meets one and can write records it in
//! `unreadable`, and the full check unpacks every text and keeps that table
//! true. `status` reads both records and unpacks nothing.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::codec::Unpacker;
use super::{Result, Store, StoreError, from_ts, to_ts};

/// Small tables every command relies on, checked whenever the database is
/// opened (the archive's big tables are checked by the full check).
const CHECKED_AT_OPEN: &[&str] = &["feeds", "matches", "outbox"];

/// How many unreadable items `status` names (it counts them all).
const NAMED: usize = 5;

/// What a full check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FullCheck {
    /// SQLite's structural damage, if any (`StoreError::Corrupt`'s detail).
    pub damage: Option<String>,
    /// The items whose stored text cannot be read, with why.
    pub unreadable: Vec<(i64, String)>,
}

impl FullCheck {
    /// What the operator must hear, with the way back; `None`: no damage.
    pub(crate) fn problem(&self) -> Option<String> {
        let mut said: Vec<String> = Vec::new();
        if let Some(damage) = &self.damage {
            said.push(StoreError::Corrupt(damage.clone()).to_string());
        }
        if !self.unreadable.is_empty() {
            said.push(unreadable_way_back(self.unreadable.len() as i64));
        }
        (!said.is_empty()).then(|| said.join("; "))
    }
}

/// The stored texts known to be unreadable, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unreadable {
    pub items: i64,
    /// The first few by item id: the item, when it was found, why.
    pub first: Vec<(i64, DateTime<Utc>, String)>,
}

/// What `n` unreadable texts cost, and the way back: said wherever they
/// are reported (the log, `digest`, `run --once`, `status`).
pub fn unreadable_way_back(n: i64) -> String {
    let (texts, items) = if n == 1 {
        (
            "the text of 1 stored item".to_string(),
            "its title and link are",
        )
    } else {
        (
            format!("the texts of {n} stored items"),
            "their titles and links are",
        )
    };
    format!(
        "{texts} cannot be read (damaged in the database): {items} kept and shown, and \
         nothing else is affected; to get the text back, stop feedwatch and restore the last \
         backup (docs/operations.md, \"Operations\") — `sqlite3 feedwatch.db .recover` copies a damaged \
         text as it is"
    )
}

/// What the full check found (`Store::examine`), not yet recorded.
#[derive(Debug)]
pub struct Examined {
    damage: Option<String>,
    /// `None` when the texts could not be checked (structural damage).
    unreadable: Option<Vec<(i64, String)>>,
}

impl Store {
    /// SQLite's structural check (`PRAGMA quick_check`): of the whole file
    /// with `full`, else of the small tables every command relies on. Any
    /// problem is `StoreError::Corrupt`.
    pub(crate) fn check_integrity(&self, full: bool) -> Result<()> {
        let mut problems = Vec::new();
        let mut run = |sql: &str| -> Result<()> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for row in rows {
                let row = row?;
                if row != "ok" {
                    problems.push(row);
                }
            }
            Ok(())
        };
        if full {
            run("PRAGMA quick_check(20)")?;
        } else {
            for table in CHECKED_AT_OPEN {
                run(&format!("PRAGMA quick_check({table})"))?;
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Corrupt(problems.join("; ")))
        }
    }

    /// The full check: SQLite's structural check of the whole file, then
    /// every stored text unpacked (half again the time of SQLite's check:
    /// docs/DESIGN.md §3); recorded at `at` for `status`, in place of what
    /// the last one found.
    pub(crate) fn check_full(&mut self, at: DateTime<Utc>) -> Result<FullCheck> {
        let found = self.examine()?;
        self.record_full(at, found)
    }

    /// What the full check finds, recording nothing: it reads the whole
    /// file, so the daemon runs it on a connection of its own
    /// (`open_read_only`), and the store it writes with stays free.
    pub(crate) fn examine(&self) -> Result<Examined> {
        let damage = match self.check_integrity(true) {
            Ok(()) => None,
            Err(StoreError::Corrupt(p)) => Some(p),
            Err(e) => return Err(e),
        };
        // On a damaged file not every text may be reachable; the
        // structural damage is said either way.
        let unreadable = match self.find_unreadable() {
            Ok(found) => Some(found),
            Err(StoreError::Corrupt(_)) if damage.is_some() => None,
            Err(e) => return Err(e),
        };
        Ok(Examined { damage, unreadable })
    }

    /// Lets another thread stop `examine` (at a stop: a check of a large
    /// file takes minutes).
    pub(crate) fn interrupt_handle(&self) -> rusqlite::InterruptHandle {
        self.conn.get_interrupt_handle()
    }

    /// Records what `examine` found at `at`, for `status`.
    pub(crate) fn record_full(&mut self, at: DateTime<Utc>, found: Examined) -> Result<FullCheck> {
        let Examined { damage, unreadable } = found;
        let recorded = self.record_check(at, damage.as_deref(), unreadable.as_deref());
        // Recording may fail on a damaged file; the caller says the damage.
        if damage.is_none() {
            recorded?;
        }
        Ok(FullCheck {
            damage,
            unreadable: unreadable.unwrap_or_default(),
        })
    }

    /// Every item whose stored text cannot be read, with why.
    fn find_unreadable(&self) -> Result<Vec<(i64, String)>> {
        let mut unpacker = Unpacker::default();
        let mut stmt = self
            .conn
            .prepare("SELECT id, packed FROM items WHERE typeof(packed) = 'blob'")?;
        let mut rows = stmt.query([])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            if let Err(why) = unpacker.unpack(row.get_ref(1)?) {
                found.push((row.get(0)?, why));
            }
        }
        Ok(found)
    }

    /// The full check's outcome: its time and structural damage, and, when
    /// the texts were checked, exactly the unreadable ones (an item still
    /// unreadable keeps when it was first found).
    fn record_check(
        &mut self,
        at: DateTime<Utc>,
        damage: Option<&str>,
        unreadable: Option<&[(i64, String)]>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM integrity", [])?;
        tx.execute(
            "INSERT INTO integrity(checked_at, problems) VALUES (?1, ?2)",
            params![to_ts(at), damage],
        )?;
        if let Some(found) = unreadable {
            let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
            tx.execute(
                "DELETE FROM unreadable WHERE item_id NOT IN (SELECT value FROM json_each(?1))",
                [serde_json::Value::from(ids).to_string()],
            )?;
            insert_unreadable(&tx, found, at)?;
        }
        Ok(tx.commit()?)
    }

    /// Records the outcome of a full check, for `status`.
    pub fn record_integrity(&mut self, at: DateTime<Utc>, problems: Option<&str>) -> Result<()> {
        self.record_check(at, problems, None)
    }

    /// The last full check: when, and what it found (`None`: nothing).
    pub(crate) fn last_integrity(&self) -> Result<Option<(DateTime<Utc>, Option<String>)>> {
        Ok(self
            .conn
            .query_row("SELECT checked_at, problems FROM integrity", [], |r| {
                Ok((from_ts(r.get(0)?).unwrap_or_default(), r.get(1)?))
            })
            .optional()?)
    }

    /// Records that the texts of `items`, met by a reader (a delivery),
    /// cannot be read; why is found again here.
    pub(crate) fn record_unreadable(&mut self, items: &[i64], at: DateTime<Utc>) -> Result<()> {
        let mut unpacker = Unpacker::default();
        let mut found = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT packed FROM items WHERE id = ?1")?;
            for &id in items {
                let why = stmt
                    .query_row([id], |r| Ok(unpacker.unpack(r.get_ref(0)?).err()))
                    .optional()?
                    .flatten();
                if let Some(why) = why {
                    found.push((id, why));
                }
            }
        }
        let tx = self.conn.transaction()?;
        insert_unreadable(&tx, &found, at)?;
        Ok(tx.commit()?)
    }

    /// The stored texts known to be unreadable.
    pub fn unreadable(&self) -> Result<Unreadable> {
        // An archive read while it is upgraded (`open_read_only`) has no
        // such table yet, and no records in it.
        let recorded: i64 = self.conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'unreadable'",
            [],
            |r| r.get(0),
        )?;
        if recorded == 0 {
            return Ok(Unreadable::default());
        }
        let items = self
            .conn
            .query_row("SELECT count(*) FROM unreadable", [], |r| r.get(0))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT item_id, found_at, error FROM unreadable ORDER BY item_id LIMIT ?1",
        )?;
        let first = stmt
            .query_map([NAMED as i64], |r| {
                Ok((r.get(0)?, from_ts(r.get(1)?).unwrap_or_default(), r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Unreadable { items, first })
    }
}

fn insert_unreadable(
    conn: &rusqlite::Connection,
    found: &[(i64, String)],
    at: DateTime<Utc>,
) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO unreadable(item_id, found_at, error) VALUES (?1, ?2, ?3)
         ON CONFLICT(item_id) DO UPDATE SET error = excluded.error",
    )?;
    for (id, why) in found {
        insert.execute(params![id, to_ts(at), why])?;
    }
    Ok(())
}
