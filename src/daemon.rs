//! Daemon: turns schedules into pipeline runs. tokio-cron-scheduler jobs only
//! `try_send` a tick into a bounded channel (its runs are detached and may
//! overlap, DESIGN §3); one loop here runs the pipeline for each tick, so runs
//! never overlap. Each job is a one-shot at the next occurrence computed in
//! the config's time zone, re-armed when it fires (DST-correct). Signals are handled in this
//! one place: SIGTERM/SIGINT stop taking work and let the current step
//! finish, SIGHUP reloads the config if it is valid. Uses `pipeline`, `config`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, DigestSchedule, Schedule};
use crate::pipeline::{self, Context};

/// A tick as the channel carries it: which schedule, and the occurrence it
/// was armed for (`None` for a tick sent by hand, such as the start-up poll).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fired {
    tick: Tick,
    occurrence: Option<DateTime<Utc>>,
}

/// What a schedule asks the daemon loop to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tick {
    /// Poll every feed that has no schedule of its own.
    Poll,
    /// Poll one feed with its own schedule.
    PollFeed(String),
    /// Send one digest.
    Digest(String),
}

/// How often the loop re-arms a schedule whose tick was lost (a safety
/// net: the channel has room for one tick per schedule).
const REARM_CHECK: Duration = Duration::from_secs(60);

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(path: PathBuf, config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(1);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: finishing the current step, then stopping"); stop.cancel(); }
                _ = int.recv() => { tracing::info!("SIGINT: finishing the current step, then stopping"); stop.cancel(); }
                _ = hup.recv() => { let _ = reload_tx.try_send(()); }
            }
        }
    });
    serve(path, config, shutdown, reload_rx).await
}

/// The daemon loop, with shutdown and reload passed in (tests drive these).
pub async fn serve(
    path: PathBuf,
    config: Config,
    shutdown: CancellationToken,
    mut reload: mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    let mut ctx = Context::open(config)?;
    ctx.shutdown = shutdown.clone();
    let (mut jobs, mut rx) = Jobs::start(&ctx.config).await?;
    tracing::info!(
        feeds = ctx.config.feeds.len(),
        rules = ctx.config.rules.len(),
        "feedwatch started"
    );
    // Poll once at start: a restarted daemon should not wait a whole period.
    jobs.send_now(Tick::Poll);
    let mut rearm_check = tokio::time::interval(REARM_CHECK);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(()) = reload.recv() => {
                match config::load(&path) {
                    Ok(new) => {
                        jobs.stop().await;
                        ctx = ctx.with_config(new)?;
                        (jobs, rx) = Jobs::start(&ctx.config).await?;
                        tracing::info!(feeds = ctx.config.feeds.len(), rules = ctx.config.rules.len(), "config reloaded");
                    }
                    Err(errors) => {
                        for e in &errors.errors {
                            tracing::error!(line = e.line, column = e.col, error = %e.message, "invalid config; still running on the previous one");
                        }
                    }
                }
            }
            _ = rearm_check.tick() => jobs.rearm_missed(&ctx.config).await,
            Some(fired) = rx.recv() => {
                // Arm the next run first: a long run must not make it late.
                jobs.rearm(&ctx.config, &fired).await;
                handle(&ctx, fired.tick).await;
            }
        }
    }
    jobs.stop().await;
    tracing::info!("feedwatch stopped");
    Ok(())
}

/// Runs the pipeline for one tick. Errors are logged: the daemon goes on.
pub async fn handle(ctx: &Context, tick: Tick) {
    let started = std::time::Instant::now();
    match &tick {
        Tick::Poll | Tick::PollFeed(_) => {
            let names = feeds_for(&ctx.config, &tick);
            let feeds: Vec<_> = ctx
                .config
                .feeds
                .iter()
                .filter(|f| names.contains(&f.name))
                .cloned()
                .collect();
            let reports = pipeline::poll_feeds(ctx, &feeds).await;
            let failed = reports
                .iter()
                .filter(|r| matches!(r.outcome, pipeline::FeedOutcome::Failed(_)))
                .count();
            let (new_items, matches) = reports.iter().fold((0, 0), |(n, m), r| match &r.outcome {
                pipeline::FeedOutcome::Stored(s) => (n + s.new_items, m + s.matches),
                _ => (n, m),
            });
            tracing::info!(
                feeds = reports.len(),
                failed,
                new_items,
                matches,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "poll finished"
            );
            // Immediate digests go out now; every poll also retries what is
            // due in the outbox.
            let immediate: Vec<_> = ctx
                .config
                .digests
                .iter()
                .filter(|d| d.schedule == DigestSchedule::Immediate)
                .cloned()
                .collect();
            if let Err(e) = pipeline::deliver(ctx, &immediate, false).await {
                tracing::error!(error = %e, "cannot deliver");
            }
        }
        Tick::Digest(name) => {
            let Some(d) = ctx.config.digest(name) else {
                return;
            };
            match pipeline::deliver(ctx, std::slice::from_ref(d), false).await {
                Ok(r) => {
                    tracing::info!(digest = %name, queued = r.queued, sent = r.sent, failed = r.failed, "digest run finished")
                }
                Err(e) => tracing::error!(digest = %name, error = %e, "digest run failed"),
            }
        }
    }
}

/// The feeds a poll tick covers: the global schedule polls every feed that
/// has no schedule of its own.
fn feeds_for(config: &Config, tick: &Tick) -> Vec<String> {
    config
        .feeds
        .iter()
        .filter(|f| match tick {
            Tick::PollFeed(name) => &f.name == name,
            Tick::Poll => f.schedule.is_none(),
            Tick::Digest(_) => false,
        })
        .map(|f| f.name.clone())
        .collect()
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
/// after a DST change (DESIGN §3).
struct Jobs {
    scheduler: JobScheduler,
    tx: mpsc::Sender<Fired>,
    tz: Tz,
    armed: HashMap<Tick, DateTime<Utc>>,
}

impl Jobs {
    async fn start(config: &Config) -> anyhow::Result<(Self, mpsc::Receiver<Fired>)> {
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

    fn send_now(&self, tick: Tick) {
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
    async fn rearm(&mut self, config: &Config, fired: &Fired) {
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

    /// Re-arms schedules whose run is long past (a lost tick).
    async fn rearm_missed(&mut self, config: &Config) {
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

    async fn stop(&mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "stopping the scheduler");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schedule_gets_its_tick_and_feeds_with_their_own_are_left_out_of_the_global_poll() {
        let text = r#"
state_dir = "/tmp/x"
[email]
from = "a@example.org"
to = ["b@example.org"]
transport = "stdout"
[[feeds]]
name = "fast"
url = "https://e.org/fast"
schedule = "*/5 * * * *"
[[feeds]]
name = "normal"
url = "https://e.org/normal"
[[rules]]
name = "r"
query = "x"
digest = "am"
[[digests]]
name = "am"
schedule = "0 7 * * *"
[[digests]]
name = "now"
schedule = "immediate"
"#;
        let config = config::parse(text, std::path::Path::new("/x.toml"), None).unwrap();
        let ticks: Vec<(Tick, String)> = schedules(&config)
            .into_iter()
            .map(|(t, s)| (t, s.expr.clone()))
            .collect();
        assert_eq!(
            ticks,
            vec![
                (Tick::Poll, "0 */15 * * * *".to_string()),
                (Tick::PollFeed("fast".into()), "0 */5 * * * *".to_string()),
                (Tick::Digest("am".into()), "0 0 7 * * *".to_string()),
            ]
        );
        assert_eq!(feeds_for(&config, &Tick::Poll), vec!["normal".to_string()]);
        assert_eq!(
            feeds_for(&config, &Tick::PollFeed("fast".into())),
            vec!["fast".to_string()]
        );
    }
}
