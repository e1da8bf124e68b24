//! The daemon's schedules on tokio's paused time (docs/DESIGN.md §3, "The
//! loop keeps the time"): hours of schedules run in milliseconds, without
//! a sleep; and why they are not tokio-cron-scheduler's.

use std::time::Duration;

use feedwatch::daemon::{Clock, Options};

use crate::support::*;

fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// The subjects of the digests in a Maildir's new/ folder.
fn subjects(maildir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_string)
        })
        .collect();
    out.sort();
    out
}

/// The whole daemon on paused time, from a clock set to 10:30 in Kyiv:
/// three hours of hourly digests (sent on quiet days too, saying what was
/// read) come as three messages, one per occurrence, and the half-hourly
/// poll reads the feed each time; a reload in between runs nothing twice.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn three_hours_of_the_daemons_schedules_run_on_paused_time() {
    let setup = Setup::with_poll(
        "schedule = \"*/30 * * * *\"\nbackfill = \"24h\"",
        "transport = \"maildir:Mail\"",
        "[[feeds]]\nname = \"desk\"\nurl = \"file://desk.xml\"\n\
         [[rules]]\nname = \"r\"\nquery = 'iran AND drone'\ndigest = \"hourly\"\n\
         [[digests]]\nname = \"hourly\"\nschedule = \"0 * * * *\"\n\
         subject = \"{digest} {count}\"\n",
    );
    std::fs::copy(sample_feed_path(), setup.dir.path().join("desk.xml")).unwrap();
    let options = Options {
        stop_grace: None,
        // 10:30 in Kyiv (EEST).
        clock: Clock::starting_at(utc("2026-06-01T07:30:00Z")),
    };
    let (shutdown, reload_tx, task) = serve_daemon(&setup, options);
    // Paused: each sleep here is tokio's clock moving on, not a wait.
    tokio::time::sleep(Duration::from_secs(90 * 60)).await;
    // A reload between two occurrences (12:00): nothing runs again.
    reload_tx.send(()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(105 * 60)).await;
    let maildir = setup.dir.path().join("Mail");
    assert_eq!(
        subjects(&maildir),
        ["hourly 0", "hourly 0", "hourly 0"],
        "11:00, 12:00 and 13:00, each once"
    );
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the daemon stops")
        .expect("no panic")
        .expect("a clean stop");
    // The start-up poll, then 11:00, 11:30, 12:00, 12:30, 13:00 and 13:30.
    let db = setup.dir.path().join("state").join("feedwatch.db");
    let polls: i64 = rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("SELECT polls_ok FROM feeds", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(polls, 7);
}

/// Why the daemon keeps its own time (docs/DESIGN.md §3): a
/// tokio-cron-scheduler job an hour ahead, armed as the daemon armed its
/// one-shots, never fires in two hours of paused time — its ticker compares
/// the system clock, which paused time does not move — so no schedule
/// built on it can be tested without waiting for real.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn tokio_cron_scheduler_never_sees_paused_time() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio_cron_scheduler::{Job, JobScheduler};
    let scheduler = JobScheduler::new().await.unwrap();
    scheduler.start().await.unwrap();
    let fired = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&fired);
    let at = std::time::Instant::now() + Duration::from_secs(3600);
    let job = Job::new_one_shot_at_instant_async(at, move |_, _| {
        let flag = Arc::clone(&flag);
        Box::pin(async move { flag.store(true, Ordering::SeqCst) })
    })
    .unwrap();
    scheduler.add(job).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    assert!(
        !fired.load(Ordering::SeqCst),
        "the job fired on paused time: the daemon could use the crate again"
    );
    // The daemon's own timer, on the same paused time, is on time.
    let clock = Clock::starting_at(utc("2026-06-01T07:30:00Z"));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(clock.now(), utc("2026-06-01T08:30:00Z"));
    let mut scheduler = scheduler;
    scheduler.shutdown().await.unwrap();
}

/// A feed a reload adds is read at once, not at the next scheduled poll
/// (half an hour later here), and the feeds already there are not polled
/// again by the reload.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_feed_added_by_a_reload_is_polled_at_once() {
    let feed = |name: &str| format!("[[feeds]]\nname = \"{name}\"\nurl = \"file://desk.xml\"\n");
    let rest = "[[rules]]\nname = \"r\"\nquery = 'iran AND drone'\n";
    let setup = Setup::with_poll(
        "schedule = \"*/30 * * * *\"",
        "transport = \"maildir:Mail\"",
        &format!("{}{rest}", feed("desk")),
    );
    std::fs::copy(sample_feed_path(), setup.dir.path().join("desk.xml")).unwrap();
    let options = Options {
        stop_grace: None,
        // 10:31 in Kyiv: the next scheduled poll is at 11:00.
        clock: Clock::starting_at(utc("2026-06-01T07:31:00Z")),
    };
    let (shutdown, reload_tx, task) = serve_daemon(&setup, options);
    let db = setup.dir.path().join("state").join("feedwatch.db");
    let polls = |name: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row("SELECT polls_ok FROM feeds WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
            })
            .unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!((polls("desk"), polls("wire")), (1, 0), "the start-up poll");
    let text = std::fs::read_to_string(&setup.path).unwrap();
    std::fs::write(&setup.path, format!("{text}\n{}", feed("wire"))).unwrap();
    reload_tx.send(()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        (polls("desk"), polls("wire")),
        (1, 1),
        "the added feed, at once, and only it"
    );
    shutdown.cancel();
    task.await.expect("no panic").expect("a clean stop");
}
