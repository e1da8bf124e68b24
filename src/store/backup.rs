//! Store: a consistent copy of the database while feedwatch runs, and
//! putting one back (`feedwatch backup`, `feedwatch restore`;
//! docs/operations.md, "Operations"). Both go through SQLite's online
//! backup API, so the copy is whole pages of one moment and the database a
//! restore writes into keeps its file, hence its owner: under the unit's
//! `DynamicUser=` root's restore stays the service's.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

use super::{DB_FILE, MIGRATIONS, Result, Store, StoreError};

/// What a backup or a restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub pages: i32,
    pub schema: i64,
}

impl Store {
    /// Copies the database into `to`, a file that must not exist yet (made
    /// 0600: it holds every stored item). All pages in one step, under one
    /// read transaction: a daemon writing meanwhile (WAL) is not held up
    /// and cannot make the copy restart or mix two moments.
    pub fn backup_to(&self, to: &Path) -> Result<Copied> {
        let io = |error: std::io::Error| StoreError::Backup {
            path: to.display().to_string(),
            error: error.to_string(),
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to)
            .map_err(io)?;
        let mut copy = Connection::open(to)?;
        let pages = {
            let backup = Backup::new(&self.conn, &mut copy)?;
            backup.step(-1)?;
            backup.progress().pagecount
        };
        let schema = copy.pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok(Copied { pages, schema })
    }
}

/// Writes the backup `from` into the state directory's database, through
/// SQLite (the file, its owner and its mode stay; a database made here is
/// given to the state directory's owner). The caller holds the state lock,
/// so no daemon runs. `from` must be a feedwatch database this version can
/// read.
pub fn restore(state_dir: &Path, from: &Path) -> Result<Copied> {
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let schema: i64 = source
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| StoreError::NotABackup {
            path: from.display().to_string(),
            why: e.to_string(),
        })?;
    let known = MIGRATIONS.len() as i64;
    let has_feeds = source
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'feeds'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| StoreError::NotABackup {
            path: from.display().to_string(),
            why: e.to_string(),
        })?;
    if schema == 0 || has_feeds == 0 {
        return Err(StoreError::NotABackup {
            path: from.display().to_string(),
            why: "it has no feedwatch tables".into(),
        });
    }
    if schema > known {
        return Err(StoreError::TooNew {
            found: schema,
            known,
        });
    }
    let path = state_dir.join(DB_FILE);
    let existed = path.exists();
    let mut target = Connection::open(&path)?;
    let pages = {
        let backup = Backup::new(&source, &mut target)?;
        backup.step(-1)?;
        backup.progress().pagecount
    };
    // The store puts the file back in WAL mode when it next opens it.
    drop(target);
    if !existed {
        give_to_the_folders_owner(state_dir, &path)?;
    }
    Ok(Copied { pages, schema })
}

/// A database root made in the service's folder would be root's, and the
/// service could not write it: it goes to the folder's owner.
fn give_to_the_folders_owner(state_dir: &Path, path: &Path) -> Result<()> {
    let io = |error: std::io::Error| StoreError::Backup {
        path: path.display().to_string(),
        error: error.to_string(),
    };
    let dir = std::fs::metadata(state_dir).map_err(io)?;
    let file = std::fs::metadata(path).map_err(io)?;
    if (file.uid(), file.gid()) != (dir.uid(), dir.gid()) {
        std::os::unix::fs::chown(path, Some(dir.uid()), Some(dir.gid())).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy is the database as it was, made 0600 from a read-only
    /// connection beside a writer's; an existing file is never
    /// overwritten; restored over a database that changed since, it puts
    /// back what was copied.
    #[test]
    fn a_backup_is_one_moment_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let writer = Store::open_dir(&state).unwrap();
        writer
            .conn
            .execute("INSERT INTO feeds(name, url) VALUES ('a', 'u')", [])
            .unwrap();
        let reader = Store::open_read_only(&state).unwrap();
        let to = dir.path().join("copy.db");
        let copied = reader.backup_to(&to).unwrap();
        assert_eq!(copied.schema, MIGRATIONS.len() as i64);
        assert!(copied.pages > 0);
        let mode = std::fs::metadata(&to).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let feeds: i64 = Connection::open(&to)
            .unwrap()
            .query_row("SELECT count(*) FROM feeds", [], |r| r.get(0))
            .unwrap();
        assert_eq!(feeds, 1);
        let again = reader.backup_to(&to).unwrap_err();
        assert!(matches!(again, StoreError::Backup { .. }), "{again}");
        // Restored over a database that changed since, it is as it was.
        writer
            .conn
            .execute("INSERT INTO feeds(name, url) VALUES ('b', 'u')", [])
            .unwrap();
        drop((writer, reader));
        restore(&state, &to).unwrap();
        let store = Store::open_dir(&state).unwrap();
        let names: i64 = store
            .conn
            .query_row("SELECT count(*) FROM feeds", [], |r| r.get(0))
            .unwrap();
        assert_eq!(names, 1);
    }

    /// Only a feedwatch database is put back.
    #[test]
    fn a_file_that_is_not_a_backup_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t(x);")
            .unwrap();
        let e = restore(dir.path(), &other).unwrap_err();
        assert!(matches!(e, StoreError::NotABackup { .. }), "{e}");
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database at all, just some words").unwrap();
        assert!(restore(dir.path(), &text).is_err());
        assert!(!dir.path().join(DB_FILE).exists(), "nothing written");
    }
}
