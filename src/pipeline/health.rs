//! Pipeline: the store's health while feedwatch runs (docs/operations.md, "Bad input").
//! A store that stops taking writes (the file made read-only, a full disk,
//! damage) used to show only as journal lines while `status` and the
//! StatusText looked normal. Each poll says here whether its writes went
//! through; a failure is kept with when it began, written beside the
//! database (`store-failure`, when the folder still takes a small file) so
//! that `status` shows it, and the daemon puts it in its StatusText and
//! exits after `FAILED_POLLS` polls in a row, so that systemd shows it too.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Polls in a row whose writes failed before the daemon gives up and
/// exits 1: a passing lock or a moment of a full disk is not worth a
/// restart, a store that stays broken is (docs/operations.md, "Bad input").
pub const FAILED_POLLS: u32 = 3;

/// The file beside the database that says the store is failing.
const FAILURE_FILE: &str = "store-failure";

/// Since when the store has failed, how often in a row, and the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure {
    pub since: DateTime<Utc>,
    pub polls: u32,
    pub last_error: String,
}

/// Shared by a context and the contexts reloaded from it.
#[derive(Debug, Clone, Default)]
pub struct StoreHealth(Arc<Mutex<Option<StoreFailure>>>);

impl StoreHealth {
    /// A poll whose writes failed with `error`, in the state directory
    /// `state_dir`.
    pub fn failed(&self, state_dir: &Path, error: &str, now: DateTime<Utc>) {
        let failure = {
            let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let failure = match slot.take() {
                Some(f) => StoreFailure {
                    polls: f.polls + 1,
                    last_error: error.to_string(),
                    ..f
                },
                None => StoreFailure {
                    since: now,
                    polls: 1,
                    last_error: error.to_string(),
                },
            };
            *slot = Some(failure.clone());
            failure
        };
        let text = format!(
            "{}\n{}\n{}\n",
            failure.since.timestamp(),
            failure.polls,
            failure.last_error
        );
        if let Err(e) = std::fs::write(failure_file(state_dir), text) {
            tracing::debug!(error = %e, "cannot write the store-failure file");
        }
    }

    /// A poll whose writes went through.
    pub fn recovered(&self, state_dir: &Path) {
        let was = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(f) = was {
            tracing::info!(since = %f.since, "the database takes writes again");
        }
        let _ = std::fs::remove_file(failure_file(state_dir));
    }

    pub fn failure(&self) -> Option<StoreFailure> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn failure_file(state_dir: &Path) -> PathBuf {
    state_dir.join(FAILURE_FILE)
}

/// What the file beside the database says, for `status` (any process).
pub fn read_failure(state_dir: &Path) -> Option<StoreFailure> {
    let text = std::fs::read_to_string(failure_file(state_dir)).ok()?;
    let mut lines = text.splitn(3, '\n');
    let since = lines.next()?.parse::<i64>().ok()?;
    let polls = lines.next()?.parse().ok()?;
    Some(StoreFailure {
        since: DateTime::from_timestamp(since, 0)?,
        polls,
        last_error: lines.next()?.trim_end().to_string(),
    })
}

/// The file beside the database that says mail cannot be set up.
const MAIL_FILE: &str = "mail-failure";

/// Since when mail cannot be set up (no password, a CA file that cannot be
/// read), and why: every digest's matches stay pending meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFailure {
    pub since: DateTime<Utc>,
    pub error: String,
}

/// Mail could not be set up at `now`: written beside the database, so that
/// `status` says it (it was in the log alone), keeping when it began.
pub fn mail_failed(state_dir: &Path, error: &str, now: DateTime<Utc>) {
    let since = read_mail_failure(state_dir).map_or(now, |f| f.since);
    let text = format!("{}\n{}\n", since.timestamp(), error.replace('\n', " "));
    if let Err(e) = std::fs::write(state_dir.join(MAIL_FILE), text) {
        tracing::debug!(error = %e, "cannot write the mail-failure file");
    }
}

/// Mail was set up: the failure, if any, is over.
pub fn mail_set_up(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(MAIL_FILE));
}

/// What the file beside the database says, for `status` (any process).
pub fn read_mail_failure(state_dir: &Path) -> Option<MailFailure> {
    let text = std::fs::read_to_string(state_dir.join(MAIL_FILE)).ok()?;
    let (since, error) = text.split_once('\n')?;
    Some(MailFailure {
        since: DateTime::from_timestamp(since.trim().parse().ok()?, 0)?,
        error: error.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_failure_keeps_its_start_until_mail_is_set_up() {
        let dir = tempfile::tempdir().unwrap();
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(read_mail_failure(dir.path()), None);
        mail_failed(dir.path(), "no password", start);
        mail_failed(
            dir.path(),
            "no password\nat all",
            start + chrono::Duration::hours(1),
        );
        assert_eq!(
            read_mail_failure(dir.path()),
            Some(MailFailure {
                since: start,
                error: "no password at all".into()
            })
        );
        mail_set_up(dir.path());
        assert_eq!(read_mail_failure(dir.path()), None);
    }

    #[test]
    fn a_failure_counts_polls_keeps_its_start_and_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let health = StoreHealth::default();
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        health.failed(dir.path(), "attempt to write a readonly database", start);
        health.failed(
            dir.path(),
            "database or disk is full",
            start + chrono::Duration::minutes(15),
        );
        let expected = StoreFailure {
            since: start,
            polls: 2,
            last_error: "database or disk is full".into(),
        };
        assert_eq!(health.failure(), Some(expected.clone()));
        assert_eq!(read_failure(dir.path()), Some(expected));
        health.recovered(dir.path());
        assert_eq!((health.failure(), read_failure(dir.path())), (None, None));
    }
}
