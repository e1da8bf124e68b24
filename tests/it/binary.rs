//! The `feedwatch` binary as a user runs it: the README's example, `check`
//! exit codes and messages, `search`, `status`, and the daemon stopping on
//! SIGTERM.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

fn feedwatch(config: &Path, args: &[&str]) -> Output {
    feedwatch_with(config, args, &[])
}

/// The example config, copied with its sample feed so that its state dir is
/// private to the test.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("config/feedwatch.toml")).unwrap();
    let config = config.replace(
        "state_dir = \"../target/example-state\"",
        "state_dir = \"state\"",
    );
    std::fs::write(dir.path().join("feedwatch.toml"), config).unwrap();
    std::fs::copy(
        root.join("config/sample-feed.xml"),
        dir.path().join("sample-feed.xml"),
    )
    .unwrap();
    dir
}

#[test]
fn the_example_prints_a_digest_with_the_seed_article_and_nothing_unrelated() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let out = feedwatch(&config, &["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mail = Received {
        data: text(&out.stdout),
        ..Default::default()
    }
    .decoded();
    assert!(mail.contains(SEED_TITLE), "{mail}");
    assert!(
        mail.contains("Subject: feedwatch: 1 new item\r\n")
            || mail.contains("Subject: feedwatch: 1 new item\n"),
        "{mail}"
    );
    for unrelated in ["naval exercise", "drone show", "sanctions", "Tirana"] {
        assert!(!mail.contains(unrelated), "{unrelated}:\n{mail}");
    }
    assert!(
        text(&out.stderr).contains("sample-world-desk: 5 new items, 1 matched"),
        "{}",
        text(&out.stderr)
    );

    let again = feedwatch(&config, &["run", "--once"]);
    assert!(again.status.success());
    assert!(
        again.stdout.is_empty(),
        "a second run sends nothing: {}",
        text(&again.stdout)
    );
}

/// `run --once` sent the 07:00 digest at every run: four "daily" digests
/// in 11 minutes from cron, each saying the next was due tomorrow. It
/// sends a scheduled digest once per occurrence now (a digest never sent
/// is due, so the example still prints at once); `digest NAME` sends now.
#[test]
fn run_once_sends_a_scheduled_digest_once_per_occurrence() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    // A schedule whose next occurrence is years away at most every four.
    let yearly = std::fs::read_to_string(&config)
        .unwrap()
        .replace("schedule = \"0 7 * * *\"", "schedule = \"0 0 29 2 *\"");
    std::fs::write(&config, yearly).unwrap();
    let first = feedwatch(&config, &["run", "--once"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains(SEED_TITLE), "never sent: due");
    // A new matching item, and cron runs again.
    let feed_path = dir.path().join("sample-feed.xml");
    let feed = std::fs::read_to_string(&feed_path).unwrap().replacen(
        "<item>",
        "<item><title>Iranian drones hit Ukraine again</title>\
         <guid>later-1</guid><description>Kyiv said Iran sent more drones to Russia.</description></item>\n<item>",
        1,
    );
    std::fs::write(&feed_path, feed).unwrap();
    let again = feedwatch(&config, &["run", "--once"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        again.stdout.is_empty(),
        "no occurrence since the last digest: nothing sent\n{}",
        text(&again.stdout)
    );
    let status = feedwatch(&config, &["status"]);
    assert!(
        text(&status.stdout).contains("morning              1"),
        "the match waits: {}",
        text(&status.stdout)
    );
    let now = feedwatch(&config, &["digest", "morning"]);
    assert!(now.status.success(), "{}", text(&now.stderr));
    assert!(text(&now.stdout).contains("Iranian drones hit Ukraine again"));
}

/// `search --json` said nothing of rules, digest, Message-ID or sent time:
/// nobody could tell why an item did or did not alert. Each hit has its id
/// and its matches now, each with its digest and, once sent, the message.
#[test]
fn search_json_says_which_rules_matched_and_which_message_carried_it() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let sent = feedwatch(&config, &["run", "--once"]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let out = feedwatch(&config, &["search", "--json", "drone*"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    let seed = hits.iter().find(|h| h["title"] == SEED_TITLE).unwrap();
    assert!(seed["id"].as_i64().is_some(), "{seed}");
    let m = &seed["matches"][0];
    assert_eq!(
        (m["rule"].as_str(), m["digest"].as_str()),
        (Some("iran-drones-ukraine"), Some("morning")),
        "{seed}"
    );
    assert!(
        m["message_id"]
            .as_str()
            .is_some_and(|id| id.starts_with('<')),
        "{seed}"
    );
    assert!(m["sent_at"].as_str().is_some(), "{seed}");
    let show = hits
        .iter()
        .find(|h| h["title"] == "Kyiv drone show marks Constitution Day")
        .unwrap();
    assert_eq!(
        show["matches"],
        serde_json::json!([]),
        "no rule matched it: {show}"
    );
}

#[test]
fn check_accepts_the_example_and_names_the_line_of_an_error() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let ok = feedwatch(&config, &["check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("OK"));
    assert!(!dir.path().join("state").exists(), "check touches no state");

    let broken = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "query  = 'iran AND drone AND ukraine'",
            "query  = 'iran AND (drone ukraine'",
        )
        .replace("concurrency = 16", "concurency = 16");
    std::fs::write(&config, &broken).unwrap();
    let bad = feedwatch(&config, &["check"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    let line = broken
        .lines()
        .position(|l| l.contains("concurency"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "feedwatch.toml:{line}:1: unknown field `concurency`"
        )),
        "{err}"
    );
    assert!(err.contains("did you mean 'concurrency'"), "{err}");

    let broken = broken.replace("concurency = 16", "concurrency = 16");
    std::fs::write(&config, &broken).unwrap();
    let bad = feedwatch(&config, &["check"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    let line = broken.lines().position(|l| l.contains("(drone")).unwrap() + 1;
    assert!(err.contains(&format!("feedwatch.toml:{line}:")), "{err}");
    assert!(
        err.contains("rule 'iran-drones-ukraine'") && err.contains("position 10"),
        "{err}"
    );
}

#[test]
fn a_missing_config_is_exit_2_and_usage_errors_too() {
    let out = feedwatch(Path::new("/nonexistent/feedwatch.toml"), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read the config file"));
    let out = feedwatch(Path::new("/x"), &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn poll_says_a_failed_feed_once_and_exits_1_when_no_feed_could_be_read() {
    let dir = example();
    std::fs::remove_file(dir.path().join("sample-feed.xml")).unwrap();
    let config = dir.path().join("feedwatch.toml");
    let poll = feedwatch(&config, &["poll"]);
    let (stdout, stderr) = (text(&poll.stdout), text(&poll.stderr));
    assert_eq!(poll.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("sample-world-desk: FAILED"), "{stdout}");
    assert!(
        !stderr.contains("WARN"),
        "said once, not also logged: {stderr}"
    );
    assert!(
        stderr.contains("no feed could be read: 1 feed failed"),
        "{stderr}"
    );
    // Waiting out its backoff is not a failure: nothing was tried.
    let again = feedwatch(&config, &["run", "--once"]);
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("sample-world-desk: backing off until"),
        "{stderr}"
    );
    assert!(!stderr.contains("no feed could be read"), "{stderr}");
}

#[test]
fn poll_search_status_and_digest_commands() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let poll = feedwatch(&config, &["poll"]);
    assert!(poll.status.success(), "{}", text(&poll.stderr));
    assert_eq!(
        text(&poll.stdout).trim(),
        "sample-world-desk: 5 new items, 1 matched"
    );

    let search = feedwatch(&config, &["search", "drone*"]);
    let out = text(&search.stdout);
    assert!(search.status.success(), "{}", text(&search.stderr));
    assert!(
        out.contains("Kyiv drone show") && out.contains(SEED_TITLE) && out.contains("Tirana"),
        "{out}"
    );
    assert!(
        out.find(SEED_TITLE) < out.find("Kyiv drone show"),
        "newest first:\n{out}"
    );
    assert!(
        out.contains("*drones*"),
        "marked words, plain when piped:\n{out}"
    );
    let limited = text(&feedwatch(&config, &["search", "drone*", "--limit", "1"]).stdout);
    assert_eq!(limited.matches("sample-world-desk").count(), 1, "{limited}");
    let recent = feedwatch(&config, &["search", "drone*", "--since", "30d"]);
    assert!(
        recent.stdout.is_empty(),
        "the sample items are from 2024: {}",
        text(&recent.stdout)
    );
    assert!(text(&recent.stderr).contains("no stored item matches"));
    assert_eq!(
        recent.status.code(),
        Some(1),
        "nothing matched: exit 1, like grep"
    );
    let absurd = feedwatch(&config, &["search", "drone*", "--since", "100000000d"]);
    assert_eq!(absurd.status.code(), Some(2), "a clear error, not a panic");
    assert!(
        text(&absurd.stderr).contains("longer than a century"),
        "{}",
        text(&absurd.stderr)
    );
    let by_rule = text(
        &feedwatch(
            &config,
            &["search", "--rule", "iran-drones-ukraine", "--json"],
        )
        .stdout,
    );
    let hits: serde_json::Value = serde_json::from_str(&by_rule).unwrap();
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{by_rule}");
    let bad = feedwatch(&config, &["search", "iran AND"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("position 9"),
        "{}",
        text(&bad.stderr)
    );

    let status = text(&feedwatch(&config, &["status"]).stdout);
    assert!(status.contains("sample-world-desk"), "{status}");
    assert!(status.contains("morning"), "{status}");
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(json["digests"][0]["name"], "morning");
    assert_eq!(json["digests"][0]["pending_items"], 1);
    assert_eq!(json["feeds"][0]["items"], 5);

    let dry = feedwatch(&config, &["digest", "morning", "--dry-run"]);
    assert!(
        text(&dry.stdout).contains("Auto-Submitted"),
        "{}",
        text(&dry.stderr)
    );
    let sent = feedwatch(&config, &["digest"]);
    assert!(sent.status.success());
    assert!(text(&sent.stdout).contains("Message-ID"));
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(json["outbox"]["sent"], 1);
    assert_eq!(json["digests"][0]["pending_items"], 0);
}

#[test]
fn the_daemon_polls_at_start_and_stops_cleanly_on_sigterm() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let daemon = Daemon::start(&config);
    daemon.wait_until("the first poll", |l| l.contains("poll finished"));
    // Other commands work while the daemon runs.
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(json["feeds"][0]["items"], 5);
    let (status, log) = daemon.stop();
    assert!(status.success(), "exit 0 on SIGTERM: {status:?} {log}");
    assert!(log.contains("feedwatch stopped"), "{log}");
}

#[test]
fn sighup_keeps_the_old_config_when_the_new_one_is_invalid_and_applies_a_valid_one() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let daemon = Daemon::start(&config);
    daemon.wait_until("the first poll", |l| l.contains("poll finished"));

    let broken = good.replace(
        "timezone = \"Europe/Kyiv\"",
        "timezone = \"Europe/Atlantis\"",
    );
    std::fs::write(&config, &broken).unwrap();
    daemon.signal("-HUP");
    daemon.wait_until("the reload error", |l| l.contains("invalid config"));
    let line = broken.lines().position(|l| l.contains("Atlantis")).unwrap() + 1;
    let log = daemon.log();
    assert!(
        log.contains(&format!("line={line}")) && log.contains("column=12"),
        "{log}"
    );
    assert!(log.contains("Europe/Atlantis"), "{log}");

    let two_feeds =
        format!("{good}\n[[feeds]]\nname = \"second\"\nurl = \"file://sample-feed.xml\"\n");
    std::fs::write(&config, two_feeds).unwrap();
    daemon.signal("-HUP");
    daemon.wait_until("the reload", |l| l.contains("config reloaded"));
    let log = daemon.log();
    let reloaded = log
        .lines()
        .find(|l| l.contains("config reloaded"))
        .unwrap_or_default();
    assert!(reloaded.contains("feeds=2"), "{log}");
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
}

/// The example pointed at a TLS+AUTH SMTP server on loopback, without a
/// password file: the password must come from the environment.
fn example_with_smtp(smtp: &SmtpServer) -> tempfile::TempDir {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "transport = \"stdout\"",
        &format!(
            "smtp = \"smtp://feedwatch@localhost:{}\"\nstarttls = \"required\"\nca_file = \"{}\"",
            smtp.port,
            tls_dir().join("ca.pem").display()
        ),
    );
    std::fs::write(&config, text).unwrap();
    dir
}

fn send_with_env(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    cmd.arg("--config").arg(config).args(["run", "--once"]);
    cmd.env_remove("FEEDWATCH_SMTP_PASSWORD")
        .env_remove("CREDENTIALS_DIRECTORY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run feedwatch")
}

#[test]
fn the_smtp_password_comes_from_the_environment() {
    let smtp = SmtpServer::start_tls_auth("feedwatch", "from-env");
    let dir = example_with_smtp(&smtp);
    let out = send_with_env(
        &dir.path().join("feedwatch.toml"),
        &[("FEEDWATCH_SMTP_PASSWORD", "from-env")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        smtp.received()[0].auth,
        Some(("feedwatch".into(), "from-env".into()))
    );
}

#[test]
fn the_smtp_password_comes_from_the_systemd_credential() {
    let smtp = SmtpServer::start_tls_auth("feedwatch", "from-credential");
    let dir = example_with_smtp(&smtp);
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("smtp-password"), "from-credential\n").unwrap();
    let out = send_with_env(
        &dir.path().join("feedwatch.toml"),
        &[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        smtp.received()[0].auth,
        Some(("feedwatch".into(), "from-credential".into()))
    );
    let check = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(dir.path().join("feedwatch.toml"))
        .arg("check")
        .env_remove("FEEDWATCH_SMTP_PASSWORD")
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .unwrap();
    let out = text(&check.stdout);
    assert!(
        out.contains("password from the systemd credential smtp-password"),
        "{out}"
    );
    assert!(
        !out.contains("from-credential"),
        "never the password itself: {out}"
    );
    let no_password = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(dir.path().join("feedwatch.toml"))
        .arg("check")
        .env_remove("FEEDWATCH_SMTP_PASSWORD")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    // `check` validates the config; a missing secret is a warning, with the fix.
    assert_eq!(
        no_password.status.code(),
        Some(0),
        "{}",
        text(&no_password.stderr)
    );
    let warning = text(&no_password.stderr);
    assert!(
        warning.contains("warning: the smtp URL names user 'feedwatch' but no password was found")
            && warning.contains("/etc/feedwatch/smtp-password"),
        "{warning}"
    );
}

#[test]
fn without_a_password_the_digest_stays_queued_and_the_exit_code_says_so() {
    let smtp = SmtpServer::start_tls_auth("feedwatch", "secret");
    let dir = example_with_smtp(&smtp);
    let config = dir.path().join("feedwatch.toml");
    let out = send_with_env(&config, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches("no password was found").count(),
        1,
        "said once: {err}"
    );
    assert!(err.contains("the matches stay pending"), "{err}");
    assert!(smtp.received().is_empty());
    // Nothing was pulled into the outbox that could not be sent.
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&config, &["status", "--json"]).stdout).unwrap();
    assert_eq!(json["outbox"]["queued"], 0, "{json}");
    assert_eq!(json["digests"][0]["pending_items"], 1, "{json}");
    // It was in the log alone; `status` says it now, and monitoring too.
    let failure = &json["outbox"]["mail_failure"]["error"];
    assert!(
        failure
            .as_str()
            .is_some_and(|e| e.contains("no password was found")),
        "{json}"
    );
    let shown = text(&feedwatch(&config, &["status"]).stdout);
    assert!(shown.contains("MAIL NOT SET UP since"), "{shown}");
    let check = feedwatch(&config, &["status", "--check"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stdout));
    assert!(text(&check.stdout).contains("mail cannot be set up"));
    // With the password, the next run sends the same message.
    let out = send_with_env(&config, &[("FEEDWATCH_SMTP_PASSWORD", "secret")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(smtp.received().len(), 1);
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&config, &["status", "--json"]).stdout).unwrap();
    assert!(json["outbox"]["mail_failure"].is_null(), "{json}");
}

/// The messages in a Maildir's new/ folder, decoded.
fn maildir_messages(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("new")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|data| {
            Received {
                data,
                ..Default::default()
            }
            .decoded()
        })
        .collect()
}

/// The messages in `dir` once the daemon has said it sent `sent` digests:
/// the maildir transport logs "digest sent" after the message is in `new/`.
fn wait_for_mail(dir: &Path, sent: usize, daemon: &Daemon) -> Vec<String> {
    daemon.wait_until(&format!("{sent} digests sent"), |l| {
        l.matches("digest sent").count() >= sent
    });
    maildir_messages(dir)
}

#[test]
fn the_daemon_runs_cron_and_immediate_digests_and_re_arms_its_schedules() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("transport = \"stdout\"", "transport = \"maildir:Mail\"")
        .replace(
            "schedule    = \"*/15 * * * *\"",
            "schedule    = \"* * * * * *\"",
        )
        // Every second, and only with news: a quiet day every second would
        // fill the maildir.
        .replace(
            "schedule = \"0 7 * * *\"",
            "schedule = \"* * * * * *\"\nsend_when_quiet = false",
        )
        + "[[rules]]\nname = \"unveils\"\nquery = 'unveils'\ndigest = \"now\"\n\
           [[digests]]\nname = \"now\"\nschedule = \"immediate\"\nto = [\"desk@example.org\"]\n";
    std::fs::write(&config, text).unwrap();
    let mail = dir.path().join("Mail");
    let daemon = Daemon::start_with_env(&config, &[("RUST_LOG", "info,feedwatch=debug")]);
    // The start-up poll stores the seed; the every-second "morning" digest sends it.
    let msgs = wait_for_mail(&mail, 1, &daemon);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains(SEED_TITLE), "{msgs:?}");
    // A new item arrives: the every-second poll (re-armed each time it fires)
    // finds it, and the immediate digest goes out right after that poll.
    let feed = dir.path().join("sample-feed.xml");
    let updated = std::fs::read_to_string(&feed).unwrap().replacen(
        "<item>",
        "<item><title>Iran unveils a new drone</title><guid>new-1</guid></item><item>",
        1,
    );
    std::fs::write(&feed, updated).unwrap();
    let msgs = wait_for_mail(&mail, 2, &daemon);
    let fresh = msgs.iter().find(|m| m.contains("Iran unveils")).unwrap();
    assert!(
        fresh.contains("To: desk@example.org"),
        "per-digest recipients: {fresh}"
    );
    assert!(!fresh.contains(SEED_TITLE), "each match is sent once");
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    assert_eq!(
        maildir_messages(&mail)
            .iter()
            .filter(|m| m.contains(SEED_TITLE))
            .count(),
        1,
        "{log}"
    );
    // Scheduled work never starts before its time (the daemon takes a
    // schedule's tick once the clock reads its occurrence).
    let field = |line: &str, name: &str| {
        line.split(&format!("{name}="))
            .nth(1)
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_string)
    };
    let mut scheduled = 0;
    for line in log
        .lines()
        .filter(|l| l.contains("step started") && !l.contains("due=now"))
    {
        let due = field(line, "due").unwrap_or_else(|| panic!("{line}"));
        let started = field(line, "started").unwrap_or_else(|| panic!("{line}"));
        let due =
            chrono::DateTime::parse_from_rfc3339(&due).unwrap_or_else(|e| panic!("{e}: {line}"));
        let started = chrono::DateTime::parse_from_rfc3339(&started)
            .unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(started >= due, "started before its time: {line}");
        scheduled += 1;
    }
    assert!(scheduled >= 2, "scheduled steps were logged: {log}");
}

#[test]
fn a_reload_that_fts5_would_refuse_is_refused_like_check_refuses_it() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    // Valid rule syntax, but nested deeper than SQLite's FTS5 parser goes.
    let deep = format!("{}iran{}", "(iran OR ".repeat(40), ")".repeat(40));
    let bad = format!("{good}[[rules]]\nname = \"deep\"\nquery = '{deep}'\ndigest = \"morning\"\n");
    let daemon = Daemon::start(&config);
    daemon.wait_until("the first poll", |l| l.contains("poll finished"));
    std::fs::write(&config, &bad).unwrap();
    let check = feedwatch(&config, &["check"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stderr));
    let line = bad
        .lines()
        .position(|l| l.contains("name = \"deep\""))
        .unwrap()
        + 2;
    assert!(
        text(&check.stderr).contains(&format!("feedwatch.toml:{line}:")),
        "{}",
        text(&check.stderr)
    );
    daemon.signal("-HUP");
    daemon.wait_until("the reload error", |l| l.contains("invalid config"));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let refused = log.lines().find(|l| l.contains("invalid config")).unwrap();
    assert!(
        refused.contains(&format!("line={line}")) && refused.contains("deep"),
        "{log}"
    );
    assert!(!log.contains("config reloaded"), "{log}");
}

#[test]
fn the_daemon_speaks_the_systemd_notify_protocol() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let daemon = Daemon::start_with_env(
        &config,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut seen = Vec::new();
    let mut next_until = |what: &str| -> String {
        loop {
            let mut buf = [0u8; 4096];
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("waiting for {what}: {e}; saw {seen:?}"));
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen.push(msg.clone());
            if msg.contains(what) {
                return msg;
            }
        }
    };
    let ready = next_until("READY=1");
    assert!(
        ready.contains("STATUS=next poll ") && ready.contains("; next digest morning "),
        "the status says when the next poll and digest are due: {ready}"
    );
    // The watchdog is petted at half of WATCHDOG_USEC while healthy.
    next_until("WATCHDOG=1");
    next_until("WATCHDOG=1");
    daemon.signal("-HUP");
    let reloading = next_until("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    next_until("READY=1");
    daemon.signal("-TERM");
    next_until("STOPPING=1");
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
}

#[test]
fn one_daemon_per_state_directory_while_other_commands_still_work() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let first = Daemon::start(&config);
    first.wait_until("the first poll", |l| l.contains("poll finished"));
    let second = feedwatch(&config, &["run"]);
    assert_eq!(second.status.code(), Some(1));
    let err = text(&second.stderr);
    assert!(
        err.contains(&format!("(pid {})", first.child.id())),
        "{err}"
    );
    assert!(err.contains("only one daemon per state directory"), "{err}");
    for args in [
        &["status"][..],
        &["search", "iran"],
        &["poll"],
        &["digest", "--dry-run"],
        &["check"],
    ] {
        let out = feedwatch(&config, args);
        assert!(
            out.status.success(),
            "{args:?} while the daemon runs: {}",
            text(&out.stderr)
        );
    }
    let (status, log) = first.stop();
    assert!(status.success(), "{log}");
}

#[test]
fn opml_import_needs_no_config_and_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subs.opml");
    std::fs::write(
        &file,
        r#"<opml version="2.0"><body><outline text="News"><outline text="Kyiv Independent" xmlUrl="https://kyivindependent.com/feed/"/></outline></body></opml>"#,
    )
    .unwrap();
    let out = feedwatch(
        &dir.path().join("no-config-here.toml"),
        &["opml", "import", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let toml = text(&out.stdout);
    assert!(
        toml.contains("[[feeds]]")
            && toml.contains("name = \"kyiv-independent\"")
            && toml.contains("tags = [\"news\"]"),
        "{toml}"
    );

    let example = example();
    let config = example.path().join("feedwatch.toml");
    let opml = text(&feedwatch(&config, &["opml", "export"]).stdout);
    assert!(
        opml.contains("<opml version=\"2.0\">") && opml.contains("text=\"sample-world-desk\""),
        "{opml}"
    );
    std::fs::write(dir.path().join("export.opml"), &opml).unwrap();
    let back = text(
        &feedwatch(
            &config,
            &[
                "opml",
                "import",
                dir.path().join("export.opml").to_str().unwrap(),
            ],
        )
        .stdout,
    );
    assert!(
        back.contains("name = \"sample-world-desk\"") && back.contains("tags = [\"ukraine\"]"),
        "{back}"
    );

    let bad = feedwatch(&config, &["opml", "import", config.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn no_progress_when_the_output_is_not_a_terminal() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    // Two feeds, so there is progress to show.
    let text_cfg = std::fs::read_to_string(&config).unwrap()
        + "[[feeds]]\nname = \"copy\"\nurl = \"file://sample-feed.xml\"\n";
    std::fs::write(&config, text_cfg).unwrap();
    let piped = feedwatch(&config, &["poll"]);
    assert!(piped.status.success());
    let err = text(&piped.stderr);
    assert!(
        !err.contains("feeds") && !err.contains('\u{1b}'),
        "no progress when not a terminal: {err:?}"
    );
}

/// Peak memory of the daemon's own process (VmHWM counts from exec, unlike
/// the rusage of a forked child, which starts with its parent's).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn decompression_bombs_do_not_raise_the_daemons_peak_memory() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FeedServer::start());
    // 128 MiB of one character: a few hundred KiB on the wire.
    let mut bomb = b"<rss version=\"2.0\"><channel><title>".to_vec();
    bomb.resize(128 << 20, b'a');
    server.route("/gzip.xml", Route::gzip(&bomb));
    server.route("/br.xml", Route::brotli(&bomb));
    drop(bomb);
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_body    = \"10MiB\"", "max_body    = \"1MiB\"")
        + &server.feeds_toml(&["gzip", "br"]);
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    daemon.wait_until("the first poll", |l| l.contains("poll finished"));
    let peak = peak_rss_kib(daemon.child.id());
    let log = daemon.log();
    assert_eq!(
        log.matches("max_body").count(),
        2,
        "both bombs stopped at max_body: {log}"
    );
    assert!(log.contains("failed=2"), "{log}");
    let (status, _) = daemon.stop();
    assert!(status.success());
    assert!(
        peak > 0 && peak < 100 * 1024,
        "peak RSS {peak} KiB: the 128 MiB bodies never materialised"
    );
    drop(rt);
}

/// Three feeds of about 10 MiB, each of tens of thousands of small items, all
/// fetched at once (`per_host = 16`): before, one such feed peaked at 136 MB
/// and 16 at 1.07 GB. With the default limits a poll stays under 64 MB.
#[test]
fn feeds_of_many_items_do_not_raise_the_daemons_peak_memory() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FeedServer::start());
    let mut feed = String::from("<rss version=\"2.0\"><channel><title>huge</title>");
    let mut n = 0;
    while feed.len() < (10 << 20) - 4096 {
        feed.push_str(&format!(
            "<item><title>Item {n}</title><guid>g{n}</guid><description>Drones over the city, report {n}.</description></item>\n"
        ));
        n += 1;
    }
    feed.push_str("</channel></rss>");
    assert!(n > 70_000, "{n} items");
    let names: Vec<String> = (0..3).map(|i| format!("huge{i}")).collect();
    for name in &names {
        server.route(&format!("/{name}.xml"), Route::feed(feed.clone()));
    }
    drop(feed);
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("per_host    = 2", "per_host    = 16")
        + &server.feeds_toml(&names);
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    daemon.wait_until("the first poll", |l| l.contains("poll finished"));
    let peak = peak_rss_kib(daemon.child.id());
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("failed=0") && log.contains("new_items=3005"),
        "every feed stored its first 1,000 items: {log}"
    );
    eprintln!(
        "peak RSS while polling 3 feeds of {n} items: {} MB",
        peak / 1024
    );
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
    drop(rt);
}
