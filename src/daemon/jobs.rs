//! Daemon: the schedules of a config as tokio-cron-scheduler one-shot jobs.
//! Each job fires at the next occurrence computed in the config's time zone
//! (croner + chrono-tz) and only `try_send`s a tick; the loop re-arms it
//! when the tick arrives, so a schedule is DST-correct and never has more
//! than one tick in flight (the channel has room for all of them).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::{REARM_CHECK, Tick};
use crate::config::{Config, DigestSchedule, Schedule};

/// A tick as the channel carries it: which schedule, and the occurrence it
/// was armed for (`None` for a tick sent by hand, such as the start-up poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fired {
    pub(super) tick: Tick,
    pub(super) occurrence: Option<DateTime<Utc>>,
}

/// The feeds a poll tick covers: the global schedule polls every feed that
/// has no schedule of its own.
pub(super) fn feeds_for(config: &Config, tick: &Tick) -> Vec<crate::config::FeedConfig> {
    config
        .feeds
        .iter()
        .filter(|f| match tick {
            Tick::PollFeed(name) => &f.name == name,
            Tick::Poll => f.schedule.is_none(),
            Tick::Digest(_) | Tick::AfterPoll => false,
        })
        .cloned()
        .collect()
}

/// The longest start delay of a scheduled poll's feeds.
pub(super) const MAX_JITTER: std::time::Duration = std::time::Duration::from_secs(30);

/// How much to spread the feeds of a scheduled poll: a tenth of the
/// schedule's interval, at most `MAX_JITTER`. Nothing for digests, nor for
/// ticks sent by hand.
pub(super) fn jitter_for(config: &Config, fired: &Fired) -> std::time::Duration {
    let Some(at) = fired.occurrence else {
        return std::time::Duration::ZERO;
    };
    if !fired.tick.is_poll() {
        return std::time::Duration::ZERO;
    }
    schedules(config)
        .into_iter()
        .find(|(t, _)| *t == fired.tick)
        .and_then(|(_, s)| s.next_after(config.timezone, at))
        .and_then(|next| (next - at).to_std().ok())
        .map_or(std::time::Duration::ZERO, |interval| {
            (interval / 10).min(MAX_JITTER)
        })
}

/// Every schedule of a config, with the tick it sends.
pub fn schedules(config: &Config) -> Vec<(Tick, &Schedule)> {
    let mut out = vec![(Tick::Poll, &config.poll.schedule)];
    for f in &config.feeds {
        if let Some(s) = &f.schedule {
            out.push((Tick::PollFeed(f.name.clone()), s));
        }
    }
    for d in &config.digests {
        if let DigestSchedule::Cron(s) = &d.schedule {
            out.push((Tick::Digest(d.name.clone()), s.as_ref()));
        }
    }
    out
}

/// The scheduler and the next run armed for each schedule. Each run is a
/// one-shot tokio-cron-scheduler job at the next occurrence computed in the
/// config's time zone (croner + chrono-tz), re-armed when it fires: a cron
/// job would fix the zone's UTC offset when created and drift by an hour
/// after a DST change (docs/DESIGN.md §3).
pub(super) struct Jobs {
    scheduler: JobScheduler,
    tx: mpsc::Sender<Fired>,
    tz: Tz,
    armed: HashMap<Tick, DateTime<Utc>>,
}

impl Jobs {
    pub(super) async fn start(config: &Config) -> anyhow::Result<(Self, mpsc::Receiver<Fired>)> {
        let all = schedules(config);
        // One pending tick per schedule plus the start-up poll: never full.
        let (tx, rx) = mpsc::channel(all.len() + 2);
        let scheduler = JobScheduler::new()
            .await
            .context("starting the scheduler")?;
        scheduler.start().await.context("starting the scheduler")?;
        let mut jobs = Jobs {
            scheduler,
            tx,
            tz: config.timezone,
            armed: HashMap::new(),
        };
        let now = Utc::now();
        for (tick, schedule) in all {
            jobs.arm(tick, schedule, now).await;
        }
        Ok((jobs, rx))
    }

    pub(super) fn send_now(&self, tick: Tick) {
        let _ = self.tx.try_send(Fired {
            tick,
            occurrence: None,
        });
    }

    async fn arm(&mut self, tick: Tick, schedule: &Schedule, after: DateTime<Utc>) {
        let Some(next) = schedule.next_after(self.tz, after) else {
            tracing::warn!(schedule = %schedule.expr, "schedule has no next occurrence");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        let tx = self.tx.clone();
        let fired = Fired {
            tick: tick.clone(),
            occurrence: Some(next),
        };
        let job = Job::new_one_shot_at_instant_async(
            Instant::now()
                .checked_add(wait)
                .unwrap_or_else(Instant::now),
            move |_, _| {
                let (tx, fired) = (tx.clone(), fired.clone());
                Box::pin(async move {
                    // The loop may be busy; the channel has room for this tick.
                    let _ = tx.try_send(fired);
                })
            },
        );
        match job {
            Ok(job) => match self.scheduler.add(job).await {
                Ok(_) => {
                    tracing::debug!(?tick, %next, "scheduled");
                    self.armed.insert(tick, next);
                }
                Err(e) => tracing::error!(?tick, error = %e, "cannot schedule"),
            },
            Err(e) => tracing::error!(?tick, error = %e, "cannot schedule"),
        }
    }

    /// After a schedule's job fired: arm its next occurrence, strictly after
    /// the one that fired (the scheduler works in whole seconds and may fire
    /// a little early, so "now" is not a safe base). A tick sent by hand, or
    /// one from before a reload, arms nothing.
    pub(super) async fn rearm(&mut self, config: &Config, fired: &Fired) {
        let Some(occurrence) = fired.occurrence else {
            return;
        };
        if self.armed.get(&fired.tick) != Some(&occurrence) {
            return;
        }
        if let Some((t, s)) = schedules(config)
            .into_iter()
            .find(|(t, _)| *t == fired.tick)
        {
            let after = occurrence.max(Utc::now() - chrono::Duration::seconds(1));
            self.arm(t, s, after).await;
        }
    }

    /// What systemd shows as the service's status: when the next poll and
    /// the next digest are due, in the config's zone.
    pub(super) fn status_text(&self) -> String {
        let next = |poll: bool| {
            self.armed
                .iter()
                .filter(|(tick, _)| tick.is_poll() == poll)
                .min_by_key(|(_, at)| **at)
        };
        let when = |at: &DateTime<Utc>| {
            at.with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        };
        let poll = next(true).map_or("no poll scheduled".into(), |(_, at)| {
            format!("next poll {}", when(at))
        });
        let digest = match next(false) {
            Some((Tick::Digest(name), at)) => format!("next digest {name} {}", when(at)),
            _ => "no scheduled digest".into(),
        };
        format!("{poll}; {digest}")
    }

    /// No schedule's run is long overdue (the scheduler is doing its job).
    pub(super) fn on_time(&self) -> bool {
        let late = Utc::now() - chrono::Duration::from_std(REARM_CHECK * 2).unwrap_or_default();
        self.armed.values().all(|at| *at >= late)
    }

    /// Re-arms schedules whose run is long past (a lost tick).
    pub(super) async fn rearm_missed(&mut self, config: &Config) {
        let late = Utc::now() - chrono::Duration::from_std(REARM_CHECK).unwrap_or_default();
        let missed: Vec<Fired> = self
            .armed
            .iter()
            .filter(|(_, at)| **at < late)
            .map(|(tick, at)| Fired {
                tick: tick.clone(),
                occurrence: Some(*at),
            })
            .collect();
        for fired in missed {
            tracing::warn!(tick = ?fired.tick, "a scheduled run was missed; re-arming");
            self.rearm(config, &fired).await;
        }
    }

    pub(super) async fn stop(&mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "stopping the scheduler");
        }
    }
}
