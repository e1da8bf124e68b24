//! Daemon: what systemd and the operator see of the service — the notify
//! protocol (READY, WATCHDOG, RELOADING with its monotonic timestamp,
//! STOPPING; all no-ops without `NOTIFY_SOCKET`) and the lock that keeps one
//! daemon per state directory.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sd_notify::NotifyState;

/// Tells systemd (when it is listening) about a state change. A failure to
/// notify is logged, never fatal: the daemon's work matters more.
pub fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// RELOADING=1 with MONOTONIC_USEC, as `Type=notify-reload` expects.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// The one-line status `systemctl status` shows.
pub fn status(text: &str) {
    notify(&[NotifyState::Status(text)]);
}

/// A step of a long migration at start (packing an archive from before
/// schema 11): logged, shown in `systemctl status`, and systemd's start
/// timeout pushed a minute on, since a step takes well under a second.
pub fn migrating(p: crate::pipeline::Progress) {
    crate::pipeline::log_progress(p);
    notify(&[
        NotifyState::ExtendTimeoutUsec(60_000_000),
        NotifyState::Status(&format!(
            "packing the archive: {} of {} items",
            p.done, p.total
        )),
    ]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// How often to pet the watchdog: half of `WATCHDOG_USEC`, when set for us.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .map(|d| d / 2)
        .filter(|d| !d.is_zero())
}

/// Gives memory freed by a pipeline run back to the system. glibc keeps
/// freed heap for reuse, so after a first poll of many feeds an idle daemon
/// kept its peak (measured: 48 MB idle after polling 1,000 feeds).
pub fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Caps glibc's malloc arenas at two (the machine class we target has two
/// cores). glibc gives each thread that allocates its own arena, up to
/// eight per core, and tokio's blocking pool runs the parser and the store
/// on many threads: each arena kept its own high-water mark, which is
/// where most of a poll's peak and of the idle daemon's memory went.
/// Called before any thread is started.
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator tuning; no thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The daemon's hold on its state directory; released when dropped (or
/// when the process dies, however it dies: it is an OS file lock).
pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another feedwatch daemon{} is running on {dir}; stop it first (only one daemon per state directory)", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Held { dir: String, pid: Option<u32> },
    #[error("cannot lock {path}: {error}{}", read_only_hint(error, *from_config))]
    Io {
        path: String,
        error: std::io::Error,
        /// The config set `state_dir` (the hint to remove it is true only
        /// then).
        from_config: bool,
    },
}

/// Under the systemd unit only its StateDirectory is writable: a state_dir
/// left in the config (the example's) meets a read-only file system. Said
/// only when the config set one: otherwise there is nothing to remove.
fn read_only_hint(error: &std::io::Error, from_config: bool) -> &'static str {
    if from_config && error.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
        " (under the systemd unit only /var/lib/feedwatch, its StateDirectory, is writable: \
         remove state_dir from the config)"
    } else {
        ""
    }
}

/// Takes `feedwatch.lock` in `state_dir`, writing our pid into it.
pub fn lock_state_dir(state_dir: &Path, from_config: bool) -> Result<StateLock, LockError> {
    let path = state_dir.join("feedwatch.lock");
    let io = |error| LockError::Io {
        path: path.display().to_string(),
        error,
        from_config,
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Held {
                dir: state_dir.display().to_string(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(StateLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_state_dir_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_state_dir(dir.path(), false).unwrap();
        let err = lock_state_dir(dir.path(), false)
            .err()
            .expect("second lock refused");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("only one daemon per state directory"), "{msg}");
        drop(first);
        assert!(
            lock_state_dir(dir.path(), false).is_ok(),
            "released on drop"
        );
    }

    #[test]
    fn the_read_only_hint_says_to_remove_state_dir_only_when_the_config_set_one() {
        let ro = || std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem);
        let said = |from_config| {
            LockError::Io {
                path: "/var/lib/feedwatch/feedwatch.lock".into(),
                error: ro(),
                from_config,
            }
            .to_string()
        };
        assert!(said(true).contains("remove state_dir from the config"));
        assert!(!said(false).contains("state_dir"), "{}", said(false));
    }
}
