//! Unit tests of digest rendering, each checked in the text and the HTML
//! part: a section per rule with pointers, counts in items, the subject,
//! marking, escaping, splitting, the same story once, stories already
//! reported, the footer, and the closing attention section.
use super::*;
use chrono::{TimeZone, Utc};

use crate::model::{AlsoIn, FailingFeed, MovedFeed, NeverFetched, Undelivered};

fn m(id: i64, title: &str, rules: &[&str], snippet: &str) -> MatchView {
    MatchView {
        unreadable: false,
        match_ids: vec![id],
        item_id: id,
        rules: rules.iter().map(|r| r.to_string()).collect(),
        feed: "kyiv-independent".into(),
        title: title.into(),
        title_marked: title.into(),
        rule_snippets: rules
            .iter()
            .map(|r| (r.to_string(), snippet.to_string()))
            .collect(),
        link: Some(format!("https://e.org/{id}?a=1&b=2")),
        published: Utc.with_ymd_and_hms(2024, 6, 24, 9, 30, 0).single(),
        fetched_at: Utc.with_ymd_and_hms(2024, 6, 24, 9, 35, 0).unwrap(),
        snippet: snippet.into(),
        in_article: false,
        summary: format!("story number {id} with its own words"),
        also_in: Vec::new(),
    }
}

/// A digest "d" of `matches` with nothing else in it: the rules in the
/// order the matches name them, UTC, no memory, no attention.
struct Run {
    subject: &'static str,
    rules: Vec<String>,
    recent: Recent,
    sent: Vec<SentStory>,
    attention: Attention,
    coverage: Option<crate::model::Coverage>,
    tz: Tz,
}

impl Run {
    fn new(matches: &[MatchView]) -> Self {
        let mut rules: Vec<String> = Vec::new();
        for r in matches.iter().flat_map(|m| &m.rules) {
            if !rules.contains(r) {
                rules.push(r.clone());
            }
        }
        Run {
            subject: "{count}",
            rules,
            recent: Recent::new(),
            sent: Vec::new(),
            attention: Attention::default(),
            coverage: None,
            tz: Tz::UTC,
        }
    }

    fn render(&self, matches: &[MatchView]) -> Vec<Rendered> {
        render(&Request {
            name: "d",
            title: "D digest",
            subject: self.subject,
            tz: self.tz,
            rules: &self.rules,
            matches,
            recent: &self.recent,
            sent: &self.sent,
            memory: chrono::Duration::days(3),
            attention: &self.attention,
            coverage: self.coverage.as_ref(),
            news: &SourceNews::default(),
            send_empty: false,
            footer: Footer {
                host: "news-box".into(),
                config: "/etc/feedwatch/feedwatch.toml".into(),
                next: Some("2024-06-25 07:00 EEST".into()),
            },
            now: Utc.with_ymd_and_hms(2024, 6, 24, 10, 0, 0).unwrap(),
        })
    }
}

/// Text with its line breaks and indents as single spaces.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn render_all(matches: &[MatchView]) -> Vec<Rendered> {
    Run::new(matches).render(matches)
}

#[test]
fn every_rule_has_its_section_and_an_item_is_in_full_once() {
    let mut talk = m(
        1,
        "Ukraine and Iran talk",
        &["iran", "ukraine"],
        "talks on \u{2}Iranian\u{3} \u{2}drones\u{3}",
    );
    // Each rule's own snippet: the pointer under "ukraine" shows its words.
    talk.rule_snippets = vec![
        ("iran".into(), "talks on \u{2}Iranian\u{3} drones".into()),
        (
            "ukraine".into(),
            "the envoys of \u{2}Ukraine\u{3} met in Oman on Monday for talks on drones that lasted six hours".into(),
        ),
    ];
    let ms = [
        talk,
        m(2, "Tehran", &["iran"], "x"),
        m(3, "Kyiv", &["ukraine"], "y"),
    ];
    let mut run = Run::new(&ms);
    run.subject = "feedwatch: {count} new {items} in {digest} ({rules})";
    run.tz = "Europe/Kyiv".parse().unwrap();
    let r = run.render(&ms);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].subject, "feedwatch: 3 new items in d (iran, ukraine)");
    assert_eq!(r[0].match_ids, vec![1, 2, 3]);
    let text = &r[0].text;
    assert!(
        text.starts_with("D digest: 3 new items\nAs of 2024-06-24 13:00 EEST\n"),
        "the heading, then the time it covers: {text}"
    );
    assert!(text.contains("iran (2 items)\n--------------\n"), "{text}");
    assert!(
        text.contains("ukraine (1 item, and 1 under another rule)\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("talks on *Iranian* *drones*").count(),
        1,
        "in full once: {text}"
    );
    assert!(
        text.contains("* Ukraine and Iran talk\n  \u{201c}the envoys of *Ukraine* met in Oman on Monday for talks on drones…\u{201d}\n  (in full under \"iran\")"),
        "a pointer in the other rule's section, with that rule's words: {text}"
    );
    assert!(text.contains("2024-06-24 12:30 EEST"), "{text}");
    assert!(text.contains("rules: iran, ukraine"), "{text}");
    let html = &r[0].html;
    assert!(
        html.contains(
            "iran <span class=\"fw-m\" style=\"font-weight:normal;color:#5f6368\">(2 items)</span>"
        ),
        "{html}"
    );
    // The sections' items in full add up to the heading's 3.
    assert!(html.contains(
        "ukraine <span class=\"fw-m\" style=\"font-weight:normal;color:#5f6368\">(1 item, and 1 under another rule)</span>"
    ));
    assert_eq!(
        html.matches("<mark").count(),
        3,
        "both rules' words in the entry, the pointer's rule's in its fragment"
    );
    assert!(
        html.contains("&ldquo;the envoys of <mark style=\"background:#fff2a8;color:#202124\">Ukraine</mark> met"),
        "{html}"
    );
    assert!(html.contains("in full under &ldquo;iran&rdquo;"), "{html}");
    assert!(
        html.contains("href=\"https://e.org/1?a=1&amp;b=2\""),
        "{html}"
    );
}

#[test]
fn the_subject_reads_right_for_one_and_for_many() {
    let one = [m(1, "A", &["r"], "x")];
    let mut run = Run::new(&one);
    run.subject = "feedwatch: {count} new {items}";
    assert_eq!(run.render(&one)[0].subject, "feedwatch: 1 new item");
    assert!(run.render(&one)[0].text.starts_with("D digest: 1 new item"));
    let two = [m(1, "A", &["r"], "x"), m(2, "B", &["r"], "y")];
    assert_eq!(run.render(&two)[0].subject, "feedwatch: 2 new items");
}

#[test]
fn the_same_story_from_several_feeds_appears_once_with_also_in_links() {
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
    // A headline only: too short to compare, the shared link decides.
    c.summary = String::new();
    let other = m(4, "A different story", &["drones"], "w");
    let ms = [a, b, c, other];
    let merged = merge_same_story(&ms, &Recent::new());
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
    let r = render_all(&ms);
    assert_eq!(
        r[0].subject, "4",
        "four items: two stories, one in three copies"
    );
    // Each other copy is a line of its own: its feed, its headline, its link.
    assert!(
        r[0].text
            .contains("  + also in ap: Same link, other feed\n    https://e.org/1?a=1&b=2\n"),
        "{}",
        r[0].text
    );
    assert!(
        r[0].html.contains("also in ap: <a href=\"https://e.org/1?a=1&amp;b=2\" style=\"color:#0b57d0;text-decoration:underline\">Same link, other feed</a>"),
        "{}",
        r[0].html
    );
    assert!(
        r[0].text.contains("drones (4 items)"),
        "the story's three lines and the other story"
    );
    let mut ids = r[0].match_ids.clone();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec![1, 2, 3, 4],
        "every merged match leaves pending with the digest"
    );
}

/// The harder same-story set as one digest's matches: whatever is merged,
/// every item is in the digest, shown in full, linked under "also in", or
/// by its linked headline past its feed's cap.
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
    let mut run = Run::new(&items);
    for m in &items {
        run.recent
            .entry(m.feed.clone())
            .or_default()
            .push((m.title.clone(), m.summary.clone()));
    }
    let parts = run.render(&items);
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

fn sent(title: &str, text: &str, link: &str, at: DateTime<Utc>) -> SentStory {
    let print = same_story::fingerprint(title, text, &Default::default());
    SentStory {
        digest: "d".into(),
        sent_at: at,
        feed: "wire".into(),
        title: title.into(),
        link: Some(link.into()),
        shingles: print.all,
        lede: print.lede,
    }
}

#[test]
fn a_later_copy_of_a_story_already_reported_is_listed_as_such_not_as_new() {
    let wire = "Russia launched 28 Shahed attack drones at southern Ukraine overnight, damaging two \
                substations and an electricity line in the Odesa region, the regional governor said.";
    let yesterday = Utc.with_ymd_and_hms(2024, 6, 23, 7, 0, 0).unwrap();
    let mut late = m(
        1,
        "Odesa region loses power after Shahed attack",
        &["drones"],
        "x",
    );
    late.summary = wire.into();
    late.feed = "local-paper".into();
    let fresh = m(2, "Something else entirely", &["drones"], "y");
    let mut run = Run::new(&[late.clone(), fresh.clone()]);
    run.sent = vec![sent(
        "Shahed drones hit Odesa region",
        wire,
        "https://wire/1",
        yesterday,
    )];
    let r = run.render(&[late.clone(), fresh]);
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].subject, "1 (1 already reported)",
        "one new item, and the copy"
    );
    let text = &r[0].text;
    assert!(text.contains("Already reported (later copies)"), "{text}");
    assert!(
        text.replace("\n  ", " ").contains(
            "* Odesa region loses power after Shahed attack (local-paper; rules: drones): reported in \"d\" on 2024-06-23 07:00 UTC as \"Shahed drones hit Odesa region\" (wire)"
        ),
        "{text}"
    );
    assert!(
        !text.contains("drones (2 items)"),
        "not counted as new: {text}"
    );
    assert!(r[0].html.contains("Already reported (later copies)"));
    assert!(
        r[0].html
            .contains("reported in &quot;d&quot; on 2024-06-23 07:00 UTC")
    );
    assert!(
        r[0].match_ids.contains(&1),
        "it leaves pending with the digest"
    );
    // Only later copies pending: they go all the same, once, as lines (a
    // match is never withheld waiting for news that may not come).
    let only = run.render(&[late.clone()]);
    assert_eq!(only.len(), 1);
    assert!(
        only[0]
            .text
            .starts_with("D digest: no new items, 1 already reported"),
        "{}",
        only[0].text
    );
    assert!(only[0].match_ids.contains(&1));
    assert!(only[0].text.contains("Already reported (later copies)"));
    // Past the memory, a copy is news again.
    run.sent[0].sent_at = yesterday - chrono::Duration::days(5);
    assert_eq!(run.render(&[late]).len(), 1);
}

/// A status page linked by distinct events: a later event at the link of
/// one already reported is news, not a copy (it was withheld for good);
/// the same text at that link is still a copy.
#[test]
fn a_new_event_at_the_link_of_a_story_already_reported_is_news() {
    let yesterday = Utc.with_ymd_and_hms(2024, 6, 23, 7, 0, 0).unwrap();
    let status = "https://status.example.org/alerts";
    let mut run = Run::new(&[]);
    run.sent = vec![sent(
        "Air raid alert in Kyiv region",
        "Air raid alert declared in Kyiv region at 02:10 because of Shahed drones approaching from the south.",
        status,
        yesterday,
    )];
    let mut event = m(1, "Drone debris falls on Obolon district", &["drones"], "x");
    event.link = Some(status.into());
    event.summary = "Falling debris of a downed drone damaged a high-rise building in Obolon; two people were injured, the city administration reported.".into();
    let r = run.render(std::slice::from_ref(&event));
    assert_eq!(r.len(), 1);
    assert!(
        r[0].text.starts_with("D digest: 1 new item\n"),
        "{}",
        r[0].text
    );
    assert!(!r[0].text.contains("Already reported"), "{}", r[0].text);
    // The same text again at that link: a copy.
    let mut copy = event.clone();
    copy.title = "Air raid alert in Kyiv region".into();
    copy.summary = "Air raid alert declared in Kyiv region at 02:10 because of Shahed drones approaching from the south.".into();
    let r = run.render(&[copy]);
    assert!(r[0].text.contains("Already reported"), "{}", r[0].text);
}

/// Entries are ordered by the time they show: a story whose fullest copy
/// (the one shown) is older than another story stands after it, though a
/// later, shorter copy of it is the newest item (it was placed by that copy
/// and showed the older time).
#[test]
fn entries_are_ordered_by_the_time_they_show() {
    let at = |h| Utc.with_ymd_and_hms(2024, 6, 24, h, 0, 0).single();
    let text = "Russia launched 28 Shahed attack drones at southern Ukraine overnight, damaging two substations and an electricity line in the Odesa region, the regional governor said.";
    let mut full = m(
        1,
        "Odesa region loses power after Shahed attack",
        &["r"],
        "x",
    );
    full.summary = format!("{text} Repairs will take two days.");
    full.published = at(6);
    let mut short = m(2, "Odesa loses power", &["r"], "x");
    short.summary = text.into();
    short.published = at(11);
    short.feed = "wire".into();
    let mut other = m(3, "Kharkiv metro reopens", &["r"], "y");
    other.published = at(9);
    let r = render_all(&[short, other, full]);
    let text = &r[0].text;
    let (kharkiv, odesa) = (
        text.find("* Kharkiv metro reopens").unwrap(),
        text.find("* Odesa region loses power").unwrap(),
    );
    assert!(kharkiv < odesa, "09:00 before 06:00: {text}");
    assert!(text.contains("2024-06-24 06:00"), "{text}");
    let html = &r[0].html;
    assert!(
        html.find("Kharkiv metro reopens").unwrap()
            < html.find("Odesa region loses power").unwrap(),
        "{html}"
    );
}

/// A feed's update of a story is shown under it with what it changed,
/// not as a story of its own; an update of a story already reported says
/// what changed on its "already reported" line.
#[test]
fn an_update_says_what_it_changed() {
    let at = |h| Utc.with_ymd_and_hms(2024, 6, 24, h, 0, 0).single();
    let two = "Falling debris from a Russian drone shot down over Kyiv's Obolon district injured two people and damaged a nine-storey residential building early on Wednesday, the head of the city military administration said. Fires broke out on the top floors and were put out by 5 a.m. Residents of 40 flats were evacuated.";
    let four = "Falling debris from a Russian drone shot down over Kyiv's Obolon district injured four people and damaged a nine-storey residential building early on Wednesday, the head of the city military administration said. Fires broke out on the top floors and were put out by 5 a.m. Residents of 40 flats were evacuated.";
    let mut first = m(1, "Drone debris injures two in Kyiv", &["drones"], "x");
    first.summary = format!("{two} Schools in the district are closed.");
    first.published = at(5);
    let mut later = m(2, "Drone debris injures four in Kyiv", &["drones"], "x");
    later.summary = four.into();
    later.published = at(8);
    let r = render_all(&[later.clone(), first.clone()]);
    let text = squash(&r[0].text);
    assert!(text.contains("D digest: 2 new items"), "{text}");
    assert_eq!(
        text.matches("* Drone debris").count(),
        1,
        "one story: {text}"
    );
    assert!(
        text.contains(
            "+ updated 2024-06-24 08:00 UTC in kyiv-independent: Drone debris injures four in Kyiv"
        ),
        "{text}"
    );
    assert!(text.contains("injured four people"), "what changed: {text}");
    assert!(
        r[0].html
            .contains("updated 2024-06-24 08:00 UTC in kyiv-independent")
    );

    // The first went out yesterday; the update comes alone.
    let mut run = Run::new(&[]);
    run.sent = vec![sent(
        &first.title,
        &first.summary,
        "https://e.org/1",
        at(6).unwrap(),
    )];
    let r = run.render(std::slice::from_ref(&later));
    let text = squash(&r[0].text);
    assert!(text.contains("no new items, 1 update"), "{text}");
    assert!(
        text.contains("Already reported (updates and later copies)"),
        "{text}"
    );
    assert_eq!(r[0].subject, "1 (1 update)".replacen("1 ", "0 ", 1));
    assert!(
        text.contains("What changed: Falling debris from a Russian drone shot down over Kyiv's Obolon district injured four people"),
        "{text}"
    );
    assert!(r[0].html.contains("What changed: "));
    // The update is remembered: the same text again later is a copy of
    // it, with nothing changed to tell.
    run.sent.extend(r[0].stories.clone());
    let mut again = later.clone();
    again.item_id = 9;
    again.match_ids = vec![9];
    again.feed = "mirror".into();
    again.link = Some("https://mirror.example/9".into());
    let r = run.render(&[again]);
    let text = squash(&r[0].text);
    assert!(text.contains("no new items, 1 already reported"), "{text}");
    assert!(!text.contains("What changed"), "{text}");
}

/// A fragment cut inside a marked phrase closes the mark it opened.
#[test]
fn a_fragment_never_leaves_a_mark_open() {
    let mut story = m(1, "Air defence at work", &["a", "b"], "x");
    story.rule_snippets = vec![(
        "b".into(),
        "one two three four five six \u{2}air defence over the city of Kyiv at night when the alert sounded again\u{3} and more words follow here".into(),
    )];
    let f = super::layout::fragment(&story, "b").unwrap();
    assert_eq!(
        f.matches('\u{2}').count(),
        f.matches('\u{3}').count(),
        "{f:?}"
    );
}

/// Two wire stories whose FTS5 snippet was the background paragraph the
/// wire puts in every drone story: each shows a sentence of its own news
/// with the matched words instead.
#[test]
fn a_snippet_shows_the_items_own_news_not_its_feeds_background() {
    let background = "Moscow has launched thousands of Shahed drones, first supplied by Iran in 2022 and now built in Russia, at Ukrainian cities and energy sites.";
    let marked_background = "Moscow has launched thousands of Shahed \u{2}drones\u{3}, first supplied by Iran in 2022 and now built in Russia, at Ukrainian cities and energy sites.";
    let mut a = m(
        1,
        "Ukraine says Russia launched 120 drones overnight",
        &["drones"],
        marked_background,
    );
    a.feed = "globalwire".into();
    a.summary = format!(
        "Russia launched 120 drones and two ballistic missiles at Ukraine overnight, Ukraine's air force said on Saturday, of which 98 were shot down. {background}"
    );
    let mut b = m(
        2,
        "Romania scrambles jets as drone crosses into its airspace",
        &["drones"],
        marked_background,
    );
    b.feed = "globalwire".into();
    b.summary = format!(
        "Romania scrambled two F-16 fighter jets on Saturday after a drone entered its airspace near the Danube, the defence ministry said. {background}"
    );
    let mut run = Run::new(&[a.clone(), b.clone()]);
    run.recent.insert(
        "globalwire".into(),
        vec![
            (a.title.clone(), a.summary.clone()),
            (b.title.clone(), b.summary.clone()),
            (
                "Kyiv shoots down drones headed for power plant".into(),
                format!("Air defences shot down 14 drones near Kyiv overnight. {background}"),
            ),
        ],
    );
    let r = run.render(&[a, b]);
    let text = &r[0].text;
    assert!(
        !text.contains("first supplied by Iran"),
        "the background is not the snippet: {text}"
    );
    assert!(
        text.contains("Russia launched 120 *drones* and two"),
        "{text}"
    );
    assert!(
        squash(text).contains("after a *drone* entered its airspace")
            || squash(text).contains("after a drone entered"),
        "{text}"
    );
    assert!(r[0].html.contains("launched 120 <mark"), "{}", r[0].html);
}

/// A firehose feed is capped: its stories past the cap are a headline
/// each, under a line with the search that lists them in full, counted and
/// delivered all the same; the other feeds' stories are all in full.
#[test]
fn a_firehose_feed_is_capped_with_the_search_for_the_rest() {
    let mut ms: Vec<MatchView> = (1..=12)
        .map(|i| {
            let mut x = m(i, &format!("Live: update number {i}"), &["r"], "x");
            x.feed = "liveblog".into();
            x.summary = format!("entry {i} of the blog, with words of its own number {i}");
            x.published = Utc.with_ymd_and_hms(2024, 6, 24, 9, i as u32, 0).single();
            x
        })
        .collect();
    // An old story past the cap carries a copy of another feed: it is
    // listed too.
    ms[0].also_in.push(AlsoIn {
        lang: None,
        feed: "mirror".into(),
        title: "Mirror of update one".into(),
        link: Some("https://mirror.example/1".into()),
        ..Default::default()
    });
    ms.push(m(13, "Wire story", &["r"], "y"));
    ms.push(m(14, "Another wire story", &["r"], "z"));
    let r = render_all(&ms);
    assert_eq!(r.len(), 1);
    let text = &r[0].text;
    assert!(text.starts_with("D digest: 15 new items"), "{text}");
    assert_eq!(text.matches("* Live: update number").count(), 8, "{text}");
    assert!(
        text.contains("* Wire story") && text.contains("* Another wire story"),
        "{text}"
    );
    assert!(
        squash(text).contains(
            "* 5 more items from liveblog: feedwatch search --rule r --since 1h --limit 13"
        ),
        "{text}"
    );
    assert!(
        text.contains("* Live: update number 12"),
        "the newest in full: {text}"
    );
    // The rest by their headlines: nothing is left out.
    assert!(
        text.contains("  - Live: update number 4\n    https://e.org/4"),
        "{text}"
    );
    assert_eq!(text.matches("Live: update number").count(), 12, "{text}");
    assert!(
        text.contains("    + also in mirror: Mirror of update one\n      https://mirror.example/1"),
        "{text}"
    );
    assert!(r[0].html.contains("https://mirror.example/1"));
    let mut ids = r[0].match_ids.clone();
    ids.sort_unstable();
    assert_eq!(ids, (1..=14).collect::<Vec<i64>>(), "all delivered");
    assert!(r[0].html.contains("5 more items from liveblog"));
}

/// A busy message opens with the stories told most and the sections with
/// their counts (linked in HTML); a short one does not.
#[test]
fn a_busy_digest_opens_with_the_stories_told_most_and_its_sections() {
    let mut big = m(1, "Drones hit Odesa port", &["drones", "odesa"], "x");
    big.also_in.push(AlsoIn {
        lang: None,
        feed: "wire".into(),
        title: "Odesa port hit by drones".into(),
        link: Some("https://wire.example/1".into()),
        ..Default::default()
    });
    let ms = [
        big,
        m(2, "Kyiv metro reopens", &["kyiv"], "y"),
        m(3, "Sanctions on tankers", &["sanctions"], "z"),
    ];
    let r = render_all(&ms);
    let text = &r[0].text;
    assert!(
        text.contains("Told most\n---------\n* Drones hit Odesa port (2 outlets, 2 rules)"),
        "{text}"
    );
    assert!(
        squash(text).contains("Sections: drones (2 items) · odesa (1 item under another rule) · kyiv (1 item) · sanctions (1 item)"),
        "{text}"
    );
    assert!(
        r[0].html.contains("<a href=\"#section-0\""),
        "{}",
        r[0].html
    );
    assert!(r[0].html.contains("<h2 id=\"section-0\""));
    // One section, two stories: no top block.
    let r = render_all(&[m(1, "A", &["r"], "x"), m(2, "B", &["r"], "y")]);
    assert!(!r[0].text.contains("Sections:") && !r[0].text.contains("Told most"));
}

#[test]
fn the_parts_remember_every_copy_they_report() {
    let ms = [m(1, "A", &["r"], "x"), m(2, "B", &["r"], "y")];
    let r = render_all(&ms);
    let remembered: Vec<(&str, Option<&str>)> = r[0]
        .stories
        .iter()
        .map(|s| (s.title.as_str(), s.link.as_deref()))
        .collect();
    assert_eq!(
        remembered,
        [
            ("A", Some("https://e.org/1?a=1&b=2")),
            ("B", Some("https://e.org/2?a=1&b=2"))
        ]
    );
    assert_eq!(
        r[0].stories[0].sent_at,
        Utc.with_ymd_and_hms(2024, 6, 24, 10, 0, 0).unwrap()
    );
}

#[test]
fn headlines_are_marked_and_a_snippet_that_repeats_the_title_is_left_out() {
    let mut only_title = m(
        1,
        "Kyiv power restored",
        &["kyiv"],
        "\u{2}Kyiv\u{3} power restored",
    );
    only_title.title_marked = "\u{2}Kyiv\u{3} power restored".into();
    let r = render_all(&[only_title]);
    assert!(
        r[0].text.contains("* Kyiv power restored\n"),
        "{}",
        r[0].text
    );
    assert_eq!(
        r[0].text.matches("power restored").count(),
        1,
        "no repeat: {}",
        r[0].text
    );
    assert!(r[0].html.contains(
        "<mark style=\"background:#fff2a8;color:#202124\">Kyiv</mark> power restored</a>"
    ));
    assert_eq!(
        r[0].html.matches("power restored").count(),
        1,
        "the headline, no snippet"
    );
}

/// A copy at the very page the story links to is named, not linked again.
#[test]
fn a_copy_at_the_same_page_is_not_linked_twice() {
    let mut story = m(1, "EU sanctions", &["r"], "x");
    story.also_in.push(AlsoIn {
        lang: None,
        feed: "europe-today".into(),
        title: "Brussels seals sanctions".into(),
        link: story.link.clone(),
        ..Default::default()
    });
    let r = render_all(&[story]);
    assert!(
        r[0].text
            .contains("also in europe-today: Brussels seals sanctions\n    (the same page)"),
        "{}",
        r[0].text
    );
    assert!(
        r[0].html.contains(
            "also in europe-today: Brussels seals sanctions <span>(the same page)</span>"
        )
    );
}

/// A copy whose headline is word for word the one shown is named by its
/// feed, linked: the headline is not repeated.
#[test]
fn an_identical_headline_is_not_repeated() {
    let mut story = m(1, "Drone strike hits Odesa port", &["r"], "x");
    story.also_in.push(AlsoIn {
        lang: None,
        feed: "betawire".into(),
        title: "Drone strike hits Odesa port".into(),
        link: Some("https://betawire.example/odesa".into()),
        ..Default::default()
    });
    let r = render_all(&[story]);
    assert_eq!(
        r[0].text.matches("Drone strike hits Odesa port").count(),
        1,
        "{}",
        r[0].text
    );
    assert!(
        r[0].text
            .contains("  + also in betawire\n    https://betawire.example/odesa\n"),
        "{}",
        r[0].text
    );
    assert!(r[0].html.contains(
        "also in <a href=\"https://betawire.example/odesa\" style=\"color:#0b57d0;text-decoration:underline\">betawire</a>"
    ));
}

#[test]
fn the_footer_says_where_it_came_from_and_when_it_comes_next() {
    let r = render_all(&[m(1, "A", &["r"], "x")]);
    let unwrapped = r[0].text.replace('\n', " ");
    assert!(
        unwrapped.contains(
            "Sent by feedwatch on news-box for the rules in /etc/feedwatch/feedwatch.toml."
        ),
        "{}",
        r[0].text
    );
    assert!(unwrapped.contains("The next \"d\" digest is due 2024-06-25 07:00 EEST."));
    assert!(
        r[0].html.contains(
            "Sent by feedwatch on news-box for the rules in /etc/feedwatch/feedwatch.toml."
        )
    );
    assert!(
        r[0].html
            .contains("The next &quot;d&quot; digest is due 2024-06-25 07:00 EEST.")
    );
}

#[test]
fn plain_text_is_wrapped_at_72_columns() {
    let long = "word ".repeat(100);
    let w = text::wrap(&long, "* ", "  ");
    assert!(w.lines().all(|l| l.chars().count() <= 72), "{w}");
    assert!(w.starts_with("* word") && w.lines().nth(1).is_some_and(|l| l.starts_with("  word")));
    assert_eq!(
        w.split_whitespace().filter(|x| *x == "word").count(),
        100,
        "no word lost"
    );
    let url = format!("x {}", "u".repeat(100));
    assert!(
        text::wrap(&url, "", "").contains(&"u".repeat(100)),
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
    let mut run = Run::new(&ms);
    run.subject = "{count} {rules}";
    let r = run.render(&ms);
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
    let parts = render_all(&ms);
    assert!(parts.len() > 1);
    let n = parts.len();
    for (i, p) in parts.iter().enumerate() {
        assert!(p.html.len() < 100_000, "part {i}: {}", p.html.len());
        assert!(
            p.subject.ends_with(&format!("(part {} of {n})", i + 1)),
            "{}",
            p.subject
        );
        assert!(
            p.text.contains(&format!("Part {} of {n} (", i + 1)),
            "{}",
            p.text
        );
        assert!(p.html.contains(&format!("Part {} of {n} (", i + 1)));
    }
    let ids: Vec<i64> = parts.iter().flat_map(|p| p.match_ids.clone()).collect();
    assert_eq!(ids, (0..400).collect::<Vec<_>>());
}

#[test]
fn the_last_part_ends_with_feeds_that_need_attention_and_undelivered_digests() {
    let when = Utc.with_ymd_and_hms(2024, 6, 23, 8, 0, 0).single().unwrap();
    let ms = [m(1, "A story", &["r"], "x")];
    let mut run = Run::new(&ms);
    run.attention = Attention {
        failing: vec![FailingFeed {
            feed: "kyiv-post".into(),
            since: when,
            polls: 4,
            error: "HTTP 503 <b>".into(),
        }],
        never_fetched: vec![NeverFetched {
            feed: "typo".into(),
            error: "HTTP 404".into(),
        }],
        gone: vec!["old-blog".into()],
        moved: vec![MovedFeed {
            feed: "wire".into(),
            to: "https://new.example.org/feed".into(),
        }],
        undelivered: vec![Undelivered {
            digest: "morning".into(),
            written_at: when,
            attempts: 3,
            error: "connection refused".into(),
        }],
    };
    let r = run.render(&ms);
    let text = &r[0].text;
    assert!(text.contains("Feeds that need attention"), "{text}");
    assert!(
        squash(text).contains(
            "kyiv-post: down since 2024-06-23 08:00 UTC, 4 polls in a row failed (HTTP 503 <b>)"
        ),
        "{text}"
    );
    assert!(text.contains("old-blog: gone (HTTP 410)"), "{text}");
    assert!(
        squash(text).contains(
            "typo: not fetched successfully since it was added (HTTP 404); check its URL"
        ),
        "{text}"
    );
    assert!(text.contains("wire: moved permanently to"), "{text}");
    assert!(
        text.contains("\"morning\" of 2024-06-23 08:00 UTC: 3 attempt(s), last error:"),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    assert!(r[0].html.contains("HTTP 503 &lt;b&gt;"), "escaped in HTML");
    let none = render_all(&ms);
    assert!(!none[0].text.contains("need attention"));
}

#[test]
fn html_is_phone_friendly_and_carries_nothing_remote() {
    let mut evil = m(1, "t", &["r"], "x");
    evil.link = Some("https://e.org/a\"onmouseover=\"x".into());
    evil.also_in.push(AlsoIn {
        lang: None,
        feed: "f".into(),
        title: "t2".into(),
        link: Some("https://e.org/b".into()),
        ..Default::default()
    });
    let r = render_all(&[evil, m(2, "u", &["r"], "y")]);
    let html = &r[0].html;
    assert!(html.contains("name=\"viewport\" content=\"width=device-width"));
    assert!(
        html.contains("max-width:640px"),
        "fluid below 640px, so a 375px screen needs no scrolling"
    );
    for banned in [
        "<img", "<script", "<link", "<iframe", "url(", "@import", ";width:", "\"width:", " width=",
    ] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
    // One style sheet, ours: the dark mode (inline styles are the light).
    assert_eq!(html.matches("<style").count(), 1, "{html}");
    assert!(html.contains("@media (prefers-color-scheme:dark)"));
    assert!(html.contains("<html lang=\"en\">"));
    // Links are underlined: not told apart by hue alone.
    assert!(!html.contains("text-decoration:none"));
    // No text smaller than 14 px (phones).
    for small in ["font-size:12px", "font-size:13px"] {
        assert!(!html.contains(small), "{small} in {html}");
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

/// The last part keeps room for the stories already reported: when they
/// would push it past the budget, they get a part of their own.
#[test]
fn the_stories_already_reported_fit_the_last_part() {
    let all = stories::stories(&[m(1, "A", &["r"], "x")], &Recent::new());
    let tz = chrono_tz::UTC;
    assert_eq!(split(&all, tz, 1_000).len(), 1);
    let parts = split(&all, tz, HTML_BUDGET);
    assert_eq!(parts.len(), 2);
    assert!(parts[1].is_empty(), "the reported lines alone");
}

/// The coverage block says each line docs/digests.md lists, the articles that
/// could not be read included; an entry carries its own language.
#[test]
fn the_coverage_block_and_an_entrys_language() {
    let mut uk = m(
        1,
        "Україна підтвердила переговори з Тегераном щодо іранських дронів",
        &["r"],
        "x",
    );
    uk.summary = "Міністерство закордонних справ України підтвердило, що Київ і Тегеран провели діалог щодо використання Росією іранських дронів.".into();
    let coverage = crate::model::Coverage {
        from: Utc.with_ymd_and_hms(2024, 6, 23, 7, 0, 0).single(),
        feeds: 3,
        read: 2,
        unread: vec!["dead".into()],
        items: 41,
        unreadable_articles: vec![("teasers".into(), 2)],
    };
    let ms = [uk];
    let mut run = Run::new(&ms);
    run.coverage = Some(coverage);
    let r = run.render(&ms);
    let text = squash(&r[0].text);
    for line in [
        "From 2024-06-23 07:00 UTC to 2024-06-24 10:00 UTC",
        "Feeds read: 2 of 3 (not read: dead).",
        "New items checked against the rules: 41.",
        "New matches: 1 item.",
        "Articles that could not be read, their items matched on the feed's text alone: teasers (2).",
    ] {
        assert!(text.contains(line), "{line}: {text}");
        assert!(r[0].html.contains(&escape(line)), "{line}");
    }
    assert!(r[0].html.contains("<div lang=\"uk\""), "{}", r[0].html);
}

#[test]
fn one_event_in_three_languages_is_one_entry_with_each_version_and_its_language() {
    let report = |id: i64, feed: &str, title: &str, summary: &str| {
        let mut r = m(id, title, &["kharkiv"], "x");
        r.feed = feed.into();
        r.summary = summary.into();
        r
    };
    let ms = [
        report(
            1,
            "kyiv-independent",
            "Russian missile strike on Kharkiv kills 3, injures 21",
            "An Iskander-M missile hit a school and a nine-storey building in Kharkiv's \
             Kyivskyi district at 07:40, governor Oleh Syniehubov said. Rescuers are \
             still searching the rubble; 21 people were injured, 4 of them children.",
        ),
        report(
            2,
            "ukrinform",
            "Ракетний удар по Харкову: 3 загиблих, 21 поранений",
            "О 07:40 ракета «Іскандер-М» влучила у школу та дев'ятиповерхівку в \
             Київському районі Харкова, повідомив Олег Синєгубов.",
        ),
        report(
            3,
            "interfax",
            "Ракетный удар по Харькову: трое погибших, 21 раненый",
            "Ракета «Искандер» попала в школу в Киевском районе Харькова в 07:40, \
             сообщил Олег Синегубов.",
        ),
        {
            // Later than the version shown, and in words of its own: a
            // translation, not an update.
            let mut r = report(
                5,
                "bbc-persian",
                "حمله موشکی روسیه به خارکیف سه کشته و ۲۱ زخمی برجای گذاشت",
                "یک موشک اسکندر-ام ساعت ۷:۴۰ به یک مدرسه در منطقه کیفسکی خارکیف اصابت کرد؛ \
                 به گفته استاندار سه نفر کشته و ۲۱ نفر زخمی شدند.",
            );
            r.published = r.published.map(|p| p + chrono::Duration::hours(2));
            r
        },
        report(
            4,
            "kyiv-independent",
            "Second missile strike on Kharkiv at night injures 9",
            "Two S-300 missiles hit an industrial site in Kharkiv at 23:15, injuring 9 \
             workers, the regional governor said.",
        ),
    ];
    let merged = merge_same_story(&ms, &Recent::new());
    assert_eq!(merged.len(), 2, "{merged:#?}");
    let strike = merged.iter().find(|e| e.match_ids.contains(&1)).unwrap();
    let versions: Vec<(&str, Option<&str>)> = strike
        .also_in
        .iter()
        .map(|a| (a.feed.as_str(), a.lang.as_deref()))
        .collect();
    assert_eq!(
        versions,
        [
            ("ukrinform", Some("uk")),
            ("interfax", Some("ru")),
            ("bbc-persian", Some("fa"))
        ]
    );
    assert!(
        strike.also_in.iter().all(|a| a.updated.is_none()),
        "a version in another language is not an update: {:#?}",
        strike.also_in
    );
    let night = merged.iter().find(|e| e.match_ids.contains(&4)).unwrap();
    assert!(
        night.also_in.is_empty(),
        "another strike that day is its own entry"
    );
    let r = render_all(&ms);
    assert!(
        r[0].text
            .contains("also in ukrinform (uk): Ракетний удар по Харкову"),
        "{}",
        r[0].text
    );
    let has = |html: &str, part: &str| assert!(html.contains(part), "{part} in {html}");
    has(&r[0].html, "also in interfax (ru): ");
    // Persian, right to left.
    has(&r[0].html, "<span lang=\"fa\" dir=\"rtl\">");
    // A feed named right to left is isolated from the date after it.
    let mut persian = ms[3].clone();
    persian.feed = "BBC فارسی".into();
    let r = render_all(&[persian]);
    has(&r[0].html, "<bdi>BBC فارسی</bdi> &middot; ");
    has(&r[0].html, "<div lang=\"fa\" dir=\"rtl\"");
}
