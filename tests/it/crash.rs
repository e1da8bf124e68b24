//! docs/digests.md, "Delivery": a crash or kill at any moment loses no match, and at worst
//! re-sends a message with the same Message-ID. feedwatch — in turn the
//! daemon (`run`, with an immediate digest) and `run --once` — is killed
//! (SIGKILL) at many random points — while polling, matching, writing
//! the outbox, and while the SMTP server holds the message it has stored but
//! not yet acknowledged — as new items keep arriving; then a last run
//! finishes. Every expected match must have arrived, and any story that
//! arrived twice must have come in messages with the same Message-ID.

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
    let rounds = 30;
    let (mut killed, mut daemons_killed) = (0, 0);
    for round in 0..rounds {
        for f in 0..FEEDS {
            server.route(&format!("/{f}.xml"), Route::feed(feed(f, round)));
        }
        let args: &[&str] = if round % 2 == 0 {
            &["run", "--once"]
        } else {
            &["run"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(&setup.path)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start feedwatch");
        // A kill anywhere from start-up to the end of delivery.
        let delay = Duration::from_millis(rng.u64(0..120));
        let child = tokio::task::spawn_blocking(move || {
            std::thread::sleep(delay);
            let done = matches!(child.try_wait(), Ok(Some(_)));
            let _ = child.kill();
            let _ = child.wait();
            done
        })
        .await
        .unwrap();
        if !child {
            killed += 1;
            daemons_killed += usize::from(round % 2 == 1);
        }
    }
    // What was killed, not how fast this machine is: the daemon never ends
    // by itself, so every daemon round is a kill wherever it was; a one-shot
    // run is killed where it is, or finishes first on a fast machine.
    assert_eq!(daemons_killed, rounds / 2, "every daemon run was killed");

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
        "{killed} kills, {} messages received, {resent} re-sent with the same Message-ID",
        inbox.len()
    );
}
