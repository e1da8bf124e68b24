//! Parse stage: a feed with more entries than we keep is cut after the last
//! one we keep, before feed-rs reads it. feed-rs builds every entry of a
//! document before we can take the first `max_items`: one 10 MiB feed of
//! 71,000 small items peaked at 136 MB. A streaming pass of quick-xml (no
//! tree, constant memory) finds where the `max_items`-th entry ends, and
//! the elements still open there are closed again. A document quick-xml
//! cannot read is left whole for feed-rs to judge. Pure.

use quick_xml::events::Event;

/// The document cut after its `max_items`-th entry (`<item>` or `<entry>`,
/// any prefix or case), or `None` when it has no more than that.
pub fn keep_entries(text: &str, max_items: usize) -> Option<String> {
    // Most feeds have far fewer entries than the limit: counting opening
    // tags is much cheaper than reading the document.
    if possible_entries(text) <= max_items {
        return None;
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut open: Vec<String> = Vec::new();
    let mut entry_depth: Option<usize> = None;
    let mut kept = 0;
    loop {
        let ended_entry = match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.name().as_ref().to_string();
                if is_entry(&name) && entry_depth.is_none() {
                    entry_depth = Some(open.len());
                }
                open.push(name);
                false
            }
            Ok(Event::End(_)) => {
                let name = open.pop().unwrap_or_default();
                is_entry(&name) && entry_depth == Some(open.len())
            }
            Ok(Event::Empty(e)) => is_entry(e.name().as_ref()) && entry_depth == Some(open.len()),
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => false,
        };
        if ended_entry {
            kept += 1;
            if kept == max_items {
                let end = usize::try_from(reader.buffer_position()).ok()?;
                return Some(close(text.get(..end)?, &open));
            }
        }
    }
}

/// `text` followed by the end tags of the elements still open, innermost
/// first.
fn close(text: &str, open: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(text);
    for name in open.iter().rev() {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out
}

/// `item` or `entry`, whatever the prefix and case.
fn is_entry(name: &str) -> bool {
    let local = name.rsplit(':').next().unwrap_or(name);
    local.eq_ignore_ascii_case("item") || local.eq_ignore_ascii_case("entry")
}

/// How many start tags named `item` or `entry` (any prefix, any case) the
/// text has at most: an upper bound on its entries. One SIMD search for
/// '<' and a look at the name after each (a search for both '<' and ':'
/// was a tenth of the parse stage).
pub(super) fn possible_entries(text: &str) -> usize {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'<', bytes)
        .filter(|&i| {
            // The name runs to its delimiter; a '<' ends it too, so that no
            // byte is read twice ("<<<<" is linear), and a name at the end of
            // the text without one still counts.
            let name = &bytes[i + 1..];
            let end = name
                .iter()
                .position(|b| matches!(b, b'>' | b' ' | b'/' | b'\t' | b'\n' | b'\r' | b'<'))
                .unwrap_or(name.len());
            let name = &name[..end];
            let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
            local.eq_ignore_ascii_case(b"item") || local.eq_ignore_ascii_case(b"entry")
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(n: usize) -> String {
        let items: String = (0..n)
            .map(|i| format!("<item><title>t{i}</title><guid>g{i}</guid></item>\n"))
            .collect();
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>c</title>{items}</channel></rss>"
        )
    }

    #[test]
    fn a_feed_within_the_limit_is_left_alone() {
        assert_eq!(keep_entries(&rss(3), 3), None);
        assert_eq!(keep_entries(&rss(3), 1000), None);
    }

    #[test]
    fn a_longer_feed_is_cut_after_its_last_kept_entry_and_closed() {
        let cut = keep_entries(&rss(10), 3).unwrap();
        assert!(
            cut.ends_with("<guid>g2</guid></item></channel></rss>"),
            "{cut}"
        );
        assert!(!cut.contains("g3"));
        let atom = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>a</title>{}</feed>",
            (0..5)
                .map(|i| format!("<entry><id>e{i}</id><title>t</title></entry>"))
                .collect::<String>()
        );
        let cut = keep_entries(&atom, 2).unwrap();
        assert!(
            cut.ends_with("<id>e1</id><title>t</title></entry></feed>"),
            "{cut}"
        );
        // RSS 1.0: items beside the channel, prefixed and upper case too.
        let rdf = format!(
            "<rdf:RDF><channel/>{}</rdf:RDF>",
            (0..4)
                .map(|i| format!("<rss:ITEM><title>t{i}</title></rss:ITEM>"))
                .collect::<String>()
        );
        assert!(
            keep_entries(&rdf, 2)
                .unwrap()
                .ends_with("<title>t1</title></rss:ITEM></rdf:RDF>")
        );
    }

    #[test]
    fn entries_are_counted_whatever_their_prefix() {
        let prefix = "p".repeat(100);
        let doc = format!("<rdf><{prefix}:item>a</{prefix}:item><x:ENTRY/><item\n/><itemx/></rdf>");
        assert_eq!(possible_entries(&doc), 3);
        assert_eq!(possible_entries("<item"), 1);
        assert_eq!(possible_entries(&"<".repeat(100_000)), 0);
    }

    #[test]
    fn what_quick_xml_cannot_read_is_left_whole() {
        let broken = "<rss><channel><item/><item/><![CDATA[ <item/><item/><item/> never closed";
        assert_eq!(keep_entries(broken, 3), None);
    }
}
