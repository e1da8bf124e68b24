//! Mail stage: builds the RFC 5322 message with lettre (multipart/alternative,
//! UTF-8, Date, a Message-ID we choose so that a re-send is recognisable,
//! `Auto-Submitted: auto-generated`) and sends stored bytes through a
//! transport: SMTP (plain, STARTTLS, implicit TLS, AUTH), sendmail, a
//! Maildir, or stdout. The SMTP
//! password is read here, from the environment, a file or the systemd
//! credential, and lives only in a `Secret` (docs/DESIGN.md §3). Uses `model`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

mod message;
mod password;

use message::envelope;
pub use message::{Built, Draft, build, list_id, new_message_id};
pub use password::{PasswordPlaces, PasswordSource, no_password, password};

/// How long one SMTP command may wait for its answer (lettre's timeout).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one whole delivery may take, every command together: lettre's
/// timeout is per command, and a server that answers EHLO and then stalls
/// held `digest` for over six minutes.
pub const DELIVERY_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("invalid address '{0}'")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP setup: {0}")]
    Setup(String),
    /// The server refused for good (5xx): retrying the same message will not help soon.
    #[error("the mail server refused the message: {0}")]
    Permanent(String),
    /// Connection refused, timeout, 4xx: try again later.
    #[error("could not deliver (will retry): {0}")]
    Temporary(String),
}

/// Where the SMTP server is and how to talk to it (from `config`).
pub struct SmtpSettings<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: Security,
    pub user: Option<&'a str>,
    pub password: PasswordPlaces<'a>,
    pub ca_file: Option<&'a Path>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Implicit,
    Opportunistic,
    Required,
    /// STARTTLS is required because a password is to be sent.
    RequiredForPassword,
}

/// Where messages go.
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// TLS is required only because of the password: say so when the
        /// server offers none.
        tls_for_password: bool,
    },
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
    Maildir(PathBuf),
    Stdout,
}

impl Mailer {
    pub fn smtp(s: &SmtpSettings<'_>) -> Result<Self, MailError> {
        let mut tls = TlsParameters::builder(s.host.to_string());
        if let Some(ca) = s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                MailError::Setup(format!("cannot read ca_file {}: {e}", ca.display()))
            })?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| MailError::Setup(format!("ca_file {}: {e}", ca.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build().map_err(|e| MailError::Setup(e.to_string()))?;
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host)
            .port(s.port)
            .timeout(Some(SMTP_TIMEOUT))
            .tls(match s.security {
                Security::Implicit => Tls::Wrapper(tls),
                Security::Opportunistic => Tls::Opportunistic(tls),
                Security::Required | Security::RequiredForPassword => Tls::Required(tls),
            });
        if let Some(user) = s.user {
            let (password, _) =
                password(s.password)?.ok_or_else(|| MailError::Setup(no_password(user)))?;
            b = b.credentials(Credentials::new(
                user.to_string(),
                password.expose().to_string(),
            ));
        }
        Ok(Mailer::Smtp {
            transport: b.build(),
            tls_for_password: s.security == Security::RequiredForPassword,
        })
    }

    /// `sendmail` on PATH, or the given program.
    pub fn sendmail(program: Option<&Path>) -> Self {
        Mailer::Sendmail(match program {
            Some(p) => AsyncSendmailTransport::<Tokio1Executor>::new_with_command(p),
            None => AsyncSendmailTransport::<Tokio1Executor>::new(),
        })
    }

    /// Sends stored bytes; `Ok` means the server accepted the message.
    /// The whole conversation ends by `DELIVERY_DEADLINE`, whatever the
    /// server does.
    pub async fn send(&self, from: &str, to: &[String], bytes: &[u8]) -> Result<(), MailError> {
        tokio::time::timeout(DELIVERY_DEADLINE, self.send_now(from, to, bytes))
            .await
            .unwrap_or_else(|_| {
                Err(MailError::Temporary(format!(
                    "the delivery did not finish within {} s",
                    DELIVERY_DEADLINE.as_secs()
                )))
            })
    }

    async fn send_now(&self, from: &str, to: &[String], bytes: &[u8]) -> Result<(), MailError> {
        let envelope = envelope(from, to)?;
        match self {
            Mailer::Smtp {
                transport,
                tls_for_password,
            } => transport
                .send_raw(&envelope, bytes)
                .await
                .map(|_| ())
                .map_err(|e| {
                    let mut msg = error_chain(&e);
                    if *tls_for_password && msg.contains("STARTTLS") {
                        msg.push_str(
                        " (feedwatch sends the SMTP password only over TLS; for a relay on this \
                         host that offers no TLS, set insecure_auth = true in [email])",
                    );
                    }
                    if e.is_permanent() {
                        MailError::Permanent(msg)
                    } else {
                        MailError::Temporary(msg)
                    }
                }),
            // sendmail exits non-zero for anything from a full queue to a bad
            // address; the row stays queued and is retried either way.
            Mailer::Sendmail(t) => t
                .send_raw(&envelope, bytes)
                .await
                .map_err(|e| MailError::Temporary(error_chain(&e))),
            Mailer::Maildir(dir) => deliver_maildir(dir, bytes)
                .await
                .map_err(|e| MailError::Temporary(format!("maildir {}: {e}", dir.display()))),
            Mailer::Stdout => print_message(bytes).map_err(|e| MailError::Temporary(e.to_string())),
        }
    }
}

/// Delivers into a Maildir: written under `tmp/`, synced, then renamed into
/// `new/`, so a reader never sees half a message.
async fn deliver_maildir(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        tokio::fs::create_dir_all(dir.join(sub)).await?;
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}.M{}P{}R{:016x}.feedwatch",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        fastrand::u64(..)
    );
    let tmp = dir.join("tmp").join(&name);
    let mut f = tokio::fs::File::create(&tmp).await?;
    tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
    f.sync_all().await?;
    drop(f);
    tokio::fs::rename(&tmp, dir.join("new").join(&name)).await
}

/// Writes one message to stdout (the `stdout` transport and `--dry-run`).
pub fn print_message(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.write_all(b"\n")?;
    out.flush()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg.push_str(": ");
            msg.push_str(&s_msg);
        }
        source = s.source();
    }
    msg
}
#[cfg(test)]
mod tests;
