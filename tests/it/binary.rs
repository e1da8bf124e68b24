//! The `feedwatch` binary as a user runs it: the README's example, `check`
//! exit codes and messages, `search`, `status`, and the daemon stopping on
//! SIGTERM.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

fn feedwatch(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("FEEDWATCH_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run feedwatch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
    assert!(mail.contains("Subject: feedwatch: 1 new matches"), "{mail}");
    for unrelated in ["naval exercise", "drone show", "sanctions", "Tirana"] {
        assert!(!mail.contains(unrelated), "{unrelated}:\n{mail}");
    }
    assert!(
        text(&out.stderr).contains("sample-world-desk: 5 new items, 1 match"),
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
            "query  = 'iran* AND drone* AND ukrain*'",
            "query  = 'iran* AND (drone* ukrain*'",
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
    let line = broken.lines().position(|l| l.contains("(drone*")).unwrap() + 1;
    assert!(err.contains(&format!("feedwatch.toml:{line}:")), "{err}");
    assert!(
        err.contains("rule 'iran-drones-ukraine'") && err.contains("position 11"),
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
fn poll_search_status_and_digest_commands() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let poll = feedwatch(&config, &["poll"]);
    assert!(poll.status.success(), "{}", text(&poll.stderr));
    assert_eq!(
        text(&poll.stdout).trim(),
        "sample-world-desk: 5 new items, 1 match"
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
    assert_eq!(json["pending"][0]["matches"], 1);
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
    assert_eq!(json["pending"].as_array().map(Vec::len), Some(0));
}

#[test]
fn the_daemon_polls_at_start_and_stops_cleanly_on_sigterm() {
    let dir = example();
    let config = dir.path().join("feedwatch.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the daemon");
    // Wait for the first poll to be stored (bounded; not a timing assertion).
    let mut polled = false;
    for _ in 0..200 {
        let status = feedwatch(&config, &["status", "--json"]);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&status.stdout) {
            if v["feeds"][0]["items"] == 5 {
                polled = true;
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().expect("daemon exit");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(polled, "the daemon polled at start: {stderr}");
    assert!(status.success(), "exit 0 on SIGTERM: {status:?} {stderr}");
    assert!(stderr.contains("feedwatch stopped"), "{stderr}");
}
