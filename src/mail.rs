//! Mail stage: builds the RFC 5322 message with lettre (multipart/alternative,
//! UTF-8, Date, a Message-ID we choose so that a re-send is recognisable,
//! `Auto-Submitted: auto-generated`) and sends stored bytes through a
//! transport: SMTP (plain, STARTTLS, implicit TLS, AUTH) or stdout. The SMTP
//! password is read here, from the environment, a file or the systemd
//! credential, and lives only in a `Secret` (docs/DESIGN.md §3). Uses `model`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{
    Address, AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use crate::model::Secret;

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

/// A message ready to send, exactly as it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub message_id: String,
    pub bytes: Vec<u8>,
}

/// `Auto-Submitted: auto-generated` (RFC 3834), so that autoresponders stay quiet.
#[derive(Clone)]
struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// A fresh Message-ID in the sender's domain.
pub fn new_message_id(from: &str) -> String {
    let domain = from
        .parse::<Mailbox>()
        .map(|m| m.email.domain().to_string())
        .unwrap_or_else(|_| "feedwatch.invalid".into());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "<feedwatch.{}.{:016x}@{domain}>",
        now.as_millis(),
        fastrand::u64(..)
    )
}

fn mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse().map_err(|_| MailError::Address(s.to_string()))
}

/// A message to build.
pub struct Draft<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    /// One line already (the digest stage makes it so; lettre panics on
    /// CR/LF in some headers).
    pub subject: &'a str,
    pub text: String,
    pub html: String,
    pub message_id: &'a str,
    pub date: SystemTime,
    /// The digest's name, for its `List-Id` (mail filters sort by it).
    pub list: &'a str,
    /// The Message-ID of the digest's first part, for the parts after it
    /// (`In-Reply-To`, `References`: clients thread them).
    pub first_part: Option<&'a str>,
}

/// `List-Id` (RFC 2919), one per digest.
#[derive(Clone)]
struct ListId(String);

impl header::Header for ListId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListId(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The list id of a digest: `<label.feedwatch.domain>`, the label the
/// digest's name made into a DNS label, the domain the sender's.
pub fn list_id(digest: &str, from: &str) -> String {
    let domain = from
        .parse::<Mailbox>()
        .map(|m| m.email.domain().to_string())
        .unwrap_or_else(|_| "feedwatch.invalid".into());
    let mut label: String = digest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label = label.trim_matches('-').chars().take(63).collect();
    if label.is_empty() {
        label = "digest".into();
    }
    format!("feedwatch digest <{label}.feedwatch.{domain}>")
}

/// Builds the complete message.
pub fn build(d: Draft<'_>) -> Result<Built, MailError> {
    let mut b = Message::builder()
        .from(mailbox(d.from)?)
        .subject(d.subject)
        .date(d.date)
        .message_id(Some(d.message_id.to_string()))
        .header(AutoSubmitted)
        .header(ListId(list_id(d.list, d.from)));
    if let Some(first) = d.first_part {
        b = b
            .in_reply_to(first.to_string())
            .references(first.to_string());
    }
    for t in d.to {
        b = b.to(mailbox(t)?);
    }
    let msg = b
        .multipart(MultiPart::alternative_plain_html(d.text, d.html))
        .map_err(|e| MailError::Build(e.to_string()))?;
    Ok(Built {
        message_id: d.message_id.to_string(),
        bytes: msg.formatted(),
    })
}

fn envelope(from: &str, to: &[String]) -> Result<Envelope, MailError> {
    let from: Address = mailbox(from)?.email;
    let to: Result<Vec<Address>, _> = to.iter().map(|t| mailbox(t).map(|m| m.email)).collect();
    Envelope::new(Some(from), to?).map_err(|e| MailError::Build(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_the_headers_the_spec_lists() {
        let to = ["a@example.org".to_string(), "b@example.org".to_string()];
        let b = build(Draft {
            from: "feedwatch <fw@example.org>",
            to: &to,
            subject: "Київ: 2 new items",
            text: "text part".into(),
            html: "<p>html part</p>".into(),
            message_id: "<x.2@example.org>",
            date: SystemTime::UNIX_EPOCH + Duration::from_secs(1_719_221_400),
            list: "Morning (Київ)",
            first_part: Some("<x.1@example.org>"),
        })
        .unwrap();
        let s = String::from_utf8(b.bytes).unwrap();
        assert!(s.contains("Message-ID: <x.2@example.org>"), "{s}");
        assert!(
            s.contains("List-Id: feedwatch digest <morning.feedwatch.example.org>"),
            "{s}"
        );
        assert!(s.contains("In-Reply-To: <x.1@example.org>"), "{s}");
        assert!(s.contains("References: <x.1@example.org>"), "{s}");
        assert!(s.contains("Auto-Submitted: auto-generated"));
        assert!(s.contains("Date: Mon, 24 Jun 2024 09:30:00 +0000"), "{s}");
        assert!(s.contains("multipart/alternative"));
        assert!(
            s.contains("Subject: =?utf-8?"),
            "non-ASCII subject is RFC 2047 encoded: {s}"
        );
        assert!(s.contains("To: a@example.org, b@example.org"), "{s}");
        assert!(s.contains("text/plain; charset=utf-8"));
        assert!(s.contains("text/html; charset=utf-8"));
    }

    #[test]
    fn message_ids_are_unique_and_in_the_sender_domain() {
        let a = new_message_id("fw <fw@example.org>");
        let b = new_message_id("fw <fw@example.org>");
        assert_ne!(a, b);
        assert!(
            a.starts_with("<feedwatch.") && a.ends_with("@example.org>"),
            "{a}"
        );
    }

    #[test]
    fn bad_addresses_are_errors_not_panics() {
        let r = build(Draft {
            from: "not an address",
            to: &[],
            subject: "s",
            text: String::new(),
            html: String::new(),
            message_id: "<a@b>",
            date: SystemTime::now(),
            list: "d",
            first_part: None,
        });
        assert!(matches!(r, Err(MailError::Address(_))));
    }
}
