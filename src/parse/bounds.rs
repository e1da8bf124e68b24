//! Parse stage: the bounds an article page must keep before it is parsed
//! (docs/fetching.md, "Full text"). html5ever and dom_smoothie build and walk the
//! whole tree: a page nested 30,000 `<div>`s deep (330 KB) overflowed the
//! stack and aborted the daemon, parse time grew with the square of the
//! depth (100,000 levels: still parsing after 300 s), and the tree takes
//! about 70× a page of tiny elements. So one linear pass over the bytes
//! first counts the elements and follows the nesting as a browser's tree
//! builder would (void elements, `<p>`/`<li>`/table cells closed by their
//! next sibling, end tags closing what they match), and a page deeper or
//! larger than the limits is refused before any tree is built. The pass
//! errs towards counting deeper than the tree builder, never shallower by
//! more than the tree builder's implied elements (a table's `tbody`), which
//! the parse's own thread has stack for (`pipeline/articles.rs`). Pure.

pub use crate::model::PageLimits;

/// Why a page is not parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    #[error("the page nests elements more than {0} deep (max_article_depth)")]
    TooDeep(usize),
    #[error("the page has more than {0} elements (max_article_elements)")]
    TooManyElements(usize),
}

/// Elements that never have content: no end tag, no depth.
const VOID: &[&[u8]] = &[
    b"area",
    b"base",
    b"br",
    b"col",
    b"embed",
    b"hr",
    b"img",
    b"input",
    b"link",
    b"meta",
    b"param",
    b"source",
    b"track",
    b"wbr",
    b"keygen",
    b"frame",
    b"basefont",
    b"bgsound",
    b"image",
];

/// Elements whose text is not markup: skipped to their end tag.
const RAW_TEXT: &[&[u8]] = &[
    b"script",
    b"style",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"plaintext",
];

/// Start tags that close an open `<p>` first (the HTML tree builder's rule).
const CLOSES_P: &[&[u8]] = &[
    b"address",
    b"article",
    b"aside",
    b"blockquote",
    b"details",
    b"div",
    b"dl",
    b"fieldset",
    b"figcaption",
    b"figure",
    b"footer",
    b"form",
    b"h1",
    b"h2",
    b"h3",
    b"h4",
    b"h5",
    b"h6",
    b"header",
    b"hgroup",
    b"hr",
    b"main",
    b"menu",
    b"nav",
    b"ol",
    b"p",
    b"pre",
    b"section",
    b"table",
    b"ul",
    b"li",
    b"dd",
    b"dt",
];

/// How far below the top an end tag looks for the element it closes: a
/// stray end tag is ignored, as the tree builder mostly does, without a
/// search down a deep stack for every one (which would be quadratic).
const END_TAG_REACH: usize = 64;

/// Formatting elements: an end tag that misnests them (`<b><div></b>`)
/// takes the element out of the stack and leaves what is above it open
/// (the tree builder's adoption agency), so it must not close more.
const FORMATTING: &[&[u8]] = &[
    b"a", b"b", b"big", b"code", b"em", b"font", b"i", b"nobr", b"s", b"small", b"strike",
    b"strong", b"tt", b"u",
];

/// Checks `html` against `limits` in one pass over its bytes.
pub fn check_page(html: &[u8], limits: PageLimits) -> Result<(), BoundsError> {
    let mut open: Vec<Vec<u8>> = Vec::new();
    // Where the outermost open `<svg>` or `<math>` is: inside it, `/>`
    // closes any element and `<style>` holds elements, as in XML.
    let mut foreign: Option<usize> = None;
    let mut elements = 0usize;
    let mut at = 0;
    while let Some(lt) = memchr(b'<', &html[at..]) {
        at += lt + 1;
        let rest = &html[at..];
        if let Some(after) = rest.strip_prefix(b"!--") {
            at += 3 + comment_end(after);
            continue;
        }
        if matches!(rest.first(), Some(b'!' | b'?')) {
            at += memchr(b'>', rest).map_or(rest.len(), |e| e + 1);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = usize::from(closing);
        let name_len = rest[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
            .count();
        if name_len == 0 || !rest[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = rest[name_start..name_start + name_len].to_ascii_lowercase();
        let tag_end = tag_end(&rest[name_start + name_len..]).map(|e| name_start + name_len + e);
        let self_closing = tag_end.is_some_and(|e| e > 0 && rest[e - 1] == b'/');
        at += tag_end.map_or(rest.len(), |e| e + 1);
        if closing {
            close(&mut open, &name);
            foreign = foreign.filter(|f| *f < open.len());
            continue;
        }
        elements += 1;
        if elements > limits.elements {
            return Err(BoundsError::TooManyElements(limits.elements));
        }
        if foreign.is_none() && RAW_TEXT.contains(&name.as_slice()) {
            let end = [b"</".as_slice(), &name].concat();
            at += find_ignore_case(&html[at..], &end).unwrap_or(html.len() - at);
            continue;
        }
        // Outside svg and math the tree builder ignores a `/>` on an
        // element that is not void: `<div/>` opens a div (`<svg/>` closes).
        let xml = foreign.is_some() || matches!(name.as_slice(), b"svg" | b"math");
        if VOID.contains(&name.as_slice()) || (self_closing && xml) {
            continue;
        }
        implied_end(&mut open, &name);
        if foreign.is_none() && matches!(name.as_slice(), b"svg" | b"math") {
            foreign = Some(open.len());
        }
        open.push(name);
        if open.len() > limits.depth {
            return Err(BoundsError::TooDeep(limits.depth));
        }
    }
    Ok(())
}

/// How far past `<!--` the comment ends: `<!-->` and `<!--->` are whole
/// comments, else the first `-->` or `--!>` ends it, else the page's end.
fn comment_end(after: &[u8]) -> usize {
    if after.starts_with(b">") {
        return 1;
    }
    if after.starts_with(b"->") {
        return 2;
    }
    let dashes = find(after, b"-->").map(|e| e + 3);
    let bang = find(after, b"--!>").map(|e| e + 4);
    match (dashes, bang) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(after.len()),
    }
}

/// Closes what the start tag `name` closes before it opens.
fn implied_end(open: &mut Vec<Vec<u8>>, name: &[u8]) {
    fn top(open: &[Vec<u8>]) -> Option<&[u8]> {
        open.last().map(Vec::as_slice)
    }
    if CLOSES_P.contains(&name) && top(open) == Some(b"p") {
        open.pop();
    }
    let siblings: &[&[u8]] = match name {
        b"li" => &[b"li"],
        b"dt" | b"dd" => &[b"dt", b"dd"],
        b"td" | b"th" => &[b"td", b"th"],
        b"tr" => &[b"tr", b"td", b"th"],
        b"option" => &[b"option"],
        _ => &[],
    };
    while top(open).is_some_and(|t| siblings.contains(&t)) {
        open.pop();
    }
}

/// An end tag closes the nearest open element of its name, within reach,
/// and what is open above it; a formatting element's end tag takes only
/// that element out.
fn close(open: &mut Vec<Vec<u8>>, name: &[u8]) {
    let reach = open.len().saturating_sub(END_TAG_REACH);
    if let Some(i) = open[reach..].iter().rposition(|o| o == name) {
        if FORMATTING.contains(&name) {
            open.remove(reach + i);
        } else {
            open.truncate(reach + i);
        }
    }
}

/// Where the tag whose attributes start at `rest` ends (its `>`). A quote
/// counts only where an attribute's value starts (after `=`), as in the
/// HTML tokenizer: `<div a">` ends at its `>`.
fn tag_end(rest: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(b) = rest.get(i) {
        match b {
            b'>' => return Some(i),
            b'=' => {
                i += 1;
                while rest.get(i).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                if let Some(q @ (b'"' | b'\'')) = rest.get(i) {
                    i += 1 + memchr(*q, &rest[i + 1..])?;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits {
        depth: 100,
        elements: 1_000,
    };

    #[test]
    fn deep_nesting_is_refused_in_linear_time() {
        let deep = "<div>".repeat(100_000);
        assert_eq!(
            check_page(deep.as_bytes(), LIMITS),
            Err(BoundsError::TooDeep(100))
        );
        let tables = "<table><tr><td>".repeat(50);
        assert_eq!(
            check_page(tables.as_bytes(), LIMITS),
            Err(BoundsError::TooDeep(100))
        );
        let closed = "<div><span>x</span></div>".repeat(200);
        assert_eq!(check_page(closed.as_bytes(), LIMITS), Ok(()));
    }

    #[test]
    fn what_a_browser_closes_by_itself_is_not_depth() {
        // Old-style pages: paragraphs, list items and cells never closed.
        let page = format!(
            "<html><body><div>{}<ul>{}</ul><table>{}</table></div>",
            "<p>para".repeat(300),
            "<li>item".repeat(300),
            "<tr><td>a<td>b".repeat(100)
        );
        assert_eq!(
            check_page(
                page.as_bytes(),
                PageLimits {
                    depth: 10,
                    elements: 10_000
                }
            ),
            Ok(())
        );
        // Void elements, self-closing tags, comments and scripts hold no depth.
        let page = format!(
            "{}{}<!-- <div><div><div> -->{}<script>{}</script><img/>",
            "<br><img src=x><meta charset=utf-8>".repeat(50),
            "<svg/>".repeat(50),
            "<!DOCTYPE html><?xml?>",
            "if (a<b) { document.write('<div><div><div>') }".repeat(50),
        );
        assert_eq!(check_page(page.as_bytes(), LIMITS), Ok(()));
    }

    #[test]
    fn too_many_elements_are_refused() {
        let wide = "<i></i>".repeat(2_000);
        assert_eq!(
            check_page(wide.as_bytes(), LIMITS),
            Err(BoundsError::TooManyElements(1_000))
        );
    }

    #[test]
    fn quoted_brackets_and_stray_end_tags_do_not_confuse_it() {
        let page = "<div title=\"a > b\"><a href='x>y'>link</a></span></p></div>".repeat(100);
        assert_eq!(check_page(page.as_bytes(), LIMITS), Ok(()));
        assert_eq!(check_page(b"<<<</>< div>", LIMITS), Ok(()));
    }

    /// What the review found slipping past: each is as deep as it looks to
    /// a browser's tree builder.
    #[test]
    fn markup_the_tree_builder_reads_otherwise_is_counted_as_it_does() {
        let refused = |page: String| check_page(page.as_bytes(), LIMITS);
        let too_deep = Err(BoundsError::TooDeep(100));
        // `/>` on a div is ignored outside svg: the divs nest.
        assert_eq!(refused("<div/>".repeat(200)), too_deep);
        assert_eq!(
            refused(format!("<svg>{}</svg>", "<g/>".repeat(200))),
            Ok(())
        );
        // `<!-->` and `<!--->` are whole comments.
        assert_eq!(refused(format!("<!-->{}", "<div>".repeat(200))), too_deep);
        assert_eq!(refused(format!("<!--->{}", "<div>".repeat(200))), too_deep);
        assert_eq!(
            refused(format!("<!-- a --!>{}", "<div>".repeat(200))),
            too_deep
        );
        // A quote that starts no attribute value is not a quote.
        assert_eq!(
            refused(format!("<div a\">{}", "<div>".repeat(200))),
            too_deep
        );
        assert_eq!(
            refused("<a title=\"x > y\" href=y>l</a>".repeat(50)),
            Ok(())
        );
        // Inside svg, `<style>` holds elements.
        assert_eq!(
            refused(format!("<svg><style>{}</style></svg>", "<g>".repeat(200))),
            too_deep
        );
        // A misnested formatting end tag leaves what is above it open.
        assert_eq!(refused("<b><div></b>".repeat(200)), too_deep);
    }
}
