//! Delivery end to end against a real SMTP server on loopback: the seed
//! article arrives exactly once, STARTTLS and AUTH work, and a server that
//! is down leaves the matches queued until a later run delivers them.

use feedwatch::pipeline;

use crate::support::*;

async fn poll_and_send(ctx: &pipeline::Context) -> (usize, usize) {
    pipeline::poll_all(ctx).await;
    let r = pipeline::deliver(ctx, &ctx.config.digests, pipeline::Retry::All)
        .await
        .expect("deliver");
    (r.sent, r.failed)
}

fn feed_and_rule(server: &FeedServer) -> String {
    format!(
        "[[feeds]]\nname = \"world\"\nurl = \"{}\"\n{}",
        server.url("/feed.xml"),
        rule_iran_drones_ukraine()
    )
}

#[tokio::test]
async fn the_sample_rule_delivers_exactly_the_seed_article_once() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let smtp = SmtpServer::start();
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &feed_and_rule(&feeds),
    );
    let ctx = setup.context();

    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let inbox = smtp.received();
    assert_eq!(inbox.len(), 1);
    let mail = &inbox[0];
    assert_eq!(mail.to, vec!["analyst@example.org".to_string()]);
    assert_eq!(mail.from, "fw@example.org");
    let text = mail.decoded();
    assert_eq!(
        text.matches(SEED_TITLE).count(),
        1,
        "once in the text part:\n{text}"
    );
    // In HTML the headline's matched words are marked: look for the rest.
    let escaped = " confirms talks with Tehran on Russia&#39;s use of ";
    assert_eq!(
        text.matches(escaped).count(),
        1,
        "once, escaped, in the HTML part:\n{text}"
    );
    for unrelated in [
        "naval exercise",
        "drone show",
        "sanctions package",
        "Tirana",
    ] {
        assert!(
            !text.contains(unrelated),
            "{unrelated} must not be in the digest:\n{text}"
        );
    }
    assert!(text.contains("Auto-Submitted: auto-generated"));
    assert!(text.contains("Message-ID: <feedwatch."));
    assert!(
        text.contains("2024-06-24 12:30 EEST"),
        "published time in the config's zone:\n{text}"
    );
    assert!(text.contains("<mark"), "matched words are marked:\n{text}");
    assert!(
        !text.contains("<script"),
        "feed scripts never reach the digest"
    );
    assert!(
        !text.contains("pixel.gif"),
        "no remote images from the feed"
    );

    // A second run finds nothing new: the daily digest, sent now, says so
    // (a quiet day is said, docs/digests.md, "Coverage and outages") and carries
    // nothing again.
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let inbox = smtp.received();
    assert_eq!(inbox.len(), 2);
    let quiet = inbox[1].decoded();
    assert!(!quiet.contains(SEED_TITLE), "{quiet}");
    assert!(quiet.contains("no new items"), "{quiet}");
    assert!(squash(&quiet).contains("Feeds read: 1 of 1."), "{quiet}");
}

/// The sample feed, and an SMTP server that requires STARTTLS and AUTH with
/// `password`; the config gives `configured` in its password_file.
async fn starttls_setup(password: &str, configured: &str) -> (FeedServer, SmtpServer, Setup) {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let smtp = SmtpServer::start_tls_auth("feedwatch", password);
    let setup = Setup::new(
        &format!(
            "smtp = \"smtp://feedwatch@localhost:{}\"\nstarttls = \"required\"\npassword_file = \"pw\"\nca_file = \"{}\"",
            smtp.port,
            tls_dir().join("ca.pem").display()
        ),
        &feed_and_rule(&feeds),
    );
    std::fs::write(setup.dir.path().join("pw"), configured).unwrap();
    (feeds, smtp, setup)
}

#[tokio::test]
async fn smtp_with_starttls_and_auth() {
    let (_feeds, smtp, setup) = starttls_setup("s3cret pass", "s3cret pass\n").await;
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let inbox = smtp.received();
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].auth,
        Some(("feedwatch".to_string(), "s3cret pass".to_string()))
    );
    assert!(inbox[0].decoded().contains(SEED_TITLE));
}

#[tokio::test]
async fn a_wrong_password_keeps_the_message_queued() {
    let (_feeds, smtp, setup) = starttls_setup("right", "wrong").await;
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (0, 1));
    assert!(smtp.received().is_empty());
    let errors = setup.store().outbox_errors().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        !errors[0].2.contains("wrong"),
        "the password never appears in an error: {}",
        errors[0].2
    );
}

#[tokio::test]
async fn a_server_that_is_down_leaves_matches_pending_and_a_later_run_sends_them() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    // Reserve a port, then free it: nothing listens there for the first run.
    let port = closed_port();
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{port}\""),
        &feed_and_rule(&feeds),
    );
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (0, 1));
    let st = setup.store().outbox_status().unwrap();
    assert_eq!((st.queued, st.failed, st.sent), (0, 1, 0));

    // The server comes up on that port; the next run delivers the same
    // message, then the digest of this run (nothing new since).
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("rebind the smtp port");
    let smtp = SmtpServer::start_on(listener, false, None);
    assert_eq!(poll_and_send(&ctx).await, (2, 0));
    let inbox = smtp.received();
    assert_eq!(inbox.len(), 2);
    assert!(inbox[0].decoded().contains(SEED_TITLE));
    assert!(!inbox[1].decoded().contains(SEED_TITLE));
    assert_eq!(setup.store().outbox_status().unwrap().sent, 2);
}

#[tokio::test]
async fn the_daemon_respects_backoff_after_a_failure() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", closed_port()),
        &feed_and_rule(&feeds),
    );
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (0, 1));
    // Not due yet: the daemon's flush leaves it alone.
    assert_eq!(
        pipeline::flush_outbox(&ctx, None, pipeline::Retry::Due)
            .await
            .unwrap(),
        (0, 0)
    );
}

#[tokio::test]
async fn dry_run_prints_the_message_and_changes_nothing() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let setup = Setup::new("transport = \"stdout\"", &feed_and_rule(&feeds));
    let ctx = setup.context();
    pipeline::poll_all(&ctx).await;
    let digest = &ctx.config.digests[0];
    let messages = pipeline::dry_run(&ctx, digest).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert!(String::from_utf8_lossy(&messages[0]).contains("Auto-Submitted: auto-generated"));
    assert_eq!(
        setup.store().pending("default").unwrap().len(),
        1,
        "still pending"
    );
    assert_eq!(
        setup.store().outbox_status().unwrap().queued,
        0,
        "nothing queued"
    );
}

#[tokio::test]
async fn the_same_story_in_two_feeds_is_sent_once_with_also_in() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    // Another outlet runs the same wire copy: new ids, new links, an edited headline.
    let wire = String::from_utf8(sample_feed())
        .unwrap()
        .replace("sample-world-desk-", "wire-")
        .replace("https://news.example.org/", "https://wire.example.net/")
        .replace(
            SEED_TITLE,
            "Kyiv and Tehran held expert talks over drones, Ukraine says",
        );
    feeds.route("/wire.xml", Route::feed(wire));
    let smtp = SmtpServer::start();
    let setup = world_and_wire(&feeds, &smtp);
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let text = smtp.received()[0].decoded();
    assert!(
        text.contains("Subject: feedwatch: 2 new items"),
        "two copies of one story: {text}"
    );
    // Which copy leads depends on which feed was stored first; count in the
    // plain-text part only (the HTML part repeats the leading title).
    let plain = text
        .split("Content-Type: text/html")
        .next()
        .unwrap_or_default();
    let told = plain.matches(&format!("* {SEED_TITLE}")).count()
        + plain.matches("* Kyiv and Tehran held expert talks").count();
    assert_eq!(told, 1, "the story once in full in the text part:\n{text}");
    let unwrapped = squash(plain);
    assert!(
        unwrapped.contains("also in wire: Kyiv and Tehran held expert talks over drones, Ukraine says https://wire.example.net/")
            || unwrapped.contains(&format!("also in world: {SEED_TITLE} https://news.example.org/")),
        "{text}"
    );
    assert!(
        setup.store().pending("default").unwrap().is_empty(),
        "both copies left pending"
    );
}

/// A copy of a story already sent, arriving later in another feed, is
/// listed as already reported in the next digest, not as new.
#[tokio::test]
async fn a_story_is_news_once_across_digests() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    feeds.route(
        "/wire.xml",
        Route::feed("<rss version=\"2.0\"><channel><title>w</title></channel></rss>"),
    );
    let smtp = SmtpServer::start();
    let setup = world_and_wire(&feeds, &smtp);
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    // A day later the wire runs the same copy, beside a story of its own.
    let copy = String::from_utf8(sample_feed())
        .unwrap()
        .replace("sample-world-desk-", "wire-")
        .replace("https://news.example.org/", "https://wire.example.net/")
        .replace(SEED_TITLE, "Kyiv and Tehran held expert talks over drones, Ukraine says")
        .replacen(
            "<item>",
            "<item><title>Ukraine downs Iranian drones over Odesa</title><guid>wire-new</guid>\
             <description>Air defence shot down twelve Iranian-made drones over Odesa overnight.</description></item><item>",
            1,
        );
    feeds.route("/wire.xml", Route::feed(copy));
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let second = smtp.received()[1].decoded();
    let plain = second
        .split("Content-Type: text/html")
        .next()
        .unwrap_or_default();
    assert!(
        second.contains("Subject: feedwatch: 1 new item"),
        "{second}"
    );
    assert!(
        plain.contains("Ukraine downs Iranian drones over Odesa"),
        "{second}"
    );
    assert!(
        plain.contains("Already reported (later copies)"),
        "{second}"
    );
    assert!(
        squash(plain).contains(
            "Kyiv and Tehran held expert talks over drones, Ukraine says (wire; rules: iran-drones-ukraine): reported in \"default\" on "
        ) && squash(plain).contains(&format!("as \"{SEED_TITLE}\" (world)")),
        "{second}"
    );
    assert!(setup.store().pending("default").unwrap().is_empty());
}

#[tokio::test]
async fn maildir_transport_delivers_whole_messages_into_new() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let setup = Setup::new(
        "transport = \"maildir:Mail/feedwatch\"",
        &feed_and_rule(&feeds),
    );
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let maildir = setup.dir.path().join("Mail/feedwatch");
    let new: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!(
        std::fs::read_dir(maildir.join("tmp")).unwrap().count(),
        0,
        "nothing left half-written"
    );
    let mail = Received {
        data: std::fs::read_to_string(new[0].path()).unwrap(),
        ..Default::default()
    };
    assert!(mail.decoded().contains(SEED_TITLE));
}

#[tokio::test]
async fn sendmail_transport_hands_the_message_and_envelope_to_the_program() {
    use std::os::unix::fs::PermissionsExt;
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let setup = Setup::new(
        "transport = \"sendmail:fake-sendmail\"",
        &feed_and_rule(&feeds),
    );
    let dir = setup.dir.path();
    let script = dir.join("fake-sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > '{0}/args'\ncat > '{0}/message'\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    assert_eq!(args.trim(), "-i -f fw@example.org -- analyst@example.org");
    let mail = Received {
        data: std::fs::read_to_string(dir.join("message")).unwrap(),
        ..Default::default()
    };
    assert!(mail.decoded().contains(SEED_TITLE));

    // A failing sendmail leaves the message queued.
    std::fs::write(
        &script,
        "#!/bin/sh\ncat > /dev/null\necho 'queue full' >&2\nexit 75\n",
    )
    .unwrap();
    let text = String::from_utf8(sample_feed()).unwrap().replace(
        "<item>",
        "<item><title>Iran drones hit Ukraine again</title><guid>x</guid></item><item>",
    );
    feeds.route("/feed.xml", Route::feed(text));
    assert_eq!(poll_and_send(&ctx).await, (0, 1));
    assert_eq!(setup.store().outbox_status().unwrap().failed, 1);
}

#[tokio::test]
async fn the_digest_ends_with_failing_feeds_and_undelivered_digests() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let smtp = SmtpServer::start();
    let rules = "[[rules]]\nname = \"bounced\"\nquery = 'sanctions'\ndigest = \"morning\"\n\
                 [[rules]]\nname = \"seed\"\nquery = 'iran* AND drone* AND ukrain*'\ndigest = \"evening\"\n\
                 [[digests]]\nname = \"morning\"\nto = [\"bounce@example.org\"]\n\
                 [[digests]]\nname = \"evening\"\n";
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "[[feeds]]\nname = \"world\"\nurl = \"{}\"\n{rules}",
            feeds.url("/feed.xml")
        ),
    );
    // A feed that has been failing for two days.
    failing_for_two_days(&setup);
    let ctx = setup.context();
    pipeline::poll_all(&ctx).await;
    let morning = ctx.config.digest("morning").unwrap();
    let evening = ctx.config.digest("evening").unwrap();
    let r = pipeline::deliver(&ctx, std::slice::from_ref(morning), pipeline::Retry::All)
        .await
        .unwrap();
    assert_eq!(
        (r.sent, r.failed),
        (0, 1),
        "the server refuses the morning recipient (550)"
    );
    let r = pipeline::deliver(&ctx, std::slice::from_ref(evening), pipeline::Retry::All)
        .await
        .unwrap();
    assert_eq!(r.sent, 1);
    let inbox = smtp.received();
    assert_eq!(inbox.len(), 1);
    let text = inbox[0].decoded();
    assert!(text.contains("Feeds that need attention"), "{text}");
    let squashed = squash(&text);
    assert!(
        squashed.contains("ghost: not fetched successfully since it was added"),
        "{text}"
    );
    assert!(text.contains("Digests not delivered yet"), "{text}");
    assert!(text.contains("\"morning\" of"), "{text}");
    assert!(
        text.contains("550"),
        "the server's refusal is reported: {text}"
    );
    let st = setup.store().outbox_status().unwrap();
    assert_eq!(
        (st.failed, st.sent),
        (1, 1),
        "the refused digest is kept, not deleted"
    );
}

/// An immediate digest goes out after every poll that finds something: it
/// shows a feed's problem at most once a day; a scheduled one always does.
#[tokio::test]
async fn an_immediate_digest_shows_a_feed_problem_once_a_day() {
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(sample_feed()));
    let smtp = SmtpServer::start();
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "[[feeds]]\nname = \"world\"\nurl = \"{}\"\n\
             [[rules]]\nname = \"now\"\nquery = 'drone*'\ndigest = \"now\"\n\
             [[rules]]\nname = \"later\"\nquery = 'drone*'\ndigest = \"later\"\n\
             [[digests]]\nname = \"now\"\nschedule = \"immediate\"\n\
             [[digests]]\nname = \"later\"\nschedule = \"0 7 * * *\"\n",
            feeds.url("/feed.xml")
        ),
    );
    failing_for_two_days(&setup);
    let ctx = setup.context();
    let immediate = ctx.config.digest("now").unwrap().clone();
    let scheduled = ctx.config.digest("later").unwrap().clone();
    let new_item = |n: usize| {
        String::from_utf8(sample_feed()).unwrap().replacen(
            "<item>",
            &format!(
                "<item><title>Drones over Kharkiv, report {n}</title><guid>n{n}</guid></item><item>"
            ),
            1,
        )
    };
    for round in 0..2 {
        feeds.route("/feed.xml", Route::feed(new_item(round)));
        pipeline::poll_all(&ctx).await;
        pipeline::deliver(&ctx, std::slice::from_ref(&immediate), pipeline::Retry::All)
            .await
            .unwrap();
    }
    pipeline::deliver(&ctx, std::slice::from_ref(&scheduled), pipeline::Retry::All)
        .await
        .unwrap();
    let inbox: Vec<String> = smtp.received().iter().map(|m| m.decoded()).collect();
    assert_eq!(inbox.len(), 3);
    let shows = |m: &String| m.contains("ghost: not fetched successfully");
    assert!(
        shows(&inbox[0]),
        "the first immediate digest shows it: {}",
        inbox[0]
    );
    assert!(!shows(&inbox[1]), "not again the same day: {}", inbox[1]);
    assert!(
        shows(&inbox[2]),
        "the scheduled digest always does: {}",
        inbox[2]
    );
}

/// A digest too big for one message goes out in parts that mail clients
/// thread and filters sort: List-Id on each, parts after the first in reply
/// to it.
#[tokio::test]
async fn the_parts_of_a_digest_are_threaded_and_listed() {
    let mut rss = String::from("<rss version=\"2.0\"><channel><title>big</title>");
    for i in 0..300 {
        rss.push_str(&format!(
            "<item><title>Drone report {i}</title><guid>g{i}</guid><description>{}</description></item>",
            format!("drones and more words about item {i} ").repeat(30)
        ));
    }
    rss.push_str("</channel></rss>");
    let feeds = FeedServer::start().await;
    feeds.route("/feed.xml", Route::feed(rss));
    let smtp = SmtpServer::start();
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "[[feeds]]\nname = \"big\"\nurl = \"{}\"\n[[rules]]\nname = \"drones\"\nquery = 'drone*'\n",
            feeds.url("/feed.xml")
        ),
    );
    let ctx = setup.context();
    let (sent, failed) = poll_and_send(&ctx).await;
    assert!(sent > 1 && failed == 0, "{sent} parts");
    let inbox = smtp.received();
    let header = |m: &Received, name: &str| {
        m.data
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_string)
    };
    let first = header(&inbox[0], "Message-ID").unwrap();
    assert_eq!(header(&inbox[0], "In-Reply-To"), None);
    for m in &inbox {
        assert_eq!(
            header(m, "List-Id").as_deref(),
            Some("feedwatch digest <default.feedwatch.example.org>")
        );
    }
    for m in &inbox[1..] {
        assert_eq!(header(m, "In-Reply-To").as_deref(), Some(first.as_str()));
        assert_eq!(header(m, "References").as_deref(), Some(first.as_str()));
    }
}

/// A feed "ghost" that has been failing for two days.
fn failing_for_two_days(setup: &Setup) {
    let two_days_ago = chrono::Utc::now() - chrono::Duration::days(2);
    // Written as a poll writes a failure, with its backoff.
    let retry_at = |_failures: i64| chrono::Utc::now() + chrono::Duration::hours(1);
    let failure = feedwatch::store::Write::Failed(feedwatch::store::Failure {
        feed: "ghost",
        url: "https://ghost.invalid/",
        status: Some(503),
        error: "HTTP 503",
        now: two_days_ago,
        retry_at: &retry_at,
    });
    for written in setup.store().write_group(&[failure], &[]) {
        written.unwrap();
    }
}

/// The sample feed ("world", with the example rule) and "/wire.xml" as
/// "wire", sending to `smtp`.
fn world_and_wire(feeds: &FeedServer, smtp: &SmtpServer) -> Setup {
    Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "{}[[feeds]]\nname = \"wire\"\nurl = \"{}\"\n",
            feed_and_rule(feeds),
            feeds.url("/wire.xml")
        ),
    )
}

/// What `digest` would send now, as text.
async fn dry_text(ctx: &pipeline::Context, digest: &str) -> String {
    let digest = ctx.config.digest(digest).expect("a configured digest");
    let messages = pipeline::dry_run(ctx, digest).await.expect("dry run");
    String::from_utf8_lossy(&messages.concat()).into_owned()
}

/// The attention section: a feed that worked was named only after a day of
/// failures; when a problem was shown was kept per problem, so the daily
/// digest claimed it and the immediate digest's readers never saw it; and
/// every digest listed feeds its own rules never read. Now a feed is named
/// after `failing_after` polls, in each digest whose rules read it, the
/// immediate one included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_digest_names_the_outages_of_its_own_feeds_after_a_few_polls() {
    let server = FeedServer::start().await;
    server.route("/wire.xml", Route::feed(sample_feed()));
    server.route("/dead.xml", Route::feed(sample_feed()));
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "{}\
             [[rules]]\nname = \"all-drones\"\nquery = 'drone*'\ndigest = \"morning\"\n\
             [[rules]]\nname = \"flash-drones\"\nquery = 'drone*'\ndigest = \"flash\"\n\
             [[rules]]\nname = \"wire-only\"\nquery = 'drone*'\nfeeds = [\"wire\"]\ndigest = \"desk\"\n\
             [[digests]]\nname = \"morning\"\nschedule = \"0 7 * * *\"\n\
             [[digests]]\nname = \"flash\"\nschedule = \"immediate\"\n\
             [[digests]]\nname = \"desk\"\nschedule = \"0 7 * * *\"\n",
            server.feeds_toml(&["wire", "dead"])
        ),
    );
    let mut ctx = setup.context();
    ctx.respect_backoff = false;
    pipeline::poll_all(&ctx).await;
    server.route("/dead.xml", Route::status(503, "down"));
    // Named in the attention section, or told as news (immediate digests).
    let named = |text: &str| text.contains("dead: down since") || text.contains("dead is down");
    for polls in 1..=3 {
        // New items for every digest, so that each has something to send.
        let more = String::from_utf8(sample_feed()).unwrap().replacen(
            "<item>",
            &format!(
                "<item><title>Drones over Odesa {polls}</title><guid>n{polls}</guid></item><item>"
            ),
            1,
        );
        server.route("/wire.xml", Route::feed(more));
        pipeline::poll_all(&ctx).await;
        let morning = dry_text(&ctx, "morning").await;
        assert_eq!(
            named(&morning),
            polls >= 3,
            "after {polls} failed polls:\n{morning}"
        );
    }
    // The scheduled digest shows it first; the immediate one all the same.
    let digests = |name: &str| vec![ctx.config.digest(name).unwrap().clone()];
    pipeline::deliver(&ctx, &digests("morning"), pipeline::Retry::All)
        .await
        .unwrap();
    let flash = dry_text(&ctx, "flash").await;
    assert!(named(&flash), "the flash digest names it too:\n{flash}");
    // A digest whose rules never read the dead feed does not name it.
    let desk = dry_text(&ctx, "desk").await;
    assert!(desk.contains("Drones over Odesa"), "{desk}");
    assert!(!named(&desk), "not its feed:\n{desk}");
}

/// A status feed whose distinct events all link to one page: every event
/// reaches the digest. The fourth, polled after the first digest, was taken
/// for a copy of a story already reported and never sent.
#[tokio::test]
async fn distinct_events_at_one_link_are_each_delivered() {
    let status = |events: &[(&str, &str, &str)]| {
        let items: String = events
            .iter()
            .map(|(guid, title, text)| {
                format!(
                    "<item><guid>{guid}</guid><title>{title}</title>\
                     <link>https://status.example.org/alerts</link><description>{text}</description></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>Alerts</title>{items}</channel></rss>")
    };
    let mut events = vec![
        (
            "e1",
            "Drone alert: Kyiv region",
            "Air defence is working against Shahed drones approaching Kyiv from the south, residents are asked to stay in shelters.",
        ),
        (
            "e2",
            "Drone debris falls in Obolon",
            "Debris of a downed drone damaged a high-rise building in Obolon district; two people were injured, the city administration said.",
        ),
        (
            "e3",
            "All clear in Kyiv region",
            "The air raid alert in Kyiv region has ended after four hours; the metro resumes normal service.",
        ),
    ];
    let feeds = FeedServer::start().await;
    feeds.route("/status.xml", Route::feed(status(&events)));
    let smtp = SmtpServer::start();
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "[[feeds]]\nname = \"alerts\"\nurl = \"{}\"\n\
             [[rules]]\nname = \"kyiv-drones\"\nquery = 'drone* OR kyiv'\ndigest = \"flash\"\n\
             [[digests]]\nname = \"flash\"\nschedule = \"immediate\"\n",
            feeds.url("/status.xml")
        ),
    );
    let ctx = setup.context();
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let first = squash(&smtp.received()[0].decoded());
    for (_, title, _) in &events {
        assert!(first.contains(title), "{title}: {first}");
    }
    events.push((
        "e4",
        "Drone hits power line near Boryspil",
        "A drone struck a power line near Boryspil overnight, leaving 3,000 homes without electricity, the regional governor said.",
    ));
    feeds.route("/status.xml", Route::feed(status(&events)));
    assert_eq!(poll_and_send(&ctx).await, (1, 0));
    let second = squash(&smtp.received()[1].decoded());
    assert!(
        second.contains("Subject: feedwatch: 1 new item"),
        "{second}"
    );
    assert!(
        second.contains("Drone hits power line near Boryspil"),
        "{second}"
    );
    assert!(
        !second.contains("Already reported"),
        "news, not a copy: {second}"
    );
    assert!(setup.store().pending("flash").unwrap().is_empty());
}

/// Marks are per digest, in both parts of the message: the flash digest's
/// rule marks its words, and another digest's rule that matched the same
/// item marks nothing there.
#[tokio::test]
async fn a_digest_marks_its_own_rules_words_only() {
    let feeds = FeedServer::start().await;
    feeds.route(
        "/feed.xml",
        Route::feed(
            "<rss version=\"2.0\"><channel><title>k</title><item><guid>1</guid><title>Kyiv drone attack</title>\
             <description>A drone hit Kyiv at night; Tehran denied sending it.</description></item></channel></rss>",
        ),
    );
    let setup = Setup::new(
        "transport = \"stdout\"",
        &format!(
            "[[feeds]]\nname = \"k\"\nurl = \"{}\"\n\
             [[rules]]\nname = \"kyiv-strikes\"\nquery = 'kyiv'\ndigest = \"flash\"\n\
             [[rules]]\nname = \"iran\"\nquery = 'tehran'\ndigest = \"desk\"\n\
             [[digests]]\nname = \"flash\"\nschedule = \"immediate\"\n\
             [[digests]]\nname = \"desk\"\nschedule = \"0 7 * * *\"\n",
            feeds.url("/feed.xml")
        ),
    );
    let ctx = setup.context();
    pipeline::poll_all(&ctx).await;
    let flash = decode_quoted_printable(&dry_text(&ctx, "flash").await);
    let (text, html) = flash.split_once("Content-Type: text/html").unwrap();
    assert!(
        text.contains("*Kyiv*") && !text.contains("*Tehran*"),
        "{text}"
    );
    assert!(html.contains(">Kyiv</mark>"), "{html}");
    assert!(
        !html.contains(">Tehran</mark>"),
        "another digest's word: {html}"
    );
}
