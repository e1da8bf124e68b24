//! Store: a full disk said as one (docs/operations.md, "Bad input"). SQLite reports a
//! full disk as SQLITE_FULL ("database or disk is full") where it writes
//! the database or its WAL, which `StoreError::from` maps, but as a plain
//! I/O error where the write that failed was another one — growing the
//! WAL index, for one, which every open of a WAL database does — and then
//! only the connection's saved errno (ENOSPC) says why. By the time the
//! error reaches us errno itself may have been overwritten, so it is asked
//! of SQLite.

use rusqlite::Connection;

use super::StoreError;

/// `e`, as `StoreError::DiskFull` when it is SQLite's I/O error and the OS
/// error behind it (`errno`, asked only then) was "no space left on device".
pub(super) fn said(e: StoreError, errno: impl FnOnce() -> i32) -> StoreError {
    match e {
        StoreError::Sqlite(err)
            if err.sqlite_error_code() == Some(rusqlite::ErrorCode::SystemIoFailure)
                && std::io::Error::from_raw_os_error(errno()).kind()
                    == std::io::ErrorKind::StorageFull =>
        {
            StoreError::DiskFull(err.to_string())
        }
        e => e,
    }
}

/// The OS error of SQLite's last failure on `conn` (0 when none).
pub(super) fn system_errno(conn: &Connection) -> i32 {
    // SAFETY: `handle` is the live connection's own pointer, valid while
    // `conn` is borrowed; sqlite3_system_errno only reads a field of it.
    unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(extended: i32) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(extended),
            None,
        ))
    }

    #[test]
    fn an_io_error_from_a_full_disk_is_a_full_disk() {
        const ENOSPC: i32 = 28;
        const EIO: i32 = 5;
        let full = said(io_error(rusqlite::ffi::SQLITE_IOERR_SHMSIZE), || ENOSPC);
        assert!(matches!(full, StoreError::DiskFull(_)), "{full:?}");
        assert!(
            full.to_string()
                .starts_with("the disk holding the state directory is full: free space"),
            "{full}"
        );
        let broken = said(io_error(rusqlite::ffi::SQLITE_IOERR_WRITE), || EIO);
        assert!(matches!(broken, StoreError::Sqlite(_)), "{broken:?}");
        // Not an I/O error: errno is not even asked.
        let busy = said(io_error(rusqlite::ffi::SQLITE_BUSY), || panic!("asked"));
        assert!(matches!(busy, StoreError::Sqlite(_)), "{busy:?}");
    }

    #[test]
    fn sqlite_full_is_a_full_disk() {
        let full = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ));
        assert!(matches!(full, StoreError::DiskFull(_)), "{full:?}");
    }
}
