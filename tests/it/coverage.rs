//! What digests say of their own feeds (docs/digests.md, "Coverage and outages"),
//! driven through the daemon's own step (`daemon::step`: a poll, then the
//! immediate digests after it; a scheduled digest's tick) on paused time,
//! with file feeds so that nothing else waits on the clock. An outage was
//! silent: a feed that worked was named only after a day, a digest with no
//! news was never sent, and no digest said what it had read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use feedwatch::daemon::{Tick, step};
use feedwatch::pipeline::Context;

use crate::support::*;

/// An RSS feed of `titles`, one item each (guid = title).
fn rss(titles: &[String]) -> String {
    let items: String = titles
        .iter()
        .map(|t| format!("<item><title>{t}</title><guid>{t}</guid><description>{t}, the report says.</description></item>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"
    )
}

/// The messages the maildir received since the last call, decoded.
struct Inbox {
    dir: PathBuf,
    seen: HashSet<PathBuf>,
}

impl Inbox {
    fn new(setup: &Setup) -> Self {
        Inbox {
            dir: setup.dir.path().join("Mail/new"),
            seen: HashSet::new(),
        }
    }

    /// The one message received since the last call.
    fn one(&mut self) -> String {
        let mut got = self.new_messages();
        assert_eq!(got.len(), 1, "one message: {got:?}");
        got.remove(0)
    }

    fn new_messages(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if self.seen.insert(p.clone()) {
                let text = std::fs::read_to_string(&p).expect("a message");
                out.push(squash(&decode_quoted_printable(&text)));
            }
        }
        out
    }
}

/// A poll as the daemon runs it: the poll step, then the steps it asks for
/// (the immediate digests).
async fn poll(ctx: &Context) {
    for next in step(ctx, Tick::Poll).await {
        step(ctx, next).await;
    }
}

fn subject(message: &str) -> &str {
    let start = message.find("Subject: ").map_or(0, |i| i + 9);
    let rest = &message[start..];
    &rest[..rest.find(" Date:").unwrap_or(rest.len())]
}

/// Three feeds; "flash" (immediate) and "morning" read two, "sport" the
/// third. `quiet` is morning's `send_when_quiet`, left out with `None`.
fn setup(dir_feeds: &Path, quiet: Option<bool>) -> Setup {
    let url = |name: &str| format!("file://{}", dir_feeds.join(name).display());
    let quiet = quiet.map_or(String::new(), |q| format!("send_when_quiet = {q}\n"));
    Setup::new(
        "transport = \"maildir:Mail\"",
        &format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\n\
             [[feeds]]\nname = \"kyiv\"\nurl = \"{}\"\n\
             [[feeds]]\nname = \"sports\"\nurl = \"{}\"\n\
             [[rules]]\nname = \"flash-drones\"\nquery = 'drone*'\nfeeds = [\"wire\", \"kyiv\"]\ndigest = \"flash\"\n\
             [[rules]]\nname = \"drones\"\nquery = 'drone*'\nfeeds = [\"wire\", \"kyiv\"]\ndigest = \"morning\"\n\
             [[rules]]\nname = \"football\"\nquery = 'football'\nfeeds = [\"sports\"]\ndigest = \"sport\"\n\
             [[digests]]\nname = \"flash\"\nschedule = \"immediate\"\n\
             [[digests]]\nname = \"morning\"\nschedule = \"0 7 * * *\"\n{quiet}\
             [[digests]]\nname = \"sport\"\nschedule = \"0 8 * * *\"\nsend_when_quiet = false\n",
            url("wire.xml"),
            url("kyiv.xml"),
            url("sports.xml"),
        ),
    )
}

/// An immediate digest tells an outage of one of its feeds after
/// `failing_after` (3) failed polls, once, even with no news, and tells
/// the recovery; a scheduled digest is sent for it even on a quiet day, and
/// says what it covered; a digest whose feeds are well and that has
/// nothing new stays quiet when told to.
#[tokio::test(start_paused = true)]
async fn an_outage_is_told_when_it_begins_and_ends_and_every_digest_says_what_it_covered() {
    let feeds = tempfile::tempdir().unwrap();
    let write = |name: &str, titles: &[&str]| {
        let titles: Vec<String> = titles.iter().map(|t| t.to_string()).collect();
        std::fs::write(feeds.path().join(name), rss(&titles)).unwrap();
    };
    write("wire.xml", &["Drones over Odesa", "Grain exports resume"]);
    write(
        "kyiv.xml",
        &[
            "Drone debris falls in Kyiv",
            "Metro reopens",
            "Power restored",
        ],
    );
    write("sports.xml", &["Chess final"]);
    let setup = setup(feeds.path(), Some(false));
    let mut ctx = setup.context();
    ctx.respect_backoff = false;
    let mut inbox = Inbox::new(&setup);

    // The first poll: the flash digest carries its two matches.
    poll(&ctx).await;
    let flash = inbox.one();
    assert!(flash.contains("Drones over Odesa"), "{flash}");
    assert!(!flash.contains("Sources"), "no outage yet: {flash}");

    // The morning digest: what it covered, its two feeds, six items.
    step(&ctx, Tick::Digest("morning".into())).await;
    let morning = &inbox.one();
    assert!(morning.contains("What this digest covered"), "{morning}");
    assert!(
        morning.contains("Morning digest: 2 new items From 20"),
        "the time it covers under the heading: {morning}"
    );
    assert!(morning.contains("Feeds read: 2 of 2."), "{morning}");
    assert!(
        morning.contains("New items checked against the rules: 5."),
        "{morning}"
    );
    assert!(morning.contains("New matches: 2 items."), "{morning}");
    assert_eq!(subject(morning), "feedwatch: 2 new items");

    // kyiv goes down. Two failed polls say nothing yet; nothing is new.
    std::fs::remove_file(feeds.path().join("kyiv.xml")).unwrap();
    for _ in 0..2 {
        poll(&ctx).await;
        assert_eq!(inbox.new_messages(), Vec::<String>::new());
    }
    // The third: the flash digest tells it, with no news of its own.
    poll(&ctx).await;
    let flash = &inbox.one();
    assert_eq!(subject(flash), "feedwatch: 0 new items (down: kyiv)");
    assert!(flash.contains("no new items"), "{flash}");
    assert!(
        flash.contains("kyiv is down: 3 polls in a row have failed since"),
        "{flash}"
    );
    assert!(
        !flash.contains("wire is"),
        "only the feed that is down: {flash}"
    );
    // Told once: the next failed poll sends nothing.
    poll(&ctx).await;
    assert_eq!(inbox.new_messages(), Vec::<String>::new());

    // The morning digest goes out although nothing is new and quiet days
    // are not sent: one of its feeds is down.
    step(&ctx, Tick::Digest("morning".into())).await;
    let morning = &inbox.one();
    assert_eq!(subject(morning), "feedwatch: 0 new items (1 feed down)");
    assert!(
        morning.contains("Feeds read: 1 of 2 (not read: kyiv)."),
        "{morning}"
    );
    assert!(
        morning.contains("New items checked against the rules: 0."),
        "{morning}"
    );
    assert!(morning.contains("New matches: none."), "{morning}");
    assert!(
        morning.contains("kyiv: down since") && morning.contains("4 polls in a row failed"),
        "{morning}"
    );
    // The sport digest: its feed is well, nothing new, quiet days not sent.
    step(&ctx, Tick::Digest("sport".into())).await;
    assert_eq!(inbox.new_messages(), Vec::<String>::new());

    // kyiv is back, with news: the flash digest carries it and says so.
    write(
        "kyiv.xml",
        &[
            "Drone debris falls in Kyiv",
            "Metro reopens",
            "Power restored",
            "Drones shot down near Lviv",
        ],
    );
    poll(&ctx).await;
    let flash = &inbox.one();
    assert_eq!(subject(flash), "feedwatch: 1 new item (back: kyiv)");
    assert!(
        flash.contains("kyiv is back: read again after being down since"),
        "{flash}"
    );
    assert!(flash.contains("Drones shot down near Lviv"), "{flash}");
    // Said once.
    poll(&ctx).await;
    assert_eq!(inbox.new_messages(), Vec::<String>::new());

    // The morning digest covers the time since its last message: the two
    // polls that read both feeds again, one new item, one match.
    step(&ctx, Tick::Digest("morning".into())).await;
    let morning = &inbox.one();
    assert_eq!(subject(morning), "feedwatch: 1 new item");
    assert!(morning.contains("Feeds read: 2 of 2."), "{morning}");
    assert!(
        morning.contains("New items checked against the rules: 1."),
        "{morning}"
    );
    assert!(!morning.contains("need attention"), "{morning}");
    // Nothing new, all well, quiet days not sent: nothing.
    step(&ctx, Tick::Digest("morning".into())).await;
    assert_eq!(inbox.new_messages(), Vec::<String>::new());
}

/// A quiet day is sent by default (`send_when_quiet`), saying what was
/// read, so that silence never has to be read as "nothing happened".
#[tokio::test(start_paused = true)]
async fn a_quiet_day_is_sent_by_default_with_what_was_read() {
    let feeds = tempfile::tempdir().unwrap();
    for name in ["wire.xml", "kyiv.xml", "sports.xml"] {
        std::fs::write(feeds.path().join(name), rss(&["Metro reopens".to_string()])).unwrap();
    }
    let setup = setup(feeds.path(), None);
    let ctx = setup.context();
    let mut inbox = Inbox::new(&setup);
    poll(&ctx).await;
    assert_eq!(
        inbox.new_messages(),
        Vec::<String>::new(),
        "flash: nothing to say"
    );
    step(&ctx, Tick::Digest("morning".into())).await;
    let quiet = &inbox.one();
    assert_eq!(subject(quiet), "feedwatch: 0 new items");
    assert!(quiet.contains("Morning digest: no new items"), "{quiet}");
    assert!(quiet.contains("Feeds read: 2 of 2."), "{quiet}");
    assert!(
        quiet.contains("New items checked against the rules: 2."),
        "{quiet}"
    );
    assert!(quiet.contains("New matches: none."), "{quiet}");
}
