//! Parse stage: feed autodiscovery (docs/fetching.md, "Fetching"). A URL that returns an HTML
//! page instead of a feed is searched for `<link rel="alternate"
//! type="application/rss+xml|atom+xml|feed+json" href="…">`. A small scanner
//! of `<link>` tags, not an HTML parser: it only needs those attributes.

use url::Url;

const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
];

/// The first feed an HTML page advertises, resolved against `base`.
pub fn discover(html: &[u8], base: &Url) -> Option<Url> {
    let text = String::from_utf8_lossy(&html[..html.len().min(512 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = lower[from..].find("<link") {
        let start = from + rel;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        from = end;
        let tag = &text[start..end];
        let attr = |name: &str| attribute(tag, name);
        let is_alternate = attr("rel").is_some_and(|r| {
            r.split_whitespace()
                .any(|w| w.eq_ignore_ascii_case("alternate"))
        });
        let is_feed = attr("type")
            .is_some_and(|t| FEED_TYPES.contains(&t.trim().to_ascii_lowercase().as_str()));
        if is_alternate
            && is_feed
            && let Some(url) = attr("href").and_then(|h| base.join(h.trim()).ok())
            && matches!(url.scheme(), "http" | "https")
        {
            return Some(url);
        }
    }
    None
}

/// The value of `name="…"`, `name='…'` or `name=…` in one tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = lower[from..].find(name) {
        let at = from + rel;
        from = at + name.len();
        let before_ok = at == 0 || lower[..at].ends_with(|c: char| c.is_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        return match value.chars().next()? {
            q @ ('"' | '\'') => value[1..].split(q).next(),
            _ => value.split(|c: char| c.is_whitespace() || c == '/').next(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.org/world/").unwrap()
    }

    #[test]
    fn finds_the_advertised_feed() {
        let html = br#"<!DOCTYPE html><html><head><title>News</title>
            <link rel="stylesheet" href="/s.css">
            <LINK REL="alternate" TYPE="application/rss+xml" TITLE="RSS" HREF="/feed/">
            <link rel="alternate" type="application/atom+xml" href="atom.xml">"#;
        assert_eq!(
            discover(html, &base()).unwrap().as_str(),
            "https://news.example.org/feed/"
        );
        let atom = br#"<link href='atom.xml' type='application/atom+xml' rel='alternate'/>"#;
        assert_eq!(
            discover(atom, &base()).unwrap().as_str(),
            "https://news.example.org/world/atom.xml"
        );
    }

    #[test]
    fn ignores_pages_without_a_feed_and_odd_links() {
        assert_eq!(
            discover(
                b"<html><link rel=alternate hreflang=fr href=/fr/></html>",
                &base()
            ),
            None
        );
        assert_eq!(
            discover(
                b"<link rel=alternate type=application/rss+xml href=javascript:x>",
                &base()
            ),
            None
        );
        assert_eq!(discover(b"plain text", &base()), None);
    }
}
