//! The operator's commands as they run them: `check` without state or
//! secrets, one `file:line:column` line per problem, `--help` that
//! describes every option, `status` columns and times, a closed pipe,
//! a read-only state directory, `digest NAME` touching only NAME, and
//! what a terminal shows (colours, log lines above the progress bar).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::*;

fn feedwatch(config: &Path, args: &[&str]) -> Output {
    feedwatch_with(config, args, &[])
}

/// A config file in a fresh folder (with the sample feed beside it).
fn config_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedwatch.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::copy(sample_feed_path(), dir.path().join("sample-feed.xml")).unwrap();
    (dir, path)
}

const BASE: &str = r#"timezone = "Europe/Kyiv"
[poll]
backfill = "all"
[email]
from = "feedwatch <fw@example.org>"
to = ["analyst@example.org"]
"#;

#[test]
fn check_needs_neither_state_nor_secrets_and_warns_with_the_fix() {
    let (_dir, path) = config_with(&format!(
        "{BASE}smtp = \"smtp://feedwatch@127.0.0.1:2525\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n{}",
        rule_iran_drones_ukraine()
    ));
    let existed = Path::new("/var/lib/feedwatch").exists();
    let out = feedwatch(&path, &["check"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("state: /var/lib/feedwatch (the service's state directory"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OK (1 feed, 1 rule, 1 digest; 1 warning above)"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "feedwatch.toml:7:8: warning: the smtp URL names user 'feedwatch' but no password was found"
        ) && stderr.contains("$FEEDWATCH_SMTP_PASSWORD"),
        "the warning says how to fix it, at the smtp key's place: {stderr}"
    );
    assert_eq!(
        Path::new("/var/lib/feedwatch").exists(),
        existed,
        "check touches no state"
    );
}

/// `check`'s errors and warnings, and a fatal error, reached the journal at
/// PRIORITY=6 (info): `journalctl -p warning` hid why a start or reload
/// failed. Under the journal each of their lines carries its priority.
#[test]
fn check_and_fatal_errors_reach_the_journal_at_their_priority() {
    use std::os::unix::fs::MetadataExt;
    let under_journal = |config: &Path, args: &[&str]| -> (Option<i32>, String) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr");
        let file = std::fs::File::create(&log).unwrap();
        let meta = file.metadata().unwrap();
        let stream = format!("{}:{}", meta.dev(), meta.ino());
        let status = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env("JOURNAL_STREAM", stream)
            .env_remove("FEEDWATCH_SMTP_PASSWORD")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("STATE_DIRECTORY")
            .stdout(Stdio::null())
            .stderr(file)
            .status()
            .unwrap();
        (status.code(), std::fs::read_to_string(&log).unwrap())
    };
    let feeds = format!(
        "[[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n{}",
        rule_iran_drones_ukraine()
    );
    // A warning (a user and no password): priority 4.
    let (_d1, warned) = config_with(&format!(
        "{BASE}smtp = \"smtp://feedwatch@127.0.0.1:2525\"\n{feeds}"
    ));
    let (code, stderr) = under_journal(&warned, &["check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.starts_with("<4>") && stderr.contains("warning: the smtp URL"),
        "{stderr}"
    );
    // Config errors: priority 3, each line.
    let (_d2, broken) = config_with(&format!(
        "{BASE}transport = \"stdout\"\nfrobnicate = 1\n{feeds}"
    ));
    let (code, stderr) = under_journal(&broken, &["check"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.is_empty());
    for line in stderr.lines() {
        assert!(line.starts_with("<3>"), "{stderr}");
    }
    // A fatal runtime error (no database to show): priority 3.
    let (d3, fine) = config_with(&format!("{BASE}transport = \"stdout\"\n{feeds}"));
    let nothing = d3.path().join("nothing-here");
    let nothing = nothing.to_str().unwrap();
    let (code, stderr) = under_journal(&fine, &["--state-dir", nothing, "status"]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.starts_with("<3>feedwatch: "), "{stderr}");
}

#[test]
fn every_problem_is_one_file_line_column_line_and_a_missing_file_is_missing() {
    let (_dir, path) = config_with(&format!(
        "{}transport = \"stdout\"\n[[feeds]]\nname = \"x\"\nurl = \"gopher://x\"\n\
         [[rules]]\nname = \"r\"\nquery = 'iran AND'\n",
        BASE.replace("Europe/Kyiv", "Mars/Olympus")
    ));
    let out = feedwatch(&path, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "three problems, three lines: {err}");
    let prefix = format!("{}:", path.display());
    for line in &lines {
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{line}"));
        let mut parts = rest.splitn(3, ':');
        let (l, c) = (parts.next().unwrap(), parts.next().unwrap());
        assert!(
            l.parse::<usize>().is_ok_and(|n| n > 0) && c.parse::<usize>().is_ok_and(|n| n > 0),
            "file:line:column: {line}"
        );
    }
    assert!(!err.contains("feedwatch: "), "{err}");

    let missing = feedwatch(Path::new("/nonexistent/feedwatch.toml"), &["check"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = text(&missing.stderr);
    assert_eq!(
        err.trim(),
        "/nonexistent/feedwatch.toml: cannot read the config file: No such file or directory (os error 2)"
    );
}

#[test]
fn help_describes_every_option_and_import_offers_no_config() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        text(&out.stdout)
    };
    let top = help(&[]);
    assert!(
        top.contains("--state-dir <DIR>") && top.contains("Where the database is"),
        "{top}"
    );
    let poll = help(&["poll"]);
    assert!(poll.contains("Poll only the feed with this name"), "{poll}");
    let digest = help(&["digest"]);
    assert!(
        digest.contains("[NAME]") && digest.contains("The digest to send"),
        "{digest}"
    );
    let search = help(&["search"]);
    for described in [
        "A query in rule syntax",
        "Show at most this many items",
        "one JSON array",
        "exit 1 when nothing matches",
    ] {
        assert!(search.contains(described), "{described}: {search}");
    }
    let status = help(&["status"]);
    assert!(status.contains("RFC 3339, UTC"), "{status}");
    let import = help(&["opml", "import"]);
    assert!(import.contains("The OPML file"), "{import}");
    assert!(
        !import.contains("--config"),
        "import uses no config: {import}"
    );
}

#[test]
fn status_keeps_its_columns_with_long_names_and_gives_times_with_a_zone() {
    let long = "a-feed-with-a-name-much-longer-than-twenty-four";
    let (_dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"{long}\"\nurl = \"file://sample-feed.xml\"\n\
         [[feeds]]\nname = \"short\"\nurl = \"file://sample-feed.xml\"\n{}\
         [[digests]]\nname = \"default\"\nschedule = \"0 7 * * *\"\n",
        rule_iran_drones_ukraine()
    ));
    assert!(feedwatch(&path, &["poll"]).status.success());
    let out = text(&feedwatch(&path, &["status"]).stdout);
    let lines: Vec<&str> = out.lines().collect();
    let column = |line: &str| line.find("LAST FETCH").or_else(|| line.find("20"));
    let header = column(lines[0]).unwrap();
    for row in &lines[1..3] {
        assert_eq!(column(row), Some(header), "aligned:\n{out}");
    }
    assert!(
        lines[1].contains(" EE"),
        "human times carry the zone:\n{out}"
    );
    let digest = lines.iter().find(|l| l.starts_with("default")).unwrap();
    assert!(
        digest.contains(" 2 ") && (digest.ends_with("07:00 EET") || digest.ends_with("07:00 EEST")),
        "pending items and the next send in the zone: {digest}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&path, &["status", "--json"]).stdout).unwrap();
    let times = [
        &json["feeds"][0]["last_fetch"],
        &json["feeds"][0]["next_poll"],
        &json["digests"][0]["next_send"],
    ];
    for t in times {
        let t = t.as_str().unwrap();
        assert!(
            t.len() == 20 && t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok(),
            "RFC 3339, UTC, to the second: {t}"
        );
    }
}

#[test]
fn status_shows_the_last_full_check_of_the_database() {
    let (dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n{}",
        rule_iran_drones_ukraine()
    ));
    assert!(feedwatch(&path, &["poll"]).status.success());
    let out = text(&feedwatch(&path, &["status"]).stdout);
    assert!(
        out.trim_end()
            .ends_with("DATABASE  not checked in full yet (the daemon checks at start and daily, `run --once` when the last check is a day old)"),
        "{out}"
    );
    // What the daemon records when its check finds damage.
    let mut store = feedwatch::store::Store::open_dir(&dir.path().join("state")).unwrap();
    store
        .record_integrity(
            chrono::Utc::now(),
            Some("page 7: btreeInitPage() returns error"),
        )
        .unwrap();
    drop(store);
    let out = text(&feedwatch(&path, &["status"]).stdout);
    let line = out.lines().last().unwrap();
    assert!(
        line.starts_with("DATABASE  checked in full ")
            && line.contains("DAMAGED (page 7: btreeInitPage() returns error)")
            && line.contains("restore the last backup"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&path, &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        json["database"]["damage"],
        "page 7: btreeInitPage() returns error"
    );
}

#[test]
fn search_explain_says_what_a_rule_finds_and_needs_no_archive() {
    let (_dir, path) = config_with(&format!(
        "state_dir = \"state-never-made\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n\
         [[rules]]\nname = \"uk\"\nquery = 'Іран AND дрон AND =\"Київ\"'\n"
    ));
    let out = feedwatch(
        &path,
        &["search", "--explain", "iran AND drone AND ukraine"],
    );
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(said.starts_with("iran → concept iran (a concept"), "{said}");
    assert!(
        said.contains("\n  uk  іран | ірану | "),
        "forms per language: {said}"
    );
    assert!(said.contains("drone → concept drone"), "{said}");
    assert!(said.contains("безпілотн*"), "{said}");
    assert!(said.contains("FTS5:   "), "{said}");
    let out = feedwatch(&path, &["search", "--explain", "--rule", "uk"]);
    let said = text(&out.stdout);
    assert!(said.starts_with("rule uk\nІран → concept iran"), "{said}");
    assert!(
        said.contains("Київ (kept exact (=))"),
        "=\"Київ\" stays exact: {said}"
    );
    assert!(!path.parent().unwrap().join("state-never-made").exists());
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (_dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n{}",
        rule_iran_drones_ukraine()
    ));
    // The reader is gone before feedwatch writes a byte.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(&path)
        .args(["opml", "export"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
    assert!(out.stderr.is_empty(), "quietly: {}", text(&out.stderr));
}

/// The sample feed polled into `state` in a fresh folder, stopped cleanly
/// (no WAL left): the folder, the config, the state directory.
fn polled_sample() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let (dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n{}",
        rule_iran_drones_ukraine()
    ));
    assert!(feedwatch(&path, &["poll"]).status.success());
    let state = dir.path().join("state");
    let _ = std::fs::remove_file(state.join("feedwatch.db-wal"));
    let _ = std::fs::remove_file(state.join("feedwatch.db-shm"));
    (dir, path, state)
}

/// feedwatch as another user than the test's: as root, `nobody` (through
/// util-linux's setpriv); as anyone else, that user.
fn as_another_user() -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(env!("CARGO_BIN_EXE_feedwatch"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_feedwatch"))
    }
}

/// Runs feedwatch as a user who cannot write the state directory: root
/// writes everywhere, so as root this drops to `nobody` (util-linux's
/// setpriv), as anyone else the directory is made read-only.
fn as_reader_only(config: &Path, state: &Path, args: &[&str]) -> Output {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for e in std::fs::read_dir(state).unwrap().flatten() {
        mode(&e.path(), 0o444);
    }
    mode(state, 0o555);
    let mut dir = config.parent();
    while let Some(d) =
        dir.filter(|d| d.starts_with(std::env::temp_dir()) && *d != std::env::temp_dir())
    {
        mode(d, 0o755);
        dir = d.parent();
    }
    let out = as_another_user()
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run feedwatch (as root this needs setpriv, from util-linux)");
    mode(state, 0o755);
    out
}

#[test]
fn status_and_search_read_a_state_directory_they_cannot_write() {
    // No WAL left behind, as after a clean stop: reading must create none.
    let (_dir, path, state) = polled_sample();
    let status = as_reader_only(&path, &state, &["status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(
        text(&status.stdout).contains("sample"),
        "{}",
        text(&status.stdout)
    );
    let search = as_reader_only(&path, &state, &["search", "drone*"]);
    assert!(search.status.success(), "{}", text(&search.stderr));
    assert!(text(&search.stdout).contains(SEED_TITLE));

    let empty = tempfile::tempdir().unwrap();
    let out = feedwatch(
        &path,
        &[
            "--state-dir",
            empty.path().join("nothing").to_str().unwrap(),
            "status",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("there is no feedwatch database in"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !empty.path().join("nothing").exists(),
        "status creates nothing"
    );
}

#[test]
fn digest_name_touches_only_that_digest() {
    let (_dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n\
         [[rules]]\nname = \"iran\"\nquery = 'iran*'\ndigest = \"morning\"\n\
         [[rules]]\nname = \"drones\"\nquery = 'drone*'\ndigest = \"evening\"\n\
         [[digests]]\nname = \"morning\"\nschedule = \"0 7 * * *\"\n\
         [[digests]]\nname = \"evening\"\nschedule = \"0 19 * * *\"\n"
    ));
    assert!(feedwatch(&path, &["poll"]).status.success());
    let out = feedwatch(&path, &["digest", "morning"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mail = Received {
        data: text(&out.stdout),
        ..Default::default()
    }
    .decoded();
    assert_eq!(mail.matches("Message-ID:").count(), 1, "{mail}");
    assert!(text(&out.stderr).contains("1 message queued, 1 sent, 0 not delivered"));
    let json: serde_json::Value =
        serde_json::from_slice(&feedwatch(&path, &["status", "--json"]).stdout).unwrap();
    let pending: Vec<(String, i64)> = json["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["pending_items"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pending,
        [("morning".to_string(), 0), ("evening".to_string(), 3)]
    );
}

/// `status` on a terminal 120 columns wide fits it, however long a feed's
/// name and error; `--wide`, or piped, shows them in full.
#[test]
fn status_fits_the_terminal_and_wide_shows_everything() {
    let long = "Ukrainska Pravda — news feed of the regional editions, Kharkiv, Odesa, Dnipro and Lviv desks";
    let (_dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"{long}\"\nurl = \"file://missing.xml\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n"
    ));
    let _ = feedwatch_with(&path, &["poll"], &[]);
    let at_120 = |args: &str| {
        let cmd = format!(
            "stty rows 40 cols 120; {} --config {} status {args}",
            env!("CARGO_BIN_EXE_feedwatch"),
            path.display()
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .expect("`script` (util-linux) runs a command on a terminal");
        text(&out.stdout)
    };
    let shown = at_120("");
    let table: Vec<&str> = shown.lines().take_while(|l| !l.trim().is_empty()).collect();
    assert_eq!(table.len(), 3, "{shown}");
    for line in &table {
        assert!(
            line.trim_end().chars().count() <= 120,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(
        table[1..]
            .iter()
            .any(|l| l.starts_with("Ukrainska Pravda") && l.contains('…')),
        "{shown}"
    );
    let wide = at_120("--wide");
    assert!(wide.contains(long), "{wide}");
    let piped = feedwatch_with(&path, &["status"], &[]);
    assert!(text(&piped.stdout).contains(long), "piped: in full");
}

/// Runs `feedwatch ARGS` on a pseudo-terminal (util-linux's `script`), as
/// a person at a terminal would, and returns what the terminal showed.
fn on_a_terminal(config: &Path, args: &str, env: &[(&str, &str)]) -> String {
    let cmd = format!(
        "{} --config {} {args}",
        env!("CARGO_BIN_EXE_feedwatch"),
        config.display()
    );
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .output()
        .expect("`script` (util-linux) runs a command on a terminal");
    text(&out.stdout)
}

#[test]
fn on_a_terminal_no_color_is_honoured_and_log_lines_stay_off_the_progress_bar() {
    let server = tokio::runtime::Runtime::new().unwrap();
    let feeds = server.block_on(async {
        let s = FeedServer::start().await;
        s.route("/broken.xml", Route::status(500, "oops"));
        s
    });
    let (_dir, path) = config_with(&format!(
        "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n{}{}",
        feeds.feeds_toml(&["broken"]),
        rule_iran_drones_ukraine()
    ));
    // A log line (the failed feed is said by its FAILED line only, so the
    // info line of the feed that brought news).
    let shown = on_a_terminal(&path, "poll", &[("RUST_LOG", "info")]);
    assert!(shown.contains("/2 feeds"), "a progress bar: {shown:?}");
    // The log line is a whole line of its own: the bar was cleared first.
    let warning = shown
        .split(['\r', '\n'])
        .find(|l| l.contains("feed polled"))
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(
        !warning.contains("feeds"),
        "not on the bar's line: {warning:?}"
    );
    // Log lines in colour on a terminal, and not with NO_COLOR.
    let coloured = |l: &str| l.contains("\x1b[2m") || l.contains("\x1b[32m");
    assert!(coloured(warning), "{warning:?}");
    let shown = on_a_terminal(
        &path,
        "poll",
        &[("RUST_LOG", "feedwatch=debug"), ("NO_COLOR", "1")],
    );
    let line = shown
        .split(['\r', '\n'])
        .find(|l| l.contains("feed polled"))
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(!coloured(line), "NO_COLOR: {line:?}");
    let bold = on_a_terminal(&path, "search drone*", &[]);
    assert!(bold.contains("\x1b[1;33m"), "bold on a terminal: {bold:?}");
    let plain = on_a_terminal(&path, "search drone*", &[("NO_COLOR", "1")]);
    assert!(
        !plain.contains("\x1b[1;33m") && plain.contains("*drones*"),
        "{plain:?}"
    );
    drop(server);
}

/// docs/reference.md, "Configuration": items older than `retention` are deleted after
/// every poll. `poll` (the command) did not prune; the daemon and
/// `run --once` did.
#[test]
fn every_poll_prunes_what_is_older_than_retention() {
    let (dir, path) = config_with(
        "state_dir = \"state\"\nretention = \"1d\"\n\
         [email]\nfrom = \"fw@example.org\"\nto = [\"a@example.org\"]\ntransport = \"stdout\"\n\
         [[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n",
    );
    let db = dir.path().join("state/feedwatch.db");
    let items = || -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap()
    };
    // Every stored item two days old: past retention. The summary is a
    // virtual column feedwatch's own function unpacks, which SQLite
    // computes for the updated row and throws away: a stand-in will do.
    let age = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.create_scalar_function(
            "unpack_text",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8
                | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
            |_| Ok(String::new()),
        )
        .unwrap();
        conn.execute("UPDATE items SET fetched_at = fetched_at - 2 * 86400", [])
            .unwrap()
    };
    for command in [&["poll"][..], &["run", "--once"]] {
        let out = feedwatch(&path, command);
        assert!(out.status.success(), "{command:?}: {}", text(&out.stderr));
        assert_eq!(items(), 5, "{command:?}: the sample feed's items");
        age();
        // The same feed again: nothing new, the old items go.
        let out = feedwatch(&path, command);
        assert!(out.status.success(), "{command:?}: {}", text(&out.stderr));
        assert_eq!(items(), 0, "{command:?} pruned them");
        // Their identities stay: the next poll stores nothing again.
        let out = feedwatch(&path, command);
        assert!(out.status.success(), "{command:?}: {}", text(&out.stderr));
        assert_eq!(items(), 0, "{command:?}: pruned items never come back");
        std::fs::remove_dir_all(dir.path().join("state")).unwrap();
    }
}

/// After root restored a backup (or ran the first poll), the database was
/// root's: the service opened it read-only without a word and ran blind,
/// `active (running)`, every write failing. Opening it to write says so
/// now, with the owner and the fix, and the daemon does not start.
#[test]
fn a_database_this_user_cannot_write_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, path, state) = polled_sample();
    let mode =
        |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    // The folder is the service's (anyone may write it here); the file not.
    mode(&state.join("feedwatch.db"), 0o444);
    mode(&state, 0o777);
    mode(dir.path(), 0o755);
    for args in [&["poll"][..], &["run"]] {
        let out = as_another_user()
            .arg("--config")
            .arg(&path)
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .output()
            .expect("run feedwatch (as root this needs setpriv, from util-linux)");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("feedwatch.db cannot be written by this process")
                && stderr.contains("chown --reference="),
            "{args:?}: {stderr}"
        );
    }
    mode(&state, 0o755);
}

/// One sample of the Prometheus text format: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Reads `text` by the Prometheus text exposition format (0.0.4): `# HELP`
/// and `# TYPE` lines, a family's samples together and after its TYPE,
/// names and label names of the allowed characters, label values quoted
/// with only `\\`, `\"` and `\n` escaped, values as floats. An error says
/// which line breaks which rule.
fn read_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let name_ok = |n: &str, colon: bool| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    let (mut typed, mut done, mut samples) =
        (Vec::<String>::new(), Vec::<String>::new(), Vec::new());
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), _) if name_ok(name, true) => {}
                (Some("TYPE"), Some(name), Some(kind)) if name_ok(name, true) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(bad("unknown type"));
                    }
                    if typed.iter().any(|t| t == name) || done.iter().any(|t| t == name) {
                        return Err(bad("a second TYPE"));
                    }
                    if let Some(c) = current.take() {
                        done.push(c);
                    }
                    typed.push(name.to_string());
                    current = Some(name.to_string());
                }
                _ => return Err(bad("a comment that is neither HELP nor TYPE")),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| bad("no value"))?;
        let name = &line[..name_end];
        if !name_ok(name, true) {
            return Err(bad("a bad metric name"));
        }
        if current.as_deref() != Some(name) {
            return Err(bad("a sample outside its family, or before its TYPE"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let end = loop {
                let Some((i, c)) = chars.next() else {
                    return Err(bad("labels not closed"));
                };
                if c == '}' {
                    break i;
                }
                let start = i;
                let mut eq = None;
                for (j, c) in chars.by_ref() {
                    if c == '=' {
                        eq = Some(j);
                        break;
                    }
                }
                let eq = eq.ok_or_else(|| bad("a label without ="))?;
                let lname = &inner[start..eq];
                if !name_ok(lname, false) {
                    return Err(bad("a bad label name"));
                }
                if chars.next().map(|x| x.1) != Some('"') {
                    return Err(bad("a label value not quoted"));
                }
                let mut value = String::new();
                loop {
                    match chars.next().map(|x| x.1) {
                        Some('"') => break,
                        Some('\\') => match chars.next().map(|x| x.1) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            _ => return Err(bad("a bad escape")),
                        },
                        Some('\n') | None => return Err(bad("a label value not closed")),
                        Some(c) => value.push(c),
                    }
                }
                labels.push((lname.to_string(), value));
                if chars.peek().map(|x| x.1) == Some(',') {
                    chars.next();
                }
            };
            rest = &inner[end + 1..];
        }
        let mut fields = rest.trim_start_matches(' ').split(' ');
        let value = fields.next().unwrap_or("");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| bad("a value that is not a float"))?,
        };
        if let Some(ts) = fields.next()
            && ts.parse::<i64>().is_err()
        {
            return Err(bad("a timestamp that is not an integer"));
        }
        if fields.next().is_some() {
            return Err(bad("more after the timestamp"));
        }
        samples.push((name.to_string(), labels, value));
    }
    Ok(samples)
}

/// `status --check` (a Nagios plugin) and `status --prometheus` (the text
/// exposition format, read by a parser of its specification).
#[test]
fn status_speaks_nagios_and_prometheus() {
    let feeds = |missing: bool| {
        let sample = "[[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n";
        let gone = "[[feeds]]\nname = \"gone\"\nurl = \"file://gone.xml\"\n";
        format!(
            "state_dir = \"state\"\n{BASE}transport = \"stdout\"\n{}{}{}",
            if missing { gone } else { sample },
            if missing { "" } else { gone },
            rule_iran_drones_ukraine()
        )
    };
    let (dir, path) = config_with(&feeds(false));
    let check = |path: &Path| {
        let out = feedwatch(path, &["status", "--check"]);
        (out.status.code(), text(&out.stdout))
    };
    assert!(feedwatch(&path, &["poll"]).status.success());
    let (code, line) = check(&path);
    assert_eq!(code, Some(0), "one failure is a blip: {line}");
    assert!(
        line.starts_with("FEEDWATCH OK - ") && line.lines().count() == 1,
        "{line}"
    );
    for _ in 0..2 {
        feedwatch(&path, &["poll"]);
    }
    let (code, line) = check(&path);
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with("FEEDWATCH WARNING - failing: gone;"),
        "{line}"
    );
    assert!(line.contains("| failing=1 feeds=2 "), "{line}");

    let out = feedwatch(&path, &["status", "--prometheus"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let samples = read_exposition(&text(&out.stdout)).unwrap_or_else(|e| panic!("{e}"));
    let value = |name: &str, label: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name && label.is_none_or(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.2)
    };
    let now = chrono::Utc::now().timestamp() as f64;
    let success = value(
        "feedwatch_feed_last_success_timestamp_seconds",
        Some(("feed", "sample")),
    );
    assert!(
        success.is_some_and(|t| (now - t).abs() < 600.0),
        "{samples:?}"
    );
    assert_eq!(
        value(
            "feedwatch_feed_last_success_timestamp_seconds",
            Some(("feed", "gone"))
        ),
        None
    );
    assert_eq!(
        value(
            "feedwatch_feed_consecutive_failures",
            Some(("feed", "gone"))
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            "feedwatch_digest_pending_items",
            Some(("digest", "default"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value("feedwatch_outbox_messages", Some(("state", "queued"))),
        Some(0.0)
    );
    assert_eq!(value("feedwatch_store_healthy", None), Some(1.0));
    // The parser is no pushover.
    assert!(read_exposition("metric{a=\"b} 1\n").is_err());
    assert!(read_exposition("# TYPE m gauge\nm 1\n# TYPE n gauge\nn 1\nm 2\n").is_err());

    // Every feed failing: critical.
    std::fs::write(&path, feeds(true)).unwrap();
    for _ in 0..3 {
        feedwatch(&path, &["poll"]);
    }
    let (code, line) = check(&path);
    assert_eq!(code, Some(2), "{line}");
    assert!(line.starts_with("FEEDWATCH CRITICAL - "), "{line}");
    drop(dir);
}

/// `backup` copies the database while the daemon runs; `restore` refuses
/// while it runs, then puts the copy back after it stopped, into the same
/// file, so the file keeps its owner (the service's, under DynamicUser)
/// even when root restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_made_beside_the_daemon_is_restored_keeping_the_owner() {
    use std::os::unix::fs::MetadataExt;
    let (dir, path, state) = polled_sample();
    let db = state.join("feedwatch.db");
    let items = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .and_then(|c| c.query_row("SELECT count(*) FROM seen", [], |r| r.get(0)))
            .unwrap()
    };
    assert_eq!(items(&db), 5);
    let setup = Setup { dir, path };
    let options = feedwatch::daemon::Options::default();
    let (shutdown, _reload, task) = serve_daemon(&setup, options);
    let copy = setup.dir.path().join("backup.db");
    let out = tokio::task::spawn_blocking({
        let (path, copy) = (setup.path.clone(), copy.clone());
        move || feedwatch(&path, &["backup", copy.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("a copy of"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(items(&copy), 5);
    let refused = tokio::task::spawn_blocking({
        let (path, copy) = (setup.path.clone(), copy.clone());
        move || feedwatch(&path, &["restore", copy.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("stop it first"),
        "{}",
        text(&refused.stderr)
    );
    shutdown.cancel();
    task.await.unwrap().unwrap();
    // Something changes after the backup; the restore undoes it.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("DELETE FROM seen", [])
        .unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // The service's file, as DynamicUser makes it.
        for f in [&db, &state] {
            std::os::unix::fs::chown(f, Some(65534), Some(65534)).unwrap();
        }
    }
    let out = feedwatch(&setup.path, &["restore", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(items(&db), 5, "what the backup held");
    if root {
        let meta = std::fs::metadata(&db).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "the owner stays");
    }
    let status = feedwatch(&setup.path, &["status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    // Not a backup: refused, nothing changed.
    let junk = setup.dir.path().join("junk.db");
    std::fs::write(&junk, "plain words").unwrap();
    let out = feedwatch(&setup.path, &["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(items(&db), 5);
}

/// The shell completions and the man pages come from the CLI definition,
/// with no config: every command is in them.
#[test]
fn completions_and_man_pages_know_every_command() {
    let nowhere = Path::new("/nonexistent/feedwatch.toml");
    let commands = [
        "run", "check", "poll", "digest", "explain", "search", "status", "backup", "restore",
        "opml",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = feedwatch(nowhere, &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for c in commands {
            assert!(script.contains(c), "{shell} completes {c}");
        }
    }
    let out = feedwatch(nowhere, &["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH feedwatch 1"),
        "{page}"
    );
    for c in commands {
        assert!(
            page.contains(&format!("feedwatch\\-{c}(1)")),
            "the page lists {c}: {page}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = feedwatch(nowhere, &["man", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for c in commands {
        let page = std::fs::read_to_string(dir.path().join(format!("feedwatch-{c}.1"))).unwrap();
        assert!(page.contains(&format!(".TH feedwatch-{c} 1")), "{page}");
    }
    assert!(dir.path().join("feedwatch.1").exists());
}

/// The template unit (`feedwatch@NAME`) is the service unit but for the
/// instance's names: its config and state folders, its credential's
/// source, its description and header. A fix to one that misses the other
/// fails here.
#[test]
fn the_template_unit_is_the_service_unit_but_for_the_instance_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let unit = std::fs::read_to_string(root.join("feedwatch.service")).unwrap();
    let template = std::fs::read_to_string(root.join("feedwatch@.service")).unwrap();
    let body = |text: &str| -> String {
        // The header comment differs; from [Unit] on, only the names.
        text[text.find("[Unit]").expect("a [Unit] section")..].to_string()
    };
    let expected = body(&unit)
        .replace(
            "Description=feedwatch: news",
            "Description=feedwatch %i: news",
        )
        .replace("/var/lib/feedwatch (", "/var/lib/feedwatch-%i (")
        .replace("in /etc/feedwatch (", "in /etc/feedwatch-%i (")
        .replace(
            "StateDirectory=feedwatch\n",
            "StateDirectory=feedwatch-%i\n",
        )
        .replace(
            "ConfigurationDirectory=feedwatch\n",
            "ConfigurationDirectory=feedwatch-%i\n",
        )
        .replace(
            "smtp-password:/etc/feedwatch/smtp-password",
            "smtp-password:/etc/feedwatch-%i/smtp-password",
        );
    assert_eq!(body(&template), expected);
    assert_eq!(template.matches("%i").count(), 6);
}
