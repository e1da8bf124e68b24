//! Parse stage: the lenient reader, for the documents feed-rs rejects whole
//! or reads fewer entries of than they hold. feed-rs refuses a document for
//! one odd part (an Atom text whose `type` is a MIME type or blank, a
//! `<content src>` with text in it, an RSS version it does not know, a
//! document cut short or with a bad character reference) and leaves out
//! entries it cannot place (RSS 1.0 items without a `<link>`, RSS 0.90, CDF,
//! RSS 2.0 in a namespace, Atom with `<item>`s). This reader reads such a
//! document as feedparser, the forgiving reference, does: any element named
//! `item` or `entry` (whatever its prefix, case or depth) is an entry, and
//! its children are taken by local name. Each entry is read on its own: one
//! that cannot be read is skipped with its reason and the reader goes on at
//! the next one (docs/fetching.md, "Feeds the world throws at us"). Measured on
//! tests/corpus against feedparser's counts, this was the option that
//! closed the gap; repairs before feed-rs could not restore entries feed-rs
//! leaves out, and a patched feed-rs would have to be carried forward at
//! every release. Pure.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::text::html_to_text;

/// Entries given up before the reader gives up the rest of the document.
const MAX_SKIPPED: usize = 20;

/// What the reader found in a document.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub title: Option<String>,
    pub entries: Vec<RawEntry>,
    /// Entries that could not be read: which, and why.
    pub skipped: Vec<String>,
}

/// An entry's parts as plain text (HTML already reduced to its words).
#[derive(Debug, Default, PartialEq)]
pub(super) struct RawEntry {
    pub id: String,
    pub title: String,
    /// As written (resolved and made canonical by the caller).
    pub link: Option<String>,
    link_is_alternate: bool,
    pub summary: String,
    pub content: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// Reads at most `max_items` entries. `None` when the root element is not a
/// feed's (an HTML page is not a feed, however leniently read).
pub(super) fn read(text: &str, max_items: usize) -> Option<Read> {
    let mut out = Read::default();
    let mut from = 0;
    let mut root = None;
    // Restarts at the next entry after a part that cannot be read.
    while from < text.len() && out.entries.len() < max_items {
        let input = &text[from..];
        match read_from(input, &mut root, &mut out, max_items) {
            Ok(()) => break,
            Err((at, why)) => {
                // Not even a root: nothing of a feed here.
                root.as_ref()?;
                if let Some(entry) = why {
                    out.skipped.push(entry);
                }
                // Each entry left unfinished is read to the document's end
                // before it is given up: many of them would make a hostile
                // document cost its size times their number.
                if out.skipped.len() >= MAX_SKIPPED {
                    out.skipped.push(format!(
                        "the entries after these {MAX_SKIPPED} were not read"
                    ));
                    break;
                }
                match next_entry(input, at.max(1)) {
                    Some(next) => from += next,
                    None => break,
                }
            }
        }
    }
    root.map(|_| out)
}

/// Reads `input` to its end; on a part it cannot read, the byte offset
/// where it stopped and, inside an entry, which entry and why.
fn read_from(
    input: &str,
    root: &mut Option<String>,
    out: &mut Read,
    max_items: usize,
) -> Result<(), (usize, Option<String>)> {
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    // `&` not starting a reference (`?a=1&b=2` in a link) is text.
    config.allow_dangling_amp = true;
    let mut open: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|_| (offset(&reader), None))?;
        // Past this event's start tag: where to look for the next entry
        // when this one cannot be read.
        let after = offset(&reader);
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                open.pop();
                continue;
            }
            Event::Eof => return Ok(()),
            _ => continue,
        };
        let name = local(&e);
        if root.is_none() {
            if !matches!(name.as_str(), "rss" | "feed" | "rdf" | "channel") {
                return Err((0, None));
            }
            *root = Some(name.clone());
        }
        if is_entry(&name) {
            if !empty {
                let n = out.entries.len() + out.skipped.len() + 1;
                let entry = read_entry(&mut reader, &e, input)
                    .map_err(|why| (after, Some(format!("entry {n}: {why}"))))?;
                out.entries.push(entry);
                if out.entries.len() >= max_items {
                    return Ok(());
                }
            }
        } else if name == "title" && !empty && is_feed_level(&open) {
            let inner = inner(&mut reader, &e, input).map_err(|_| (offset(&reader), None))?;
            out.title.get_or_insert_with(|| text_construct(&e, inner));
        } else if !empty {
            open.push(name);
        }
    }
}

/// One entry, after its start tag, up to its end tag.
fn read_entry(
    reader: &mut Reader<&[u8]>,
    start: &BytesStart<'_>,
    input: &str,
) -> Result<RawEntry, String> {
    let mut entry = RawEntry::default();
    // CDF keeps an item's link and date in attributes; RSS 1.0 names the
    // item's URL in rdf:about.
    if let Some(href) = attr(start, "href").or_else(|| attr(start, "about")) {
        entry.link = Some(href);
    }
    entry.published = attr(start, "lastmod").and_then(|d| date(&d));
    loop {
        let why = match reader.read_event() {
            Ok(Event::Start(child)) => match inner(reader, &child, input) {
                Ok(inner) => {
                    field(&mut entry, &child, inner);
                    continue;
                }
                Err(e) => e.to_string(),
            },
            Ok(Event::Empty(child)) => {
                field(&mut entry, &child, "");
                continue;
            }
            // Children are read to their end by `inner`: this end is the
            // entry's own.
            Ok(Event::End(_)) => return Ok(entry),
            Ok(Event::Eof) => "the document ends inside it".to_string(),
            Ok(_) => continue,
            Err(e) => e.to_string(),
        };
        return Err(match named(&entry) {
            Some(name) => format!("{name}: {why}"),
            None => why,
        });
    }
}

/// What the reader got of an entry before it failed, to name it by.
fn named(entry: &RawEntry) -> Option<String> {
    // Feed text, cleaned (no line breaks or control characters, at most 200
    // characters) before it reaches the log.
    let cleaned = |s: &str| super::text::clean(s, 200);
    [&entry.title, &entry.id]
        .into_iter()
        .map(|s| cleaned(s))
        .find(|s| !s.is_empty())
        .map(|s| format!("\"{s}\""))
        .or_else(|| entry.link.as_deref().map(cleaned))
}

/// An entry's child, by local name.
fn field(entry: &mut RawEntry, e: &BytesStart<'_>, inner: &str) {
    match local(e).as_str() {
        "id" | "guid" if entry.id.is_empty() => entry.id = unescape(inner).trim().to_string(),
        "title" if entry.title.is_empty() => entry.title = text_construct(e, inner),
        "link" => link(entry, e, inner),
        "description" | "summary" | "abstract" if entry.summary.is_empty() => {
            entry.summary = text_construct(e, inner);
        }
        "content" | "encoded" | "body" if entry.content.is_empty() => {
            entry.content = text_construct(e, inner);
        }
        "pubdate" | "published" | "issued" | "created" | "date" if entry.published.is_none() => {
            entry.published = date(&unescape(inner));
        }
        "updated" | "modified" if entry.updated.is_none() => entry.updated = date(&unescape(inner)),
        "author" | "creator" => {
            let name = child_text(inner, "name").unwrap_or_else(|| unescape(inner));
            push_nonempty(&mut entry.authors, name);
        }
        "category" | "subject" => {
            let label = attr(e, "label").or_else(|| attr(e, "term"));
            push_nonempty(
                &mut entry.categories,
                label.unwrap_or_else(|| unescape(inner)),
            );
        }
        _ => {}
    }
}

/// `<link href="…" rel="…"/>` (Atom) or `<link>…</link>` (RSS): the
/// alternate link wins, else the first.
fn link(entry: &mut RawEntry, e: &BytesStart<'_>, inner: &str) {
    let href = attr(e, "href").unwrap_or_else(|| unescape(inner).trim().to_string());
    if href.is_empty() || entry.link_is_alternate {
        return;
    }
    let alternate = attr(e, "rel").is_none_or(|r| r == "alternate");
    if alternate || entry.link.is_none() {
        entry.link = Some(href);
        entry.link_is_alternate = alternate;
    }
}

fn push_nonempty(list: &mut Vec<String>, s: String) {
    let s = s.trim();
    if !s.is_empty() {
        list.push(s.to_string());
    }
}

/// The text of a title, summary or content, whatever its declared type:
/// inline markup (XHTML), escaped HTML, plain text, or base64 (Atom 0.3's
/// `mode="base64"`, or a type that is neither text nor XML).
fn text_construct(e: &BytesStart<'_>, inner: &str) -> String {
    let declared = attr(e, "type").map(|t| t.trim().to_ascii_lowercase());
    let ty = declared.clone().unwrap_or_default();
    let base64 = attr(e, "mode").is_some_and(|m| m == "base64")
        || !(ty.is_empty()
            || ty.starts_with("text")
            || ty.contains("xml")
            || matches!(ty.as_str(), "html" | "xhtml"));
    if base64 {
        let encoded: String = unescape(inner).split_whitespace().collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) {
            return html_to_text(&String::from_utf8_lossy(&bytes));
        }
    }
    if has_markup(inner) {
        // CDATA sections inside markup are text: unwrapped, not read as
        // bogus comments.
        return html_to_text(&inner.replace("<![CDATA[", "").replace("]]>", ""));
    }
    let text = unescape(inner);
    // A blank type is Atom's default, text; without one (RSS), text with
    // markup in it is escaped HTML, as feed-rs reads it.
    let plain = matches!(declared.as_deref(), Some("" | "text" | "text/plain"));
    if plain || !text.contains('<') {
        text
    } else {
        html_to_text(&text)
    }
}

/// Whether `inner` holds elements (inline XHTML), not only text and CDATA.
fn has_markup(inner: &str) -> bool {
    let mut rest = inner;
    while let Some(at) = rest.find('<') {
        let after = &rest[at..];
        if let Some(cdata) = after.strip_prefix("<![CDATA[") {
            match cdata.find("]]>") {
                Some(end) => rest = &cdata[end + 3..],
                None => return false,
            }
        } else if let Some(comment) = after.strip_prefix("<!--") {
            rest = comment;
        } else {
            return true;
        }
    }
    false
}

/// XML text to plain text: CDATA sections as they are, character
/// references and XML's five entities decoded; a reference that is not
/// one (`&b=2` in a URL, `&#xZZ;`) is kept as written.
fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&cdata[..end]);
            rest = cdata.get(end + 3..).unwrap_or("");
            continue;
        }
        // Past the first character, whatever its length in bytes.
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let next = rest[first..]
            .find(['&', '<'])
            .map_or(rest.len(), |k| k + first);
        let (piece, after) = rest.split_at(next);
        match piece.strip_prefix('&').and_then(|p| p.split_once(';')) {
            Some((name, tail)) if name.len() <= 10 => match reference(name) {
                Some(c) => {
                    out.push(c);
                    out.push_str(tail);
                }
                None => out.push_str(piece),
            },
            _ => out.push_str(piece),
        }
        rest = after;
    }
    out
}

/// `amp`, `#233`, `#xE9` (or `#XE9`) → the character.
fn reference(name: &str) -> Option<char> {
    let code = match name {
        "amp" => return Some('&'),
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "quot" => return Some('"'),
        "apos" => return Some('\''),
        _ => name.strip_prefix('#')?,
    };
    let n = match code.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => code.parse().ok()?,
    };
    char::from_u32(n).filter(|c| *c != '\0')
}

/// The text of the first `<name>` child in `inner` (an Atom person).
fn child_text(inner: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(inner);
    reader.config_mut().check_end_names = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if local(&e) == name => {
                let span = reader.read_to_end(e.name()).ok()?;
                return Some(unescape(inner.get(range(&span)?)?));
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Feed dates in the forms feeds use: RFC 3339, RFC 822 (the weekday,
/// often wrong or not English, ignored; `UTC` as `+0000`), and ISO 8601
/// without a zone or without a time (taken as UTC).
fn date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.to_utc());
    }
    let rfc822 = match s.split_once(", ") {
        Some((day, rest)) if day.chars().all(char::is_alphabetic) => rest,
        _ => s,
    };
    if let Ok(d) = DateTime::parse_from_rfc2822(&rfc822.replace("UTC", "+0000")) {
        return Some(d.to_utc());
    }
    for zoned in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, zoned) {
            return Some(d.to_utc());
        }
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .map(|d| d.and_utc())
}

/// The raw text between an element's start tag (just read) and its end.
fn inner<'i>(
    reader: &mut Reader<&[u8]>,
    e: &BytesStart<'_>,
    input: &'i str,
) -> quick_xml::Result<&'i str> {
    let span = reader.read_to_end(e.name())?;
    Ok(range(&span).and_then(|r| input.get(r)).unwrap_or(""))
}

fn range(span: &std::ops::Range<u64>) -> Option<std::ops::Range<usize>> {
    Some(usize::try_from(span.start).ok()?..usize::try_from(span.end).ok()?)
}

fn offset(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// Where the next `<item`/`<entry` (any prefix or case) starts at or after
/// `from`. Each `<` is looked at over a few bytes only: a document of
/// nothing but `<` costs its length, not its length squared.
fn next_entry(input: &str, from: usize) -> Option<usize> {
    let bytes = input.as_bytes();
    let mut i = from;
    while let Some(rel) = bytes.get(i..)?.iter().position(|b| *b == b'<') {
        let at = i + rel;
        if entry_tag_at(&bytes[at + 1..]) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Whether `after` (what follows a `<`) starts an `item` or `entry` tag,
/// with a prefix of at most about 40 bytes.
fn entry_tag_at(after: &[u8]) -> bool {
    let window = &after[..after.len().min(48)];
    let Some(name_end) = window
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/' | b'<'))
    else {
        return false;
    };
    let name = &window[..name_end];
    let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
    local.eq_ignore_ascii_case(b"item") || local.eq_ignore_ascii_case(b"entry")
}

/// A feed-level element: the root's or the channel's child.
fn is_feed_level(open: &[String]) -> bool {
    match open {
        [_root] => true,
        [_root, channel] => channel == "channel",
        _ => false,
    }
}

fn is_entry(local: &str) -> bool {
    local == "item" || local == "entry"
}

/// The element's name without its prefix, lower case.
fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_ascii_lowercase()
}

/// An attribute's unescaped value, by local name, whatever its prefix and
/// case.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        a.key
            .local_name()
            .as_ref()
            .eq_ignore_ascii_case(name)
            .then(|| unescape(&a.value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_decoded_and_what_is_not_one_is_kept() {
        assert_eq!(
            unescape("a &amp; b &#233; &#X41; &#x42; &b=2&c <![CDATA[<p>&amp;</p>]]>"),
            "a & b é A B &b=2&c <p>&amp;</p>"
        );
    }

    #[test]
    fn text_that_starts_with_a_letter_of_more_than_one_byte() {
        assert_eq!(unescape("Київ &amp; «Іран»"), "Київ & «Іран»");
        assert_eq!(unescape("É"), "É");
        let doc = "<rss version=\"9\"><channel><title>Стрічка</title>\
            <item><title>Іранські дрони</title><category>Війна</category></item></channel></rss>";
        let read = read(doc, 10).unwrap();
        assert_eq!(read.entries[0].title, "Іранські дрони");
        assert_eq!(read.entries[0].categories, ["Війна"]);
        assert_eq!(read.title.as_deref(), Some("Стрічка"));
    }

    #[test]
    fn a_document_of_nothing_but_angle_brackets_is_read_in_linear_time() {
        // Quadratic, this took hours; linear, milliseconds.
        let doc = format!("<rss><item>{}", "<".repeat(2_000_000));
        let read = read(&doc, 10).unwrap();
        assert!(read.entries.is_empty());
    }

    #[test]
    fn dates_in_the_forms_feeds_use() {
        let at = |s| date(s).map(|d| d.to_rfc3339());
        let noon = Some("2004-01-01T12:00:00+00:00".to_string());
        assert_eq!(at("Thu, 01 Jan 2004 12:00:00 GMT"), noon);
        assert_eq!(at("Thursday, 01 Jan 2004 12:00:00 UTC"), noon);
        assert_eq!(at("2004-01-01T14:00:00+02:00"), noon);
        assert_eq!(at("2004-01-01T12:00:00"), noon);
        assert_eq!(at("2004-01-01T08:00:00-0400"), noon);
        assert_eq!(
            at("2004-01-01T12:00:00.125").map(|d| d[..19].to_string()),
            Some("2004-01-01T12:00:00".to_string())
        );
        assert_eq!(
            at("2004-01-01"),
            Some("2004-01-01T00:00:00+00:00".to_string())
        );
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn an_entry_that_cannot_be_read_costs_that_entry_only() {
        let doc = "<rss><channel><title>T</title>\
            <item><title>one</title><guid>1</guid></item>\
            <item><title>two</title><description>a <b>bad</c> &#xZZ; <![CDATA[ </description></item>\
            <item><title>three</title><guid>3</guid></item>\
            </channel></rss>";
        let read = read(doc, 100).unwrap();
        let titles: Vec<&str> = read.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["one", "three"], "{read:?}");
        assert_eq!(read.skipped.len(), 1, "{read:?}");
        assert!(
            read.skipped[0].starts_with("entry 2: \"two\": "),
            "named by its number and title: {read:?}"
        );
        assert_eq!(read.title.as_deref(), Some("T"));
    }

    #[test]
    fn many_unfinished_entries_are_given_up_together() {
        let doc = format!(
            "<rss><channel>{}</channel></rss>",
            "<item><title>t</title><description>open\n".repeat(5_000)
        );
        let read = read(&doc, 10_000).unwrap();
        assert!(read.entries.is_empty());
        assert_eq!(
            read.skipped.len(),
            MAX_SKIPPED + 1,
            "{:?}",
            read.skipped.last()
        );
    }

    #[test]
    fn an_html_page_is_not_a_feed() {
        assert!(
            read(
                "<!DOCTYPE html><html><body><item>x</item></body></html>",
                10
            )
            .is_none()
        );
    }

    #[test]
    fn text_of_every_declared_type() {
        let doc = "<feed><entry>\
            <title type=\"application/xhtml+xml\"><div><b>Bold</b> &amp; more</div></title>\
            <summary type=\"application/octet-stream\">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</summary>\
            <content type=\"\">plain &lt;b&gt;</content>\
            <link rel=\"enclosure\" href=\"e.mp3\"/><link href=\"/a\"/>\
            <author><name>Ann</name><email>a@example.org</email></author>\
            <category term=\"world\"/>\
            </entry></feed>";
        let read = read(doc, 10).unwrap();
        let e = &read.entries[0];
        assert_eq!(e.title.trim(), "Bold & more");
        assert_eq!(e.summary.trim(), "Example Atom");
        assert_eq!(e.content, "plain <b>");
        assert_eq!(e.link.as_deref(), Some("/a"));
        assert_eq!(e.authors, ["Ann"]);
        assert_eq!(e.categories, ["world"]);
    }
}
