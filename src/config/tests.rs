//! Unit tests of config validation: every error names its line and column.

use super::*;

/// The column filter of terms without a field (see the rules' own tests).
const UNQUALIFIED: &str = "{title summary author category} : ";

const MINIMAL: &str = r#"
state_dir = "/tmp/fw"
[email]
from = "feedwatch <fw@example.org>"
to = ["a@example.org"]
smtp = "smtp://user%40x@127.0.0.1:2525"

[[feeds]]
name = "one"
url = "https://example.org/feed.xml"
tags = ["ukraine"]

[[rules]]
name = "r"
query = 'iran* AND drone*'
"#;

fn errors(text: &str) -> Vec<(usize, usize, String)> {
    match parse(text, Path::new("/etc/fw/feedwatch.toml"), None) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .errors
            .into_iter()
            .map(|e| (e.line, e.col, e.message))
            .collect(),
    }
}

#[test]
fn minimal_config_is_valid_with_defaults() {
    let c = parse(MINIMAL, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
    assert_eq!(c.timezone, Tz::UTC);
    assert_eq!(c.poll.concurrency, 16);
    assert_eq!(c.poll.per_host, 2);
    assert_eq!(c.poll.max_body, 10 << 20);
    assert_eq!(c.poll.backfill, Some(Duration::from_secs(86400)));
    assert_eq!(c.poll.schedule.expr, "0 */15 * * * *");
    assert_eq!(c.digests.len(), 1);
    assert_eq!(c.digests[0].name, "default");
    assert_eq!(c.digests[0].to, vec!["a@example.org".to_string()]);
    assert_eq!(c.rules[0].digest, "default");
    assert_eq!(
        c.rules[0].fts_query.replace(UNQUALIFIED, ""),
        "(\"iran\"* AND \"drone\"*)"
    );
    let Transport::Smtp(s) = &c.email.transport else {
        panic!("smtp")
    };
    assert_eq!(
        (s.host.as_str(), s.port, s.security),
        ("127.0.0.1", 2525, SmtpSecurity::Opportunistic)
    );
    assert_eq!(s.user.as_deref(), Some("user@x"));
}

#[test]
fn unknown_key_names_line_column_and_suggests() {
    let text = MINIMAL.replace(
        "tags = [\"ukraine\"]",
        "tags = [\"ukraine\"]\nschedul = \"* * * * *\"",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].0, e[0].1), (12, 1));
    assert!(e[0].2.contains("unknown field `schedul`"), "{e:?}");
    assert!(e[0].2.contains("did you mean 'schedule'"), "{e:?}");
}

#[test]
fn toml_syntax_error_names_the_line() {
    let e = errors("state_dir = \"/x\"\n[email\nfrom = 1\n");
    assert_eq!(e[0].0, 2, "{e:?}");
}

#[test]
fn every_invalid_value_is_reported_at_once() {
    let text = MINIMAL
        .replace("smtp = \"smtp://user%40x@127.0.0.1:2525\"", "smtp = \"smtp://u:secret@h\"")
        .replace("state_dir = \"/tmp/fw\"", "state_dir = \"/tmp/fw\"\ntimezone = \"Mars/Olympus\"\n[poll]\ntimeout = \"soon\"\nconcurrency = 0");
    let e = errors(&text);
    let lines: Vec<usize> = e.iter().map(|e| e.0).collect();
    assert_eq!(lines, vec![3, 5, 6, 10], "{e:?}");
    assert!(e[0].2.contains("Mars/Olympus"));
    assert!(e[3].2.contains("never put the password"));
    assert!(
        !e.iter().any(|e| e.2.contains("secret")),
        "the password must not be echoed: {e:?}"
    );
}

#[test]
fn values_that_would_break_at_run_time_are_refused_at_their_line() {
    let text = MINIMAL.replace(
        "state_dir = \"/tmp/fw\"",
        "state_dir = \"/tmp/fw\"\nretention = \"1h\"\n[poll]\ntimeout = \"0s\"\n\
         backfill = \"100000000d\"\nschedule = \"0 0 30 2 *\"",
    );
    let e = errors(&text);
    let lines: Vec<usize> = e.iter().map(|e| e.0).collect();
    assert_eq!(lines, vec![3, 5, 6, 7], "{e:?}");
    assert!(e[0].2.contains("between 1day"), "{e:?}");
    assert!(e[1].2.contains("between 1s and 1h"), "{e:?}");
    assert!(e[2].2.contains("century"), "{e:?}");
    assert!(e[3].2.contains("never fires"), "{e:?}");
}

#[test]
fn rule_error_points_into_the_query() {
    let text = MINIMAL.replace("query = 'iran* AND drone*'", "query = 'iran* AND (drone*'");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    // line 15 is the query; the '(' is character 11 of the query, after `query = '`.
    assert_eq!((e[0].0, e[0].1), (15, 10 + 10), "{e:?}");
    assert!(e[0].2.contains("rule 'r'"), "{e:?}");
    assert!(e[0].2.contains("position 11"), "{e:?}");
}

#[test]
fn list_form_terms_and_scopes() {
    let text = MINIMAL.replace(
        "query = 'iran* AND drone*'",
        "all = [\"iran*\"]\nany = [\"@drones\"]\nnone = ['\"press release\"']\nfeeds = [\"tag:ukraine\"]",
    ) + "[terms]\ndrones = [\"drone*\", \"UAV*\"]\n";
    let c = parse(&text, Path::new("/x/f.toml"), None).unwrap();
    assert_eq!(
        c.rules[0].fts_query.replace(UNQUALIFIED, ""),
        "((\"iran\"* AND (\"drone\"* OR \"UAV\"*)) NOT \"press release\")"
    );
    assert_eq!(c.rules[0].feeds, Some(vec!["one".to_string()]));
}

#[test]
fn unknown_feed_tag_digest_and_set_are_errors() {
    let text = MINIMAL.replace(
        "query = 'iran* AND drone*'",
        "query = 'iran @nope'\nfeeds = [\"onee\", \"tag:none\"]\ndigest = \"morning\"",
    );
    let e = errors(&text);
    let msgs: Vec<&str> = e.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(e.len(), 4, "{msgs:?}");
    assert!(msgs[0].contains("@nope"));
    assert!(
        msgs.iter()
            .any(|m| m.contains("no feed named 'onee'") && m.contains("did you mean 'one'"))
    );
    assert!(msgs.iter().any(|m| m.contains("tag 'none'")));
    assert!(msgs.iter().any(|m| m.contains("no digest named 'morning'")));
}

#[test]
fn relative_paths_follow_the_config_file() {
    let text = MINIMAL
        .replace("state_dir = \"/tmp/fw\"", "state_dir = \"state\"")
        .replace("https://example.org/feed.xml", "file://sample.xml");
    let c = parse(&text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/etc/fw/state"));
    assert_eq!(c.feeds[0].url.as_str(), "file:///etc/fw/sample.xml");
}

#[test]
fn an_escaped_file_url_names_the_file_it_escapes() {
    for (written, path) in [
        (
            "file:///srv/feeds/local%20feed.xml",
            "/srv/feeds/local feed.xml",
        ),
        ("file://my%20feeds/a.xml", "/etc/fw/my feeds/a.xml"),
        ("file:///srv/%D0%BA%D0%B8%D1%97%D0%B2.xml", "/srv/київ.xml"),
    ] {
        let text = MINIMAL.replace("https://example.org/feed.xml", written);
        let c = parse(&text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
        assert_eq!(
            c.feeds[0].url.to_file_path().unwrap(),
            PathBuf::from(path),
            "{written}"
        );
    }
}

#[test]
fn the_state_directory_is_the_flag_the_config_systemd_or_the_services_own() {
    let text = MINIMAL.replace("state_dir = \"/tmp/fw\"", "");
    // Nothing set: the unit's StateDirectory, so that root's commands on the
    // service's host find its database with no prefix.
    let c = parse(&text, Path::new("/x.toml"), None).unwrap();
    assert_eq!(
        (c.state_dir.as_path(), c.state_dir_from),
        (Path::new("/var/lib/feedwatch"), StateDirFrom::Default)
    );
    let c = parse(&text, Path::new("/x.toml"), Some(PathBuf::from("/run/sd"))).unwrap();
    assert_eq!(
        (c.state_dir.as_path(), c.state_dir_from),
        (Path::new("/run/sd"), StateDirFrom::Environment)
    );
    let c = parse(
        MINIMAL,
        Path::new("/x.toml"),
        Some(PathBuf::from("/run/sd")),
    )
    .unwrap();
    assert_eq!(
        (c.state_dir.as_path(), c.state_dir_from),
        (Path::new("/tmp/fw"), StateDirFrom::Config)
    );
    let c = c.with_state_dir(PathBuf::from("/srv/fw"));
    assert_eq!(
        (c.state_dir.as_path(), c.state_dir_from),
        (Path::new("/srv/fw"), StateDirFrom::Flag)
    );
    // An instance's config (feedwatch@news): its own state, not the main
    // service's, which root's status read for a second instance.
    let c = parse(&text, Path::new("/etc/feedwatch-news/feedwatch.toml"), None).unwrap();
    assert_eq!(
        (c.state_dir.as_path(), c.state_dir_from),
        (Path::new("/var/lib/feedwatch-news"), StateDirFrom::Instance)
    );
    assert_eq!(
        super::instance_of(Path::new("/etc/feedwatch/feedwatch.toml")),
        None
    );
    assert_eq!(
        super::instance_of(Path::new("/etc/feedwatch-/feedwatch.toml")),
        None
    );
    assert_eq!(
        super::instance_of(Path::new("/srv/feedwatch-x/feedwatch.toml")),
        None
    );
}

#[test]
fn a_config_that_is_not_utf8_is_reported_at_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedwatch.toml");
    std::fs::write(
        &path,
        b"state_dir = \"/x\"\ntimezone = \"Europe/Ky\xefv\"\n",
    )
    .unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.errors[0].line, e.errors[0].col), (2, 22), "{e}");
    assert!(e.to_string().contains("not UTF-8"), "{e}");
    let missing = load(&dir.path().join("nope.toml")).unwrap_err().to_string();
    assert!(
        missing.ends_with(
            "nope.toml: cannot read the config file: No such file or directory (os error 2)"
        ),
        "a missing file is a missing file, not a position: {missing}"
    );
}

#[test]
fn digests_and_transports() {
    let text = MINIMAL.replace(
        "smtp = \"smtp://user%40x@127.0.0.1:2525\"",
        "transport = \"stdout\"",
    ) + "[[digests]]\nname = \"default\"\nschedule = \"immediate\"\nsubject = \"{count} for {digest}\"\n";
    let c = parse(&text, Path::new("/x.toml"), None).unwrap();
    assert_eq!(c.email.transport, Transport::Stdout);
    assert_eq!(c.digests[0].schedule, DigestSchedule::Immediate);
    assert_eq!(c.digests[0].subject, "{count} for {digest}");
    let bad = MINIMAL.replace(
        "smtp = \"smtp://user%40x@127.0.0.1:2525\"",
        "smtp = \"smtps://h\"\nstarttls = \"required\"",
    );
    assert!(errors(&bad)[0].2.contains("smtp:// only"));
}

#[test]
fn backfill_all() {
    let text = MINIMAL.replace("[email]", "[poll]\nbackfill = \"all\"\n[email]");
    assert_eq!(
        parse(&text, Path::new("/x.toml"), None)
            .unwrap()
            .poll
            .backfill,
        None
    );
}

#[test]
fn transports() {
    let with = |t: &str| {
        MINIMAL.replace(
            "smtp = \"smtp://user%40x@127.0.0.1:2525\"",
            &format!("transport = \"{t}\""),
        )
    };
    let parse_t =
        |t: &str| parse(&with(t), Path::new("/etc/fw/f.toml"), None).map(|c| c.email.transport);
    assert_eq!(parse_t("stdout"), Ok(Transport::Stdout));
    assert_eq!(parse_t("sendmail"), Ok(Transport::Sendmail(None)));
    assert_eq!(
        parse_t("sendmail:/usr/sbin/sendmail"),
        Ok(Transport::Sendmail(Some("/usr/sbin/sendmail".into())))
    );
    assert_eq!(
        parse_t("maildir:Mail"),
        Ok(Transport::Maildir("/etc/fw/Mail".into()))
    );
    let e = errors(&with("pigeon"));
    assert!(e[0].2.contains("unknown transport 'pigeon'"), "{e:?}");
}

/// `starttls` was accepted and ignored with a transport that speaks no
/// SMTP: a user who set it believed mail went out over TLS.
#[test]
fn starttls_without_smtp_is_an_error_at_its_line() {
    for transport in [
        "stdout",
        "sendmail",
        "sendmail:/usr/sbin/sendmail",
        "maildir:/srv/mail",
    ] {
        let text = MINIMAL.replace(
            "smtp = \"smtp://user%40x@127.0.0.1:2525\"",
            &format!("transport = \"{transport}\"\nstarttls = \"required\""),
        );
        let e = errors(&text);
        assert_eq!(e.len(), 1, "{transport}: {e:?}");
        let (line, col, message) = &e[0];
        assert_eq!((*line, *col), (7, 12), "{transport}: the starttls line");
        assert!(
            message.contains("starttls applies to SMTP only")
                && message.contains(&format!("\"{transport}\"")),
            "{message}"
        );
    }
}

#[test]
fn addresses_with_line_breaks_are_refused() {
    let text = MINIMAL.replace(
        "from = \"feedwatch <fw@example.org>\"",
        "from = \"feed\\r\\nBcc: x@evil.example <fw@example.org>\"",
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].2.contains("line break"), "{e:?}");
}

#[test]
fn full_text_is_off_unless_asked_for_and_its_limits_have_defaults() {
    let c = parse(MINIMAL, Path::new("/x.toml"), None).unwrap();
    assert!(!c.feeds[0].full_text);
    assert_eq!(c.poll.max_article, 2 << 20);
    assert_eq!(c.poll.article_wait, Duration::from_secs(30));
    assert_eq!(c.poll.article_delay, Duration::from_secs(1));
    let text = MINIMAL
        .replace("tags = [\"ukraine\"]", "tags = [\"ukraine\"]\nfull_text = true")
        .replace(
            "[email]",
            "[poll]\nmax_article = \"512KiB\"\narticle_wait = \"2m\"\narticle_delay = \"0s\"\n[email]",
        );
    let c = parse(&text, Path::new("/x.toml"), None).unwrap();
    assert!(c.feeds[0].full_text);
    assert_eq!(c.poll.max_article, 512 << 10);
    assert_eq!(c.poll.article_wait, Duration::from_secs(120));
    assert_eq!(c.poll.article_delay, Duration::ZERO);
    let text = MINIMAL.replace("[email]", "[poll]\narticle_wait = \"2h\"\n[email]");
    let msgs: Vec<String> = parse(&text, Path::new("/x.toml"), None)
        .unwrap_err()
        .errors
        .iter()
        .map(|e| format!("{}:{} {}", e.line, e.col, e.message))
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("4:") && m.contains("out of range")),
        "{msgs:?}"
    );
}

/// A display name with parentheses, written unquoted, is taken as written
/// (RFC 5322 reads the parentheses as a comment, and `check` refused it
/// with no hint); a real error says how to write one.
#[test]
fn a_display_name_with_parentheses_is_taken_as_written() {
    let config = |from: &str| {
        MINIMAL.replace(
            "from = \"feedwatch <fw@example.org>\"",
            &format!("from = '{from}'"),
        )
    };
    let c = parse(
        &config("Iran watch (feedwatch) <fw@example.org>"),
        Path::new("/x.toml"),
        None,
    )
    .unwrap();
    assert_eq!(c.email.from, "\"Iran watch (feedwatch)\" <fw@example.org>");
    let e = errors(&config("Iran watch <fw@example.org"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].2.contains("write it as `Name <address@example.org>`"),
        "{e:?}"
    );
}

#[test]
fn a_digest_has_a_title_for_its_reader() {
    let text = format!(
        "{MINIMAL}[[digests]]\nname = \"iran-watch\"\n[[digests]]\nname = \"flash\"\ntitle = \"Kyiv strikes\\nnow\"\n[[digests]]\nname = \"default\"\n"
    );
    let c = parse(&text, Path::new("/x.toml"), None).unwrap();
    assert_eq!(c.digests[0].title, "Iran watch digest");
    assert_eq!(c.digests[1].title, "Kyiv strikes now", "one line");
}

#[test]
fn languages_limit_the_forms_for_the_config_and_for_a_rule() {
    let text = format!(
        "languages = [\"en\", \"uk\"]\n{MINIMAL}\n\
         [[rules]]\nname = \"ru-only\"\nquery = 'drone'\nlanguages = [\"ru\"]\n\
         [[rules]]\nname = \"all\"\nquery = 'drone'\n"
    );
    let c = parse(&text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
    assert_eq!(
        c.languages,
        rules::Languages(Some(vec!["en".into(), "uk".into()]))
    );
    let fts = |name: &str| {
        c.rules
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .fts_query
            .clone()
    };
    let (ru, all) = (fts("ru-only"), fts("all"));
    assert!(
        ru.contains("\"беспилотн\"*") && !ru.contains("\"безпілотн\"*"),
        "{ru}"
    );
    assert!(
        !ru.contains("\"uav\""),
        "the rule's languages, not the config's: {ru}"
    );
    assert!(
        all.contains("\"безпілотн\"*") && all.contains("\"uav\""),
        "{all}"
    );
    assert!(
        !all.contains("\"drohne\"*"),
        "the config's languages: {all}"
    );
}

#[test]
fn an_unknown_or_empty_language_list_is_an_error_at_its_place() {
    let text = format!("{MINIMAL}languages = [\"en\", \"ua\"]\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].2.contains("unknown language 'ua'"), "{errs:?}");
    assert!(errs[0].2.contains("did you mean 'uk'"), "{errs:?}");
    assert_eq!(errs[0].0, text.lines().count(), "{errs:?}");
    let errs = errors(&format!("{MINIMAL}languages = [\"ir\"]\n"));
    assert!(errs[0].2.contains("did you mean 'fa'"), "{errs:?}");
    let text = format!("{MINIMAL}languages = []\n");
    assert!(
        errors(&text)[0].2.contains("languages is empty"),
        "{:?}",
        errors(&text)
    );
}

#[test]
fn a_word_written_plain_and_exact_is_warned_about_at_its_place() {
    let text = format!("{MINIMAL}\n[[rules]]\nname = \"mixed\"\nquery = 'drone AND NOT =drone'\n");
    let c = parse(&text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
    let line = text.lines().count();
    let col = "query = 'drone AND NOT ".len() + 1;
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = &c.warnings[0];
    assert_eq!((w.line, w.col), (line, col));
    assert!(
        w.message
            .starts_with("rule 'mixed': 'drone' is expanded into the concept drone"),
        "{w:?}"
    );
    // An exact phrase is found where it is written, and the list form
    // warns at its rule's name.
    let text = format!(
        "{MINIMAL}\n[[rules]]\nname = \"p\"\nquery = '\"air defence\" -=\"air defence\"'\n\
         [[rules]]\nname = \"lists\"\nall = [\"drone\"]\nnone = [\"=drone\"]\n"
    );
    let c = parse(&text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
    let query_line = text.lines().position(|l| l.contains("-=\"air")).unwrap() + 1;
    let name_line = text.lines().position(|l| l.contains("\"lists\"")).unwrap() + 1;
    let col = "query = '\"air defence\" -".len() + 1;
    assert_eq!(
        c.warnings
            .iter()
            .map(|w| (w.line, w.col))
            .collect::<Vec<_>>(),
        [(query_line, col), (name_line, 8)],
        "{:?}",
        c.warnings
    );
    // Written one way only: no warning.
    let text = format!("{MINIMAL}\n[[rules]]\nname = \"one\"\nquery = 'drone AND NOT =uav'\n");
    let c = parse(&text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

/// Three typos and a bad value took three runs of `check`, said out of
/// file order (10, then 5, then 2), and the values' own checks waited for
/// clean syntax. Now one run says them all, in file order, with the
/// warnings among them at their places.
#[test]
fn every_problem_is_said_in_one_run_in_file_order_with_the_warnings() {
    let text = "state_dir = \"state\"\n\
                timezon = \"Europe/Kyiv\"\n\
                [poll]\n\
                schedule = \"*/15 * * * *\"\n\
                concurrency = \"many\"\n\
                [email]\n\
                from = \"feedwatch <fw@example.org>\"\n\
                to = [\"a@example.org\"]\n\
                transport = \"stdout\"\n\
                pasword_file = \"x\"\n\
                [[feeds]]\n\
                name = \"desk\"\n\
                url = \"ftp://example.org/feed\"\n\
                [[rules]]\n\
                name = \"r\"\n\
                query = 'drone AND NOT =drone'\n";
    let e = parse(text, Path::new("/etc/fw/feedwatch.toml"), None).unwrap_err();
    let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 5, 10, 13], "{e}");
    assert!(
        e.errors[2].message.contains("did you mean 'password_file'"),
        "{e}"
    );
    assert_eq!(e.warnings.len(), 1, "{e}");
    assert_eq!((e.warnings[0].line, e.warnings[0].col), (16, 24));
    let shown = e.to_string();
    let order: Vec<&str> = shown
        .lines()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "/etc/fw/feedwatch.toml:2:1",
            "/etc/fw/feedwatch.toml:5:15",
            "/etc/fw/feedwatch.toml:10:1",
            "/etc/fw/feedwatch.toml:13:7",
            "/etc/fw/feedwatch.toml:16:24",
        ],
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .last()
            .unwrap()
            .contains(": warning: rule 'r'"),
        "{shown}"
    );
    // A line that is not `key = value` ends the reading there, said once.
    let broken = "[poll\nschedule = 5\n";
    let e = parse(broken, Path::new("/x.toml"), None).unwrap_err();
    assert_eq!(e.errors.len(), 1, "{e}");
}
