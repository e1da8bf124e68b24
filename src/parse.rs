//! Parse stage: feed bytes + final URL → `model::Item`s, via feed-rs.
//! Here live our item identity (README, "What is new": id/GUID, else canonical link, else a
//! hash of title and date; never feed-rs's invented ids), link
//! canonicalisation, and the reduction of feed HTML to plain text: nothing
//! that leaves this stage carries markup. Pure: no I/O. Uses `model`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Duration, Utc};
use feed_rs::model::{Entry, Text};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Item, MARK_END, MARK_START};

mod discover;
mod repair;
mod truncate;

pub use discover::discover;

/// Longest title kept, in characters.
const MAX_TITLE: usize = 1_000;
/// Longest summary+content text kept, in characters.
const MAX_SUMMARY: usize = 20_000;
/// Longest author / category list kept, in characters.
const MAX_SHORT: usize = 500;

/// The version of the link canonicalisation rules (`canonical_link`,
/// `TRACKING_PARAMS`). Change it with the rules: the store then makes every
/// stored link again with the new ones, so that an item identified by its
/// link does not alert twice.
pub const LINK_RULES_VERSION: u32 = 1;

/// A stored canonical link made again with the current rules.
pub fn recanonicalize(link: &str) -> Option<String> {
    canonical_link(link, &Url::parse(link).ok()?)
}

/// Query parameters that only track the reader, removed from links (README, "What is new").
const TRACKING_PARAMS: &[&str] = &[
    // Ad and social click ids.
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "yclid",
    "igshid",
    "rb_clickid",
    "__twitter_impression",
    "ref_src",
    "ref_url",
    // Newsletter and analytics tags.
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "_ga",
    "_gl",
    "wt.mc_id",
    "wt_mc",
    "at_medium",
    "at_campaign",
    "xtor",
    "sr_share",
    "s_cid",
    "cmpid",
    "ocid",
    "ito",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
];

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

/// Decodes non-UTF-8 XML (BOM, then the XML declaration) to UTF-8 and rewrites
/// the declaration to match, so feed-rs only ever sees UTF-8.
/// The encoding named by a Content-Type's charset parameter, if known.
fn http_charset(content_type: &str) -> Option<&'static encoding_rs::Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| encoding_rs::Encoding::for_label(v.trim().trim_matches('"').as_bytes()))
            .flatten()
    })
}

fn to_utf8<'a>(
    bytes: &'a [u8],
    http: Option<&'static encoding_rs::Encoding>,
) -> std::borrow::Cow<'a, [u8]> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        if enc == encoding_rs::UTF_8 {
            return utf8_declared(&bytes[bom_len..]);
        }
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return std::borrow::Cow::Owned(rewrite_declaration(&text).into_bytes());
    }
    match http {
        Some(enc) if enc == encoding_rs::UTF_8 => return utf8_declared(bytes),
        // UTF-16 without a BOM is too rare to trust a header for.
        Some(enc) if enc != encoding_rs::UTF_16LE && enc != encoding_rs::UTF_16BE => {
            let (text, _) = enc.decode_without_bom_handling(bytes);
            return std::borrow::Cow::Owned(rewrite_declaration(&text).into_bytes());
        }
        _ => {}
    }
    let head = &bytes[..bytes.len().min(200)];
    let declared = std::str::from_utf8(head)
        .ok()
        .or_else(|| {
            std::str::from_utf8(&head[..head.iter().position(|b| *b >= 0x80).unwrap_or(0)]).ok()
        })
        .and_then(declared_encoding)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    match declared {
        // A declaration we could read as ASCII cannot be UTF-16: that label is
        // a common mislabel, and decoding by it would garble the whole feed.
        Some(enc)
            if ![
                encoding_rs::UTF_8,
                encoding_rs::UTF_16LE,
                encoding_rs::UTF_16BE,
            ]
            .contains(&enc) =>
        {
            let (text, _) = enc.decode_without_bom_handling(bytes);
            std::borrow::Cow::Owned(rewrite_declaration(&text).into_bytes())
        }
        _ => std::borrow::Cow::Borrowed(bytes),
    }
}

/// UTF-8 bytes whose XML declaration may name another encoding (a BOM or
/// the HTTP header said UTF-8): the declaration is rewritten, or feed-rs
/// would decode by it.
fn utf8_declared(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let head = &bytes[..bytes.len().min(200)];
    let other = std::str::from_utf8(head)
        .ok()
        .and_then(declared_encoding)
        .is_some_and(|label| {
            encoding_rs::Encoding::for_label(label.as_bytes()) != Some(encoding_rs::UTF_8)
        });
    if other {
        std::borrow::Cow::Owned(rewrite_declaration(&String::from_utf8_lossy(bytes)).into_bytes())
    } else {
        std::borrow::Cow::Borrowed(bytes)
    }
}

fn declared_encoding(head: &str) -> Option<String> {
    let decl = head.strip_prefix("<?xml")?;
    let end = decl.find("?>")?;
    let decl = &decl[..end];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_string())
}

fn rewrite_declaration(text: &str) -> String {
    match (text.starts_with("<?xml"), text.find("?>")) {
        (true, Some(end)) => format!("<?xml version=\"1.0\" encoding=\"utf-8\"{}", &text[end..]),
        _ => text.to_string(),
    }
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

fn entry_link(e: &Entry, base: &Url) -> Option<String> {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| e.links.first())?;
    canonical_link(&link.href, base)
}

/// Canonical form of a link (README, "What is new"): absolute, scheme and host lower-cased,
/// default port dropped, fragment and tracking parameters removed. Only http
/// and https links are kept: anything else is not a link we would put in a mail.
pub fn canonical_link(href: &str, base: &Url) -> Option<String> {
    let mut url = base.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

/// Plain text of a feed text construct, whatever its declared type.
fn text_of(t: &Text) -> String {
    if t.content_type.subty() == "plain" && !t.content.contains('<') {
        decode_basic_entities(&t.content)
    } else {
        html_to_text(&t.content)
    }
}

fn decode_basic_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Feed HTML → text. Scripts, styles, images and markup are dropped; only
/// the words reach a digest (README, "Delivery": feed HTML is untrusted).
pub fn html_to_text(html: &str) -> String {
    nanohtml2text::html2text(html)
}

/// Normalises a string from a feed: no control characters (which also keeps
/// our snippet sentinels ours), no bidi overrides, whitespace collapsed,
/// length capped at `max` characters.
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut space = false;
    let mut count = 0;
    let mut rest = s;
    while !rest.is_empty() {
        // The next piece of a word: a run of printable ASCII, copied whole
        // (most of a feed's text; char by char this was a tenth of a first
        // poll), or one other character. ASCII whitespace and controls are
        // handled without decoding a char.
        let run = rest
            .bytes()
            .position(|b| !b.is_ascii_graphic())
            .unwrap_or(rest.len());
        let (piece, chars) = if run > 0 {
            let (piece, after) = rest.split_at(run);
            rest = after;
            (piece, run)
        } else {
            let c = match rest.as_bytes().first() {
                Some(b' ' | b'\t'..=b'\r') => ' ',
                Some(b) if b.is_ascii() => '\0',
                _ => rest.chars().next().unwrap_or(' '),
            };
            let (piece, after) = rest.split_at(c.len_utf8());
            rest = after;
            match c {
                MARK_START | MARK_END => continue,
                '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
                    continue;
                }
                c if c.is_whitespace() => {
                    space = !out.is_empty();
                    continue;
                }
                c if c.is_control() => continue,
                _ => (piece, 1),
            }
        };
        if space {
            if count + 1 >= max {
                break;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        let room = max.saturating_sub(count);
        if chars > room {
            // Only ASCII runs are longer than one char: a byte boundary.
            out.push_str(&piece[..room]);
            out.push('…');
            break;
        }
        out.push_str(piece);
        count += chars;
    }
    out
}

#[cfg(test)]
mod tests;
