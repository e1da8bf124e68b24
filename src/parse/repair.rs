//! Parse stage: cheap repairs of the real-world breakage that would make
//! feed-rs reject a whole feed (measured on the corpus in tests/corpus):
//! an `<rss>` root without `version` ("no root element"), HTML named
//! entities such as `&eacute;` that XML does not define, and control
//! characters XML forbids; and, only once feed-rs has refused a JSON
//! document, JSON Feed ids written as numbers. Pure text in, text out;
//! valid feeds pass through unchanged (borrowed, not copied).

use std::borrow::Cow;

pub fn repair(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if has_control(&out) {
        out = Cow::Owned(
            out.chars()
                .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
                .collect(),
        );
    }
    if let Some(fixed) = html_entities(&out) {
        out = Cow::Owned(fixed);
    }
    if let Some(fixed) = rss_version(&out) {
        out = Cow::Owned(fixed);
    }
    if let Some(fixed) = atom_0_3(&out) {
        out = Cow::Owned(fixed);
    }
    if let Some(fixed) = zoneless_dates(&out) {
        out = Cow::Owned(fixed);
    }
    out
}

/// Whether `text` has a control character other than tab and line breaks,
/// by bytes: C0 and DEL are single bytes in UTF-8, C1 (U+0080–U+009F) is
/// 0xC2 then 0x80–0x9F. Read 4 KB at a time without an early exit inside,
/// which the compiler vectorises: byte by byte with an early exit, this was
/// 5% of the parse stage (and decoding every char before that, a few
/// percent of a first poll).
fn has_control(text: &str) -> bool {
    let b = text.as_bytes();
    let c0 = |x: u8| (x < 0x20) & (x != b'\t') & (x != b'\n') & (x != b'\r') | (x == 0x7f);
    let c1 = |x: u8, next: u8| (x == 0xc2) & (0x80..0xa0).contains(&next);
    let mut start = 0;
    while start < b.len() {
        let end = (start + 4096).min(b.len());
        let chunk = &b[start..end];
        // Each byte with the one after it, the next chunk's first included.
        let next = &b[start + 1..(end + 1).min(b.len())];
        let found = chunk.iter().fold(false, |seen, &x| seen | c0(x))
            | chunk
                .iter()
                .zip(next)
                .fold(false, |seen, (&x, &n)| seen | c1(x, n));
        if found {
            return true;
        }
        start = end;
    }
    false
}

/// A JSON Feed whose items have numeric ids (`"id": 12345`), with those
/// ids as strings: JSON Feed 1.1 says readers coerce them, feed-rs refuses
/// the whole document instead. `None` when there is nothing to mend (not
/// JSON, not a JSON Feed, no numeric id). Called only after feed-rs has
/// refused the document, so a good feed never pays for a second parse.
pub fn json_feed_ids(text: &str) -> Option<String> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let mut doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut mended = false;
    for item in doc.get_mut("items")?.as_array_mut()? {
        if let Some(id) = item.get_mut("id")
            && let Some(n) = id.as_number()
        {
            *id = serde_json::Value::String(n.to_string());
            mended = true;
        }
    }
    mended.then(|| doc.to_string())
}

const ATOM_0_3: &str = "http://purl.org/atom/ns#";

/// Atom 0.3 (still served) as Atom 1.0, which feed-rs reads (it skips 0.3
/// entries entirely): the namespace, `issued`/`modified` as
/// `published`/`updated`, and 0.3's MIME-type text types as 1.0's names.
fn atom_0_3(text: &str) -> Option<String> {
    memchr::memmem::find(text.as_bytes(), ATOM_0_3.as_bytes())?;
    Some(
        text.replace(ATOM_0_3, "http://www.w3.org/2005/Atom")
            .replace("<issued>", "<published>")
            .replace("</issued>", "</published>")
            .replace("<modified>", "<updated>")
            .replace("</modified>", "</updated>")
            .replace("type=\"text/html\"", "type=\"html\"")
            .replace("type=\"text/plain\"", "type=\"text\"")
            .replace("type=\"application/xhtml+xml\"", "type=\"xhtml\"")
            .replace("type='text/html'", "type='html'")
            .replace("type='text/plain'", "type='text'")
            .replace("type='application/xhtml+xml'", "type='xhtml'"),
    )
}

/// `>2024-06-24T09:30:00<` (ISO 8601 without a zone, which feed-rs drops)
/// gets a `Z`: such dates are taken as UTC.
fn zoneless_dates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut inserts = Vec::new();
    for at in memchr::memchr_iter(b'>', bytes) {
        let start = at + 1;
        let b = &bytes[start..bytes.len().min(start + 40)];
        let shape = b"dddd-dd-ddTdd:dd:dd";
        if b.len() < shape.len()
            || !shape.iter().zip(b).all(|(s, c)| {
                if *s == b'd' {
                    c.is_ascii_digit()
                } else {
                    s == c
                }
            })
        {
            continue;
        }
        let mut end = shape.len();
        if b.get(end) == Some(&b'.') {
            end += 1;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        if b.get(end) == Some(&b'<') {
            inserts.push(start + end);
        }
    }
    if inserts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + inserts.len());
    let mut last = 0;
    for at in inserts {
        out.push_str(&text[last..at]);
        out.push('Z');
        last = at;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// `&hellip;` → `&#x2026;`: HTML's named entities as numeric references,
/// which every XML parser knows. XML's own five are left alone.
fn html_entities(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let mut changed = false;
    let bytes = text.as_bytes();
    // A feed's escaped HTML has thousands of `&lt;`: one SIMD search finds
    // them all (a `find` per reference was 4% of the parse stage).
    for start in memchr::memchr_iter(b'&', bytes) {
        let name_end = bytes[start + 1..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map(|k| start + 1 + k);
        let Some(end) = name_end else { break };
        if bytes.get(end) != Some(&b';') || end == start + 1 {
            continue;
        }
        let name = &text[start + 1..end];
        if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            continue;
        }
        if let Some(chars) = resolve_html_entity(name) {
            out.push_str(&text[last..start]);
            for c in chars.chars() {
                out.push_str(&format!("&#{};", c as u32));
            }
            last = end + 1;
            changed = true;
        }
    }
    changed.then(|| {
        out.push_str(&text[last..]);
        out
    })
}

/// The text of an HTML named entity, from nanohtml2text's table (which
/// we use for feed HTML anyway; quick-xml's has wrong code points for some
/// Greek capitals, found by the corpus test: `&Epsilon;` gave "9"). Also
/// the feed HTML reader's (`extract`) for the names it does not know.
pub(super) fn resolve_html_entity(name: &str) -> Option<String> {
    let reference = format!("&{name};");
    let text = nanohtml2text::html2text(&reference);
    (text != reference && !text.is_empty()).then_some(text)
}

/// `<rss>` without a `version` attribute is RSS 2.0 in practice; feed-rs
/// refuses it as "no root element".
fn rss_version(text: &str) -> Option<String> {
    let mut from = 0;
    while let Some(rel) = memchr::memmem::find(&text.as_bytes()[from..], b"<rss") {
        let at = from + rel;
        let after = at + "<rss".len();
        match text[after..].chars().next() {
            Some(c) if c.is_whitespace() || c == '>' || c == '/' => {
                let tag_end = text[after..].find('>').map_or(text.len(), |k| after + k);
                if text[after..tag_end].contains("version") {
                    return None;
                }
                return Some(format!(
                    "{} version=\"2.0\"{}",
                    &text[..after],
                    &text[after..]
                ));
            }
            _ => from = after,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_is_borrowed_unchanged() {
        let t = "<rss version=\"2.0\"><channel><title>a &amp; b &#233;</title></channel></rss>";
        assert!(matches!(repair(t), Cow::Borrowed(_)));
    }

    #[test]
    fn html_entities_become_numeric_references() {
        assert_eq!(
            repair("<t>caf&eacute; &hellip; &amp; &nope; &;</t>"),
            "<t>caf&#233; &#8230; &amp; &nope; &;</t>"
        );
        // Regression: quick-xml's table maps Epsilon to U+0039.
        assert_eq!(repair("&Epsilon;&thetasym;&OElig;"), "&#917;&#977;&#338;");
    }

    #[test]
    fn rss_without_version_gets_one() {
        assert_eq!(
            repair("<?xml version=\"1.0\"?>\n<rss>\n<channel/></rss>"),
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\">\n<channel/></rss>"
        );
        assert_eq!(
            repair("<rss xmlns:a=\"x\"><channel/></rss>"),
            "<rss version=\"2.0\" xmlns:a=\"x\"><channel/></rss>"
        );
        assert!(matches!(
            repair("<rss version=\"0.91\"><channel/></rss>"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            repair("<rssfeed><x/></rssfeed>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn zoneless_iso_dates_are_taken_as_utc() {
        assert_eq!(
            repair("<d>2024-06-24T09:30:00</d><e>2024-06-24T09:30:00.25</e>"),
            "<d>2024-06-24T09:30:00Z</d><e>2024-06-24T09:30:00.25Z</e>"
        );
        assert!(matches!(
            repair("<d>2024-06-24T09:30:00+03:00</d><t>2024-06-24T09:30:00 in text</t>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn forbidden_control_characters_are_dropped() {
        assert_eq!(repair("<t>a\u{1}b\u{1b}c\td</t>"), "<t>abc\td</t>");
    }

    #[test]
    fn has_control_agrees_with_char_is_control() {
        for cp in (0u32..0x3000).chain([0xfeff, 0x1f600]) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for text in [format!("{c}"), format!("ab{c}Київ"), format!("é{c}")] {
                let expected = text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
                assert_eq!(has_control(&text), expected, "U+{cp:04X}");
            }
        }
        // Across and past the 4 KB the scan reads at a time.
        for at in [4094, 4095, 4096, 5000, 8191] {
            let long = format!("{}\u{85}{}", "a".repeat(at), "b".repeat(100));
            assert!(has_control(&long), "C1 at {at}");
            let long = format!("{}\u{1}", "a".repeat(at));
            assert!(has_control(&long), "C0 at {at}");
            let long = format!("{}\u{a0}\n{}", "a".repeat(at), "b".repeat(100));
            assert!(!has_control(&long), "NBSP at {at}");
        }
    }
}
