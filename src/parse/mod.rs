//! Parse stage: feed bytes + final URL → `model::Item`s, via feed-rs.
//! Here live our item identity (README, "What is new": id/GUID, else canonical link, else a
//! hash of title and date; never feed-rs's invented ids), link
//! canonicalisation, and the reduction of feed HTML to plain text: nothing
//! that leaves this stage carries markup. Pure: no I/O. Uses `model`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Duration, Utc};
use feed_rs::model::Entry;
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::Item;

mod decode;
mod discover;
mod links;
mod repair;
mod text;
mod truncate;

use decode::{http_charset, to_utf8};
pub use discover::discover;
use links::entry_link;
pub use links::{LINK_RULES_VERSION, canonical_link, recanonicalize};
use text::text_of;
pub use text::{clean, html_to_text};

/// Longest title kept, in characters.
const MAX_TITLE: usize = 1_000;
/// Longest summary+content text kept, in characters.
const MAX_SUMMARY: usize = 20_000;
/// Longest author / category list kept, in characters.
const MAX_SHORT: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    Invalid(String),
    #[error("the feed parser crashed on this input ({0}); the feed is skipped")]
    Crashed(String),
}

/// A parsed feed: its title and its items, newest handling left to `store`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<Item>,
    /// RSS `<ttl>`: minutes the feed asks to be cached.
    pub ttl_minutes: Option<u32>,
}

/// Parses a whole feed. `base` is the URL the bytes finally came from (after
/// redirects), used to resolve relative links. At most `max_items` items are
/// kept, in document order.
pub fn parse_feed(bytes: &[u8], base: &Url, max_items: usize) -> Result<ParsedFeed, ParseError> {
    parse_feed_as(bytes, None, base, max_items)
}

/// As `parse_feed`, with the HTTP `Content-Type` the bytes came with: its
/// charset is used when the body has no BOM (README, "Fetching": BOM, then the HTTP
/// charset, then the XML declaration).
pub fn parse_feed_as(
    bytes: &[u8],
    content_type: Option<&str>,
    base: &Url,
    max_items: usize,
) -> Result<ParsedFeed, ParseError> {
    let utf8 = to_utf8(bytes, content_type.and_then(http_charset));
    // Invalid UTF-8 costs the bad bytes (replaced), not the whole feed.
    let text = String::from_utf8_lossy(&utf8);
    let utf8 = repair::repair(&text);
    // Entries past `max_items` are never read: feed-rs would build them all.
    let kept = truncate::keep_entries(&utf8, max_items);
    let utf8 = kept.as_deref().unwrap_or(&utf8);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    // feed-rs (through quick-xml) has assertions reachable from input; a
    // hostile feed must cost us that feed, never the process (README, "Bad input").
    let feed = catch_unwind(AssertUnwindSafe(|| parser.parse(utf8.as_bytes())))
        .map_err(|p| ParseError::Crashed(panic_message(&p)))?
        .map_err(|e| ParseError::Invalid(e.to_string()))?;
    let now = Utc::now();
    let items = feed
        .entries
        .iter()
        .take(max_items)
        .map(|e| to_item(e, base, now))
        .collect();
    Ok(ParsedFeed {
        ttl_minutes: feed.ttl,
        title: feed.title.as_ref().map(|t| clean(&text_of(t), MAX_TITLE)),
        items,
    })
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn to_item(e: &Entry, base: &Url, now: DateTime<Utc>) -> Item {
    let link = entry_link(e, base);
    let title = e
        .title
        .as_ref()
        .map(|t| clean(&text_of(t), MAX_TITLE))
        .unwrap_or_default();
    let mut summary = e.summary.as_ref().map(text_of).unwrap_or_default();
    if let Some(body) = e.content.as_ref().and_then(|c| c.body.as_ref()) {
        let body = html_to_text(body);
        if !summary.contains(body.trim()) {
            if !summary.is_empty() {
                summary.push('\n');
            }
            summary.push_str(&body);
        }
    }
    let author = e
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let category = e
        .categories
        .iter()
        .map(|c| c.label.as_deref().unwrap_or(&c.term).trim())
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let published = e.published.or(e.updated).filter(|d| plausible(*d, now));
    let key = item_key(&e.id, link.as_deref(), &title, published);
    Item {
        key,
        link,
        title,
        summary: clean(&summary, MAX_SUMMARY),
        author: clean(&author, MAX_SHORT),
        category: clean(&category, MAX_SHORT),
        published,
    }
}

/// Dates far in the future or before the web are feed bugs, not news.
fn plausible(d: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    d <= now + Duration::days(2) && d.timestamp() >= 631_152_000 // 1990-01-01
}

/// Item identity (README, "What is new"): the id/GUID, else the canonical link, else a hash of title and date.
pub fn item_key(
    id: &str,
    canonical_link: Option<&str>,
    title: &str,
    published: Option<DateTime<Utc>>,
) -> String {
    let id = id.trim();
    if !id.is_empty() {
        return format!("id:{id}");
    }
    if let Some(link) = canonical_link {
        return format!("link:{link}");
    }
    let mut h = Sha256::new();
    h.update(title.as_bytes());
    h.update([0]);
    h.update(
        published
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
            .as_bytes(),
    );
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("hash:{hex}")
}

#[cfg(test)]
mod tests;
