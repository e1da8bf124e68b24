//! Mail stage: building a digest's message with lettre — multipart/
//! alternative, UTF-8, Date, a Message-ID we choose (so that a re-send is
//! recognisable), `Auto-Submitted: auto-generated`, the digest's `List-Id`,
//! and for a later part `In-Reply-To`/`References` to the first — and its
//! SMTP envelope. Pure.

use std::time::SystemTime;

use lettre::Address;
use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, header};

use super::MailError;

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

pub(super) fn mailbox(s: &str) -> Result<Mailbox, MailError> {
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

/// An address header written as RFC 5322 writes ASCII display names: a
/// quoted string. email-encoding (lettre's) takes RFC 2047 for any name
/// with a character other than letters, digits, space and `-_.`, so "Iran
/// watch (feedwatch)" went out base64-encoded. Only where every name is
/// printable ASCII; other names keep lettre's encoding.
#[derive(Clone)]
struct AddressHeader<const TO: bool>(String);

impl<const TO: bool> header::Header for AddressHeader<TO> {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(if TO { "To" } else { "From" })
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), self.0.clone())
    }
}

/// `mailboxes` as one header value with quoted ASCII names, or `None`
/// when a name is not printable ASCII.
fn quoted_ascii(mailboxes: &[Mailbox]) -> Option<String> {
    let one = |m: &Mailbox| match m.name.as_deref() {
        None => Some(m.email.to_string()),
        Some(name) if name.chars().all(|c| c.is_ascii_graphic() || c == ' ') => Some(format!(
            "\"{}\" <{}>",
            name.replace('\\', "\\\\").replace('"', "\\\""),
            m.email
        )),
        Some(_) => None,
    };
    // Names lettre writes plainly or quoted ("feedwatch", "Duty desk")
    // keep its form: only a name it would encode is written here.
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.');
    let encoded_by_lettre = mailboxes.iter().any(|m| {
        m.name
            .as_deref()
            .is_some_and(|n| n.is_ascii() && !n.chars().all(plain))
    });
    if !encoded_by_lettre {
        return None;
    }
    let all: Option<Vec<String>> = mailboxes.iter().map(one).collect();
    // One address a line after the first: a long list stays far from the
    // 998-octet limit of a line (RFC 5322 folding).
    all.map(|a| a.join(",\r\n "))
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
    let from = mailbox(d.from)?;
    let to: Vec<Mailbox> = d.to.iter().map(|t| mailbox(t)).collect::<Result<_, _>>()?;
    let mut b = Message::builder()
        .from(from.clone())
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
    for t in &to {
        b = b.to(t.clone());
    }
    if let Some(v) = quoted_ascii(std::slice::from_ref(&from)) {
        b = b.header(AddressHeader::<false>(v));
    }
    if let Some(v) = quoted_ascii(&to).filter(|_| !to.is_empty()) {
        b = b.header(AddressHeader::<true>(v));
    }
    let msg = b
        .multipart(MultiPart::alternative_plain_html(d.text, d.html))
        .map_err(|e| MailError::Build(e.to_string()))?;
    Ok(Built {
        message_id: d.message_id.to_string(),
        bytes: msg.formatted(),
    })
}

pub(super) fn envelope(from: &str, to: &[String]) -> Result<Envelope, MailError> {
    let from: Address = mailbox(from)?.email;
    let to: Result<Vec<Address>, _> = to.iter().map(|t| mailbox(t).map(|m| m.email)).collect();
    Envelope::new(Some(from), to?).map_err(|e| MailError::Build(e.to_string()))
}
