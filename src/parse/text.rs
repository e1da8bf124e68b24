//! Parse stage: feed text to plain text. Feed HTML is untrusted: only its
//! words reach a digest (docs/digests.md, "Delivery"), normalised (no control
//! characters, which also keeps our snippet markers ours; no bidi
//! overrides; whitespace collapsed; length capped). Pure.

use feed_rs::model::Text;

use super::extract::push_html;
use crate::model::{MARK_END, MARK_START};

/// The words of a feed text construct, whatever its declared type, added
/// to `words`.
pub(super) fn push_text_of(words: &mut Words, t: &Text) {
    if t.content_type.subty() == "plain" && memchr::memchr(b'<', t.content.as_bytes()).is_none() {
        push_basic_entities(words, &t.content);
    } else {
        push_html(words, &t.content);
    }
}

/// A plain text with the five entities a plain text construct may still
/// carry decoded (`&amp;` last, so `&amp;lt;` stays `&lt;`).
fn push_basic_entities(words: &mut Words, s: &str) {
    if !s.contains('&') {
        words.plain(s);
        return;
    }
    words.plain(
        &s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    );
}

/// Feed HTML → text with its line breaks (nanohtml2text): for the lenient
/// reader, whose texts are cleaned later. Items read by feed-rs go through
/// `push_html`, which gives the same words in one pass. Scripts, styles,
/// images and markup are dropped; only the words reach a digest
/// (docs/digests.md, "Delivery": feed HTML is untrusted).
pub fn html_to_text(html: &str) -> String {
    nanohtml2text::html2text(html)
}

/// Normalises a string from a feed: no control characters (which also keeps
/// our snippet sentinels ours), no bidi overrides, whitespace collapsed,
/// length capped at `max` characters.
pub fn clean(s: &str, max: usize) -> String {
    let mut words = Words::new(max);
    words.plain(s);
    words.finish()
}

/// A text being cleaned as it is written (`clean`, one piece after
/// another): what feed texts become, built in one pass from HTML and plain
/// pieces alike, so that no stage copies a text only to collapse its
/// whitespace again (twice, with nanohtml2text then `clean`, that was a
/// third of the parse stage). Once `max` characters are written, the rest
/// is dropped unread.
pub(super) struct Words {
    out: String,
    /// Characters in `out`.
    count: usize,
    max: usize,
    /// Whitespace seen since the last character written.
    space: bool,
    /// The cap was reached: nothing more is written.
    full: bool,
}

impl Words {
    pub(super) fn new(max: usize) -> Self {
        Words::sized_for(max, 0)
    }

    /// Room made at once for the text of an input of `len` bytes (a text
    /// grown from empty was copied again at every doubling), at most
    /// what `max` characters can take.
    pub(super) fn sized_for(max: usize, len: usize) -> Self {
        Words {
            out: String::with_capacity(len.min(max.saturating_mul(4))),
            count: 0,
            max,
            space: false,
            full: false,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.full
    }

    pub(super) fn as_str(&self) -> &str {
        &self.out
    }

    /// The text, holding no more memory than it needs: items wait in
    /// memory for the writer, and a text grown by doubling (or sized for
    /// its HTML) holds up to twice its length.
    pub(super) fn finish(mut self) -> String {
        self.out.shrink_to_fit();
        self.out
    }

    /// A word boundary (whitespace, a line break, a block's end).
    pub(super) fn separate(&mut self) {
        self.space |= !self.out.is_empty();
    }

    /// A plain piece of text, cleaned onto the end.
    pub(super) fn plain(&mut self, s: &str) {
        let mut rest = s;
        while !rest.is_empty() && !self.full {
            // The next piece: printable ASCII words with single spaces
            // between them, copied whole (most of a feed's text; word by
            // word this was a fifth of the parse stage, char by char a
            // tenth of a first poll), or one other character. ASCII
            // whitespace and controls are handled without decoding a char.
            let run = ascii_run(rest.as_bytes());
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
                        self.separate();
                        continue;
                    }
                    c if c.is_control() => continue,
                    _ => (piece, 1),
                }
            };
            let room = self.max.saturating_sub(self.count);
            if chars + usize::from(self.space) > room && piece.contains(' ') {
                // The cap falls in this run: word by word, so that it is
                // cut where a word at a time would cut it.
                for (i, word) in piece.split(' ').enumerate() {
                    if i > 0 {
                        self.separate();
                    }
                    self.word(word, word.len());
                    if self.full {
                        break;
                    }
                }
            } else {
                self.word(piece, chars);
            }
        }
    }

    /// `piece` (of `chars` characters, more than one only if ASCII) after
    /// the pending space, as much of it as the cap leaves room for.
    fn word(&mut self, piece: &str, chars: usize) {
        if self.space {
            if self.count + 1 >= self.max {
                self.full = true;
                return;
            }
            self.out.push(' ');
            self.count += 1;
            self.space = false;
        }
        let room = self.max.saturating_sub(self.count);
        if chars > room {
            // Only ASCII runs are longer than one char: a byte boundary.
            self.out.push_str(&piece[..room]);
            self.out.push('…');
            self.full = true;
            return;
        }
        self.out.push_str(piece);
        self.count += chars;
    }
}

/// The length of the run of printable ASCII that `bytes` starts with, single
/// spaces between its words included: it starts and ends with a printable
/// character (0 when `bytes` does not start with one). Read 32 bytes at a
/// time in a loop the compiler vectorises, then byte by byte to its end:
/// never more than 33 bytes past the run, so cleaning stays linear.
fn ascii_run(bytes: &[u8]) -> usize {
    if !bytes.first().is_some_and(u8::is_ascii_graphic) {
        return 0;
    }
    // Printable, and no two spaces in a row (the 33rd byte overlaps the
    // next chunk, so a pair across two chunks is seen).
    let plain = |c: &[u8]| {
        c.iter().fold(true, |all, b| all & (0x20..0x7f).contains(b))
            & c.iter()
                .zip(&c[1..])
                .fold(true, |all, (a, b)| all & !(*a == b' ' && *b == b' '))
    };
    let mut i = 0;
    while bytes.len() >= i + 33 && plain(&bytes[i..i + 33]) {
        i += 32;
    }
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_graphic() {
            i += 1;
        } else if b == b' ' && bytes.get(i + 1).is_some_and(u8::is_ascii_graphic) {
            i += 2;
        } else {
            break;
        }
    }
    i
}
