//! OPML, the feed-list format every reader exports: `import` turns an OPML
//! file into `[[feeds]]` TOML to paste into the config, `export` writes the
//! configured feeds as OPML (docs/reference.md, "Commands"). Pure: text in, text out.
//! Folders (nested outlines) and OPML 2.0 `category` attributes become tags;
//! a feed listed in several folders is one feed with all their tags, and
//! its title, its site (`htmlUrl`) and its folders' names as written are
//! kept. Export writes each of those folders (each tag, for a feed with
//! none) with the feed's title and site. Uses quick-xml, already in the
//! tree through feed-rs.

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};

/// A feed as OPML knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpmlFeed {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub url: String,
    /// The site's page (`htmlUrl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The folders it is in, as their names are written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("not a readable OPML file (at byte {position}): {message}")]
pub struct OpmlError {
    pub position: u64,
    pub message: String,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref().eq_ignore_ascii_case(name))
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::default())
                .ok()
                .map(|v| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
}

/// A config-friendly name: lower case, words joined by '-'.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(60).collect()
}

/// A config name from the title (or the URL), unique among `names`.
fn unique_name(names: &mut HashSet<String>, title: Option<&str>, url: &str) -> String {
    let base = title
        .map(slug)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| slug(url));
    let mut name = base.clone();
    let mut n = 2;
    while !names.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Reads the feeds of an OPML document, in document order, with unique names.
pub fn parse(text: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    // Folder names of the enclosing outlines (None for outlines that are feeds).
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut found = Found::default();
    let mut seen_opml = false;
    loop {
        let event = reader.read_event().map_err(|e| OpmlError {
            position: reader.buffer_position(),
            message: e.to_string(),
        })?;
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if e.name().as_ref() == "outline" {
                    folders.pop();
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.name().as_ref() {
            "opml" => seen_opml = true,
            "outline" => {
                let title = attr(e, "title").or_else(|| attr(e, "text"));
                match attr(e, "xmlUrl") {
                    Some(url) => {
                        let categories = attr(e, "category").unwrap_or_default();
                        let names: Vec<String> = folders.iter().flatten().cloned().collect();
                        found.add(OpmlFeed {
                            name: String::new(),
                            title,
                            url,
                            site: attr(e, "htmlUrl"),
                            tags: tags_of(&folders, &categories),
                            folders: names,
                        });
                        if !empty {
                            folders.push(None);
                        }
                    }
                    None if !empty => folders.push(title),
                    None => {}
                }
            }
            _ => {}
        }
    }
    if !seen_opml {
        return Err(OpmlError {
            position: 0,
            message: "no <opml> element".into(),
        });
    }
    Ok(found.feeds)
}

/// The feeds read so far, and the names they took.
#[derive(Default)]
struct Found {
    feeds: Vec<OpmlFeed>,
    names: HashSet<String>,
}

impl Found {
    /// A feed outline: a new feed, or, for the same feed in another folder,
    /// more tags and folders on the one already read.
    fn add(&mut self, mut feed: OpmlFeed) {
        if let Some(known) = self.feeds.iter_mut().find(|f| f.url == feed.url) {
            for (have, more) in [
                (&mut known.tags, feed.tags),
                (&mut known.folders, feed.folders),
            ] {
                for t in more {
                    if !have.contains(&t) {
                        have.push(t);
                    }
                }
            }
            known.site = known.site.take().or(feed.site);
            return;
        }
        feed.name = unique_name(&mut self.names, feed.title.as_deref(), &feed.url);
        self.feeds.push(feed);
    }
}

/// A feed's tags: the folders it is in, then its `category` attribute
/// (comma- or slash-separated), as slugs, each once.
fn tags_of(folders: &[Option<String>], categories: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let named = folders.iter().flatten().map(String::as_str);
    for t in named.chain(categories.split([',', '/'])).map(slug) {
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags
}

/// `[[feeds]]` tables for the config file.
pub fn to_toml(feeds: &[OpmlFeed]) -> String {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        feeds: &'a [OpmlFeed],
    }
    toml::to_string(&Doc { feeds }).unwrap_or_default()
}

/// An OPML 2.0 document listing `feeds`: each folder (a feed's
/// `folders` as imported, else its tags) holds its feeds (a feed in two is
/// in both, as readers list it), feeds in none at the top; the title is the
/// feed's title, else its name.
pub fn export(feeds: &[OpmlFeed]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head><title>feedwatch feeds</title></head>\n  <body>\n",
    );
    let folders_of = |f: &OpmlFeed| -> Vec<String> {
        if f.folders.is_empty() {
            f.tags.clone()
        } else {
            f.folders.clone()
        }
    };
    let mut folders: Vec<String> = Vec::new();
    for t in feeds.iter().flat_map(folders_of) {
        if !folders.contains(&t) {
            folders.push(t);
        }
    }
    for folder in &folders {
        let text = quick_xml::escape::escape(folder.as_str());
        out.push_str(&format!("    <outline text=\"{text}\" title=\"{text}\">\n"));
        for f in feeds.iter().filter(|f| folders_of(f).contains(folder)) {
            out.push_str(&format!("  {}", outline(f)));
        }
        out.push_str("    </outline>\n");
    }
    for f in feeds.iter().filter(|f| folders_of(f).is_empty()) {
        out.push_str(&outline(f));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn outline(f: &OpmlFeed) -> String {
    use quick_xml::escape::escape;
    let title = escape(f.title.as_deref().unwrap_or(&f.name)).into_owned();
    let site = f
        .site
        .as_deref()
        .map(|s| format!(" htmlUrl=\"{}\"", escape(s)))
        .unwrap_or_default();
    format!(
        "    <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\"{site}/>\n",
        escape(f.url.as_str())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &str = r#"<?xml version="1.0"?>
<opml version="1.0"><head><title>My feeds</title></head><body>
  <outline text="World &amp; Ukraine">
    <outline text="Kyiv Independent" type="rss" xmlUrl="https://kyivindependent.com/feed/" htmlUrl="https://kyivindependent.com/"/>
    <outline text="Reuters &quot;World&quot;" type="rss" xmlUrl="https://example.org/reuters?a=1&amp;b=2"/>
    <outline text="Tech"><outline title="Україна Tech" xmlUrl="https://example.org/ua.xml"/></outline>
    <outline text="BBC World" xmlUrl="https://example.org/bbc.xml"/>
  </outline>
  <outline text="Europe"><outline text="BBC World (again)" xmlUrl="https://example.org/bbc.xml"/></outline>
  <outline text="Kyiv Independent" xmlUrl="https://kyivindependent.com/other/" category="news,Europe/East"/>
  <outline xmlUrl="https://example.org/untitled.xml"/>
</body></opml>"#;

    #[test]
    fn import_handles_nested_outlines_odd_characters_and_duplicate_names() {
        let feeds = parse(NESTED).unwrap();
        let summary: Vec<(&str, &str, Vec<&str>)> = feeds
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.url.as_str(),
                    f.tags.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "kyiv-independent",
                    "https://kyivindependent.com/feed/",
                    vec!["world-ukraine"]
                ),
                (
                    "reuters-world",
                    "https://example.org/reuters?a=1&b=2",
                    vec!["world-ukraine"]
                ),
                (
                    "україна-tech",
                    "https://example.org/ua.xml",
                    vec!["world-ukraine", "tech"]
                ),
                (
                    "bbc-world",
                    "https://example.org/bbc.xml",
                    vec!["world-ukraine", "europe"]
                ),
                (
                    "kyiv-independent-2",
                    "https://kyivindependent.com/other/",
                    vec!["news", "europe", "east"]
                ),
                (
                    "https-example-org-untitled-xml",
                    "https://example.org/untitled.xml",
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn the_toml_it_prints_is_valid_config() {
        let toml_text = to_toml(&parse(NESTED).unwrap());
        assert!(toml_text.contains("[[feeds]]"));
        let config = format!(
            "state_dir = \"/tmp/x\"\n[email]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n\
             [[rules]]\nname = \"r\"\nquery = \"x\"\n{toml_text}"
        );
        let c = crate::config::parse(&config, std::path::Path::new("/x.toml"), None)
            .unwrap_or_else(|e| panic!("{e}\n{config}"));
        assert_eq!(c.feeds.len(), 6);
        assert_eq!(c.feeds[0].title.as_deref(), Some("Kyiv Independent"));
        assert_eq!(
            c.feeds[0].site.as_deref(),
            Some("https://kyivindependent.com/")
        );
        assert_eq!(c.feeds[0].folders, ["World & Ukraine"]);
        assert_eq!(
            c.feeds[1].url.as_str(),
            "https://example.org/reuters?a=1&b=2"
        );
    }

    #[test]
    fn a_feed_in_two_folders_is_imported_once_with_both_tags() {
        let feeds = parse(NESTED).unwrap();
        let bbc: Vec<&OpmlFeed> = feeds
            .iter()
            .filter(|f| f.url.ends_with("bbc.xml"))
            .collect();
        assert_eq!(bbc.len(), 1, "{feeds:?}");
        assert_eq!(bbc[0].tags, ["world-ukraine", "europe"]);
        assert_eq!(
            bbc[0].title.as_deref(),
            Some("BBC World"),
            "the first listing's title"
        );
    }

    #[test]
    fn export_keeps_folders_and_titles_and_round_trips() {
        let feeds = parse(NESTED).unwrap();
        let opml = export(&feeds);
        // The folder as it was written (its tag is world-ukraine), and the
        // site's page: exported as imported.
        assert!(
            opml.contains("<outline text=\"World &amp; Ukraine\" title=\"World &amp; Ukraine\">\n      <outline type=\"rss\" text=\"Kyiv Independent\""),
            "{opml}"
        );
        assert!(
            opml.contains("xmlUrl=\"https://kyivindependent.com/feed/\" htmlUrl=\"https://kyivindependent.com/\""),
            "{opml}"
        );
        assert!(
            opml.contains("title=\"Reuters &quot;World&quot;\""),
            "{opml}"
        );
        let again = parse(&opml).unwrap();
        let by_url = |fs: &[OpmlFeed]| {
            let mut v: Vec<(String, String, Vec<String>)> = fs
                .iter()
                .map(|f| {
                    let mut tags = f.tags.clone();
                    tags.sort();
                    // An untitled feed goes out under its name, and comes
                    // back with it as its title.
                    let title = f.title.clone().unwrap_or_else(|| f.name.clone());
                    (f.url.clone(), title, tags)
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(by_url(&again), by_url(&feeds), "{opml}");
        // Those imported from folders (the others' tags became folders).
        let in_folders: HashSet<&str> = feeds
            .iter()
            .filter(|f| !f.folders.is_empty())
            .map(|f| f.url.as_str())
            .collect();
        let folders_and_sites = |fs: &[OpmlFeed]| {
            let mut v: Vec<(String, Vec<String>, Option<String>)> = fs
                .iter()
                .filter(|f| in_folders.contains(f.url.as_str()))
                .map(|f| {
                    let mut folders = f.folders.clone();
                    folders.sort();
                    (f.url.clone(), folders, f.site.clone())
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            folders_and_sites(&again),
            folders_and_sites(&feeds),
            "{opml}"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("<html><body>no</body></html>").is_err());
        assert!(
            parse("<opml><body><outline text=\"x\"").is_err()
                || parse("<opml><body><outline text=\"x\"").unwrap().is_empty()
        );
        assert!(parse("").is_err());
    }
}
