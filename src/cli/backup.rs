//! Command line: `backup FILE` and `restore FILE` (docs/operations.md,
//! "Operations"). The backup reads as `status` does, so it runs beside the
//! daemon and as any user who may read the state; the restore takes the
//! daemon's lock first, so it never writes under a running daemon.

use std::path::Path;

use super::CliError;
use super::output::{Out, outln};
use crate::config::{Config, StateDirFrom};
use crate::store::{self, Store};

pub fn backup(config: &Config, file: &Path) -> Result<(), CliError> {
    let copied = Store::open_read_only(&config.state_dir)?.backup_to(file)?;
    let mut out = Out::new();
    outln!(
        out,
        "{}: a copy of {} ({} pages, schema {})",
        file.display(),
        config.state_dir.join("feedwatch.db").display(),
        copied.pages,
        copied.schema
    );
    Ok(())
}

pub fn restore(config: &Config, file: &Path) -> Result<(), CliError> {
    let from_config = config.state_dir_from == StateDirFrom::Config;
    // Held while the database is written: a daemon cannot start meanwhile,
    // and one that runs makes this refuse ("stop it first").
    let _lock = crate::daemon::lock_state_dir(&config.state_dir, from_config)
        .map_err(|e| CliError::Runtime(e.into()))?;
    let copied = store::restore(&config.state_dir, file)?;
    let mut out = Out::new();
    outln!(
        out,
        "{}: restored from {} ({} pages, schema {}); start feedwatch again",
        config.state_dir.join("feedwatch.db").display(),
        file.display(),
        copied.pages,
        copied.schema
    );
    Ok(())
}
