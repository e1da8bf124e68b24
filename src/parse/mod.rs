//! Parse stage: feed bytes + final URL → `model::Item`s, via feed-rs.
//! Here live our item identity (docs/digests.md, "What is new": id/GUID, else canonical link, else a
//! hash of title and date; never feed-rs's invented ids), link
//! canonicalisation, and the reduction of feed HTML to plain text: nothing
//! that leaves this stage carries markup. Pure: no I/O. Uses `model`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Duration, Utc};
use feed_rs::model::Entry;
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::Item;

mod article;
mod bounds;
mod decode;
mod discover;
mod extract;
mod lenient;
mod links;
mod repair;
mod text;
mod truncate;

pub use article::{ArticleError, article_text};
pub use bounds::{BoundsError, PageLimits};
use decode::{http_charset, to_utf8};
pub use discover::discover;
use links::entry_link;
pub use links::{LINK_RULES_VERSION, canonical_link, recanonicalize};
use text::{Words, push_text_of};
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
    /// Entries that could not be read, each with why: the others are kept.
    pub skipped: Vec<String>,
    /// Why feed-rs could not read the document, when the lenient reader
    /// read it instead.
    pub read_leniently: Option<String>,
}

/// Parses a whole feed. `base` is the URL the bytes finally came from (after
/// redirects), used to resolve relative links. At most `max_items` items are
/// kept, in document order.
pub fn parse_feed(bytes: &[u8], base: &Url, max_items: usize) -> Result<ParsedFeed, ParseError> {
    parse_feed_as(bytes, None, base, max_items)
}

/// As `parse_feed`, with the HTTP `Content-Type` the bytes came with: its
/// charset is used when the body has no BOM (docs/fetching.md, "Fetching": BOM, then the HTTP
/// charset, then the XML declaration).
pub fn parse_feed_as(
    bytes: &[u8],
    content_type: Option<&str>,
    base: &Url,
    max_items: usize,
) -> Result<ParsedFeed, ParseError> {
    let utf8 = to_utf8(bytes, content_type.and_then(http_charset));
    // Invalid UTF-8 costs the bad bytes (replaced), not the whole feed.
    // (`from_utf8` first: it checks valid text several times faster.)
    let text = match std::str::from_utf8(&utf8) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(&utf8),
    };
    let utf8 = repair::repair(&text);
    // Entries past `max_items` are never read: feed-rs would build them all.
    let possible = truncate::possible_entries(&utf8);
    let kept = (possible > max_items)
        .then(|| truncate::keep_entries(&utf8, max_items))
        .flatten();
    let utf8 = kept.as_deref().unwrap_or(&utf8);
    let mut read = strict(utf8, base);
    // JSON Feed ids written as numbers: mended only once feed-rs has
    // refused the document, so that good feeds never pay for it.
    if read.is_err()
        && let Some(json) = repair::json_feed_ids(utf8)
    {
        read = strict(&json, base);
    }
    let now = Utc::now();
    match read {
        // The common case: feed-rs read every entry the document may have.
        Ok(feed) if feed.entries.len() >= possible.min(max_items) => {
            Ok(from_feed_rs(feed, base, now, max_items))
        }
        strict => {
            let found = strict.as_ref().map_or(0, |f| f.entries.len());
            let lenient = catch_unwind(AssertUnwindSafe(|| lenient::read(utf8, max_items)))
                .ok()
                .flatten();
            match (strict, lenient) {
                (strict, Some(read)) if read.entries.len() > found => {
                    let ttl = strict.as_ref().ok().and_then(|f| f.ttl);
                    let mut feed = from_lenient(read, strict.err(), base, now);
                    feed.ttl_minutes = ttl;
                    Ok(feed)
                }
                (Ok(feed), _) => Ok(from_feed_rs(feed, base, now, max_items)),
                (Err(e), _) => Err(e),
            }
        }
    }
}

/// feed-rs's reading. feed-rs (through quick-xml) has assertions reachable
/// from input; a hostile feed must cost us that feed, never the process
/// (docs/operations.md, "Bad input").
fn strict(utf8: &str, base: &Url) -> Result<feed_rs::model::Feed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    catch_unwind(AssertUnwindSafe(|| parser.parse(utf8.as_bytes())))
        .map_err(|p| ParseError::Crashed(panic_message(&p)))?
        .map_err(|e| ParseError::Invalid(e.to_string()))
}

fn from_feed_rs(
    feed: feed_rs::model::Feed,
    base: &Url,
    now: DateTime<Utc>,
    max_items: usize,
) -> ParsedFeed {
    ParsedFeed {
        ttl_minutes: feed.ttl,
        title: feed.title.as_ref().map(|t| text_of(t, MAX_TITLE)),
        items: feed
            .entries
            .iter()
            .take(max_items)
            .map(|e| item_of(parts_of(e, base), now))
            .collect(),
        skipped: Vec::new(),
        read_leniently: None,
    }
}

fn from_lenient(
    read: lenient::Read,
    strict: Option<ParseError>,
    base: &Url,
    now: DateTime<Utc>,
) -> ParsedFeed {
    let items = read
        .entries
        .into_iter()
        .map(|e| {
            item_of(
                Parts {
                    id: e.id,
                    link: e.link.and_then(|l| canonical_link(&l, base)),
                    title: clean(&e.title, MAX_TITLE),
                    summary: with_content(
                        clean(&e.summary, MAX_SUMMARY),
                        &clean(&e.content, MAX_SUMMARY),
                    ),
                    author: clean(&e.authors.join(", "), MAX_SHORT),
                    category: clean(&e.categories.join(", "), MAX_SHORT),
                    published: e.published.or(e.updated),
                },
                now,
            )
        })
        .collect();
    ParsedFeed {
        title: read.title.map(|t| clean(&t, MAX_TITLE)),
        items,
        ttl_minutes: None,
        skipped: read.skipped,
        read_leniently: Some(
            strict.map_or_else(|| "feed-rs left entries out".to_string(), |e| e.to_string()),
        ),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// An entry's parts as text, from either reader, cleaned (`clean`).
struct Parts {
    id: String,
    /// Canonical.
    link: Option<String>,
    title: String,
    /// Summary and content, HTML reduced to text.
    summary: String,
    author: String,
    category: String,
    published: Option<DateTime<Utc>>,
}

fn parts_of(e: &Entry, base: &Url) -> Parts {
    let names = e
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let labels = e
        .categories
        .iter()
        .map(|c| c.label.as_deref().unwrap_or(&c.term).trim())
        .filter(|c| !c.is_empty());
    let content = e
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(|html| {
            let mut words = Words::sized_for(MAX_SUMMARY, html.len());
            extract::push_html(&mut words, html);
            words.finish()
        })
        .unwrap_or_default();
    let summary = e
        .summary
        .as_ref()
        .map(|t| text_of(t, MAX_SUMMARY))
        .unwrap_or_default();
    Parts {
        id: e.id.clone(),
        link: entry_link(e, base),
        title: e
            .title
            .as_ref()
            .map(|t| text_of(t, MAX_TITLE))
            .unwrap_or_default(),
        summary: with_content(summary, &content),
        author: listed(names, MAX_SHORT),
        category: listed(labels, MAX_SHORT),
        published: e.published.or(e.updated),
    }
}

/// A feed text construct's words, cleaned, at most `max` characters.
fn text_of(t: &feed_rs::model::Text, max: usize) -> String {
    let mut words = Words::sized_for(max, t.content.len());
    push_text_of(&mut words, t);
    words.finish()
}

/// Names joined with ", ", cleaned, at most `max` characters.
fn listed<'a>(names: impl Iterator<Item = &'a str>, max: usize) -> String {
    let mut words = Words::new(max);
    for (i, name) in names.enumerate() {
        if i > 0 {
            words.plain(", ");
        }
        words.plain(name);
    }
    words.finish()
}

/// The summary, and the content after it unless the summary already has
/// it; both cleaned, and the result at most `MAX_SUMMARY` characters.
fn with_content(summary: String, content: &str) -> String {
    if summary.contains(content) {
        return summary;
    }
    let mut words = Words::new(MAX_SUMMARY);
    words.plain(&summary);
    words.separate();
    words.plain(content);
    words.finish()
}

fn item_of(p: Parts, now: DateTime<Utc>) -> Item {
    let published = p.published.filter(|d| plausible(*d, now));
    Item {
        key: item_key(&p.id, p.link.as_deref(), &p.title, published),
        link: p.link,
        title: p.title,
        summary: p.summary,
        author: p.author,
        category: p.category,
        published,
        article: None,
    }
}

/// Dates far in the future or before the web are feed bugs, not news.
fn plausible(d: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    d <= now + Duration::days(2) && d.timestamp() >= 631_152_000 // 1990-01-01
}

/// Item identity (docs/digests.md, "What is new"): the id/GUID, else the canonical link, else a hash of title and date.
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
