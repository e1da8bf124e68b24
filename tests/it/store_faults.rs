//! Faults inside the store that must cost only what they touch, driven
//! through the binary as an operator meets them: FTS5 unable to mark a
//! match (a valid rule whose marks FTS5 reports as damage), and a stored
//! text that cannot be read.

use std::path::Path;

use crate::support::*;

/// A feed file of `items` (title, summary), each published now.
fn write_feed(path: &Path, items: &[(&str, &str)]) {
    let now = chrono::Utc::now().to_rfc2822();
    let entries: String = items
        .iter()
        .enumerate()
        .map(|(n, (title, summary))| {
            format!(
                "<item><title>{title}</title><link>https://news.example/{n}</link>\
                 <guid>item-{n}</guid><pubDate>{now}</pubDate><description>{summary}</description></item>"
            )
        })
        .collect();
    std::fs::write(
        path,
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wire</title>\
             <link>https://news.example/</link><description>news</description>{entries}</channel></rss>"
        ),
    )
    .unwrap();
}

/// The rule the attacker found, and two ordinary items it matches: the
/// second has every word of the NEAR but not the phrase, which left FTS5's
/// marks reading the first item's positions.
const NEAR_RULE: &str = "[[rules]]\nname = \"near\"\nquery = 'NEAR(\"iran drone\" kyiv) OR iran'\n";
const NEAR_ITEMS: [(&str, &str); 2] = [
    (
        "Drone strikes",
        "Overnight, an Iran drone struck a power plant near Kyiv, officials said on Monday; \
         more drones were seen over the city later.",
    ),
    ("Iran says Kyiv talks", "Iran's envoy spoke of a drone."),
];

#[test]
fn a_near_phrase_rule_ored_with_a_term_stores_delivers_and_searches() {
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!("[[feeds]]\nname = \"wire\"\nurl = \"file://wire.xml\"\n{NEAR_RULE}"),
    );
    write_feed(&setup.dir.path().join("wire.xml"), &NEAR_ITEMS);
    let out = feedwatch_with(&setup.path, &["poll"], &[]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert_eq!(said.trim(), "wire: 2 new items, 2 matched");
    assert!(
        !text(&out.stderr).contains("damaged"),
        "not called damage: {}",
        text(&out.stderr)
    );

    let out = feedwatch_with(&setup.path, &["digest"], &[]);
    let message = decode_quoted_printable(&text(&out.stdout));
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (title, _) in NEAR_ITEMS {
        assert!(message.contains(title), "{title} in:\n{message}");
    }
    assert!(
        message.contains("envoy spoke of a drone"),
        "the second item has its snippet:\n{message}"
    );

    for args in [
        &["search", "--rule", "near"][..],
        &["search", "NEAR(\"iran drone\" kyiv) OR iran"],
    ] {
        let out = feedwatch_with(&setup.path, args, &[]);
        let found = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        for (title, _) in NEAR_ITEMS {
            assert!(found.contains(title), "{args:?}: {title} in:\n{found}");
        }
        assert!(found.contains("*Iran*"), "marked: {found}");
    }
}
