//! Upgrading an archive from before schema 11 under systemd's notify
//! protocol (docs/operations.md, "Operations"): the daemon packs it in steps, and
//! before READY=1 each step tells systemd to extend its start timeout and
//! says how far it is, so a large archive does not get the service killed.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::sample_feed_path;

/// The schema files of versions 1–10, as the releases before wrote them.
const OLD_SCHEMA: [&str; 10] = [
    include_str!("../../src/store/001_initial.sql"),
    include_str!("../../src/store/002_failing_since.sql"),
    include_str!("../../src/store/003_retention.sql"),
    include_str!("../../src/store/004_backoff.sql"),
    include_str!("../../src/store/005_moved.sql"),
    include_str!("../../src/store/006_fts_by_group.sql"),
    include_str!("../../src/store/007_fts_automerge.sql"),
    include_str!("../../src/store/008_integrity.sql"),
    include_str!("../../src/store/009_digest_memory.sql"),
    include_str!("../../src/store/010_full_text.sql"),
];

/// A schema-10 archive of `n` items in `state`.
fn old_archive(state: &std::path::Path, n: usize) {
    std::fs::create_dir_all(state).unwrap();
    let mut conn = rusqlite::Connection::open(state.join("feedwatch.db")).unwrap();
    for (v, sql) in OLD_SCHEMA.iter().enumerate() {
        conn.execute_batch(sql).unwrap();
        conn.pragma_update(None, "user_version", v as i64 + 1)
            .unwrap();
    }
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO feeds(name, url) VALUES ('sample', 'file://sample-feed.xml')",
        [],
    )
    .unwrap();
    for i in 0..n {
        let summary = format!(
            "Report {i}: Kyiv air defence downed drones overnight, {}",
            "officials said the drones came from the south. ".repeat(3)
        );
        tx.execute(
            "INSERT INTO items(feed_id, key, link, title, summary, author, category, feed, fetched_at)
             VALUES (1, ?1, ?2, ?3, ?4, '', '', 'sample', 0)",
            rusqlite::params![format!("id:{i}"), format!("https://o/{i}"), format!("Story {i}"), summary],
        )
        .unwrap();
    }
    tx.execute_batch(
        "INSERT INTO items_fts(rowid, title, summary, author, category, feed)
         SELECT id, title, summary, author, category, feed FROM items;",
    )
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn the_daemon_packs_an_old_archive_extending_its_start_timeout_at_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    old_archive(&state, 12_000);
    std::fs::copy(sample_feed_path(), dir.path().join("sample-feed.xml")).unwrap();
    let config = dir.path().join("feedwatch.toml");
    std::fs::write(
        &config,
        "state_dir = \"state\"\n[email]\nfrom = \"fw@example.org\"\nto = [\"a@example.org\"]\n\
         transport = \"stdout\"\n[[feeds]]\nname = \"sample\"\nurl = \"file://sample-feed.xml\"\n\
         [[rules]]\nname = \"r\"\nquery = \"iran\"\n",
    )
    .unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env_remove("STATE_DIRECTORY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    while !said.iter().any(|m: &String| m.contains("READY=1")) {
        let Ok(n) = socket.recv(&mut buf) else {
            break;
        };
        said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let steps: Vec<&String> = said
        .iter()
        .filter(|m| m.contains("EXTEND_TIMEOUT_USEC=60000000"))
        .collect();
    assert_eq!(steps.len(), 3, "a step of 5,000 items each: {said:?}");
    assert!(
        steps[0].contains("STATUS=packing the archive: 5000 of 12000 items"),
        "{said:?}"
    );
    assert!(steps[2].contains("12000 of 12000"), "{said:?}");
    assert!(
        said.last().is_some_and(|m| m.contains("READY=1")),
        "READY=1 came, after the steps: {said:?}"
    );
    let store = feedwatch::store::Store::open_read_only(&state).unwrap();
    // The first poll may have stored the sample feed's items too.
    let items: i64 = store.feed_status().unwrap().iter().map(|f| f.items).sum();
    assert!(items >= 12_000, "nothing lost: {items}");
    let q = feedwatch::rules::compile_query("\"Report 11999\"", &Default::default()).unwrap();
    let hits = store.search(&q, None, None, 10).unwrap();
    assert_eq!(hits.len(), 1, "the last item is packed and found");
    assert!(hits[0].snippet.contains("drones"), "{}", hits[0].snippet);
}

/// During packing, `status` and `search` refused ("older than this
/// feedwatch … start the daemon"), while the daemon was doing just that.
/// They read the archive as it is now, between two steps of the packing.
#[test]
fn status_and_search_read_an_archive_while_it_is_packed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    old_archive(&state, 12_000);
    let q = feedwatch::rules::compile_query("\"Report 11999\"", &Default::default()).unwrap();
    let mut reads = 0;
    let mut between_steps = |_: feedwatch::store::Progress| {
        let store = feedwatch::store::Store::open_read_only(&state).unwrap();
        assert_eq!(store.schema_version().unwrap(), 11, "mid-packing");
        let items: i64 = store.feed_status().unwrap().iter().map(|f| f.items).sum();
        assert_eq!(items, 12_000);
        assert_eq!(store.unreadable().unwrap().items, 0);
        assert_eq!(store.search(&q, None, None, 10).unwrap().len(), 1);
        reads += 1;
    };
    feedwatch::store::Store::open_dir_reporting(&state, &mut between_steps).unwrap();
    assert_eq!(reads, 3, "read between each step");
}
