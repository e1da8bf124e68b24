//! Full text of teaser feeds (docs/fetching.md, "Full text"), on loopback: a teaser
//! whose article names the story alerts only with `full_text = true`; an
//! article that fails (500, a timeout, 20 MiB, not HTML) leaves its item
//! matched on the teaser; an item link into the operator's network is
//! refused before connecting; a 304, the backfill of a first fetch and an
//! item already stored fetch no article; the poll's bound on articles
//! holds. The feed server stands in for the public internet
//! (`allow_internal`: the guard refuses loopback otherwise, `guard.rs`).

use std::time::Duration;

use feedwatch::pipeline::{self, FeedOutcome};

use crate::support::*;

/// An RSS feed of `(guid, title, teaser, link)` items, dated now.
fn teaser_feed(items: &[(&str, &str, &str, &str)]) -> String {
    let date = chrono::Utc::now().to_rfc2822();
    let items: String = items
        .iter()
        .map(|(guid, title, teaser, link)| {
            format!(
                "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
                 <description>{teaser}</description><pubDate>{date}</pubDate></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Teasers</title>{items}</channel></rss>")
}

const RULE: &str =
    "[[rules]]\nname = \"iran-drones-ukraine\"\nquery = 'iran AND drone AND ukraine'\n";

fn setup(server: &FeedServer, full_text: bool, poll: &str) -> Setup {
    Setup::with_poll(
        &format!("{poll}\n{}", server.allowed()),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\nfull_text = {full_text}\n\
             [[rules]]\nname = \"iran-drones-ukraine\"\nquery = 'iran AND drone AND ukraine'\n",
            server.url("/feed.xml")
        ),
    )
}

/// What the one feed's row says of its articles.
fn articles_of(setup: &Setup) -> feedwatch::model::ArticleTally {
    setup.store().feed_status().unwrap()[0].articles.clone()
}

fn assert_last_failure(articles: &feedwatch::model::ArticleTally, says: &str) {
    assert!(
        articles
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains(says)),
        "the last failure says {says:?}: {articles:?}"
    );
}

/// The messages decoded, whitespace folded (the text part is wrapped) and
/// the text part's `*` marks dropped.
fn digest_text(messages: &[Vec<u8>]) -> String {
    let decoded: String = messages
        .iter()
        .map(|m| decode_quoted_printable(&String::from_utf8_lossy(m)))
        .collect();
    decoded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('*', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teaser_whose_article_names_the_story_alerts_only_with_full_text() {
    let server = FeedServer::start().await;
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[(
            "t1",
            "Overnight attack on the port",
            "Several warehouses were damaged.",
            &server.url("/a/1"),
        )])),
    );
    server.route("/a/1", article_page());

    let off = setup(&server, false, "");
    let reports = pipeline::poll_all(&off.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 0),
        "{reports:?}"
    );
    assert!(
        server.seen("/a/1").is_empty(),
        "no article without full_text"
    );

    let on = setup(&server, true, "");
    let ctx = on.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 1),
        "{reports:?}"
    );
    assert_eq!(server.seen("/a/1").len(), 1);
    let user_agent = server.seen("/a/1")[0]
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(user_agent.starts_with("feedwatch/"), "{user_agent}");

    let digest = &ctx.config.digests[0];
    let text = digest_text(&pipeline::dry_run(&ctx, digest).await.unwrap());
    assert!(
        text.contains("Found in the full article, not in the feed's text."),
        "the entry says where the match is:\n{text}"
    );
    assert!(
        text.contains("Iranian-made Shahed"),
        "the snippet comes from the article:\n{text}"
    );
    assert!(
        text.contains(" Ukraine's air force said") && !text.contains("…Ukraine's air force"),
        "a snippet that starts the article has no leading ellipsis:\n{text}"
    );
    // `search` sees the article too.
    let hits = on.store().search("\"tatarstan\"", None, None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    // `status` counts the articles.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(&on.path)
        .arg("status")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains("FULL TEXT (articles of new items)\n  wire: 1 read, 0 failed\n"),
        "{status}"
    );
    // `check --probe` shows what the newest item's article gives.
    let probes = pipeline::probe(&on.config()).await.unwrap();
    let pipeline::Probe::Feed {
        article: Some(pipeline::ArticleProbe::Text { text, .. }),
        ..
    } = &probes[0].1
    else {
        panic!("{probes:?}")
    };
    assert!(
        text.starts_with("Ukraine's air force said on Monday"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_that_fails_leaves_its_item_matched_on_the_teaser() {
    let server = FeedServer::start().await;
    let teaser = "Iranian drones struck Ukraine overnight.";
    let items = [
        ("f1", "Server error", teaser, server.url("/a/500")),
        ("f2", "Too slow", teaser, server.url("/a/slow")),
        ("f4", "Not HTML", teaser, server.url("/a/binary")),
        ("f3", "Too large", teaser, server.url("/a/huge")),
        ("f5", "Read", teaser, server.url("/a/ok")),
    ];
    let items: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(g, t, s, l)| (*g, *t, *s, l.as_str()))
        .collect();
    server.route("/feed.xml", Route::feed(teaser_feed(&items)));
    server.route("/a/500", Route::status(500, "oops"));
    server.route("/a/slow", article_page().after(Duration::from_secs(3)));
    let mut huge = Route::feed(vec![b'x'; 20 << 20]);
    huge.content_type = "text/html";
    server.route("/a/huge", huge);
    let mut binary = Route::feed(vec![0u8, 1, 2, 3, 255, 254]);
    binary.content_type = "application/octet-stream";
    server.route("/a/binary", binary);
    server.route("/a/ok", article_page());

    let setup = setup(&server, true, "timeout = \"1s\"\narticle_delay = \"0s\"");
    let ctx = setup.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 5 && r.matched_items == 5),
        "every item is stored and matched: {reports:?}"
    );
    let articles = articles_of(&setup);
    assert_eq!((articles.fetched, articles.failed), (1, 4), "{articles:?}");
    assert_last_failure(&articles, "larger than max_article");
    let text = digest_text(
        &pipeline::dry_run(&ctx, &ctx.config.digests[0])
            .await
            .unwrap(),
    );
    for title in ["Server error", "Too slow", "Too large", "Not HTML", "Read"] {
        assert!(text.contains(title), "{title} is delivered:\n{text}");
    }
    assert!(
        !text.contains("Found in the full article"),
        "the teasers matched by themselves:\n{text}"
    );

    // Each article is fetched once: the next poll (a changed feed with the
    // same items) asks for none of them again.
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&items)).with_etag("\"v2\""),
    );
    pipeline::poll_all(&ctx).await;
    assert_eq!(server.seen("/a/500").len(), 1);
    assert_eq!(server.seen("/a/ok").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_link_into_the_operators_network_is_refused_before_connecting() {
    let server = FeedServer::start().await;
    // The canary stands in for a service inside the operator's network.
    let canary = FeedServer::start().await;
    canary.route("/secret", article_page());
    let inside = format!("http://localhost:{}/secret", canary.addr.unwrap().port());
    server.route("/redirect", Route::redirect(302, &inside));
    let teaser = "Iranian drones struck Ukraine overnight.";
    let redirect = server.url("/redirect");
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[
            ("s1", "Named inside", teaser, &inside),
            ("s2", "Redirected inside", teaser, &redirect),
        ])),
    );
    let setup = setup(&server, true, "article_delay = \"0s\"");
    let ctx = setup.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 2),
        "the items are matched on their teasers: {reports:?}"
    );
    assert!(canary.seen("/secret").is_empty(), "never asked");
    assert_eq!(
        server.seen("/redirect").len(),
        1,
        "the public page was asked, the redirect inside was not followed"
    );
    let articles = articles_of(&setup);
    assert_eq!(articles.failed, 2);
    assert_last_failure(&articles, "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_304_the_backfill_and_the_time_bound_fetch_no_more_articles() {
    let server = FeedServer::start().await;
    // Items from 2020: the backfill of a first fetch (one day by default)
    // does not alert, so their articles are not fetched.
    let old = "<rss version=\"2.0\"><channel><title>Old</title>\
        <item><guid>o1</guid><title>Old</title><link>LINK</link>\
        <pubDate>Mon, 06 Jan 2020 08:00:00 GMT</pubDate></item></channel></rss>"
        .replace("LINK", &server.url("/a/old"));
    server.route("/feed.xml", Route::feed(old).with_etag("\"v1\""));
    server.route("/a/old", article_page());
    let setup = Setup::with_poll(
        &format!("backfill = \"1d\"\n{}", server.allowed()),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\nfull_text = true\n{RULE}",
            server.url("/feed.xml")
        ),
    );
    let ctx = setup.context();
    pipeline::poll_all(&ctx).await;
    assert!(server.seen("/a/old").is_empty(), "backfill: no article");
    // The same feed again: a 304, nothing fetched but the feed.
    let reports = pipeline::poll_all(&ctx).await;
    assert_eq!(reports[0].outcome, FeedOutcome::NotModified);
    assert!(server.seen("/a/old").is_empty(), "304: no article");

    // Two new items on one host with 10 s between requests, and 1 s for
    // the poll's articles: the first is read, the second is matched on its
    // teaser at once, without waiting 10 s.
    let teaser = "Iranian drones struck Ukraine overnight.";
    let (one, two) = (server.url("/a/1"), server.url("/a/2"));
    server.route(
        "/feed2.xml",
        Route::feed(teaser_feed(&[
            ("n1", "One", teaser, &one),
            ("n2", "Two", teaser, &two),
        ])),
    );
    server.route("/a/1", article_page());
    server.route("/a/2", article_page());
    let bounded = Setup::with_poll(
        &format!(
            "article_delay = \"10s\"\narticle_wait = \"1s\"\n{}",
            server.allowed()
        ),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\nfull_text = true\n{RULE}",
            server.url("/feed2.xml")
        ),
    );
    let reports = pipeline::poll_all(&bounded.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 2),
        "{reports:?}"
    );
    let articles = articles_of(&bounded);
    assert_eq!((articles.fetched, articles.failed), (1, 1));
    assert_last_failure(&articles, "article_wait");
    // A digest's coverage says it (docs/digests.md, "Coverage and outages").
    let (coverage, _) = bounded
        .store()
        .coverage("default", &["wire".to_string()])
        .unwrap();
    assert_eq!(coverage.unreadable_articles, [("wire".to_string(), 1)]);
    assert_eq!((coverage.read, coverage.items), (1, 2));
}

/// A large feed (over the 1 MiB that takes the large-body turn) whose
/// article is large too: the feed gives its turn up once parsed, so its own
/// article can have it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_feed_with_a_large_article_does_not_wait_for_itself() {
    let server = FeedServer::start().await;
    let padding = format!("<!-- {} -->", "x".repeat(1_200_000));
    let teaser = "Iranian drones struck Ukraine overnight.";
    let feed = teaser_feed(&[("big", "Big", teaser, &server.url("/a/big"))])
        .replace("<channel>", &format!("<channel>{padding}"));
    server.route("/feed.xml", Route::feed(feed));
    let page = String::from_utf8(article_page().body)
        .unwrap()
        .replace("<body", &format!("{padding}<body"));
    let mut big = Route::feed(page);
    big.content_type = "text/html";
    server.route("/a/big", big);
    let setup = setup(&server, true, "");
    let ctx = setup.context();
    let reports = tokio::time::timeout(Duration::from_secs(60), pipeline::poll_all(&ctx))
        .await
        .expect("the poll ends");
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 1),
        "{reports:?}"
    );
    let status = setup.store().feed_status().unwrap();
    assert_eq!(status[0].articles.fetched, 1, "{:?}", status[0].articles);
}

/// Politeness and economy: a host that answers 429 with Retry-After is
/// left alone for the rest of the poll; items sharing a link share one
/// request; a feed no rule reads fetches no article.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_holds_the_host_off_and_a_page_is_asked_for_once() {
    let server = FeedServer::start().await;
    let teaser = "Iranian drones struck Ukraine overnight.";
    let (busy, next, shared) = (
        server.url("/a/busy"),
        server.url("/a/next"),
        server.url("/a/shared"),
    );
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[
            ("b1", "Busy", teaser, &busy),
            ("b2", "Next on the same host", teaser, &next),
        ])),
    );
    server.route(
        "/a/busy",
        Route::status(429, "slow down").with_header("Retry-After", "600"),
    );
    server.route("/a/next", article_page());
    let setup = setup(&server, true, "article_delay = \"0s\"");
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 2),
        "{reports:?}"
    );
    assert!(server.seen("/a/next").is_empty(), "the host was left alone");
    let articles = articles_of(&setup);
    assert_eq!((articles.fetched, articles.failed), (0, 2));
    assert_last_failure(&articles, "article_wait");

    // Two items with one link: one request, and both read it.
    server.route(
        "/shared.xml",
        Route::feed(teaser_feed(&[
            ("s1", "One", "A teaser.", &shared),
            ("s2", "Two", "Another teaser.", &shared),
        ])),
    );
    server.route("/a/shared", article_page());
    let shared_setup = Setup::with_poll(
        &format!("article_delay = \"0s\"\n{}", server.allowed()),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\nfull_text = true\n{RULE}",
            server.url("/shared.xml")
        ),
    );
    let reports = pipeline::poll_all(&shared_setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 2),
        "both found in the one article: {reports:?}"
    );
    assert_eq!(server.seen("/a/shared").len(), 1);

    // A full_text feed that no rule applies to: no article is fetched.
    server.route(
        "/unread.xml",
        Route::feed(teaser_feed(&[(
            "u1",
            "Unread",
            teaser,
            &server.url("/a/unread"),
        )])),
    );
    server.route("/a/unread", article_page());
    let unread = Setup::with_poll(
        &format!("article_delay = \"0s\"\n{}", server.allowed()),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"unread\"\nurl = \"{}\"\nfull_text = true\n\
             [[feeds]]\nname = \"other\"\nurl = \"{}\"\n\
             [[rules]]\nname = \"r\"\nquery = 'iran'\nfeeds = [\"other\"]\n",
            server.url("/unread.xml"),
            server.url("/feed.xml")
        ),
    );
    pipeline::poll_all(&unread.context()).await;
    assert!(server.seen("/a/unread").is_empty(), "no rule reads it");
}

/// A full-text feed `wire` at `/feed.xml` beside a plain feed `other` at
/// `/other.xml` (one teaser item), with the `poll` settings given.
fn wire_and_other(server: &FeedServer, poll: &str) -> Setup {
    let teaser = "Iranian drones struck Ukraine overnight.";
    server.route(
        "/other.xml",
        Route::feed(teaser_feed(&[("o1", "Other", teaser, "")])),
    );
    Setup::with_poll(
        &format!("article_delay = \"0s\"\n{poll}\n{}", server.allowed()),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\nfull_text = true\n\
             [[feeds]]\nname = \"other\"\nurl = \"{}\"\n{RULE}",
            server.url("/feed.xml"),
            server.url("/other.xml"),
        ),
    )
}

/// A page nested 30,000 `<div>`s deep overflowed the article reader's stack
/// and aborted the process; nested tables did the same. Each costs its own
/// article now: refused before it is parsed, its item matched on the
/// teaser, the feed's other articles read, another feed of the poll stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_nested_too_deep_costs_only_its_article() {
    let server = FeedServer::start().await;
    let teaser = "Iranian drones struck Ukraine overnight.";
    let story = "<p>Officials in Kyiv said Iranian drones hit the port of Odesa.</p>".repeat(20);
    let mut deep = Route::feed(format!("<html><body>{}{story}", "<div>".repeat(30_000)));
    deep.content_type = "text/html";
    server.route("/a/deep", deep);
    let tables = "<table><tr><td>".repeat(100_000);
    let mut tables = Route::feed(format!("<html><body>{tables}{story}"));
    tables.content_type = "text/html";
    server.route("/a/tables", tables);
    server.route("/a/ok", article_page());
    let (deep, tables, ok) = (
        server.url("/a/deep"),
        server.url("/a/tables"),
        server.url("/a/ok"),
    );
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[
            ("d1", "Deep", teaser, &deep),
            ("d2", "Tables", teaser, &tables),
            ("d3", "Read", "A quiet night.", &ok),
        ])),
    );
    let setup = wire_and_other(&server, "max_article = \"4MiB\"");
    let ctx = setup.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 3 && r.matched_items == 3),
        "every item is stored and matched: {reports:?}"
    );
    assert!(
        matches!(&reports[1].outcome, FeedOutcome::Stored(r) if r.new_items == 1),
        "the other feed is stored: {reports:?}"
    );
    let articles = setup.store().feed_status().unwrap()[1].articles.clone();
    assert_eq!((articles.fetched, articles.failed), (1, 2), "{articles:?}");
    assert_last_failure(&articles, "more than 512 deep (max_article_depth)");
}

/// A full-text feed held its poll slots while its articles were read: 16
/// slow full-text feeds held every slot. The items are stored first now,
/// and the slot goes to the next feed while the articles are read: with
/// one slot, a plain feed is done before a slow article is in, and the
/// full-text feed's items are in the archive before their articles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_stored_before_their_articles_and_free_their_slot() {
    let server = FeedServer::start().await;
    let teaser = "Iranian drones struck Ukraine overnight.";
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[(
            "w1",
            "Slow",
            teaser,
            &server.url("/a/slow"),
        )])),
    );
    server.route("/a/slow", article_page().after(Duration::from_millis(1500)));
    let setup = wire_and_other(&server, "concurrency = 1");
    let ctx = setup.context();
    let order = std::sync::Mutex::new(Vec::new());
    let progress = |r: &pipeline::FeedReport| order.lock().unwrap().push(r.feed.clone());
    let poll = pipeline::poll_feeds_with_progress(&ctx, &ctx.config.feeds, &progress);
    let watch = async {
        // While the article is on its way, the item is searchable.
        for _ in 0..1000 {
            if !server.seen("/a/slow").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(server.seen("/a/slow").len(), 1, "the article is asked for");
        let found = setup.store().search("title:slow", None, None, 10).unwrap();
        assert_eq!(found.len(), 1, "stored before its article is read");
    };
    let (polled, ()) = tokio::join!(poll, watch);
    let reports = polled.reports;
    assert_eq!(*order.lock().unwrap(), ["other", "wire"], "{reports:?}");
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 1 && r.matched_items == 1),
        "{reports:?}"
    );
    // The article's text is stored and searchable, and indexed once.
    let found = setup
        .store()
        .search("grain terminal", None, None, 10)
        .unwrap();
    assert_eq!(found.len(), 1, "the article is in the archive");
    assert_eq!(
        setup
            .store()
            .search("title:slow", None, None, 10)
            .unwrap()
            .len(),
        1
    );
}

/// A page that crashed the reader was fetched and parsed again at every
/// restart, and crashed it again, and the feed's items were never stored.
/// Now the items are stored before their articles, and the attempt at a
/// page before it is parsed: what a crash leaves is finished by the next
/// poll, whose page was being parsed is not read again (its item matched
/// on the feed's text), and one never tried is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_was_being_read_at_a_crash_is_not_read_again() {
    let server = FeedServer::start().await;
    let teaser = "Iranian drones struck Ukraine overnight.";
    let (crash, ok) = (server.url("/a/crash"), server.url("/a/ok"));
    let feed = teaser_feed(&[
        ("c1", "Crashed the reader", teaser, &crash),
        ("c2", "Never tried", "A quiet night.", &ok),
    ]);
    server.route("/feed.xml", Route::feed(feed.clone()));
    server.route("/a/crash", article_page());
    server.route("/a/ok", article_page());
    let setup = setup(&server, true, "article_delay = \"0s\"");
    // What a crash leaves: both items stored and held an hour ago, the
    // first page's parse begun.
    {
        let mut store = setup.store();
        let parsed = feedwatch::parse::parse_feed(
            feed.as_bytes(),
            &url::Url::parse(&server.url("/feed.xml")).unwrap(),
            1000,
        )
        .unwrap();
        let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
        let url = server.url("/feed.xml");
        let mut batch = feedwatch::store::Batch::new("wire", &url, &parsed.items, an_hour_ago);
        batch.hold_for_articles = true;
        let report = store.ingest(&batch, &setup.config().rules).unwrap();
        assert_eq!(
            (report.new_items, report.matched_items, report.held.len()),
            (2, 0, 2)
        );
        let crashed = report.held.iter().find(|(i, _)| *i == 0).unwrap().1;
        store.article_attempted(&[crashed], an_hour_ago).unwrap();
    }
    let ctx = setup.context();
    pipeline::poll_all(&ctx).await;
    assert!(server.seen("/a/crash").is_empty(), "not read again");
    assert_eq!(
        server.seen("/a/ok").len(),
        1,
        "the page never tried is read"
    );
    let articles = articles_of(&setup);
    assert_eq!((articles.fetched, articles.failed), (1, 1), "{articles:?}");
    assert_last_failure(&articles, "did not finish this page last time");
    let text = digest_text(
        &pipeline::dry_run(&ctx, &ctx.config.digests[0])
            .await
            .unwrap(),
    );
    assert!(
        text.contains("Crashed the reader"),
        "matched on its teaser:\n{text}"
    );
    assert!(
        text.contains("Never tried"),
        "matched on its article:\n{text}"
    );
    assert!(text.contains("Found in the full article"), "{text}");
    // Finished: the next poll has nothing left to finish.
    pipeline::poll_all(&ctx).await;
    assert_eq!(server.seen("/a/ok").len(), 1);
}

/// The article 429/503 hold-off was lost between separate `poll` runs:
/// each new process asked the host again at once. It is stored now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_off_outlives_the_process() {
    let server = FeedServer::start().await;
    let teaser = "Iranian drones struck Ukraine overnight.";
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[(
            "h1",
            "Busy",
            teaser,
            &server.url("/a/busy"),
        )])),
    );
    server.route(
        "/a/busy",
        Route::status(429, "slow down").with_header("Retry-After", "600"),
    );
    let setup = setup(&server, true, "article_delay = \"0s\"");
    pipeline::poll_all(&setup.context()).await;
    assert_eq!(server.seen("/a/busy").len(), 1);
    // The next `poll`: a new process, a new item on the same host.
    server.route(
        "/feed.xml",
        Route::feed(teaser_feed(&[
            ("h1", "Busy", teaser, &server.url("/a/busy")),
            ("h2", "Later", teaser, &server.url("/a/later")),
        ])),
    );
    server.route("/a/later", article_page());
    pipeline::poll_all(&setup.context()).await;
    assert!(server.seen("/a/later").is_empty(), "the host is left alone");
    assert_eq!(server.seen("/a/busy").len(), 1);
    assert_eq!(articles_of(&setup).failed, 2);
}

/// An article over 1 MiB waited up to 10 minutes for the one-large-body
/// turn, and that wait moved its deadline back by as long: a poll's
/// `article_wait` did not hold. With the firm deadline of articles, the
/// wait ends at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_articles_wait_for_the_large_body_turn_ends_at_its_deadline() {
    let server = FeedServer::start().await;
    let mut big = Route::feed(vec![b'x'; 1_500_000]);
    big.content_type = "text/html";
    server.route("/a/first", big.clone());
    server.route("/a/second", big);
    let setup = setup(&server, true, "");
    let fetcher = setup
        .context()
        .fetcher
        .with_max_body(4 << 20, "max_article");
    let far = tokio::time::Instant::now() + Duration::from_secs(60);
    let first = url::Url::parse(&server.url("/a/first")).unwrap();
    // Holds the large-body turn while it is kept.
    let held = fetcher.fetch_link(&first, far).await.unwrap();
    let second = url::Url::parse(&server.url("/a/second")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    let waited = tokio::time::timeout(
        Duration::from_secs(30),
        fetcher.with_firm_deadline().fetch_link(&second, deadline),
    )
    .await
    .expect("the wait ends at the deadline, not after the turn's 10 minutes");
    assert!(
        matches!(waited, Err(feedwatch::fetch::FetchError::Timeout)),
        "{waited:?}"
    );
    drop(held);
}
