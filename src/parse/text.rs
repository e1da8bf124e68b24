//! Parse stage: feed text to plain text. Feed HTML is untrusted: only its
//! words reach a digest (docs/digests.md, "Delivery"), normalised (no control
//! characters, which also keeps our snippet markers ours; no bidi
//! overrides; whitespace collapsed; length capped). Pure.

use feed_rs::model::Text;

use crate::model::{MARK_END, MARK_START};

/// Plain text of a feed text construct, whatever its declared type.
pub(super) fn text_of(t: &Text) -> String {
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
/// the words reach a digest (docs/digests.md, "Delivery": feed HTML is untrusted).
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
