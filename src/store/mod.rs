//! Store stage: the SQLite database that is both the archive and the queue
//! between the pipeline stages (docs/DESIGN.md §1). `Store` is a plain synchronous
//! type (tested on `:memory:`); async code reaches it through `Db`, which runs
//! each call on the blocking pool. Schema changes are SQL files applied by
//! `PRAGMA user_version`, append-only (docs/DESIGN.md §3). Uses `model` only.
//!
//! - `ingest`: insert-new-only for a group of feeds in one transaction.
//! - `matching`: the rules over just the group's new items, snippets.
//! - `matcher`, `tokenizer`: the live matcher, on the archive's tokenizer.
//! - `feeds`: the feeds' rows: poll state, 304s, failures and backoff.
//! - `outbox`: pending matches → outbox rows → sent.
//! - `query`: `search` over the archive and `status`.
//! - `retention`: pruning old text while keeping item identities.
//! - `disk`: a full disk said as one, not as an I/O error.
//! - `damage`: SQLite's structural check, and the texts that cannot be read.

mod backup;
mod codec;
mod compact;
mod coverage;
mod damage;
mod disk;
mod explain;
mod feeds;
mod held;
mod ingest;
mod links;
mod matcher;
mod matching;
mod outbox;
mod query;
mod retention;
mod tokenizer;

pub use backup::{Copied, restore};
pub use compact::Progress;
pub use coverage::{Counters, Marks, Told};
pub use damage::{Examined, FullCheck, Unreadable, unreadable_way_back};
pub use explain::{ItemFacts, MatchFacts, MessageFacts};
pub use feeds::PollState;
pub use held::{Articles, Orphan};
pub use ingest::{Batch, Failure, Write, may_alert};
pub use outbox::NewOutbox;
pub use query::Delivery;
pub use retention::{PRUNE_BATCH, Pruned};

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

/// Every schema version, in order; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("001_initial.sql"),
    include_str!("002_failing_since.sql"),
    include_str!("003_retention.sql"),
    include_str!("004_backoff.sql"),
    include_str!("005_moved.sql"),
    include_str!("006_fts_by_group.sql"),
    include_str!("007_fts_automerge.sql"),
    include_str!("008_integrity.sql"),
    include_str!("009_digest_memory.sql"),
    include_str!("010_full_text.sql"),
    include_str!("011_packed_items.sql"),
    include_str!("012_packed_items_done.sql"),
    include_str!("013_held_articles.sql"),
    include_str!("014_unreadable.sql"),
    include_str!("015_last_success.sql"),
    include_str!("016_coverage.sql"),
];

/// The FTS5 column list and tokenizer of the archive index; the live
/// matcher tokenises with the same tokenizer (`tokenizer`), so that live
/// matching and `search` agree.
const FTS_DEFINITION: &str = "title, summary, author, category, feed, \
     tokenize = 'porter unicode61 remove_diacritics 2'";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// SQLite found damaged pages (SQLITE_CORRUPT, or not a database).
    #[error(
        "the database is damaged ({0}): stop feedwatch and restore the last backup \
         (docs/operations.md, \"Operations\"), or save what is readable with \
         `sqlite3 feedwatch.db .recover | sqlite3 recovered.db`"
    )]
    Corrupt(String),
    /// SQLITE_FULL, or an I/O error whose cause was ENOSPC (`disk`).
    #[error(
        "the disk holding the state directory is full: free space there, then try again \
         (what could not be written is fetched or sent again) ({0})"
    )]
    DiskFull(String),
    #[error("cannot create the state directory {path}: {error}")]
    StateDir { path: String, error: std::io::Error },
    #[error(
        "the database has schema version {found}, newer than this feedwatch understands ({known}); \
         upgrade feedwatch or restore a backup"
    )]
    TooNew { found: i64, known: i64 },
    #[error("rule '{rule}' is not a valid FTS5 query: {message}")]
    BadQuery { rule: String, message: String },
    #[error("the pending matches were taken by another process; try again")]
    Conflict,
    /// The blocking task that held the connection panicked or was cancelled
    /// (a bug, or the runtime shutting down).
    #[error("the database task stopped: {0}")]
    Task(tokio::task::JoinError),
    /// SQLite's FTS5 tokenizer could not be found or failed on a text (the
    /// shared tokenizer, docs/DESIGN.md §3).
    #[error("the FTS5 tokenizer {0}")]
    Tokenizer(String),
    #[error("the database holds a value feedwatch cannot read ({what}): {message}")]
    BadValue { what: String, message: String },
    #[error(
        "there is no feedwatch database in {dir} yet: it is made by the first poll (`feedwatch poll`, or the daemon)"
    )]
    NoDatabase { dir: String },
    /// This user may not look into the state directory (the service's is
    /// 0700, its own user's).
    #[error(
        "this user may not read the feedwatch database in {dir} ({error}): run the command \
         as root, or as the user the service runs as"
    )]
    NotAllowed { dir: String, error: String },
    /// The database file cannot be written by this process (another user
    /// owns it: root restored a backup, or ran the first poll).
    #[error(
        "the database {path} cannot be written by this process (it belongs to user id {owner}): \
         nothing could be stored or sent; give it back to the user that runs feedwatch, \
         as its folder is: `chown --reference={dir} {dir}/feedwatch.db*`"
    )]
    ReadOnly {
        path: String,
        dir: String,
        owner: u32,
    },
    #[error(
        "the database has schema version {found}, older than this feedwatch ({known}); \
         start the daemon or run `feedwatch poll` once to upgrade it"
    )]
    TooOld { found: i64, known: i64 },
    /// A backup's file could not be made or given its owner.
    #[error("cannot write {path}: {error}")]
    Backup { path: String, error: String },
    /// What `restore` was given is not a feedwatch database.
    #[error("{path} is not a feedwatch backup ({why}); nothing was changed")]
    NotABackup { path: String, why: String },
}

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

impl From<rusqlite::Error> for StoreError {
    /// Damage is its own error: every command that meets it says so, with
    /// the way to recover, instead of a generic database error.
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                StoreError::Corrupt(e.to_string())
            }
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull(e.to_string()),
            _ => StoreError::Sqlite(e),
        }
    }
}

/// The oldest schema a reader (`status`, `search`) can read as it is: the
/// one before the archive is packed. Older ones need the daemon or `poll`
/// to upgrade them first.
const OLDEST_READABLE: i64 = 10;

pub struct Store {
    conn: Connection,
    /// The live matcher (docs/DESIGN.md §3), made when first needed: a
    /// store that only reads (`status`, `search`) never holds one.
    matcher: Option<matcher::Matcher>,
    /// Packs new items' text (`codec`); emptied with the matcher.
    packer: codec::Packer,
    /// Time spent matching so far (tokenising new items, running the
    /// rules, asking the archive for snippets), read by the benchmark.
    matching: std::time::Duration,
    /// The matcher's tokens of the texts it has just read, which the
    /// archive index takes instead of tokenising them again
    /// (`tokenizer::register_replay`; empty on a store that only reads).
    replay: std::sync::Arc<tokenizer::Replay>,
}

/// The database's file name in the state directory.
const DB_FILE: &str = "feedwatch.db";

impl Store {
    /// Opens (creating if needed) the database in `state_dir`.
    pub fn open_dir(state_dir: &Path) -> Result<Self> {
        Self::open_dir_reporting(state_dir, &mut log_progress)
    }

    /// `open_dir`, with the progress of a long migration (packing an
    /// archive from before schema 11) passed to `report`.
    pub fn open_dir_reporting(state_dir: &Path, report: &mut dyn FnMut(Progress)) -> Result<Self> {
        std::fs::create_dir_all(state_dir).map_err(|error| StoreError::StateDir {
            path: state_dir.display().to_string(),
            error,
        })?;
        Self::init(Connection::open(state_dir.join(DB_FILE))?, report)
    }

    /// Opens the database in `state_dir` to read only: it creates and
    /// migrates nothing, so `status` and `search` work on a state directory
    /// they cannot write (another user's, a mounted backup) while the daemon
    /// writes. When SQLite cannot make the WAL's shared-memory file there,
    /// the file is read as immutable, which is exact when no process is
    /// writing it (one that did would have made that file).
    pub fn open_read_only(state_dir: &Path) -> Result<Self> {
        let path = state_dir.join(DB_FILE);
        if let Some(e) = not_there(path.try_exists(), state_dir) {
            return Err(e);
        }
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        codec::register(&conn)?;
        let conn = match conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)) {
            Ok(_) => conn,
            Err(_) => {
                let mut uri =
                    url::Url::from_file_path(&path).map_err(|()| StoreError::NoDatabase {
                        dir: state_dir.display().to_string(),
                    })?;
                uri.set_query(Some("immutable=1"));
                let conn = Connection::open_with_flags(uri.as_str(), flags)?;
                codec::register(&conn)?;
                conn
            }
        };
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        // An archive being packed (schema 11, by the daemon at its start,
        // in steps) or about to be is read as it is: its tables answer
        // every query of `status` and `search` until the swap.
        if found < OLDEST_READABLE {
            return Err(StoreError::TooOld { found, known });
        }
        if found < known {
            tracing::warn!(
                schema = found,
                "the database is being upgraded (schema {found} of {known}); shown as it was before the upgrade"
            );
        }
        let store = Self::with_conn(conn);
        store.check_integrity(false)?;
        Ok(store)
    }

    /// A database file by its path (the store's tests; feedwatch opens a
    /// state directory).
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<Self> {
        Self::init(Connection::open(path)?, &mut log_progress)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?, &mut log_progress)
    }

    fn init(mut conn: Connection, report: &mut dyn FnMut(Progress)) -> Result<Self> {
        // SQLite opens a file it may not write read-only, without a word:
        // the daemon then ran blind, every write failing.
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(read_only(&conn));
        }
        // Before anything opens the archive index on this connection: FTS5
        // finds its tokenizer when it first opens the table.
        let replay = std::sync::Arc::new(tokenizer::Replay::default());
        tokenizer::register_replay(&conn, replay.clone())?;
        // Opening writes (the WAL index, migrations): a full disk is said.
        set_up(&mut conn, report).map_err(|e| disk::said(e, || disk::system_errno(&conn)))?;
        let mut store = Self::with_conn(conn);
        store.replay = replay;
        store.check_integrity(false)?;
        Ok(store)
    }

    fn with_conn(conn: Connection) -> Self {
        Store {
            conn,
            matcher: None,
            packer: codec::Packer::default(),
            matching: std::time::Duration::ZERO,
            replay: std::sync::Arc::default(),
        }
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Gives back the memory SQLite holds for the archive's page cache and
    /// the matcher: the daemon calls it when a run is over, so that it
    /// idles small.
    pub(crate) fn release_memory(&mut self) -> Result<()> {
        self.matcher = None;
        self.packer = codec::Packer::default();
        self.conn.execute_batch("PRAGMA shrink_memory;")?;
        Ok(())
    }

    /// Time this store has spent matching new items against rules.
    pub fn matching_time(&self) -> std::time::Duration {
        self.matching
    }

    /// Checks that SQLite's FTS5 accepts a compiled query.
    pub fn check_query(&mut self, rule: &str, fts_query: &str) -> Result<()> {
        live_matcher(&mut self.matcher, &self.replay)?
            .tokenizer()
            .check(fts_query)
            .map_err(|e| StoreError::BadQuery {
                rule: rule.to_string(),
                message: e.to_string(),
            })
    }
}

/// The live matcher in `slot`, made on first use.
/// Its index of matched items (for the marks) takes the matcher's tokens
/// too, from the store's `replay`.
fn live_matcher<'m>(
    slot: &'m mut Option<matcher::Matcher>,
    replay: &std::sync::Arc<tokenizer::Replay>,
) -> Result<&'m mut matcher::Matcher> {
    match slot {
        Some(m) => Ok(m),
        None => {
            let m = matcher::Matcher::new(FTS_DEFINITION)?;
            tokenizer::register_replay(m.tokenizer().connection(), replay.clone())?;
            Ok(slot.insert(m))
        }
    }
}

/// The connection's functions and settings, and the schema brought up to
/// date (`Store::init`).
fn set_up(conn: &mut Connection, report: &mut dyn FnMut(Progress)) -> Result<()> {
    codec::register(conn)?;
    codec::register_pack(conn)?;
    // First, so that even switching to WAL waits for another process
    // (the daemon and `status` may open the database at the same time).
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Items are 1–3 KB, and a page's unused tail is about half a row:
    // the file was 1.91× the stored text with 4 KiB pages, 1.59× with
    // 16 KiB, 1.54× with 32 KiB (64 KiB: 1.53×, slower polls; measured
    // by the benchmark). The page size only takes effect on a new,
    // empty database.
    conn.pragma_update(None, "page_size", 32768)?;
    // WAL lets `status`/`search` read while the daemon writes; NORMAL
    // sync is durable against a killed process (the WAL is on disk).
    enable_wal(conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The group's text staged for the FTS5 index (`ingest`) stays in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    migrate(conn, report)
}

/// Switching to WAL takes a lock that SQLite does not wait for with the busy
/// handler, so a process opening a new database while another does retries
/// here (bounded); once the file is in WAL mode this is a no-op.
fn enable_wal(conn: &Connection) -> Result<()> {
    let mut attempts = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 200 =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn migrate(conn: &mut Connection, report: &mut dyn FnMut(Progress)) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    loop {
        // The version is read inside the write transaction: two processes
        // opening a new database at once must not both apply a migration.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return Ok(());
        };
        if found as usize + 1 == compact::SWAP_VERSION {
            drop(tx);
            compact::fill(conn, report)?;
            swap_packed(conn, sql, found)?;
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}

/// Schema 12: the packed table swapped in, with foreign keys off (they
/// cannot change inside a transaction), the last rows copied in the same
/// transaction, so that none is left behind.
fn swap_packed(conn: &mut Connection, sql: &str, from: i64) -> Result<()> {
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let swapped = (|| -> Result<()> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found != from {
            return Ok(()); // another process did it
        }
        compact::copy_after_last(&tx, None)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        Ok(tx.commit()?)
    })();
    conn.pragma_update(None, "foreign_keys", "ON")?;
    swapped
}

/// The default report of a long migration: a log line per step.
pub fn log_progress(p: Progress) {
    tracing::info!(
        "packing the archive (schema 11): {} of {} items",
        p.done,
        p.total
    );
}

pub(crate) fn to_ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| Utc.timestamp_opt(t, 0).single())
}

/// Why the database `conn` opened read-only cannot be written.
fn read_only(conn: &Connection) -> StoreError {
    use std::os::unix::fs::MetadataExt;
    let path = Path::new(conn.path().unwrap_or_default());
    StoreError::ReadOnly {
        path: path.display().to_string(),
        dir: path
            .parent()
            .map_or_else(String::new, |d| d.display().to_string()),
        owner: std::fs::metadata(path).map_or(0, |m| m.uid()),
    }
}

/// The store shared by async code: each call runs on tokio's blocking pool,
/// one at a time (SQLite has one writer anyway).
#[derive(Clone)]
pub struct Db {
    inner: Arc<Mutex<Store>>,
}

impl Db {
    pub fn new(store: Store) -> Self {
        Db {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Store) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier call poisons the lock; the connection
            // itself is still consistent (transactions roll back on drop).
            let mut store = inner.lock().unwrap_or_else(|p| p.into_inner());
            // A write that failed on a full disk is said as one.
            f(&mut store).map_err(|e| disk::said(e, || disk::system_errno(&store.conn)))
        })
        .await
        .map_err(StoreError::Task)?
    }
}

/// Why the database cannot be opened for reading, when it cannot: it is not
/// there yet, or this user may not look (`Path::exists` said "not there"
/// for a directory the user may not enter, and the hint to run a first
/// poll was wrong).
fn not_there(exists: std::io::Result<bool>, state_dir: &Path) -> Option<StoreError> {
    let dir = state_dir.display().to_string();
    match exists {
        Ok(true) => None,
        Ok(false) => Some(StoreError::NoDatabase { dir }),
        Err(e) => Some(StoreError::NotAllowed {
            dir,
            error: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
