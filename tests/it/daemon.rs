//! The daemon in-process (`daemon::serve`, with its shutdown and reload
//! passed in): delivery and polling in separate lanes, so that a stalled
//! mail server holds up neither polling nor stopping; shutdown that reaches
//! feeds in flight; nothing lost either way.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::support::*;

fn items(setup: &Setup) -> i64 {
    feedwatch::store::Store::open_read_only(&setup.dir.path().join("state"))
        .and_then(|s| s.feed_status())
        .map(|f| f.iter().map(|f| f.items).sum())
        .unwrap_or(0)
}

fn outbox(setup: &Setup) -> feedwatch::model::OutboxStatus {
    feedwatch::store::Store::open_read_only(&setup.dir.path().join("state"))
        .and_then(|s| s.outbox_status())
        .unwrap_or_default()
}

/// Starts the daemon on `setup`'s config, with a short grace for a message
/// in flight; returns its shutdown and its task.
fn serve(
    setup: &Setup,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let options = feedwatch::daemon::Options {
        stop_grace: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let (shutdown, _reload, task) = serve_daemon(setup, options);
    (shutdown, task)
}

/// Waits for `serve` to end after shutdown; bounded, so that a daemon that
/// does not stop fails the test instead of hanging it.
async fn stopped(task: tokio::task::JoinHandle<anyhow::Result<()>>) {
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the daemon stops within seconds of shutdown")
        .expect("no panic")
        .expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_mail_server_holds_up_neither_polling_nor_stopping() {
    let server = FeedServer::start().await;
    server.route("/f.xml", Route::feed(sample_feed()));
    let smtp = StallingSmtp::start();
    let setup = Setup::with_poll(
        "schedule = \"* * * * * *\"",
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "{}[[rules]]\nname = \"drones\"\nquery = 'drone*'\ndigest = \"now\"\n\
             [[digests]]\nname = \"now\"\nschedule = \"immediate\"\n",
            server.feeds_toml(&["f"])
        ),
    );
    let (shutdown, task) = serve(&setup);
    eventually("the first poll", || items(&setup) == 5).await;
    eventually("the immediate digest to reach the stalled server", || {
        smtp.connections() > 0
    })
    .await;
    // While that message hangs, polling goes on and finds new items.
    let more = String::from_utf8(sample_feed()).unwrap().replacen(
        "<item>",
        "<item><title>New drones over Odesa</title><guid>new-1</guid></item><item>",
        1,
    );
    server.route("/f.xml", Route::feed(more));
    eventually("a poll while delivery is stalled", || items(&setup) == 6).await;
    assert_eq!(outbox(&setup).sent, 0, "the stalled message was not sent");
    shutdown.cancel();
    stopped(task).await;
    let o = outbox(&setup);
    assert_eq!(
        (o.queued + o.failed, o.sent),
        (1, 0),
        "nothing lost: the message stays queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reaches_a_feed_in_flight_and_sends_nothing_after_it() {
    let server = FeedServer::start().await;
    server.route("/good.xml", Route::feed(sample_feed()));
    // Drips a byte every 100 ms for a minute: in flight until shutdown.
    server.route("/slow.xml", Route::hostile(Hostile::SlowDrip));
    let smtp = SmtpServer::start();
    let setup = Setup::with_poll(
        "timeout = \"60s\"",
        &format!("smtp = \"smtp://127.0.0.1:{}\"", smtp.port),
        &format!(
            "{}{}[[digests]]\nname = \"default\"\nschedule = \"immediate\"\n",
            server.feeds_toml(&["good", "slow"]),
            rule_iran_drones_ukraine()
        ),
    );
    let (shutdown, task) = serve(&setup);
    eventually("the slow feed's fetch to start", || {
        !server.seen("/slow.xml").is_empty()
    })
    .await;
    shutdown.cancel();
    stopped(task).await;
    // The poll never finished, so its immediate digest never went out: the
    // good feed's match is pending for the next start, not lost.
    assert!(smtp.received().is_empty(), "nothing sent after shutdown");
    let store = setup.store();
    let pending = store.pending("default").unwrap();
    let stored = items(&setup);
    assert!(
        (stored == 5 && pending.len() == 1) || stored == 0,
        "either the good feed was stored with its match pending, or it is fetched again: {stored} items, {} pending",
        pending.len()
    );
}

/// A store that stopped taking writes (root's file, a full disk) showed
/// only as journal lines: `status` and the StatusText looked normal and
/// the service stayed `active (running)`, blind. The failure is in
/// `status` at the first failed poll, and after three in a row the daemon
/// stops with the error (exit 1: systemd shows it and restarts it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_takes_no_writes_is_said_and_stops_the_daemon() {
    let server = FeedServer::start().await;
    server.route("/f.xml", Route::feed(sample_feed()));
    let setup = Setup::with_poll(
        "schedule = \"* * * * * *\"",
        "transport = \"stdout\"",
        &format!(
            "{}{}",
            server.feeds_toml(&["f"]),
            rule_iran_drones_ukraine()
        ),
    );
    let (_shutdown, task) = serve(&setup);
    eventually("the first poll", || items(&setup) == 5).await;
    // Every write of a feed's row fails from now on, as on a full disk.
    let db = setup.dir.path().join("state").join("feedwatch.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_writes BEFORE UPDATE ON feeds \
         BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
    )
    .unwrap();
    let config = setup.config();
    eventually("status to say so", || {
        feedwatch::pipeline::status(&config, chrono::Utc::now())
            .ok()
            .and_then(|s| s.store_failure)
            .is_some_and(|f| f.last_error.contains("database or disk is full"))
    })
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the daemon stops after three failed polls")
        .expect("no panic");
    let error = ended.expect_err("it stops with the error").to_string();
    assert!(
        error.contains("the database does not take writes since")
            && error.contains("3 polls in a row"),
        "{error}"
    );
}

/// The daily full check and pruning on an archive large enough that one
/// unbounded step would outlast a short watchdog (they ran inline, and on a
/// 2 GB archive systemd killed the daemon, which restarted into the same
/// check): both run in bounded steps off the loop, so the daemon goes on
/// sending WATCHDOG=1 at its interval while they run. The daemon is the
/// binary, with the systemd notify protocol on a socket of the test's.
#[test]
fn the_watchdog_is_fed_while_a_large_archive_is_checked_and_pruned() {
    use std::os::unix::net::UnixDatagram;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedwatch.toml");
    std::fs::write(
        &path,
        "state_dir = \"state\"\nretention = \"30d\"\n[email]\nfrom = \"fw@example.org\"\n\
         to = [\"a@example.org\"]\ntransport = \"stdout\"\n\
         [[feeds]]\nname = \"desk\"\nurl = \"file://sample-feed.xml\"\n",
    )
    .unwrap();
    std::fs::copy(sample_feed_path(), dir.path().join("sample-feed.xml")).unwrap();
    // 120,000 items stored 200 days ago: all of them go at the first poll
    // (pruning them took 1.4 s here, longer than the watchdog).
    {
        let mut store = feedwatch::store::Store::open_dir(&dir.path().join("state")).unwrap();
        let long_ago = chrono::Utc::now() - chrono::Duration::days(200);
        let words = "drone strike kyiv power grid repair crews overnight officials said";
        for chunk in 0..120 {
            let items: Vec<feedwatch::model::Item> = (chunk * 1000..(chunk + 1) * 1000)
                .map(|n| {
                    let summary = format!("{words} {n} {words} {words}");
                    crate::folding::news_item(n, &format!("Report {n}"), &summary)
                })
                .collect();
            let batch =
                feedwatch::store::Batch::new("old", "https://old.example/", &items, long_ago);
            store.ingest(&batch, &[]).unwrap();
        }
    }
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let notify = socket_path.to_str().unwrap();
    // WatchdogSec=1s: a ping every half second.
    let env = [
        ("NOTIFY_SOCKET", notify),
        ("WATCHDOG_USEC", "1000000"),
        ("RUST_LOG", "info"),
    ];
    let daemon = Daemon::start_with_env(&path, &env);
    // When each log line the test waits for first appeared, and the pings.
    let (mut began, mut pings) = (None, Vec::new());
    let mut buf = [0u8; 512];
    let mut ping = |pings: &mut Vec<Instant>| {
        if let Ok(n) = socket.recv(&mut buf)
            && String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1")
        {
            pings.push(Instant::now());
        }
    };
    let pruned = loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no pruning: {}",
            daemon.log()
        );
        ping(&mut pings);
        let log = daemon.log();
        if began.is_none() && log.contains("feed polled") {
            began = Some(Instant::now());
        }
        if log.contains("pruned what is older") {
            break Instant::now();
        }
    };
    // A second past the end of pruning, for the ping that follows it.
    while pruned.elapsed() < Duration::from_secs(1) {
        ping(&mut pings);
    }
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let began = began.expect("the poll before pruning");
    let chores = pruned - began;
    assert!(
        chores > Duration::from_secs(1),
        "pruning took {chores:?}, under the 1 s watchdog: the archive is too small to test it"
    );
    let during: Vec<Instant> = pings
        .iter()
        .copied()
        .filter(|p| *p >= began && *p <= pruned + Duration::from_secs(1))
        .collect();
    let longest = during
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(chores);
    // systemd kills a service that sends no WATCHDOG=1 for WatchdogSec.
    assert!(
        during.len() >= 2 && longest < Duration::from_secs(1),
        "{} pings while pruning for {chores:?}, longest gap {longest:?}",
        during.len()
    );
}
