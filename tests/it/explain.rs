//! `feedwatch explain ITEM` (docs/reference.md, "Commands"): no one could ask why an
//! item did or did not alert — a matched item older than `backfill` showed
//! only as "1 new item, 0 matched". Now, by id or by link: eligible or why
//! not (backfill, pruned by retention), each rule matched or not and the
//! clause that decided it, and each match's digest and message.

use chrono::Utc;

use feedwatch::pipeline;

use crate::support::*;

/// A feed of `(guid, title, published)` items.
fn rss(items: &[(&str, &str, chrono::DateTime<Utc>)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title, at)| {
            format!(
                "<item><guid>{guid}</guid><title>{title}</title><link>https://wire.example.org/{guid}</link>\
                 <description>{title}.</description><pubDate>{}</pubDate></item>",
                at.to_rfc2822()
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>w</title>{items}</channel></rss>"
    )
}

fn explain(setup: &Setup, item: &str) -> (i32, String, String) {
    let out = feedwatch_with(&setup.path, &["explain", item], &[]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_says_why_an_item_did_or_did_not_alert() {
    let feeds = tempfile::tempdir().unwrap();
    let now = Utc::now();
    std::fs::write(
        feeds.path().join("wire.xml"),
        rss(&[
            ("odesa", "Drones strike Odesa port", now),
            ("haifa", "Drones intercepted over Israel", now),
            (
                "old",
                "Drone exports in 2020",
                now - chrono::Duration::days(30),
            ),
        ]),
    )
    .unwrap();
    let rules = "[[rules]]\nname = \"drones\"\nquery = 'drone* -israel'\ndigest = \"flash\"\n\
         [[rules]]\nname = \"desk\"\nquery = 'drone*'\ndigest = \"morning\"\n\
         [[rules]]\nname = \"sport\"\nquery = 'football'\nfeeds = [\"world\"]\ndigest = \"morning\"\n\
         [[digests]]\nname = \"flash\"\nschedule = \"immediate\"\n\
         [[digests]]\nname = \"morning\"\nschedule = \"0 7 * * *\"\n";
    let config = |extra: &str| {
        format!(
            "[[feeds]]\nname = \"wire\"\nurl = \"file://{}\"\n\
             [[feeds]]\nname = \"world\"\nurl = \"file://{}\"\n{rules}{extra}",
            feeds.path().join("wire.xml").display(),
            sample_feed_path().display()
        )
    };
    // The sample feed's items are from 2024: older than a day, they are
    // stored on the first fetch but do not alert.
    let setup = Setup::with_poll(
        "backfill = \"1d\"",
        "transport = \"maildir:Mail\"",
        &config(""),
    );
    let ctx = setup.context();
    pipeline::poll_all(&ctx).await;
    let flash = vec![ctx.config.digest("flash").unwrap().clone()];
    pipeline::deliver(&ctx, &flash, pipeline::Retry::All)
        .await
        .unwrap();

    // Matched and sent, by link.
    let (code, text, err) = explain(&setup, "https://wire.example.org/odesa");
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with("item "), "{text}");
    assert!(line(&text, "eligible:").contains("yes"), "{text}");
    assert_eq!(
        line(&text, "drones (digest \"flash\")"),
        "drones (digest \"flash\"): matched: drone* is in it; nothing it excludes is in it"
    );
    assert!(
        line(&text, "sport (digest \"morning\")").contains("does not read wire (it reads world)"),
        "{text}"
    );
    let sent = line(&text, "drones → digest \"flash\"");
    assert!(
        sent.contains("sent ") && sent.contains("Message-ID <feedwatch."),
        "{text}"
    );
    // The morning digest has not gone yet: pending, and when it is due.
    assert!(
        line(&text, "desk → digest \"morning\"").contains("pending: the digest is next due"),
        "{text}"
    );

    // Not matched: the clause that excluded it.
    let (_, text, _) = explain(&setup, "https://wire.example.org/haifa");
    assert_eq!(
        line(&text, "drones (digest \"flash\")"),
        "drones (digest \"flash\"): not matched: excluded: israel is in it"
    );

    // Older than backfill in the first fetch: not eligible, and said why;
    // the rule would have matched it.
    let (_, text, _) = explain(&setup, "https://wire.example.org/old");
    assert!(
        line(&text, "eligible:").starts_with("eligible:    no: it came in its feed's first fetch"),
        "{text}"
    );
    assert!(
        line(&text, "eligible:").contains("`backfill` = 1day"),
        "{text}"
    );
    assert!(
        line(&text, "drones (digest \"flash\")").contains("would match"),
        "{text}"
    );

    // By the id `search --json` gives, the same item.
    let search = feedwatch_with(&setup.path, &["search", "--json", "odesa"], &[]);
    let hits: serde_json::Value = serde_json::from_slice(&search.stdout).unwrap();
    let id = hits[0]["id"].as_i64().unwrap().to_string();
    let (code, by_id, _) = explain(&setup, &id);
    assert_eq!(code, 0);
    assert!(by_id.contains("Drones strike Odesa port"), "{by_id}");

    // A rule added since: it finds the item now, and explain says why it
    // did not alert.
    std::fs::write(
        &setup.path,
        std::fs::read_to_string(&setup.path).unwrap()
            + "[[rules]]\nname = \"odesa\"\nquery = 'odesa'\ndigest = \"flash\"\n",
    )
    .unwrap();
    let (_, text, _) = explain(&setup, "https://wire.example.org/odesa");
    assert!(
        line(&text, "odesa (digest \"flash\")")
            .contains("matches now (odesa is in it), but did not when the item came in"),
        "{text}"
    );

    // A link no one has seen: exit 1, said.
    let (code, _, err) = explain(&setup, "https://wire.example.org/never");
    assert_eq!(code, 1);
    assert!(err.contains("no stored item is"), "{err}");

    // Pruned by retention: its link is remembered, and explain says so.
    let pruned = setup
        .store()
        .prune(Utc::now() + chrono::Duration::days(1))
        .unwrap();
    assert!(pruned.items > 0);
    let (code, _, err) = explain(&setup, "https://wire.example.org/old");
    assert_eq!(code, 1);
    assert!(
        err.contains("is no longer stored: wire saw it and pruned it after `retention`"),
        "{err}"
    );
}
