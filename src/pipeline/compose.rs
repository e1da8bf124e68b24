//! Pipeline, composing a digest: store (pending matches, each matched
//! feed's recent items, the stories this digest reported lately, what needs
//! attention) → digest (render) → mail (build, each part with the digest's
//! List-Id, parts after the first threaded to it) → store (outbox row,
//! matches claimed, stories remembered, in one transaction). A match whose
//! item's text cannot be read goes out by its title, link and snippet, and
//! is recorded and said (docs/operations.md, "Bad input"); it holds nothing up.

use std::collections::HashMap;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::Context;
use crate::config::{DigestConfig, DigestSchedule};
use crate::digest::{self, Footer, Rendered};
use crate::mail::{self, Draft};
use crate::model::{Attention, Coverage, FailingFeed, MatchView, SentStory, SourceNews};
use crate::store::{Counters, Marks, NewOutbox, StoreError, Told};

/// A feed's latest items in which its boilerplate is looked for.
const RECENT_PER_FEED: usize = 20;

/// How often an immediate digest may show the same problem of a feed.
const ATTENTION_EVERY: chrono::Duration = chrono::Duration::days(1);

/// What a digest run is made of, read in one store call.
struct Pending {
    matches: Vec<MatchView>,
    attention: Attention,
    /// When each problem of `attention` was last shown.
    shown: HashMap<String, DateTime<Utc>>,
    recent: digest::Recent,
    sent: Vec<SentStory>,
    /// What a scheduled digest covered since its last message, and the
    /// counters to keep with this one.
    coverage: Option<(Coverage, Vec<Counters>)>,
    /// The outages an immediate digest has told.
    told: Vec<Told>,
    /// The digest's last message as this run found it.
    last_message: Option<i64>,
}

/// The feeds the rules of `digest` read, in config order.
fn own_feeds(ctx: &Context, digest: &DigestConfig) -> Vec<String> {
    ctx.config
        .feeds
        .iter()
        .filter(|f| reads(ctx, digest, &f.name))
        .map(|f| f.name.clone())
        .collect()
}

/// Whether a rule of `digest` reads `feed`: the feeds whose problems and
/// coverage the digest tells.
fn reads(ctx: &Context, digest: &DigestConfig, feed: &str) -> bool {
    ctx.config
        .rules
        .iter()
        .any(|r| r.digest == digest.name && r.applies_to(feed))
}

async fn pending(ctx: &Context, digest: &DigestConfig) -> Result<Pending, StoreError> {
    let memory = chrono::Duration::from_std(ctx.config.story_memory).unwrap_or_default();
    let failing_after = i64::from(ctx.config.poll.failing_after);
    let scheduled = digest.schedule != DigestSchedule::Immediate;
    let own = own_feeds(ctx, digest);
    let digest = digest.name.clone();
    ctx.db
        .call(move |s| {
            let matches = s.pending(&digest)?;
            let mut feeds: Vec<String> = matches.iter().map(|m| m.feed.clone()).collect();
            feeds.sort();
            feeds.dedup();
            let earliest = matches
                .iter()
                .map(|m| m.fetched_at)
                .min()
                .unwrap_or_else(Utc::now);
            let since = earliest
                .checked_sub_signed(memory)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let attention = s.attention(failing_after)?;
            let keys = shown_keys(&digest, &attention.keys());
            let shown = s
                .attention_shown(&keys)?
                .into_iter()
                .filter_map(|(k, at)| {
                    Some((k.strip_prefix(&shown_prefix(&digest))?.to_string(), at))
                })
                .collect();
            Ok(Pending {
                recent: s.recent_texts(&feeds, RECENT_PER_FEED)?,
                sent: s.sent_stories(&digest, since)?,
                coverage: if scheduled {
                    Some(s.coverage(&digest, &own)?)
                } else {
                    None
                },
                told: if scheduled {
                    Vec::new()
                } else {
                    s.outages_told(&digest)?
                },
                last_message: s.last_message(&digest)?,
                shown,
                attention,
                matches,
            })
        })
        .await
}

/// When a problem was shown is kept per digest: the daily digest showing
/// it first kept the immediate one's readers from ever seeing it.
fn shown_prefix(digest: &str) -> String {
    format!("{digest}\u{1f}")
}

fn shown_keys(digest: &str, keys: &[String]) -> Vec<String> {
    let prefix = shown_prefix(digest);
    keys.iter().map(|k| format!("{prefix}{k}")).collect()
}

/// The attention section of `digest`: the problems of the feeds its own
/// rules read (and undelivered messages); all of them in a scheduled
/// digest; in an immediate one, those it has not shown in the last day (it
/// goes out after every poll that finds something) and has not just told
/// as news.
fn attention_for(
    digest: &DigestConfig,
    own: &Attention,
    news: &SourceNews,
    p: &Pending,
    now: DateTime<Utc>,
) -> Attention {
    if digest.schedule != DigestSchedule::Immediate {
        return own.clone();
    }
    let due = |key: &str| {
        p.shown
            .get(key)
            .is_none_or(|at| now - *at >= ATTENTION_EVERY)
    };
    let told: Vec<String> = news.down.iter().map(|f| f.feed.clone()).collect();
    own.for_feeds(|feed| !told.contains(&feed.to_string()))
        .only(due)
}

/// What an immediate digest tells of its own feeds now: outages not told
/// yet (a feed down since a time it has not said) and those told that are
/// over; and every outage its readers will know of once it is sent.
fn source_news(
    down_now: &[FailingFeed],
    told: &[Told],
    reads: impl Fn(&str) -> bool,
) -> (SourceNews, Vec<(String, DateTime<Utc>)>) {
    let down = down_now
        .iter()
        .filter(|f| {
            !told
                .iter()
                .any(|t| t.feed == f.feed && t.since == f.since && !t.over)
        })
        .cloned()
        .collect();
    let back = told
        .iter()
        .filter(|t| t.over && reads(&t.feed))
        .map(|t| (t.feed.clone(), t.since))
        .collect();
    // What its readers know: the outages now, and those told that are not
    // over though no longer failing (gone, or `failing_after` raised): their
    // end is still to be told.
    let mut known: Vec<(String, DateTime<Utc>)> =
        down_now.iter().map(|f| (f.feed.clone(), f.since)).collect();
    for t in told {
        if !t.over && reads(&t.feed) && !known.iter().any(|(feed, _)| *feed == t.feed) {
            known.push((t.feed.clone(), t.since));
        }
    }
    (SourceNews { down, back }, known)
}

/// What the footer says: this host, the config, when the digest is next due.
fn footer(ctx: &Context, digest: &DigestConfig, now: DateTime<Utc>) -> Footer {
    let tz = ctx.config.timezone;
    Footer {
        host: hostname(),
        // The full path: "feedwatch.toml" alone does not say which.
        config: std::fs::canonicalize(&ctx.config.path)
            .unwrap_or_else(|_| ctx.config.path.clone())
            .display()
            .to_string(),
        next: Some(match &digest.schedule {
            DigestSchedule::Immediate => {
                "right after the next poll that finds new items, or when one of its feeds goes down or comes back".into()
            }
            DigestSchedule::Cron(s) => s.next_after(tz, now).map_or_else(
                || "never (its schedule has no next date)".into(),
                |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
            ),
        }),
    }
}

/// The host's name, from uname(2): the unit's `ProcSubset=pid` hides
/// /proc/sys/kernel/hostname, which every digest the service sent read as
/// "this host".
fn hostname() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .trim()
        .to_string();
    if name.is_empty() {
        "this host".into()
    } else {
        name
    }
}

/// What `render` made of a digest's pending matches.
struct Made {
    parts: Vec<Rendered>,
    /// The problems of feeds and messages the parts show.
    shown: Vec<String>,
    /// The items among them whose text cannot be read.
    unreadable: Vec<i64>,
    /// What the first part fixes with it: coverage counted, outages told.
    marks: Marks,
}

/// The rendered parts of `digest` now: its pending matches, and what it
/// says of its feeds (docs/digests.md, "Coverage and outages"); nothing when it has
/// nothing to say.
async fn render(
    ctx: &Context,
    digest: &DigestConfig,
    now: DateTime<Utc>,
) -> Result<Made, StoreError> {
    let p = pending(ctx, digest).await?;
    let reads = |feed: &str| reads(ctx, digest, feed);
    let own = p.attention.for_feeds(reads);
    let (news, told) = if digest.schedule == DigestSchedule::Immediate {
        let (news, told) = source_news(&own.failing, &p.told, reads);
        (news, Some(told))
    } else {
        (SourceNews::default(), None)
    };
    let down = !own.failing.is_empty() || !own.never_fetched.is_empty() || !own.gone.is_empty();
    let send_empty = match digest.schedule {
        DigestSchedule::Immediate => !news.is_empty(),
        DigestSchedule::Cron(_) => digest.send_when_quiet || down,
    };
    if p.matches.is_empty() && !send_empty {
        return Ok(Made {
            parts: Vec::new(),
            shown: Vec::new(),
            unreadable: Vec::new(),
            marks: Marks::default(),
        });
    }
    let attention = attention_for(digest, &own, &news, &p, now);
    let rules: Vec<String> = ctx.config.rules.iter().map(|r| r.name.clone()).collect();
    let parts = digest::render(&digest::Request {
        name: &digest.name,
        title: &digest.title,
        subject: &digest.subject,
        tz: ctx.config.timezone,
        rules: &rules,
        matches: &p.matches,
        recent: &p.recent,
        sent: &p.sent,
        memory: chrono::Duration::from_std(ctx.config.story_memory).unwrap_or_default(),
        attention: &attention,
        coverage: p.coverage.as_ref().map(|(c, _)| c),
        news: &news,
        send_empty,
        footer: footer(ctx, digest, now),
        now,
    });
    // A feed told as down is shown: not again in the attention section today.
    let mut shown = attention.keys();
    shown.extend(
        Attention {
            failing: news.down.clone(),
            ..Attention::default()
        }
        .keys(),
    );
    Ok(Made {
        parts,
        shown: shown_keys(&digest.name, &shown),
        unreadable: p
            .matches
            .iter()
            .filter(|m| m.unreadable)
            .map(|m| m.item_id)
            .collect(),
        marks: Marks {
            follows: Some(p.last_message),
            coverage: p.coverage.map(|(_, counters)| counters).unwrap_or_default(),
            told,
        },
    })
}

/// Builds each part's message, with its place among the parts; parts
/// after the first are threaded to it.
fn messages(
    ctx: &Context,
    digest: &DigestConfig,
    parts: Vec<Rendered>,
) -> Vec<(usize, Rendered, mail::Built)> {
    let from = &ctx.config.email.from;
    let mut first: Option<String> = None;
    let mut out = Vec::new();
    for (index, mut part) in parts.into_iter().enumerate() {
        let message_id = mail::new_message_id(from);
        let draft = Draft {
            from,
            to: &digest.to,
            subject: &part.subject,
            text: std::mem::take(&mut part.text),
            html: std::mem::take(&mut part.html),
            message_id: &message_id,
            date: SystemTime::now(),
            list: &digest.name,
            first_part: first.as_deref(),
        };
        match mail::build(draft) {
            Ok(built) => {
                first.get_or_insert_with(|| built.message_id.clone());
                out.push((index, part, built));
            }
            Err(e) => {
                tracing::error!(digest = %digest.name, error = %e, "cannot build the digest message")
            }
        }
    }
    out
}

/// What composing a digest wrote.
pub struct Composed {
    /// The outbox rows.
    pub queued: Vec<i64>,
    /// The items it carries whose text cannot be read (recorded).
    pub unreadable: usize,
}

/// Renders the pending matches of `digest` and fixes them in the outbox.
pub async fn compose(ctx: &Context, digest: &DigestConfig) -> Result<Composed, StoreError> {
    let now = Utc::now();
    let Made {
        parts,
        shown,
        unreadable,
        mut marks,
    } = render(ctx, digest, now).await?;
    let mut queued = Vec::new();
    for (index, part, built) in messages(ctx, digest, parts) {
        let (name, to, from) = (
            digest.name.clone(),
            digest.to.clone(),
            ctx.config.email.from.clone(),
        );
        // The first part, which says them, fixes what the digest covered
        // and told; when it could not be built, they are said next time.
        let marks = if index == 0 {
            std::mem::take(&mut marks)
        } else {
            Marks::default()
        };
        let row = ctx
            .db
            .call(move |s| {
                let row = NewOutbox {
                    digest: &name,
                    message_id: &built.message_id,
                    from: &from,
                    recipients: &to,
                    message: &built.bytes,
                    marks: &marks,
                };
                s.enqueue(&row, &part.match_ids, &part.stories, Utc::now())
            })
            .await?;
        queued.push(row);
    }
    if !queued.is_empty() && !shown.is_empty() {
        ctx.db
            .call(move |s| s.record_attention_shown(&shown, now))
            .await?;
    }
    let lost = unreadable.len();
    if lost > 0 {
        tracing::error!(digest = %digest.name, error = %crate::store::unreadable_way_back(lost as i64), "the digest carries items whose text cannot be read");
        // The messages are queued: failing to record the damage must not
        // keep them (or the other digests) from being sent.
        if let Err(e) = ctx
            .db
            .call(move |s| s.record_unreadable(&unreadable, now))
            .await
        {
            tracing::error!(digest = %digest.name, error = %e, "cannot record the texts that cannot be read");
        }
    }
    Ok(Composed {
        queued,
        unreadable: lost,
    })
}

/// The exact messages `deliver` would send for `digest` now, changing nothing.
pub async fn dry_run(ctx: &Context, digest: &DigestConfig) -> Result<Vec<Vec<u8>>, StoreError> {
    let made = render(ctx, digest, Utc::now()).await?;
    Ok(messages(ctx, digest, made.parts)
        .into_iter()
        .map(|(_, _, b)| b.bytes)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn failing(feed: &str, since: DateTime<Utc>) -> FailingFeed {
        FailingFeed {
            feed: feed.into(),
            since,
            polls: 3,
            error: "HTTP 503".into(),
        }
    }

    fn told(feed: &str, since: DateTime<Utc>, over: bool) -> Told {
        Told {
            feed: feed.into(),
            since,
            over,
        }
    }

    #[test]
    fn each_outage_is_told_once_and_its_end_once() {
        let (t1, t2) = (
            Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 6, 11, 0, 0).unwrap(),
        );
        let all = |_: &str| true;
        // New: told.
        let (news, known) = source_news(&[failing("kyiv", t1)], &[], all);
        assert_eq!(news.down, [failing("kyiv", t1)]);
        assert_eq!(known, [("kyiv".to_string(), t1)]);
        // Told already: nothing.
        let (news, _) = source_news(&[failing("kyiv", t1)], &[told("kyiv", t1, false)], all);
        assert!(news.is_empty());
        // Back, then down again: both said.
        let (news, known) = source_news(&[failing("kyiv", t2)], &[told("kyiv", t1, true)], all);
        assert_eq!(news.back, [("kyiv".to_string(), t1)]);
        assert_eq!(news.down, [failing("kyiv", t2)]);
        assert_eq!(known, [("kyiv".to_string(), t2)]);
        // No longer failing but not read again (gone, or `failing_after`
        // raised): still known, so its end is told when it comes.
        let (news, known) = source_news(&[], &[told("kyiv", t1, false)], all);
        assert!(news.is_empty());
        assert_eq!(known, [("kyiv".to_string(), t1)]);
        // A feed its rules no longer read: forgotten, not told.
        let (news, known) = source_news(&[], &[told("kyiv", t1, true)], |_| false);
        assert!(news.is_empty() && known.is_empty());
    }
}
