//! Mail stage: the SMTP password, read from (in order) the environment,
//! `password_file`, the systemd credential, or — outside the unit — the
//! credential's source file. It lives only in a `Secret` (docs/DESIGN.md
//! §3); what is said about it names its source, never its value.

use std::path::{Path, PathBuf};

use super::MailError;
use crate::model::Secret;

/// What to say when a user name is configured and no password is found.
pub fn no_password(user: &str) -> String {
    format!(
        "the smtp URL names user '{user}' but no password was found: set $FEEDWATCH_SMTP_PASSWORD, \
         password_file, or the systemd credential smtp-password (the unit loads it from \
         /etc/feedwatch/smtp-password)"
    )
}

/// Where the SMTP password came from (never the password itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Env,
    File(PathBuf),
    Credential(PathBuf),
    /// The file the systemd unit loads as the credential, read directly by a
    /// command run outside the unit (root on the service's host).
    CredentialFile(PathBuf),
}

impl std::fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::Env => f.write_str("$FEEDWATCH_SMTP_PASSWORD"),
            PasswordSource::File(p) => write!(f, "password_file {}", p.display()),
            PasswordSource::Credential(p) => {
                write!(f, "the systemd credential smtp-password ({})", p.display())
            }
            PasswordSource::CredentialFile(p) => write!(
                f,
                "{}, the file the systemd unit passes to the service as its credential",
                p.display()
            ),
        }
    }
}

/// Where to look for the SMTP password besides the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordPlaces<'a> {
    /// `password_file` from the config.
    pub file: Option<&'a Path>,
    /// The source of the unit's `LoadCredential=smtp-password:…`, read when
    /// not running inside the unit (there is no `$CREDENTIALS_DIRECTORY`).
    pub credential_file: Option<&'a Path>,
}

/// The SMTP password, from (in order) `$FEEDWATCH_SMTP_PASSWORD`,
/// `password_file`, the systemd credential `smtp-password` (an empty one is
/// the unit's "no password" fallback), or, outside the unit, the file the
/// unit loads as that credential.
pub fn password(places: PasswordPlaces<'_>) -> Result<Option<(Secret, PasswordSource)>, MailError> {
    if let Ok(p) = std::env::var("FEEDWATCH_SMTP_PASSWORD")
        && !p.is_empty()
    {
        return Ok(Some((Secret::new(p), PasswordSource::Env)));
    }
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY");
    if let Some(f) = places.file {
        return read_secret(f, || unreadable_password_file(f, credentials.is_some()))
            .map(|s| Some((s, PasswordSource::File(f.to_path_buf()))));
    }
    if let Some(dir) = credentials {
        let f = Path::new(&dir).join("smtp-password");
        if !f.exists() {
            return Ok(None);
        }
        let secret = read_secret(&f, String::new)?;
        return Ok((!secret.expose().is_empty()).then_some((secret, PasswordSource::Credential(f))));
    }
    match places.credential_file.filter(|f| f.exists()) {
        Some(f) => {
            let secret = read_secret(f, || {
                " (run this command as root, as the service's credential is readable by root only, \
                 or set $FEEDWATCH_SMTP_PASSWORD)"
                    .to_string()
            })?;
            Ok((!secret.expose().is_empty())
                .then(|| (secret, PasswordSource::CredentialFile(f.to_path_buf()))))
        }
        None => Ok(None),
    }
}

/// Reads a password file (its trailing line break is not part of it);
/// `hint` says what to do when it cannot be read.
fn read_secret(path: &Path, hint: impl FnOnce() -> String) -> Result<Secret, MailError> {
    std::fs::read_to_string(path)
        .map(|s| Secret::new(s.trim_end_matches(['\r', '\n'])))
        .map_err(|e| {
            MailError::Setup(format!(
                "cannot read the password file {}: {e}{}",
                path.display(),
                hint()
            ))
        })
}

/// Under systemd the service runs as its own unprivileged user, which can
/// read neither root's files nor anything outside its sandbox.
fn unreadable_password_file(path: &Path, in_unit: bool) -> String {
    if in_unit {
        format!(
            ". The service runs as its own unprivileged user and cannot read {}: leave \
             password_file out of the config and put the password in /etc/feedwatch/smtp-password, \
             which the unit passes to the service as its credential smtp-password",
            path.display()
        )
    } else {
        String::new()
    }
}
