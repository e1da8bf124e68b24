//! Polling end to end: HTTP fetch → parse → store → match, with conditional
//! GET and failing feeds, against a scripted server on loopback.

use feedwatch::pipeline::{self, FeedOutcome};

use crate::support::*;

fn two_feeds(server: &FeedServer) -> String {
    format!(
        "[[feeds]]\nname = \"broken\"\nurl = \"{}\"\n[[feeds]]\nname = \"good\"\nurl = \"{}\"\n{}",
        server.url("/broken.xml"),
        server.url("/good.xml"),
        rule_iran_drones_ukraine()
    )
}

#[tokio::test]
async fn a_304_is_handled_with_the_stored_etag() {
    let server = FeedServer::start().await;
    server.route("/feed.xml", Route::feed(sample_feed()).with_etag("\"v1\""));
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"f\"\nurl = \"{}\"\n{}",
            server.url("/feed.xml"),
            rule_iran_drones_ukraine()
        ),
    );
    let ctx = setup.context();
    let first = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&first[0].outcome, FeedOutcome::Stored(r) if r.new_items == 5 && r.matched_items == 1),
        "{first:?}"
    );
    let second = pipeline::poll_all(&ctx).await;
    assert_eq!(second[0].outcome, FeedOutcome::NotModified);
    let seen = server.seen("/feed.xml");
    assert_eq!(seen.len(), 2);
    assert!(!seen[0].headers.iter().any(|(k, _)| k == "if-none-match"));
    assert!(
        seen[1]
            .headers
            .iter()
            .any(|(k, v)| k == "if-none-match" && v == "\"v1\""),
        "{:?}",
        seen[1]
    );
    assert_eq!(seen[1].status, 304);
    let status = setup.store().feed_status().unwrap();
    assert_eq!(
        (
            status[0].last_status,
            status[0].items,
            status[0].consecutive_errors
        ),
        (Some(304), 5, 0)
    );
}

/// One poll where half the feeds changed and half answer 304: the writer
/// stores them in groups, and every feed's row is written when the poll
/// returns (304s are recorded without the feed's task waiting).
#[tokio::test]
async fn a_poll_of_many_feeds_records_every_feed_changed_or_not() {
    let server = FeedServer::start().await;
    let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let sample = String::from_utf8(sample_feed()).unwrap();
    for n in &names {
        server.route(
            &format!("/{n}.xml"),
            Route::feed(sample.clone()).with_etag("\"v1\""),
        );
    }
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "{}{}",
            server.feeds_toml(&names),
            rule_iran_drones_ukraine()
        ),
    );
    let ctx = setup.context();
    let first = pipeline::poll_all(&ctx).await;
    assert!(
        first.iter().all(
            |r| matches!(&r.outcome, FeedOutcome::Stored(s) if s.new_items == 5 && s.matched_items == 1)
        ),
        "{first:?}"
    );
    // Every other feed gets one new item, with a new ETag.
    let one_more = sample.replacen(
        "<item>",
        "<item><title>New: Iran drones over Ukraine</title><guid>new-1</guid></item><item>",
        1,
    );
    for n in names.iter().step_by(2) {
        server.route(
            &format!("/{n}.xml"),
            Route::feed(one_more.clone()).with_etag("\"v2\""),
        );
    }
    let second = pipeline::poll_all(&ctx).await;
    for (i, r) in second.iter().enumerate() {
        if i.is_multiple_of(2) {
            assert_eq!(
                r.outcome,
                FeedOutcome::Stored(feedwatch::model::IngestReport {
                    new_items: 1,
                    matched_items: 1,
                    held: Vec::new(),
                }),
                "{}",
                r.feed
            );
        } else {
            assert_eq!(r.outcome, FeedOutcome::NotModified, "{}", r.feed);
        }
    }
    let status = setup.store().feed_status().unwrap();
    assert_eq!(status.len(), 40);
    for f in &status {
        let i: usize = f.name[1..].parse().unwrap();
        let expected = if i.is_multiple_of(2) {
            (Some(200), 6)
        } else {
            (Some(304), 5)
        };
        assert_eq!((f.last_status, f.items), expected, "{}", f.name);
    }
}

#[tokio::test]
async fn a_broken_feed_does_not_stop_a_good_one() {
    let server = FeedServer::start().await;
    server.route(
        "/broken.xml",
        Route::feed("<html><body>this is not a feed</body></html>"),
    );
    server.route("/good.xml", Route::feed(sample_feed()));
    let setup = Setup::new("transport = \"stdout\"", &two_feeds(&server));
    let ctx = setup.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(e) if e.to_string().contains("not a feed")),
        "{reports:?}"
    );
    assert!(
        matches!(&reports[1].outcome, FeedOutcome::Stored(r) if r.matched_items == 1),
        "{reports:?}"
    );

    // An HTTP error and an unreachable host fail just as cleanly.
    // (Fetched now, although it is backing off after its first failure.)
    server.route("/broken.xml", Route::status(500, "oops"));
    let mut ctx = ctx;
    ctx.respect_backoff = false;
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(e) if e.to_string().contains("HTTP 500")),
        "{reports:?}"
    );
    assert!(
        matches!(&reports[1].outcome, FeedOutcome::Stored(_)),
        "{reports:?}"
    );

    let status = setup.store().feed_status().unwrap();
    let broken = status.iter().find(|f| f.name == "broken").unwrap();
    assert_eq!(
        (broken.consecutive_errors, broken.last_status),
        (2, Some(500))
    );
    assert_eq!(broken.last_error.as_deref(), Some("HTTP 500"));
    let good = status.iter().find(|f| f.name == "good").unwrap();
    assert_eq!((good.consecutive_errors, good.items), (0, 5));
}

#[tokio::test]
async fn unreachable_and_oversized_feeds_fail_cleanly() {
    let server = FeedServer::start().await;
    let big = format!(
        "<rss version=\"2.0\"><channel><title>{}</title></channel></rss>",
        "x".repeat(2 << 20)
    );
    server.route("/big.xml", Route::feed(big));
    let setup = Setup::with_poll(
        "max_body = \"1MiB\"",
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"down\"\nurl = \"http://127.0.0.1:{}/feed\"\n[[feeds]]\nname = \"big\"\nurl = \"{}\"\n{}",
            closed_port(),
            server.url("/big.xml"),
            rule_iran_drones_ukraine()
        ),
    );
    let ctx = setup.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(_)),
        "{reports:?}"
    );
    assert!(
        matches!(&reports[1].outcome, FeedOutcome::Failed(e) if e.to_string().contains("max_body")),
        "{reports:?}"
    );
}

#[tokio::test]
async fn file_feeds_and_search_agree_with_live_matching() {
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"sample\"\nurl = \"file://{}/config/sample-feed.xml\"\n{}",
            env!("CARGO_MANIFEST_DIR"),
            rule_iran_drones_ukraine()
        ),
    );
    let ctx = setup.context();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 1),
        "{reports:?}"
    );
    let store = setup.store();
    let pending = store.pending("default").unwrap();
    let hits = store
        .search(&ctx.config.rules[0].fts_query, None, None, 100)
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].item_id, pending[0].item_id,
        "search finds what live matching found"
    );
    assert_eq!(hits[0].title, SEED_TITLE);
}

#[tokio::test]
async fn compressed_feeds_are_decoded_and_bombs_hit_the_cap() {
    let server = FeedServer::start().await;
    server.route("/gzip.xml", Route::gzip(&sample_feed()));
    server.route("/br.xml", Route::brotli(&sample_feed()));
    server.route("/deflate.xml", Route::deflate(&sample_feed()));
    // 64 MiB of one character compresses to a few dozen KiB: the cap must
    // hold on what it expands to, not on what crossed the wire.
    let mut bomb = b"<rss version=\"2.0\"><channel><title>".to_vec();
    bomb.resize(64 << 20, b'a');
    server.route("/gzip-bomb.xml", Route::gzip(&bomb));
    server.route("/br-bomb.xml", Route::brotli(&bomb));
    server.route("/deflate-bomb.xml", Route::deflate(&bomb));
    let feeds = server.feeds_toml(&[
        "gzip",
        "br",
        "deflate",
        "gzip-bomb",
        "br-bomb",
        "deflate-bomb",
    ]);
    let setup = Setup::with_poll(
        "max_body = \"1MiB\"",
        "transport = \"stdout\"",
        &(feeds + rule_iran_drones_ukraine()),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    for r in &reports[..3] {
        assert!(
            matches!(&r.outcome, FeedOutcome::Stored(s) if s.new_items == 5 && s.matched_items == 1),
            "{r:?}"
        );
    }
    for r in &reports[3..] {
        assert!(
            matches!(&r.outcome, FeedOutcome::Failed(e) if e.to_string().contains("max_body")),
            "{r:?}"
        );
    }
    assert!(
        server.seen("/gzip.xml")[0]
            .headers
            .iter()
            .any(|(k, v)| k == "accept-encoding" && v.contains("br"))
    );
}

#[tokio::test]
async fn failing_feeds_back_off_honour_retry_after_and_410_is_probed_daily() {
    let server = FeedServer::start().await;
    server.route(
        "/busy.xml",
        Route::status(429, "slow down").with_header("Retry-After", "3600"),
    );
    server.route("/gone.xml", Route::status(410, "gone"));
    server.route("/broken.xml", Route::status(500, "oops"));
    let feeds = server.feeds_toml(&["busy", "gone", "broken"]);
    let setup = Setup::new(
        "transport = \"stdout\"",
        &(feeds + rule_iran_drones_ukraine()),
    );
    let ctx = setup.context();
    let before = chrono::Utc::now();
    let first = pipeline::poll_all(&ctx).await;
    assert!(
        first
            .iter()
            .all(|r| matches!(r.outcome, FeedOutcome::Failed(_))),
        "{first:?}"
    );
    // The next cycle leaves all three alone: they are backing off.
    let second = pipeline::poll_all(&ctx).await;
    let until: Vec<chrono::DateTime<chrono::Utc>> = second
        .iter()
        .map(|r| match r.outcome {
            FeedOutcome::Deferred(t) => t,
            ref other => panic!("{}: {other:?}", r.feed),
        })
        .collect();
    let waits: Vec<i64> = until.iter().map(|t| (*t - before).num_minutes()).collect();
    assert!(
        (59..=61).contains(&waits[0]),
        "Retry-After: 3600 honoured: {waits:?}"
    );
    assert!(
        (1439..=1441).contains(&waits[1]),
        "410 is probed once a day: {waits:?}"
    );
    assert!(
        (4..=6).contains(&waits[2]),
        "first backoff is 5 minutes: {waits:?}"
    );
    for path in ["/busy.xml", "/gone.xml", "/broken.xml"] {
        assert_eq!(server.seen(path).len(), 1, "{path} was not fetched again");
    }
    let status = setup.store().feed_status().unwrap();
    assert!(
        status.iter().all(|f| f.next_fetch.is_some()),
        "status shows when each is retried"
    );

    // Asked for by hand, a poll fetches them anyway; a success clears the backoff.
    server.route("/broken.xml", Route::feed(sample_feed()));
    let mut by_hand = ctx.clone();
    by_hand.respect_backoff = false;
    let third = pipeline::poll_all(&by_hand).await;
    assert!(
        matches!(third[2].outcome, FeedOutcome::Stored(_)),
        "{third:?}"
    );
    let status = setup.store().feed_status().unwrap();
    let broken = status.iter().find(|f| f.name == "broken").unwrap();
    assert_eq!((broken.next_fetch, broken.consecutive_errors), (None, 0));
}

#[tokio::test]
async fn a_windows_1251_feed_is_decoded_by_its_http_charset_and_matched() {
    let server = FeedServer::start().await;
    // "Україна: дрони" in windows-1251, declared only in the HTTP header.
    let mut body =
        b"<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>".to_vec();
    body.extend_from_slice(&[
        0xd3, 0xea, 0xf0, 0xe0, 0xbf, 0xed, 0xe0, 0x3a, 0x20, 0xe4, 0xf0, 0xee, 0xed, 0xe8,
    ]);
    body.extend_from_slice(b"</title></item></channel></rss>");
    let mut route = Route::feed(body);
    route.content_type = "application/rss+xml; charset=windows-1251";
    server.route("/ua.xml", route);
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"ua\"\nurl = \"{}\"\n[[rules]]\nname = \"ua\"\nquery = 'україн* AND дрон*'\n",
            server.url("/ua.xml")
        ),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 1),
        "{reports:?}"
    );
    assert_eq!(
        setup.store().pending("default").unwrap()[0].title,
        "Україна: дрони"
    );
}

#[tokio::test]
async fn cache_control_max_age_and_rss_ttl_are_minimum_intervals() {
    let server = FeedServer::start().await;
    server.route(
        "/cached.xml",
        Route::feed(sample_feed()).with_header("Cache-Control", "public, max-age=3600"),
    );
    let with_ttl = String::from_utf8(sample_feed()).unwrap().replace(
        "<language>en</language>",
        "<language>en</language><ttl>120</ttl>",
    );
    server.route("/ttl.xml", Route::feed(with_ttl));
    server.route("/plain.xml", Route::feed(sample_feed()));
    let feeds = server.feeds_toml(&["cached", "ttl", "plain"]);
    let setup = Setup::new(
        "transport = \"stdout\"",
        &(feeds + rule_iran_drones_ukraine()),
    );
    let ctx = setup.context();
    let before = chrono::Utc::now();
    pipeline::poll_all(&ctx).await;
    let second = pipeline::poll_all(&ctx).await;
    // Healthy feeds: not due, not backing off.
    let minutes = |i: usize| match second[i].outcome {
        FeedOutcome::NotDue(t) => (t - before).num_minutes(),
        ref other => panic!("{}: {other:?}", second[i].feed),
    };
    assert!(
        (59..=61).contains(&minutes(0)),
        "max-age=3600: {}",
        minutes(0)
    );
    assert!(
        (119..=121).contains(&minutes(1)),
        "<ttl>120</ttl>: {}",
        minutes(1)
    );
    assert!(
        matches!(second[2].outcome, FeedOutcome::Stored(_)),
        "no interval asked: fetched again"
    );
    assert_eq!(server.seen("/cached.xml").len(), 1);
    assert_eq!(server.seen("/plain.xml").len(), 2);
}

#[tokio::test]
async fn permanent_redirects_are_reported_then_followed_and_loops_fail() {
    let server = FeedServer::start().await;
    let redirect = |status: u16, to: &str| Route::status(status, "").with_header("Location", to);
    server.route("/old.xml", redirect(301, "/new.xml"));
    server.route("/new.xml", Route::feed(sample_feed()));
    server.route("/temp.xml", redirect(302, "/new2.xml"));
    server.route("/new2.xml", Route::feed(sample_feed()));
    server.route("/a.xml", redirect(308, "/b.xml"));
    server.route("/b.xml", redirect(301, "/a.xml"));
    let feeds = server.feeds_toml(&["old", "temp", "a"]);
    let setup = Setup::new(
        "transport = \"stdout\"",
        &(feeds + rule_iran_drones_ukraine()),
    );
    let mut ctx = setup.context();
    ctx.respect_backoff = false;
    let first = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(first[0].outcome, FeedOutcome::Stored(_)),
        "{first:?}"
    );
    assert!(
        matches!(first[1].outcome, FeedOutcome::Stored(_)),
        "{first:?}"
    );
    assert!(
        matches!(&first[2].outcome, FeedOutcome::Failed(e) if e.to_string().contains("redirects")),
        "{first:?}"
    );
    let status = setup.store().feed_status().unwrap();
    let moved = |name: &str| {
        status
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.moved_to.clone())
    };
    assert_eq!(
        moved("old"),
        Some(server.url("/new.xml")),
        "a 301 is reported"
    );
    assert_eq!(moved("temp"), None, "a 302 is not");
    let attention = setup.store().attention(3).unwrap();
    assert_eq!(
        attention.moved,
        vec![feedwatch::model::MovedFeed {
            feed: "old".to_string(),
            to: server.url("/new.xml")
        }]
    );

    // After three confirmations the new URL is fetched directly.
    pipeline::poll_all(&ctx).await;
    pipeline::poll_all(&ctx).await;
    assert_eq!(server.seen("/old.xml").len(), 3);
    let fourth = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(fourth[0].outcome, FeedOutcome::Stored(_)),
        "{fourth:?}"
    );
    assert_eq!(
        server.seen("/old.xml").len(),
        3,
        "the old URL is no longer asked"
    );
    assert_eq!(server.seen("/new.xml").len(), 4);
    assert_eq!(
        server.seen("/a.xml").len() + server.seen("/b.xml").len(),
        4 * 2,
        "a loop stops before asking a URL twice"
    );
}

#[tokio::test]
async fn slow_drip_and_endless_bodies_cannot_hold_a_worker() {
    let server = FeedServer::start().await;
    server.route("/drip.xml", Route::hostile(Hostile::SlowDrip));
    server.route("/endless.xml", Route::hostile(Hostile::Endless));
    server.route("/good.xml", Route::feed(sample_feed()));
    let feeds = server.feeds_toml(&["drip", "endless", "good"]);
    let setup = Setup::with_poll(
        "timeout = \"1s\"\nmax_body = \"1MiB\"",
        "transport = \"stdout\"",
        &(feeds + rule_iran_drones_ukraine()),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(e) if e.to_string().contains("timed out")),
        "{reports:?}"
    );
    assert!(
        matches!(&reports[1].outcome, FeedOutcome::Failed(e) if e.to_string().contains("max_body")),
        "{reports:?}"
    );
    assert!(
        matches!(&reports[2].outcome, FeedOutcome::Stored(r) if r.matched_items == 1),
        "{reports:?}"
    );
}

#[tokio::test]
async fn a_web_page_url_is_followed_to_the_feed_it_advertises() {
    let server = FeedServer::start().await;
    let mut page = Route::feed(
        r#"<!DOCTYPE html><html><head><title>World Desk</title>
        <link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml"></head><body>news</body></html>"#,
    );
    page.content_type = "text/html; charset=utf-8";
    server.route("/", page);
    server.route("/feed.xml", Route::feed(sample_feed()));
    // The advertised feed is data, judged by where it leads: the server
    // stands in for a public one (docs/fetching.md, "Fetching").
    let setup = Setup::with_poll(
        &server.allowed(),
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"site\"\nurl = \"{}\"\n{}",
            server.url("/"),
            rule_iran_drones_ukraine()
        ),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 5 && r.matched_items == 1),
        "{reports:?}"
    );
    assert_eq!(server.seen("/feed.xml").len(), 1);
}

/// On paused time (file feeds: no network, so nothing else waits on the
/// clock): the jitter's waits pass without a real sleep.
#[tokio::test(start_paused = true)]
async fn jittered_polls_still_fetch_every_feed_and_stop_on_shutdown() {
    let feed = format!("file://{}", sample_feed_path().display());
    let feeds: String = ["a", "b", "c"]
        .iter()
        .map(|n| format!("[[feeds]]\nname = \"{n}\"\nurl = \"{feed}\"\n"))
        .collect();
    let setup = Setup::new(
        "transport = \"stdout\"",
        &(feeds + rule_iran_drones_ukraine()),
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut ctx = setup.context_with(shutdown.clone());
    ctx.jitter = std::time::Duration::from_secs(30);
    let started = tokio::time::Instant::now();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        reports
            .iter()
            .all(|r| matches!(r.outcome, FeedOutcome::Stored(_))),
        "{reports:?}"
    );
    assert!(
        started.elapsed() <= std::time::Duration::from_secs(30),
        "within the jitter"
    );
    // Waiting out a long jitter ends at shutdown, and nothing is fetched.
    ctx.jitter = std::time::Duration::from_secs(3600);
    ctx.respect_backoff = false;
    let polling = tokio::spawn({
        let ctx = ctx.clone();
        async move { pipeline::poll_all(&ctx).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    shutdown.cancel();
    let reports = polling.await.unwrap();
    assert!(
        reports.iter().all(|r| r.outcome == FeedOutcome::Skipped),
        "{reports:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_probe_says_what_each_feed_is() {
    let server = FeedServer::start().await;
    server.route("/good.xml", Route::feed(sample_feed()));
    let mut page = Route::feed(
        r#"<html><head><link rel="alternate" type="application/atom+xml" href="/good.xml"></head></html>"#,
    );
    page.content_type = "text/html";
    server.route("/page.xml", page);
    server.route("/broken.xml", Route::status(500, "oops"));
    let setup = Setup::with_poll(
        &server.allowed(),
        "transport = \"stdout\"",
        &(server.feeds_toml(&["good", "page", "broken"]) + rule_iran_drones_ukraine()),
    );
    let path = setup.path.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(&path)
            .args(["check", "--probe"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failing feed fails the probe: {text}"
    );
    assert!(text.contains("good: OK, 5 items"), "{text}");
    assert!(
        text.contains(&format!(
            "page: a web page; the feed it advertises is {}",
            server.url("/good.xml")
        )),
        "{text}"
    );
    assert!(text.contains("broken: FAILED: HTTP 500"), "{text}");
    assert!(
        !setup.dir.path().join("state").exists(),
        "the probe changes no state"
    );
}

/// A database made when the link rules still kept `utm_source`: an item
/// without an id was stored under its link with the parameter. After the
/// upgrade the same item's link comes out without it; the stored identity
/// is made again with the new rules, so the item does not alert again.
#[tokio::test]
async fn new_link_rules_do_not_make_stored_items_new() {
    let server = FeedServer::start().await;
    server.route(
        "/feed.xml",
        Route::feed(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>Iran drones over Ukraine</title>\
             <link>https://news.example.org/a?utm_source=rss</link></item></channel></rss>",
        ),
    );
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"f\"\nurl = \"{}\"\n{}",
            server.url("/feed.xml"),
            rule_iran_drones_ukraine()
        ),
    );
    drop(setup.store());
    let db = rusqlite::Connection::open(setup.dir.path().join("state/feedwatch.db")).unwrap();
    let old = "https://news.example.org/a?utm_source=rss";
    db.execute_batch(&format!(
        "INSERT INTO feeds(id, name, url, first_fetch_at) VALUES (1, 'f', 'u', 1);
         INSERT INTO seen(feed_id, key, link) VALUES (1, 'link:{old}', '{old}');
         DELETE FROM meta;"
    ))
    .unwrap();
    drop(db);
    let ctx = pipeline::Context::open(
        setup.config(),
        Default::default(),
        &mut feedwatch::store::log_progress,
    )
    .unwrap();
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.new_items == 0),
        "the same item, not a new one: {reports:?}"
    );
    let store = setup.store();
    assert_eq!(
        store.link_rules().unwrap(),
        feedwatch::parse::LINK_RULES_VERSION
    );
}

/// A permanent redirect adopted after three confirmations was fetched as if
/// the operator had configured it, trusting its own origin: a feed on the
/// LAN that moved to another internal host kept being fetched there after
/// the operator stopped allowing it. The adopted URL is judged by where it
/// leads, as the redirect was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_redirect_is_judged_by_where_it_leads() {
    let configured = FeedServer::start().await;
    let target = FeedServer::start().await;
    configured.route(
        "/feed.xml",
        Route::status(301, "").with_header("Location", &target.url("/feed.xml")),
    );
    target.route("/feed.xml", Route::feed(sample_feed()));
    let feeds = format!(
        "[[feeds]]\nname = \"lan\"\nurl = \"{}\"\n{}",
        configured.url("/feed.xml"),
        rule_iran_drones_ukraine()
    );
    let setup = Setup::with_poll(&target.allowed(), "transport = \"stdout\"", &feeds);
    for _ in 0..3 {
        let mut ctx = setup.context();
        ctx.respect_backoff = false;
        let reports = pipeline::poll_all(&ctx).await;
        assert!(
            matches!(
                reports[0].outcome,
                FeedOutcome::Stored(_) | FeedOutcome::NotModified
            ),
            "{reports:?}"
        );
    }
    assert_eq!(target.seen("/feed.xml").len(), 3);
    // The operator no longer allows the target: the adopted URL is refused.
    let text = std::fs::read_to_string(&setup.path)
        .unwrap()
        .replace(&target.allowed(), "");
    std::fs::write(&setup.path, text).unwrap();
    let mut ctx = setup.context();
    ctx.respect_backoff = false;
    let reports = pipeline::poll_all(&ctx).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(e) if e.to_string().contains("refused")),
        "{reports:?}"
    );
    assert_eq!(target.seen("/feed.xml").len(), 3, "not asked again");
}
