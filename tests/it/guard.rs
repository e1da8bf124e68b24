//! The SSRF guard decides at every hop (docs/fetching.md, "Fetching"), on loopback
//! only: a configured feed on 127.0.0.1 is the operator's choice, but the
//! URLs found in what it sends — its items' links, a redirect to another
//! origin — are judged by where they lead, so another loopback server
//! (standing in for a service inside the operator's network) is never
//! asked. A redirect that stays on the configured URL's own origin is
//! still followed. The decisions about addresses that must never be
//! connected to (169.254.169.254, NAT64, 6to4…) are unit tests of
//! `fetch/guard.rs`.

use feedwatch::pipeline::{self, FeedOutcome};

use crate::support::*;

fn teaser_feed(link: &str) -> String {
    let date = chrono::Utc::now().to_rfc2822();
    format!(
        "<rss version=\"2.0\"><channel><title>Bridge</title>\
         <item><guid>b1</guid><title>Overnight attack</title><link>{link}</link>\
         <description>Iranian drones struck Ukraine overnight.</description>\
         <pubDate>{date}</pubDate></item></channel></rss>"
    )
}

/// RSS-Bridge or FreshRSS on localhost: the feed is configured on purpose,
/// the links in it are third-party data. One that points at another
/// server inside is refused before connecting; the item is matched on its
/// teaser all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_feeds_item_links_cannot_lead_to_another_local_server() {
    let bridge = FeedServer::start().await;
    let inside = FeedServer::start().await;
    inside.route("/admin", article_page());
    bridge.route("/feed.xml", Route::feed(teaser_feed(&inside.url("/admin"))));
    let setup = Setup::with_poll(
        "article_delay = \"0s\"",
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"bridge\"\nurl = \"{}\"\nfull_text = true\n{}",
            bridge.url("/feed.xml"),
            rule_iran_drones_ukraine()
        ),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(r) if r.matched_items == 1),
        "the item is matched on its teaser: {reports:?}"
    );
    assert!(inside.seen("/admin").is_empty(), "never asked");
    let articles = setup.store().feed_status().unwrap()[0].articles.clone();
    assert_eq!((articles.fetched, articles.failed), (0, 1), "{articles:?}");
    let why = articles.last_error.unwrap_or_default();
    assert!(
        why.contains("refused") && why.contains("internal address"),
        "{why}"
    );
}

/// A configured local feed's redirect is the operator's choice only while
/// it stays on the configured URL's origin (scheme, host, port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_feed_may_redirect_on_its_own_origin_but_not_to_another() {
    let server = FeedServer::start().await;
    let inside = FeedServer::start().await;
    inside.route("/feed.xml", Route::feed(sample_feed()));
    server.route("/away.xml", Route::redirect(302, &inside.url("/feed.xml")));
    server.route("/moved.xml", Route::redirect(301, "/feed.xml"));
    server.route("/feed.xml", Route::feed(sample_feed()));
    let setup = Setup::new(
        "transport = \"stdout\"",
        &server.feeds_toml(&["away", "moved"]),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    let FeedOutcome::Failed(e) = &reports[0].outcome else {
        panic!("a redirect to another origin is refused: {reports:?}")
    };
    assert!(
        e.to_string().contains("refused") && e.to_string().contains("internal address"),
        "{e}"
    );
    assert!(inside.seen("/feed.xml").is_empty(), "never asked");
    assert!(
        matches!(&reports[1].outcome, FeedOutcome::Stored(r) if r.new_items == 5),
        "a redirect on the feed's own origin is followed: {reports:?}"
    );
    assert_eq!(server.seen("/feed.xml").len(), 1);
}
