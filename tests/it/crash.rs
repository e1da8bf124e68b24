//! docs/digests.md, "Delivery": a crash or kill at any moment loses no match, and at worst
//! re-sends a message with the same Message-ID. feedwatch — in turn the
//! daemon (`run`, with an immediate digest) and `run --once` — is killed
//! (SIGKILL) as new items keep arriving, at points chosen by what it has
//! visibly done, not by a delay that a faster machine would outrun: after
//! some of its fetches, after new items reached the database, with a
//! digest in the outbox, and while the SMTP server holds a message it has
//! stored but not yet acknowledged. Each point must be hit several times;
//! then a last run finishes. Every expected match must have arrived, and
//! any story that arrived twice must have come in messages with the same
//! Message-ID.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

const FEEDS: usize = 8;

/// Feed `f` after `round` rounds of news: items 0..(round+1)*6, of which
/// every third matches the rule. Every item has words of its own, so no two
/// are "the same story".
fn feed(f: usize, round: usize) -> String {
    let mut rss = format!("<rss version=\"2.0\"><channel><title>feed {f}</title>");
    for i in 0..(round + 1) * 6 {
        let id = format!("f{f}i{i}");
        let (title, words) = if i % 3 == 0 {
            (
                format!("Story {id}: Iran drones over Ukraine"),
                "iran drones ukraine",
            )
        } else {
            (
                format!("Story {id}: markets and weather"),
                "markets weather",
            )
        };
        let own: String = (0..12).map(|k| format!(" {id}w{k}")).collect();
        rss.push_str(&format!(
            "<item><guid>{id}</guid><title>{title}</title><description>{words}{own}</description></item>"
        ));
    }
    rss.push_str("</channel></rss>");
    rss
}

fn expected(rounds: usize) -> BTreeSet<String> {
    (0..FEEDS)
        .flat_map(|f| {
            (0..rounds * 6)
                .filter(|i| i % 3 == 0)
                .map(move |i| format!("Story f{f}i{i}:"))
        })
        .collect()
}

fn message_id(data: &str) -> String {
    data.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Where a run is killed, by what it has visibly done this round.
#[derive(Clone, Copy)]
enum KillPoint {
    /// The feed server has answered some of this round's requests: polling.
    Fetching,
    /// New items are in the database: matching and storing the rest.
    Stored,
    /// A new outbox row: the digest is composed, not yet sent.
    Queued,
    /// The SMTP server holds the message, not yet acknowledged (it waits
    /// 40 ms before it answers the end of DATA).
    Sending,
}

impl KillPoint {
    const ALL: [KillPoint; 4] = [
        KillPoint::Fetching,
        KillPoint::Stored,
        KillPoint::Queued,
        KillPoint::Sending,
    ];

    fn name(self) -> &'static str {
        match self {
            KillPoint::Fetching => "while fetching",
            KillPoint::Stored => "after storing",
            KillPoint::Queued => "with a message queued",
            KillPoint::Sending => "while the mail server held a message",
        }
    }

    fn reached(self, before: &Seen, now: &Seen, fetches: usize) -> bool {
        match self {
            KillPoint::Fetching => now.requests >= before.requests + fetches,
            KillPoint::Stored => now.stored > before.stored,
            KillPoint::Queued => now.queued > before.queued,
            KillPoint::Sending => now.received > before.received,
        }
    }
}

/// What the world has seen of feedwatch so far.
struct Seen {
    requests: usize,
    stored: i64,
    queued: i64,
    received: usize,
}

impl Seen {
    fn now(server: &FeedServer, smtp: &SmtpServer, db: &std::path::Path) -> Self {
        let count = |sql: &str| -> i64 {
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
                .unwrap_or(0)
        };
        Seen {
            requests: (0..FEEDS)
                .map(|f| server.seen(&format!("/{f}.xml")).len())
                .sum(),
            stored: count("SELECT count(*) FROM seen"),
            queued: count("SELECT count(*) FROM outbox"),
            received: smtp.received().len(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_feedwatch_at_any_moment_loses_no_match_and_resends_only_the_same_message() {
    let server = FeedServer::start().await;
    let smtp = SmtpServer::start_slow(Duration::from_millis(40));
    let feeds: String = (0..FEEDS)
        .map(|f| {
            format!(
                "[[feeds]]\nname = \"feed{f}\"\nurl = \"{}\"\n",
                server.url(&format!("/{f}.xml"))
            )
        })
        .collect();
    let setup = Setup::new(
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "{feeds}[[rules]]\nname = \"r\"\nquery = 'iran drone* ukrain*'\n\
             [[digests]]\nname = \"default\"\nschedule = \"immediate\"\n"
        ),
    );
    let mut rng = fastrand::Rng::with_seed(0xdead_beef);
    let rounds = 32;
    let db = setup.dir.path().join("state").join("feedwatch.db");
    // Where each kill landed, by what the process had visibly done: not a
    // delay, which lands elsewhere on a faster or a slower machine.
    let mut landed: BTreeMap<&str, usize> = BTreeMap::new();
    for round in 0..rounds {
        for f in 0..FEEDS {
            server.route(&format!("/{f}.xml"), Route::feed(feed(f, round)));
        }
        let args: &[&str] = if round % 2 == 0 {
            &["run", "--once"]
        } else {
            &["run"]
        };
        let point = KillPoint::ALL[(round / 2) % KillPoint::ALL.len()];
        let before = Seen::now(&server, &smtp, &db);
        // Fewer than all: the last fetch may end the poll's fetching.
        let fetches = rng.usize(1..FEEDS);
        let mut child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(&setup.path)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start feedwatch");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let outcome = loop {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break "finished first";
            }
            let now = Seen::now(&server, &smtp, &db);
            if point.reached(&before, &now, fetches) {
                let _ = child.kill();
                // Whether it was still running when killed.
                break match child.wait() {
                    Ok(status) if status.code().is_none() => point.name(),
                    _ => "finished first",
                };
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: {} never came",
                point.name()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let _ = child.kill();
        let _ = child.wait();
        *landed.entry(outcome).or_default() += 1;
    }
    // Every kind of kill landed, each several times, wherever the machine's
    // speed put the rest of the run.
    for point in KillPoint::ALL {
        let n = landed.get(point.name()).copied().unwrap_or(0);
        assert!(n >= 4, "only {n} kills {}: {landed:?}", point.name());
    }
    let killed: usize = rounds - landed.get("finished first").copied().unwrap_or(0);

    // The last run is left to finish.
    let out = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(&setup.path)
        .args(["run", "--once"])
        .output()
        .expect("final run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let inbox = smtp.received();
    let mut by_story: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for mail in &inbox {
        let text = mail.decoded();
        let id = message_id(&mail.data);
        for story in expected(rounds) {
            if text.contains(&story) {
                by_story.entry(story).or_default().insert(id.clone());
            }
        }
    }
    let missing: Vec<_> = expected(rounds)
        .into_iter()
        .filter(|s| !by_story.contains_key(s))
        .collect();
    assert!(
        missing.is_empty(),
        "lost matches after {killed} kills: {missing:?}"
    );
    let twice: Vec<_> = by_story.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "stories sent in different messages: {twice:?}"
    );
    let resent = inbox.len()
        - inbox
            .iter()
            .map(|m| message_id(&m.data))
            .collect::<BTreeSet<_>>()
            .len();
    eprintln!(
        "{killed} kills ({landed:?}), {} messages received, {resent} re-sent with the same Message-ID",
        inbox.len()
    );
}
