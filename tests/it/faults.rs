//! The faults that must not lose an item, block the daemon or leak a
//! secret: a fetch that redirects slowly past its timeout, a web page that
//! points a feed inside, a server that would take the SMTP password
//! in clear text, a store that cannot write, a damaged database, a feed
//! with an entry that cannot be read.

use std::process::Output;
use std::time::Duration;

use feedwatch::pipeline::{self, FeedOutcome};

use crate::support::*;

fn feedwatch(config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    feedwatch_with(config, args, env)
}

/// Four hops, each answered in 0.8 s: each within the 2 s timeout that
/// reqwest applies to one request, 3.2 s together. Only the whole-fetch
/// deadline (`fetch/http.rs`) stops the chain: without it every hop passes
/// and the feed is read (tried: the test then fails on the outcome).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_bounds_the_whole_fetch_not_each_redirect() {
    let server = FeedServer::start().await;
    for hop in 1..=4 {
        let next = server.url(&format!("/hop{}.xml", hop + 1));
        server.route(
            &format!("/hop{hop}.xml"),
            Route::redirect(302, &next).after(Duration::from_millis(800)),
        );
    }
    server.route("/hop5.xml", Route::feed(sample_feed()));
    let setup = Setup::with_poll(
        "timeout = \"2s\"",
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"chain\"\nurl = \"{}\"\n",
            server.url("/hop1.xml")
        ),
    );
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(e) if e.to_string() == "timed out"),
        "{reports:?}"
    );
    let hops = (1..=5)
        .filter(|h| !server.seen(&format!("/hop{h}.xml")).is_empty())
        .count();
    assert!(
        hops <= 3,
        "the fetch stopped at its deadline, after {hops} hops"
    );
}

/// The feed a page advertises is data, judged by where it leads: even a
/// page the operator configured on 127.0.0.1 cannot send feedwatch to
/// another server inside, unless `allow_internal` names that server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_cannot_point_us_at_an_internal_feed_unless_allowed() {
    let server = FeedServer::start().await;
    // The canary stands in for a service inside the operator's network.
    let canary = FeedServer::start().await;
    canary.route("/internal.xml", Route::feed(sample_feed()));
    let advertised_host = format!("localhost:{}", canary.addr.unwrap().port());
    let advertised = format!("http://{advertised_host}/internal.xml");
    let mut page = Route::feed(format!(
        "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{advertised}\"></head></html>"
    ));
    page.content_type = "text/html";
    server.route("/page.html", page);
    let feeds = format!(
        "[[feeds]]\nname = \"page\"\nurl = \"{}\"\n",
        server.url("/page.html")
    );
    let setup = Setup::new("transport = \"stdout\"", &feeds);
    let reports = pipeline::poll_all(&setup.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Failed(_)),
        "{reports:?}"
    );
    assert!(
        canary.seen("/internal.xml").is_empty(),
        "the internal feed was never asked for"
    );
    // With the canary's host in allow_internal, the operator says it may.
    let allowed = Setup::with_poll(
        &format!("allow_internal = [\"{advertised_host}\"]"),
        "transport = \"stdout\"",
        &feeds,
    );
    let reports = pipeline::poll_all(&allowed.context()).await;
    assert!(
        matches!(&reports[0].outcome, FeedOutcome::Stored(_)),
        "{reports:?}"
    );
    assert_eq!(canary.seen("/internal.xml").len(), 1);
}

#[test]
fn the_smtp_password_never_crosses_the_network_in_clear_text_unless_allowed() {
    let smtp = PlainAuthSmtp::start();
    let setup = Setup::new(
        &format!("smtp = \"smtp://feedwatch@127.0.0.1:{}\"", smtp.port),
        &format!(
            "[[feeds]]\nname = \"sample\"\nurl = \"file://{}\"\n{}",
            sample_feed_path().display(),
            rule_iran_drones_ukraine()
        ),
    );
    let password = [("FEEDWATCH_SMTP_PASSWORD", "s3cret")];
    let out = feedwatch(&setup.path, &["run", "--once"], &password);
    assert_eq!(
        out.status.code(),
        Some(1),
        "not delivered: {}",
        text(&out.stderr)
    );
    assert!(smtp.passwords().is_empty(), "the password was not sent");
    assert!(smtp.messages().is_empty());
    assert!(
        text(&out.stderr).contains("insecure_auth = true"),
        "{}",
        text(&out.stderr)
    );
    // A relay on this host, allowed in plain words.
    let config = std::fs::read_to_string(&setup.path).unwrap().replace(
        &format!("smtp = \"smtp://feedwatch@127.0.0.1:{}\"", smtp.port),
        &format!(
            "smtp = \"smtp://feedwatch@127.0.0.1:{}\"\ninsecure_auth = true",
            smtp.port
        ),
    );
    std::fs::write(&setup.path, config).unwrap();
    let out = feedwatch(&setup.path, &["run", "--once"], &password);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(smtp.passwords(), ["s3cret"]);
    assert_eq!(smtp.messages().len(), 1, "the queued message, sent once");
}

#[test]
fn a_store_that_cannot_write_fails_the_poll_not_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed.xml");
    std::fs::write(&feed, sample_feed()).unwrap();
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"sample\"\nurl = \"file://{}\"\n",
            feed.display()
        ),
    );
    assert!(feedwatch(&setup.path, &["poll"], &[]).status.success());
    // Stands in for a full disk: every new row is refused.
    let db = setup.dir.path().join("state/feedwatch.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TRIGGER full BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;")
        .unwrap();
    let more = String::from_utf8(sample_feed()).unwrap().replacen(
        "<item>",
        "<item><title>New</title><guid>new-1</guid></item><item>",
        1,
    );
    std::fs::write(&feed, more).unwrap();
    let out = feedwatch(&setup.path, &["poll"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("cannot store the feed's items"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("the poll failed for 1 feed (sample)"),
        "{}",
        text(&out.stderr)
    );
    let status = setup.store().feed_status().unwrap();
    assert_eq!(
        (status[0].consecutive_errors, status[0].next_fetch),
        (0, None),
        "the feed is not blamed and does not back off"
    );
}

#[test]
fn a_damaged_database_is_reported_by_every_command_with_the_way_back() {
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"sample\"\nurl = \"file://{}\"\n{}",
            sample_feed_path().display(),
            rule_iran_drones_ukraine()
        ),
    );
    assert!(feedwatch(&setup.path, &["poll"], &[]).status.success());
    // Noise over every page but the first (the schema).
    let db = setup.dir.path().join("state/feedwatch.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for b in bytes.iter_mut().skip(32768) {
        *b = rng.u8(..);
    }
    std::fs::write(&db, bytes).unwrap();
    for args in [
        &["status"][..],
        &["digest"],
        &["poll"],
        &["search", "iran"],
        &["run", "--once"],
    ] {
        let out = feedwatch(&setup.path, args, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("the database is damaged") && err.contains("restore the last backup"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_entry_that_cannot_be_read_is_warned_about_and_the_others_are_stored() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parse/one-bad-entry.xml");
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"file://{}\"\n",
            fixture.display()
        ),
    );
    let out = feedwatch(&setup.path, &["poll"], &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let warning = err
        .lines()
        .find(|l| l.contains("an entry of the feed cannot be read"))
        .unwrap_or_else(|| panic!("a warning: {err}"));
    assert!(
        warning.contains("wire") && warning.contains("entry 2: \"Broken\""),
        "it names the feed and the entry: {warning}"
    );
    let status = text(&feedwatch(&setup.path, &["status"], &[]).stdout);
    let row = status.lines().find(|l| l.starts_with("wire")).unwrap();
    assert!(
        row.split_whitespace().any(|w| w == "2"),
        "the two good entries are stored: {row}"
    );
}
