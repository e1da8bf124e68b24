//! Parse stage: feed HTML to its words in one pass, straight into the
//! cleaned text (`text::Words`). The rules are nanohtml2text's (0.3), which
//! the parse stage used before and which stays the oracle: a differential
//! test holds `push_html` to `clean(nanohtml2text::html2text(html))` on
//! the corpus and on generated markup. Ported rather than called because
//! nanohtml2text builds a string per text node, collapses its whitespace,
//! and returns a text that `clean` then reads again: under `perf` that was
//! a third of the parse stage, and the parse stage 2.9× feed-rs alone.
//! What reaches the text: text nodes (entities decoded), a link's text
//! with its address after it, an image's alt text, `pre`/`xmp`/`textarea`
//! and `plaintext` as written; not comments, scripts, styles, templates,
//! titles or `head`. Block and line-break tags separate words. Two
//! differences, on purpose: a link's text is compared with its address
//! after both are cleaned (a text that is its address but for a dropped
//! control character or a line break is said once), and a '<' after the
//! text's last '>' is text at once (the same words, in linear time). Pure.

use super::text::Words;

/// Links are read recursively; past this depth an `<a>` is an ordinary tag
/// (its text kept, no address), as in nanohtml2text, so that thousands of
/// unclosed `<a>` cannot overflow the stack.
const MAX_LINK_DEPTH: usize = 32;

/// The words of `html`, added to `words`.
pub(super) fn push_html(words: &mut Words, html: &str) {
    walk(words, html, 0);
}

fn walk(words: &mut Words, html: &str, depth: usize) {
    // Past the last '>', no '<' opens a tag: said at once instead of
    // looking for its end to the end of the text (which made "<b<b<b…"
    // quadratic).
    let last_gt = memchr::memrchr(b'>', html.as_bytes());
    let mut index = 0;
    while index < html.len() && !words.is_full() {
        let Some(pos) = memchr::memchr(b'<', &html.as_bytes()[index..]) else {
            push_decoded(words, &html[index..]);
            break;
        };
        push_decoded(words, &html[index..index + pos]);
        index += pos + 1;
        let rest = &html[index..];
        if last_gt.is_none_or(|gt| gt < index) && !rest.starts_with("!--") {
            words.plain("<");
            continue;
        }
        index += tag(words, rest, depth);
    }
}

/// One tag, `s` starting just after its `<`: what it adds to `words`, and
/// the bytes it takes (the tag, and the content it skips or reads itself).
fn tag(words: &mut Words, s: &str, depth: usize) -> usize {
    // A comment may hold '>' (conditional comments): skipped to its "-->".
    if s.starts_with("!--") {
        return s.find("-->").map_or(s.len(), |n| n + 3);
    }
    // A '<' opens a tag only before a name, an end-tag slash or a
    // declaration; anything else ("5 < 6") is text.
    let end = match s.as_bytes().first() {
        Some(c) if c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?') => find_tag_end(s),
        _ => None,
    };
    let Some(end) = end else {
        words.plain("<");
        return 0;
    };
    let content = &s[..end];
    let rest = &s[end + 1..];
    let tag_len = end + 1;
    let (raw_name, attribs) = content
        .split_once(char::is_whitespace)
        .unwrap_or((content, ""));
    let name = raw_name.strip_suffix('/').unwrap_or(raw_name);
    // In unquoted attribute values a trailing slash belongs to the value:
    // `<a href=https://example.test/>` is not self-closing.
    let self_closing = raw_name.ends_with('/')
        || content.trim_end().strip_suffix('/').is_some_and(|before| {
            before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_whitespace() || matches!(c, '\'' | '"'))
        });
    let mut lower = [0u8; 12];
    let name = match lower.get_mut(..name.len()) {
        Some(buf) => {
            buf.copy_from_slice(name.as_bytes());
            buf.make_ascii_lowercase();
            std::str::from_utf8(buf).unwrap_or("")
        }
        // No tag this stage knows has a longer name.
        None => "",
    };
    match name {
        "a" if !self_closing && depth < MAX_LINK_DEPTH => {
            tag_len + link(words, attribs, rest, depth)
        }
        "br" | "li" | "/ol" | "/ul" | "tr" | "/tr" | "td" | "/td" | "th" | "/th" | "option"
        | "/option" | "p" | "/p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "/h1" | "/h2"
        | "/h3" | "/h4" | "/h5" | "/h6" | "div" | "/div" | "blockquote" | "/blockquote"
        | "address" | "/address" | "dl" | "/dl" | "dt" | "/dt" | "dd" | "/dd" | "article"
        | "/article" | "aside" | "/aside" | "section" | "/section" | "main" | "/main"
        | "header" | "/header" | "footer" | "/footer" | "nav" | "/nav" | "hr" => {
            words.separate();
            tag_len
        }
        "plaintext" => {
            words.plain(rest);
            tag_len + rest.len()
        }
        // Raw text kept as written; `textarea` is RCDATA: entities decoded.
        "xmp" | "textarea" | "pre" if !self_closing => {
            let (at, len) = find_closing_tag(rest, name).unwrap_or((rest.len(), 0));
            if name == "textarea" {
                push_decoded(words, &rest[..at]);
            } else {
                words.plain(&rest[..at]);
            }
            tag_len + at + len
        }
        "head" if !self_closing => {
            tag_len
                + find_closing_tag_in_markup(rest, "head").map_or(rest.len(), |(at, len)| at + len)
        }
        "script" | "style" | "template" | "title" if !self_closing => {
            tag_len + find_closing_tag(rest, name).map_or(rest.len(), |(at, len)| at + len)
        }
        "img" => {
            if let Some(alt) = attr_value(attribs, "alt") {
                push_decoded(words, alt);
            }
            tag_len
        }
        _ => tag_len,
    }
}

/// A link: its text, then its address in brackets unless the text is the
/// address (or the address alone when there is no text; `javascript:`
/// addresses never). Returns the bytes of `rest` it took.
fn link(words: &mut Words, attribs: &str, rest: &str, depth: usize) -> usize {
    let href = attr_value(attribs, "href")
        .map(decoded)
        .filter(|h| !h.is_empty() && !is_javascript_url(h));
    let (end, closing) = find_closing_tag_in_markup(rest, "a").unwrap_or((rest.len(), 0));
    // The text is read on its own (uncapped: it is part of the document,
    // already in memory), because it is trimmed and compared whole.
    let mut text = Words::new(usize::MAX);
    walk(&mut text, &rest[..end], depth + 1);
    let text = text.as_str();
    match href {
        Some(href) if !text.is_empty() && text != href => {
            words.plain(text);
            words.plain(" (");
            words.plain(&href);
            words.plain(")");
        }
        Some(href) => words.plain(&href),
        None => words.plain(text),
    }
    end + closing
}

/// Where decoded text goes: the words, or an attribute's value as written.
trait Sink {
    fn text(&mut self, s: &str);
}

impl Sink for Words {
    fn text(&mut self, s: &str) {
        self.plain(s);
    }
}

impl Sink for String {
    fn text(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// A text node with its character references decoded, as nanohtml2text
/// decodes them (a reference needs no ';'; one it does not know is text).
fn push_decoded(words: &mut impl Sink, s: &str) {
    if memchr::memchr(b'&', s.as_bytes()).is_none() {
        words.text(s);
        return;
    }
    let mut parts = s.split('&');
    words.text(parts.next().unwrap_or_default());
    for part in parts {
        let bytes = part.as_bytes();
        let end = match bytes.first() {
            Some(b'#') => {
                let hex = matches!(bytes.get(1), Some(b'x' | b'X'));
                let start = if hex { 2 } else { 1 };
                start
                    + bytes[start..]
                        .iter()
                        .take_while(|b| {
                            if hex {
                                b.is_ascii_hexdigit()
                            } else {
                                b.is_ascii_digit()
                            }
                        })
                        .count()
            }
            _ => bytes
                .iter()
                .position(|b| !b.is_ascii_alphanumeric())
                .unwrap_or(bytes.len()),
        };
        let after = &part[end..];
        let after = after.strip_prefix(';').unwrap_or(after);
        match reference(&part[..end]) {
            Some(Reference::Char(c)) => words.text(c.encode_utf8(&mut [0u8; 4])),
            Some(Reference::Text(t)) => words.text(&t),
            None => {
                words.text("&");
                words.text(part);
                continue;
            }
        }
        words.text(after);
    }
}

/// `s` with its character references decoded, its whitespace as it is
/// (an attribute's value: `java&#x0A;script:` is still `javascript:`).
fn decoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_decoded(&mut out, s);
    out
}

enum Reference {
    Char(char),
    Text(String),
}

/// What a character reference's name (`amp`, `#233`, `#xE9`) stands for.
fn reference(name: &str) -> Option<Reference> {
    let fast = match name {
        "" => return None,
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        // The commonest in news text (escaped HTML in a feed arrives here
        // as `&rsquo;`), each checked against nanohtml2text's table by a
        // test.
        "rsquo" => '\u{2019}',
        "lsquo" => '\u{2018}',
        "rdquo" => '\u{201d}',
        "ldquo" => '\u{201c}',
        "hellip" => '\u{2026}',
        "mdash" => '\u{2014}',
        "ndash" => '\u{2013}',
        "laquo" => '\u{ab}',
        "raquo" => '\u{bb}',
        "copy" => '\u{a9}',
        "eacute" => '\u{e9}',
        "euro" => '\u{20ac}',
        // Whitespace, which nanohtml2text's answer for the reference alone
        // (`resolve_html_entity`) trims away.
        "Tab" => '\t',
        "NewLine" => '\n',
        _ => '\0',
    };
    if fast != '\0' {
        return Some(Reference::Char(fast));
    }
    if let Some(number) = name.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        let code = u32::from_str_radix(digits, radix).ok()?;
        // No control characters but tab and line breaks.
        return match code {
            0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0xA0.. => char::from_u32(code).map(Reference::Char),
            _ => None,
        };
    }
    // Any other name, from nanohtml2text's table (2,000 names), as the
    // repairs resolve it. (Its only names for ASCII whitespace, which it
    // trims from the reference alone, are Tab and NewLine, above.)
    super::repair::resolve_html_entity(name).map(Reference::Text)
}

/// The '>' that closes a tag, ignoring one inside a quoted attribute value
/// (`<a title="a>b">`); a quote opens a value only after its '='.
fn find_tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    let mut after_eq = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                    after_eq = false;
                }
            }
            None => match c {
                '>' => return Some(i),
                '"' | '\'' if after_eq => quote = Some(c),
                '=' => after_eq = true,
                _ if !c.is_whitespace() => after_eq = false,
                _ => {}
            },
        }
    }
    None
}

/// An attribute's value (quoted, unquoted or `name = "x"`), undecoded.
fn attr_value<'a>(attribs: &'a str, name: &str) -> Option<&'a str> {
    let bytes = attribs.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let key = &attribs[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let start;
            match bytes.get(i).copied().filter(|&c| c == b'"' || c == b'\'') {
                Some(quote) => {
                    start = i + 1;
                    i = start;
                    while i < bytes.len() && bytes[i] != quote {
                        i += 1;
                    }
                    value = &attribs[start..i];
                    i += 1;
                }
                None => {
                    start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    value = &attribs[start..i];
                }
            }
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        // Forward progress on malformed input.
        if i == key_start {
            i += 1;
        }
    }
    None
}

/// A `javascript:` address (after the whitespace and controls browsers
/// strip), which carries no text worth keeping.
fn is_javascript_url(url: &str) -> bool {
    const SCHEME: &[u8] = b"javascript:";
    let url = url.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    let mut scheme = url.bytes().filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'));
    SCHEME
        .iter()
        .all(|want| scheme.next().is_some_and(|b| b.eq_ignore_ascii_case(want)))
}

/// Where `</name>` (any case, whitespace before its '>') starts in
/// `haystack`, and its length: the end of raw text, markup not read.
fn find_closing_tag(haystack: &str, name: &str) -> Option<(usize, usize)> {
    let (bytes, name) = (haystack.as_bytes(), name.as_bytes());
    let mut from = 0;
    while let Some(rel) = haystack[from..].find("</") {
        let start = from + rel;
        from = start + 1;
        if !bytes
            .get(start + 2..start + 2 + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let mut end = start + 2 + name.len();
        while bytes.get(end).is_some_and(u8::is_ascii_whitespace) {
            end += 1;
        }
        if bytes.get(end) == Some(&b'>') {
            return Some((start, end + 1 - start));
        }
    }
    None
}

/// The length of `</name>` when `s` starts with it.
fn closing_tag_len_at_start(s: &str, name: &str) -> Option<usize> {
    let s = s.strip_prefix("</")?;
    let end = find_tag_end(s)?;
    s[..end]
        .trim()
        .eq_ignore_ascii_case(name)
        .then_some(end + 3)
}

/// Where `</name>` is in markup, past comments, tags (a `</a>` in an
/// attribute) and raw-text elements (a `</a>` in a script).
fn find_closing_tag_in_markup(haystack: &str, name: &str) -> Option<(usize, usize)> {
    let mut index = 0;
    while index < haystack.len() {
        let rest = &haystack[index..];
        if rest.starts_with("<!--") {
            index += rest.find("-->").map_or(rest.len(), |end| end + 3);
        } else if let Some(tag) = rest.strip_prefix('<') {
            if let Some(len) = closing_tag_len_at_start(rest, name) {
                return Some((index, len));
            }
            let end = find_tag_end(tag)?;
            let content = &tag[..end];
            let tag_name = content
                .split_once(char::is_whitespace)
                .map_or(content, |(name, _)| name)
                .strip_suffix('/')
                .unwrap_or(content);
            let content_start = end + 2;
            if ["script", "style", "textarea", "xmp", "pre"]
                .iter()
                .any(|raw| tag_name.eq_ignore_ascii_case(raw))
            {
                let (at, len) = find_closing_tag(&rest[content_start..], tag_name)?;
                index += content_start + at + len;
            } else {
                index += content_start;
            }
        } else {
            // Text: on to the next '<'.
            index += memchr::memchr(b'<', rest.as_bytes()).unwrap_or(rest.len());
        }
    }
    None
}
