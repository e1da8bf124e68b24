//! Unit tests of digest rendering: grouping, marking, escaping, splitting,
//! the same story once, and the closing attention section.
use super::*;
use chrono::{TimeZone, Utc};

fn m(id: i64, title: &str, rules: &[&str], snippet: &str) -> MatchView {
    MatchView {
        match_ids: vec![id],
        item_id: id,
        rules: rules.iter().map(|r| r.to_string()).collect(),
        feed: "kyiv-independent".into(),
        title: title.into(),
        link: Some(format!("https://e.org/{id}?a=1&b=2")),
        published: Utc.with_ymd_and_hms(2024, 6, 24, 9, 30, 0).single(),
        snippet: snippet.into(),
        summary: format!("story number {id} with its own words"),
        also_in: Vec::new(),
    }
}

#[test]
fn groups_by_rule_marks_words_and_shows_local_time() {
    let ms = [
        m(
            1,
            "Ukraine and Iran talk",
            &["iran", "ukraine"],
            "talks on \u{2}Iranian\u{3} drones",
        ),
        m(2, "Tehran", &["iran"], "x"),
        m(3, "Kyiv", &["ukraine"], "y"),
    ];
    let tz: Tz = "Europe/Kyiv".parse().unwrap();
    let r = render(
        "morning",
        "feedwatch: {count} new in {digest} ({rules})",
        &ms,
        tz,
        &Attention::default(),
        &Recent::new(),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].subject, "feedwatch: 3 new in morning (iran, ukraine)");
    assert_eq!(r[0].match_ids, vec![1, 2, 3]);
    let text = &r[0].text;
    assert!(text.contains("iran (2)\n--------\n"), "{text}");
    assert!(text.contains("ukraine (1)\n-----------\n"), "{text}");
    assert!(text.contains("talks on *Iranian* drones"), "{text}");
    assert!(text.contains("2024-06-24 12:30 EEST"), "{text}");
    assert!(text.contains("rules: iran, ukraine"), "{text}");
    assert_eq!(
        text.matches("Ukraine and Iran talk").count(),
        1,
        "one item once"
    );
    let html = &r[0].html;
    assert!(html.contains(
        "talks on <mark style=\"background:#fff2a8;color:inherit\">Iranian</mark> drones"
    ));
    assert!(
        html.contains("href=\"https://e.org/1?a=1&amp;b=2\""),
        "{html}"
    );
}

#[test]
fn the_same_story_from_several_feeds_appears_once_with_also_in() {
    let text = "Russia launched 28 Shahed attack drones at southern Ukraine overnight, damaging two substations";
    let mut a = m(1, "Shahed drones hit Odesa region", &["drones"], "x");
    a.summary = text.into();
    let mut b = m(
        2,
        "Odesa region loses power after drone attack",
        &["ukraine"],
        "y",
    );
    b.feed = "reuters".into();
    b.summary = format!("{text}, the governor said.");
    let mut c = m(3, "Same link, other feed", &["drones"], "z");
    c.feed = "ap".into();
    c.link = a.link.clone();
    let other = m(4, "A different story", &["drones"], "w");
    let merged = merge_same_story(&[a, b, c, other], &Recent::new());
    assert_eq!(merged.len(), 2);
    // The fullest copy (reuters's, one clause longer) is the one shown.
    assert_eq!(merged[0].feed, "reuters");
    assert_eq!(merged[0].match_ids, vec![2, 1, 3]);
    assert_eq!(
        merged[0].rules,
        vec!["ukraine".to_string(), "drones".to_string()]
    );
    let copies: Vec<(&str, Option<&str>)> = merged[0]
        .also_in
        .iter()
        .map(|a| (a.feed.as_str(), a.link.as_deref()))
        .collect();
    assert_eq!(
        copies,
        [
            ("kyiv-independent", Some("https://e.org/1?a=1&b=2")),
            ("ap", Some("https://e.org/1?a=1&b=2"))
        ]
    );
    let r = render(
        "d",
        "{count}",
        &merged,
        Tz::UTC,
        &Attention::default(),
        &Recent::new(),
    );
    assert_eq!(r[0].subject, "2");
    let unwrapped = r[0].text.replace("\n  ", " ");
    assert!(
        unwrapped.contains("also in: kyiv-independent, ap"),
        "{}",
        r[0].text
    );
    assert!(
        r[0].text.contains("  - ap: https://e.org/1?a=1&b=2"),
        "{}",
        r[0].text
    );
    assert!(
        r[0].html.contains(", <a href=\"https://e.org/1?a=1&amp;b=2\" style=\"color:#5f6368\" title=\"Same link, other feed\">ap</a>"),
        "{}",
        r[0].html
    );
    assert_eq!(
        r[0].match_ids,
        vec![2, 1, 3, 4],
        "every merged match leaves pending with the digest"
    );
}

/// The harder same-story set as one digest's matches: whatever is merged,
/// every item is in the digest, shown in full or linked under "also in".
#[test]
fn every_match_appears_in_its_digest_in_full_or_as_also_in() {
    #[derive(serde::Deserialize)]
    struct Set {
        case: Vec<Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        a: Entry,
        b: Entry,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        feed: String,
        title: String,
        text: String,
        link: String,
    }
    let set: Set =
        toml::from_str(include_str!("../../tests/fixtures/same_story_hard.toml")).unwrap();
    let mut items: Vec<MatchView> = Vec::new();
    for e in set.case.iter().flat_map(|c| [&c.a, &c.b]) {
        if items
            .iter()
            .any(|m| m.link.as_deref() == Some(e.link.as_str()))
        {
            continue;
        }
        let id = items.len() as i64 + 1;
        let mut m = m(id, &e.title, &["r"], "");
        m.feed = e.feed.clone();
        m.summary = e.text.clone();
        m.link = Some(e.link.clone());
        items.push(m);
    }
    let mut recent = Recent::new();
    for m in &items {
        recent
            .entry(m.feed.clone())
            .or_default()
            .push((m.title.clone(), m.summary.clone()));
    }
    let parts = render(
        "d",
        "{count}",
        &items,
        Tz::UTC,
        &Attention::default(),
        &recent,
    );
    let text: String = parts.iter().map(|p| p.text.as_str()).collect();
    let html: String = parts.iter().map(|p| p.html.as_str()).collect();
    for m in &items {
        let link = m.link.as_deref().unwrap();
        assert!(text.contains(link), "{link} is missing from the text part");
        assert!(
            html.contains(&escape(link)),
            "{link} is missing from the HTML part"
        );
    }
    let mut ids: Vec<i64> = parts.iter().flat_map(|p| p.match_ids.clone()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=items.len() as i64).collect::<Vec<_>>());
}

#[test]
fn plain_text_is_wrapped_at_72_columns() {
    let long = "word ".repeat(100);
    let w = wrap(&long, "* ", "  ");
    assert!(w.lines().all(|l| l.chars().count() <= 72), "{w}");
    assert!(w.starts_with("* word") && w.lines().nth(1).is_some_and(|l| l.starts_with("  word")));
    assert_eq!(
        w.split_whitespace().filter(|x| *x == "word").count(),
        100,
        "no word lost"
    );
    let url = format!("x {}", "u".repeat(100));
    assert!(
        wrap(&url, "", "").contains(&"u".repeat(100)),
        "long words stay whole"
    );
}

#[test]
fn feed_text_never_becomes_markup_or_headers() {
    let ms = [m(
        1,
        "<script>alert(1)</script>\r\nBcc: x@evil",
        &["r"],
        "<img src=x onerror=alert(1)> \u{2}hit\u{3}",
    )];
    let r = render(
        "d",
        "{count} {rules}",
        &ms,
        Tz::UTC,
        &Attention::default(),
        &Recent::new(),
    );
    assert!(!r[0].html.contains("<script>"));
    assert!(!r[0].html.contains("<img"));
    assert!(r[0].html.contains("&lt;script&gt;"));
    assert!(
        r[0].html.contains("<mark"),
        "our own marker survives escaping"
    );
    assert!(!one_line("a\r\nBcc: b\u{2028}c").contains('\n'));
    assert_eq!(one_line("a\r\nBcc: b"), "a Bcc: b");
}

#[test]
fn big_digests_split_into_parts_under_the_limit_and_lose_nothing() {
    let long = "word ".repeat(300);
    let ms: Vec<MatchView> = (0..400)
        .map(|i| m(i, &format!("Story {i}"), &["r"], &long))
        .collect();
    let parts = render(
        "d",
        "{count} matches",
        &ms,
        Tz::UTC,
        &Attention::default(),
        &Recent::new(),
    );
    assert!(parts.len() > 1);
    let n = parts.len();
    for (i, p) in parts.iter().enumerate() {
        assert!(p.html.len() < 100_000, "part {i}: {}", p.html.len());
        assert!(
            p.subject.ends_with(&format!("(part {} of {n})", i + 1)),
            "{}",
            p.subject
        );
    }
    let ids: Vec<i64> = parts.iter().flat_map(|p| p.match_ids.clone()).collect();
    assert_eq!(ids, (0..400).collect::<Vec<_>>());
}

#[test]
fn the_last_part_ends_with_feeds_that_need_attention_and_undelivered_digests() {
    let when = Utc.with_ymd_and_hms(2024, 6, 23, 8, 0, 0).single().unwrap();
    let attention = Attention {
        failing: vec![("kyiv-post".into(), when, "HTTP 503 <b>".into())],
        gone: vec!["old-blog".into()],
        moved: vec![("wire".into(), "https://new.example.org/feed".into())],
        undelivered: vec![("morning".into(), when, 3, "connection refused".into())],
    };
    let ms = [m(1, "A story", &["r"], "x")];
    let r = render("d", "{count}", &ms, Tz::UTC, &attention, &Recent::new());
    let text = &r[0].text;
    assert!(text.contains("Feeds that need attention"), "{text}");
    assert!(
        text.contains("kyiv-post: failing since 2024-06-23 08:00 UTC (HTTP 503 <b>)"),
        "{text}"
    );
    assert!(text.contains("old-blog: gone (HTTP 410)"), "{text}");
    assert!(text.contains("wire: moved permanently to"), "{text}");
    assert!(
        text.contains("\"morning\" of 2024-06-23 08:00 UTC: 3 attempt(s), last error:"),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    assert!(r[0].html.contains("HTTP 503 &lt;b&gt;"), "escaped in HTML");
    let none = render(
        "d",
        "{count}",
        &ms,
        Tz::UTC,
        &Attention::default(),
        &Recent::new(),
    );
    assert!(!none[0].text.contains("need attention"));
}

#[test]
fn html_is_phone_friendly_and_carries_nothing_remote() {
    let mut evil = m(1, "t", &["r"], "x");
    evil.link = Some("https://e.org/a\"onmouseover=\"x".into());
    let r = render(
        "d",
        "{count}",
        &[evil, m(2, "u", &["r"], "y")],
        Tz::UTC,
        &Attention::default(),
        &Recent::new(),
    );
    let html = &r[0].html;
    assert!(html.contains("name=\"viewport\" content=\"width=device-width"));
    assert!(
        html.contains("max-width:640px"),
        "fluid below 640px, so a 375px screen needs no scrolling"
    );
    for banned in [
        "<img", "<script", "<style", "<link", "<iframe", "url(", ";width:", "\"width:", " width=",
    ] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
    for href in html.split("href=\"").skip(1) {
        assert!(
            href.starts_with("https://") || href.starts_with("http://"),
            "{href}"
        );
        let end = href.find('"').unwrap();
        assert!(
            !href[..end].contains('"'),
            "attribute cannot be broken out of"
        );
    }
    assert!(
        html.contains("a&quot;onmouseover"),
        "quotes in links are escaped"
    );
}
