//! Command line: `explain ITEM` (docs/reference.md, "Commands"), an item id from
//! `search --json` or a link: whether the item could alert, each rule's
//! answer and the clause that decided it, and where each match is (waiting
//! for its digest, or the message: Message-ID, sent or why not yet).
//! Prints what `pipeline::explain` found; exits 1 when nothing is stored
//! under ITEM, like `search`.

use chrono::Utc;

use super::output::{Out, outln};
use super::{CliError, local_time};
use crate::config::Config;
use crate::pipeline::explain::{Delivery, Eligibility, ItemExplanation, Verdict, explain as find};

pub fn explain(config: &Config, item: &str) -> Result<(), CliError> {
    let found = find(config, item, Utc::now()).map_err(anyhow::Error::from)?;
    let mut out = Out::new();
    if found.items.is_empty() {
        if !found.remembered_by.is_empty() {
            return Err(CliError::NothingFound(format!(
                "{item} is no longer stored: {} saw it and pruned it after `retention` ({}); \
                 its link is remembered, so it never alerts again",
                found.remembered_by.join(", "),
                humantime::format_duration(config.retention)
            )));
        }
        let forms = if found.links.len() > 1 {
            format!(" (looked for as given and as {})", found.links[1])
        } else {
            String::new()
        };
        return Err(CliError::NothingFound(format!(
            "no stored item is {item}{forms}: give an id from `search --json` or the item's link as its feed gives it"
        )));
    }
    for (i, e) in found.items.iter().enumerate() {
        if i > 0 {
            outln!(out, "");
        }
        item_text(&mut out, config, e)?;
    }
    Ok(())
}

fn item_text(out: &mut Out, config: &Config, e: &ItemExplanation) -> Result<(), CliError> {
    let tz = config.timezone;
    let f = &e.facts;
    outln!(out, "item {}: {}", f.id, f.title);
    outln!(out, "  feed:      {}", f.feed);
    if let Some(link) = &f.link {
        outln!(out, "  link:      {link}");
    }
    outln!(
        out,
        "  published: {}",
        f.published.map_or("undated".into(), |p| local_time(p, tz))
    );
    outln!(out, "  stored:    {}", local_time(f.fetched_at, tz));
    if let Some(error) = &f.unreadable {
        outln!(
            out,
            "  its stored text cannot be read ({error}): a digest shows it by title and link"
        );
    }
    for (id, feed) in &e.same_link {
        outln!(out, "  the same link is also item {id}, from {feed}");
    }
    let eligible = match &e.eligible {
        Eligibility::Yes { first_fetch: false } => {
            "yes: it came after its feed's first fetch, so it was matched against the rules".to_string()
        }
        Eligibility::Yes { first_fetch: true } => match config.poll.backfill {
            Some(b) => format!(
                "yes: it came in its feed's first fetch, published within `backfill` ({})",
                humantime::format_duration(b)
            ),
            None => "yes: it came in its feed's first fetch, and `backfill` = \"all\" lets every item of it alert".into(),
        },
        Eligibility::Backfill { backfill, cutoff } => format!(
            "no: it came in its feed's first fetch and was published before {} (`backfill` = {}), \
             so it was stored for `search` but never matched",
            local_time(*cutoff, tz),
            humantime::format_duration(*backfill)
        ),
        Eligibility::Held => "not yet: it waits for its article (`full_text`); it is matched once \
             the article is read or given up"
            .to_string(),
    };
    outln!(out, "eligible:    {eligible}");
    outln!(out, "rules:");
    for r in &e.rules {
        let said = match &r.verdict {
            Verdict::NotItsFeed { feeds } => {
                format!("does not read {} (it reads {})", f.feed, feeds.join(", "))
            }
            Verdict::Decided { decision, recorded } => match (decision.matched, recorded) {
                (true, true) => format!("matched: {}", decision.because),
                (true, false) if matches!(e.eligible, Eligibility::Yes { .. }) => {
                    let pruned = chrono::Duration::from_std(config.retention)
                        .ok()
                        .and_then(|r| Utc::now().checked_sub_signed(r))
                        .is_some_and(|cutoff| f.fetched_at < cutoff);
                    if pruned {
                        format!(
                            "matches ({}); its match, if it had one, went with its sent message after `retention`",
                            decision.because
                        )
                    } else {
                        format!(
                            "matches now ({}), but did not when the item came in: rules are applied to new items as they arrive, and this rule was added or changed since (`search --rule {}` finds it)",
                            decision.because, r.rule
                        )
                    }
                }
                (true, false) => format!(
                    "would match ({}), but the item was not eligible",
                    decision.because
                ),
                (false, true) => format!(
                    "matched when the item came in, but does not now ({}): the rule was changed since",
                    decision.because
                ),
                (false, false) => format!("not matched: {}", decision.because),
            },
            Verdict::Unknown { error } => format!("cannot be decided: {error}"),
        };
        outln!(out, "  {} (digest \"{}\"): {said}", r.rule, r.digest);
    }
    if e.deliveries.is_empty() {
        return Ok(());
    }
    outln!(out, "delivery:");
    for d in &e.deliveries {
        outln!(
            out,
            "  {} → digest \"{}\": {}",
            d.facts.rule,
            d.facts.digest,
            delivery(config, d)
        );
    }
    Ok(())
}

fn delivery(config: &Config, d: &Delivery) -> String {
    let tz = config.timezone;
    let Some(m) = &d.facts.message else {
        return match (d.immediate, d.due) {
            (true, _) => "pending: goes out after the next poll".into(),
            (false, Some(due)) => {
                format!("pending: the digest is next due {}", local_time(due, tz))
            }
            (false, None) if config.digest(&d.facts.digest).is_none() => {
                "pending, but the config has no such digest any more".into()
            }
            (false, None) => "pending: its schedule has no next date".into(),
        };
    };
    let row = format!("outbox row {}, Message-ID {}", m.id, m.message_id);
    match m.sent_at {
        Some(sent) => format!("sent {} ({row})", local_time(sent, tz)),
        None if m.attempts == 0 => format!(
            "written {}, not sent yet: it goes at the next delivery ({row})",
            local_time(m.written_at, tz)
        ),
        None => format!(
            "not sent yet: {} attempt(s), last error: {}{} ({row})",
            m.attempts,
            m.last_error.as_deref().unwrap_or("unknown"),
            m.next_attempt_at.map_or(String::new(), |t| format!(
                "; next attempt {}",
                local_time(t, tz)
            ))
        ),
    }
}
