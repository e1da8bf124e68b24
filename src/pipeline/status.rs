//! Pipeline: what `status` shows, composed from the config (schedules) and
//! the store (what happened), read without writing anything: each feed with
//! its health and its next poll (its schedule, past any backoff), each
//! digest with its pending items and its next send, the outbox, and what
//! is known of damage: the last full check and the stored texts found
//! unreadable (recorded by whoever met them; `status` unpacks nothing).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::{Config, DigestSchedule};
use crate::model::{FeedStatus, OutboxStatus};
use crate::store::{Store, StoreError, Unreadable};

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub feeds: Vec<FeedRow>,
    pub digests: Vec<DigestRow>,
    pub outbox: OutboxStatus,
    /// Unsent messages that failed at least once: digest, attempts, last error.
    pub outbox_errors: Vec<(String, i64, String)>,
    /// The last full check of the database (the daemon's, or `run
    /// --once`'s): when, and the structural damage found.
    pub integrity: Option<(DateTime<Utc>, Option<String>)>,
    /// The stored texts known to be unreadable.
    pub unreadable: Unreadable,
    /// The store does not take writes, as the last poll found (`health`).
    pub store_failure: Option<super::StoreFailure>,
    /// Mail cannot be set up, as the last delivery found (`health`).
    pub mail_failure: Option<super::MailFailure>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    pub status: FeedStatus,
    /// Still in the config (a feed removed from it keeps its stored items).
    pub configured: bool,
    pub next_poll: Option<DateTime<Utc>>,
    /// Configured with `full_text = true`.
    pub full_text: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DigestRow {
    pub name: String,
    /// Items waiting for this digest (an item several rules matched counts once).
    pub pending_items: i64,
    pub next: NextSend,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NextSend {
    At(DateTime<Utc>),
    /// `schedule = "immediate"`: right after the poll that finds matches.
    AfterEachPoll,
    /// A schedule with no occurrence left.
    Never,
}

/// Reads the status of `config`'s state directory at `now`.
pub fn status(config: &Config, now: DateTime<Utc>) -> Result<Status, StoreError> {
    let store = Store::open_read_only(&config.state_dir)?;
    let stored = store.feed_status()?;
    let pending: HashMap<String, i64> = store.pending_counts()?.into_iter().collect();
    let mut by_name: HashMap<&str, FeedStatus> = stored
        .iter()
        .map(|f| (f.name.as_str(), f.clone()))
        .collect();
    let mut feeds: Vec<FeedRow> = config
        .feeds
        .iter()
        .map(|f| {
            let status = by_name
                .remove(f.name.as_str())
                .unwrap_or_else(|| FeedStatus {
                    name: f.name.clone(),
                    url: f.url.to_string(),
                    ..FeedStatus::default()
                });
            let schedule = f.schedule.as_ref().unwrap_or(&config.poll.schedule);
            let not_before = status.next_fetch.unwrap_or(now).max(now);
            let next_poll =
                schedule.next_after(config.timezone, not_before - chrono::Duration::seconds(1));
            FeedRow {
                status,
                configured: true,
                next_poll,
                full_text: f.full_text,
            }
        })
        .collect();
    // Feeds the database knows that are no longer configured, in name order.
    let mut gone: Vec<FeedStatus> = by_name.into_values().collect();
    gone.sort_by(|a, b| a.name.cmp(&b.name));
    feeds.extend(gone.into_iter().map(|status| FeedRow {
        status,
        configured: false,
        next_poll: None,
        full_text: false,
    }));
    let digests = config
        .digests
        .iter()
        .map(|d| DigestRow {
            name: d.name.clone(),
            pending_items: pending.get(&d.name).copied().unwrap_or(0),
            next: match &d.schedule {
                DigestSchedule::Immediate => NextSend::AfterEachPoll,
                DigestSchedule::Cron(s) => s
                    .next_after(config.timezone, now)
                    .map_or(NextSend::Never, NextSend::At),
            },
        })
        .collect();
    Ok(Status {
        feeds,
        digests,
        outbox: store.outbox_status()?,
        outbox_errors: store.outbox_errors()?,
        integrity: store.last_integrity()?,
        unreadable: store.unreadable()?,
        store_failure: super::read_failure(&config.state_dir),
        mail_failure: super::read_mail_failure(&config.state_dir),
    })
}
