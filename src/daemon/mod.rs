//! Daemon: turns schedules into pipeline runs. The loop takes each
//! schedule's tick when the clock reaches its occurrence, never before
//! (`jobs`: the next local occurrence, DST-correct, on tokio's timer), and
//! queues it in one of two lanes (`lane`): polling, and delivery, so that a
//! stalled mail server never holds up polling. Within a lane steps run one
//! at a time. Signals are handled in
//! this one place: SIGTERM/SIGINT stop everything within seconds (feeds in
//! flight are abandoned, a message in flight gets a moment to finish, and
//! nothing is half-written), SIGHUP reloads the config if it is valid;
//! systemd hears about each (`service`). Uses `pipeline`, `config`.

use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod jobs;
mod lane;
mod service;

pub use service::{LockError, StateLock, limit_malloc_arenas, lock_state_dir};

pub use jobs::{Clock, schedules};
use jobs::{Jobs, feeds_for};
use lane::{Lane, Queued};

use crate::config::{Config, DigestSchedule};
use crate::pipeline::{self, ConfigSource, Context};

/// What a schedule asks the daemon loop to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tick {
    /// Poll every feed that has no schedule of its own.
    Poll,
    /// Poll one feed with its own schedule.
    PollFeed(String),
    /// Send one digest.
    Digest(String),
    /// After a poll: send the immediate digests and retry what is due in
    /// the outbox.
    AfterPoll,
}

impl Tick {
    fn is_poll(&self) -> bool {
        matches!(self, Tick::Poll | Tick::PollFeed(_))
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(source: ConfigSource, config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(1);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM: stopping"); stop.cancel(); }
                _ = int.recv() => { tracing::info!("SIGINT: stopping"); stop.cancel(); }
                _ = hup.recv() => { let _ = reload_tx.try_send(()); }
            }
        }
    });
    serve(source, config, shutdown, reload_rx).await
}

/// A step that has not made progress for this long is stuck: longer than
/// a scheduled poll's start delay plus a whole fetch or delivery.
fn stall_limit(config: &Config) -> Duration {
    jobs::MAX_JITTER + pipeline::longest_step(config) + Duration::from_secs(60)
}

/// The daemon loop, with shutdown and reload passed in (tests drive these).
/// Steps run in their lanes' tasks, so the loop stays free to take
/// signals, re-arm schedules and pet the watchdog while a long poll runs.
pub async fn serve(
    source: ConfigSource,
    config: Config,
    shutdown: CancellationToken,
    reload: mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    serve_with(source, config, shutdown, reload, Options::default()).await
}

/// What tests change in the daemon.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long a message in flight may take to finish at shutdown
    /// (`Context::stop_grace`), when not the default.
    pub stop_grace: Option<Duration>,
    /// Where the schedules read the time.
    pub clock: Clock,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stop_grace: None,
            clock: Clock::System,
        }
    }
}

/// `serve`, with `options`.
pub async fn serve_with(
    source: ConfigSource,
    config: Config,
    shutdown: CancellationToken,
    mut reload: mpsc::Receiver<()>,
    options: Options,
) -> anyhow::Result<()> {
    let (lock, mut ctx, mut jobs) = start(config, &shutdown, options).await?;
    let watchdog_every = service::watchdog_interval();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    let (mut polls, mut deliveries) = (Lane::new("poll"), Lane::new("delivery"));
    // The full integrity check: now, then daily; in a task of its own, so
    // that signals, the watchdog and the schedules go on while it reads the
    // whole file (it ran inline, and on a 2 GB archive outlasted
    // WatchdogSec: systemd killed the daemon, which restarted into it).
    let mut integrity = tokio::time::interval(pipeline::FULL_CHECK_EVERY);
    let mut checking: Option<tokio::task::JoinHandle<()>> = None;
    let outcome = loop {
        polls.start_next(&ctx, |ctx, tick| async move { step(&ctx, tick).await });
        deliveries.start_next(&ctx, |ctx, tick| async move { step(&ctx, tick).await });
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Ok(()),
            Some(()) = reload.recv() => ctx = reload_config(&source, ctx, &mut jobs),
            _ = watchdog.tick(), if watchdog_every.is_some() => {
                // Only while the database answers, the schedules are armed
                // and every busy lane makes progress: otherwise systemd
                // restarts us, which is what we want.
                if healthy(&ctx, &jobs, &[&polls, &deliveries]).await {
                    service::watchdog();
                }
            }
            _ = integrity.tick() => {
                if checking.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                    let ctx = ctx.clone();
                    checking = Some(tokio::spawn(async move { check_integrity(&ctx).await }));
                }
            }
            fired = jobs.next() => {
                let lane = if fired.tick.is_poll() { &mut polls } else { &mut deliveries };
                lane.push(Queued {
                    jitter: jobs::jitter_for(&ctx.config, &fired),
                    due: fired.occurrence,
                    tick: fired.tick,
                });
                service::status(&jobs.status_text());
            }
            (tick, done) = polls.finished() => {
                after_step(&ctx, tick, done, &mut deliveries).await;
                if let Err(e) = store_health(&ctx, &jobs) {
                    break Err(e);
                }
            }
            (tick, done) = deliveries.finished() => after_step(&ctx, tick, done, &mut deliveries).await,
        }
    };
    service::stopping();
    // The pipeline stops at the token: feeds in flight are abandoned (their
    // items are fetched again at the next start), a message in flight gets
    // a few seconds, matches stay pending and messages queued.
    polls.stop().await;
    deliveries.stop().await;
    // The check ends at the token (SQLite interrupts it).
    if let Some(check) = checking {
        let _ = check.await;
    }
    drop(lock);
    tracing::info!("feedwatch stopped");
    outcome
}

/// After a poll: a store that does not take writes is said in the
/// StatusText at once, and after `FAILED_POLLS` polls in a row it stops the
/// daemon with the error (exit 1: systemd shows the failure, restarts it,
/// and a database it cannot write is then refused at start with the fix).
fn store_health(ctx: &Context, jobs: &Jobs) -> anyhow::Result<()> {
    let Some(f) = ctx.store_health.failure() else {
        service::status(&jobs.status_text());
        return Ok(());
    };
    let since = f
        .since
        .with_timezone(&ctx.config.timezone)
        .format("%Y-%m-%d %H:%M %Z");
    let text = format!(
        "the database does not take writes since {since}: {}",
        f.last_error
    );
    service::status(&text);
    tracing::error!(polls = f.polls, error = %f.last_error, "the database does not take writes");
    if f.polls >= pipeline::FAILED_POLLS {
        anyhow::bail!("{text} ({} polls in a row); stopping", f.polls);
    }
    Ok(())
}

/// The state directory locked, the context, and the armed schedules with a
/// poll due at once: a restarted daemon should not wait a whole period.
async fn start(
    config: Config,
    shutdown: &CancellationToken,
    options: Options,
) -> anyhow::Result<(StateLock, Context, Jobs)> {
    let lock = service::lock_state_dir(
        &config.state_dir,
        config.state_dir_from == crate::config::StateDirFrom::Config,
    )?;
    let mut ctx = Context::open(config, shutdown.clone(), &mut service::migrating)?;
    if let Some(grace) = options.stop_grace {
        ctx.stop_grace = grace;
    }
    let mut jobs = Jobs::start(&ctx.config, options.clock);
    tracing::info!(feeds = ctx.config.feeds.len(), rules = ctx.config.rules.len(), lock = %lock.path.display(), "feedwatch started");
    service::ready(&jobs.status_text());
    jobs.send_now(Tick::Poll);
    Ok((lock, ctx, jobs))
}

/// SIGHUP: the config read again through the same loader as `check`. The
/// new context is built before anything old is let go: when the config is
/// invalid, or the new context cannot be built, the errors are logged and
/// the daemon goes on with the old one. The schedules are re-armed after
/// the occurrences already run (none runs twice).
fn reload_config(source: &ConfigSource, ctx: Context, jobs: &mut Jobs) -> Context {
    service::reloading();
    let ctx = match source.load() {
        Ok(new) => match ctx.with_config(new) {
            Ok(new) => {
                jobs.reload(&new.config);
                // A feed the reload added is polled now, not at the next
                // scheduled poll (as readers fetch a feed when it is added).
                for feed in &new.config.feeds {
                    if ctx.config.feed(&feed.name).is_none() {
                        jobs.send_now(Tick::PollFeed(feed.name.clone()));
                    }
                }
                tracing::info!(
                    feeds = new.config.feeds.len(),
                    rules = new.config.rules.len(),
                    "config reloaded"
                );
                new
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot apply the new config; still running on the previous one");
                ctx
            }
        },
        Err(errors) => {
            for e in &errors.errors {
                tracing::error!(line = e.line, column = e.col, error = %e.message, "invalid config; still running on the previous one");
            }
            ctx
        }
    };
    service::ready(&jobs.status_text());
    ctx
}

/// The full check of the database (its structure, every stored text),
/// recorded for `status`; damage is an error the operator must act on (a
/// restart does not mend it).
async fn check_integrity(ctx: &Context) {
    match pipeline::check_database(ctx).await.map(|c| c.problem()) {
        Ok(None) => tracing::debug!("database integrity check passed"),
        Ok(Some(damage)) => tracing::error!(error = %damage, "the database is damaged"),
        // A stop interrupts the check (`check_database`): not a failure.
        Err(e) if ctx.shutting_down() => {
            tracing::debug!(error = %e, "database check interrupted by the stop");
        }
        Err(e) => tracing::error!(error = %e, "cannot check the database"),
    }
}

/// When a step has ended: queue what follows from it, give memory back.
async fn after_step(
    ctx: &Context,
    tick: Tick,
    done: Result<Vec<Tick>, tokio::task::JoinError>,
    deliveries: &mut Lane,
) {
    match done {
        Ok(next) => {
            for tick in next {
                deliveries.push(Queued {
                    tick,
                    jitter: Duration::ZERO,
                    due: None,
                });
            }
        }
        Err(e) => {
            tracing::error!(?tick, error = %e, "a pipeline step panicked; the daemon goes on")
        }
    }
    if let Err(e) = ctx.db.call(|s| s.release_memory()).await {
        tracing::warn!(error = %e, "cannot release the store's memory");
    }
    service::release_memory();
}

/// The database answers within a second, no schedule is overdue, and no
/// lane is stuck.
async fn healthy(ctx: &Context, jobs: &Jobs, lanes: &[&Lane]) -> bool {
    let db =
        tokio::time::timeout(Duration::from_secs(1), ctx.db.call(|s| s.schema_version())).await;
    if !matches!(db, Ok(Ok(_))) {
        tracing::error!("the database does not answer; withholding the watchdog");
        return false;
    }
    let limit = stall_limit(&ctx.config);
    if let Some(lane) = lanes.iter().find(|l| l.stuck(limit)) {
        tracing::error!(
            lane = lane.name,
            "no progress for {} s; withholding the watchdog",
            limit.as_secs()
        );
        return false;
    }
    jobs.on_time()
}

/// Runs the pipeline for one tick; returns the ticks that follow from it.
/// Errors are logged: the daemon goes on.
pub async fn step(ctx: &Context, tick: Tick) -> Vec<Tick> {
    let started = std::time::Instant::now();
    match &tick {
        Tick::Poll | Tick::PollFeed(_) => {
            let feeds = feeds_for(&ctx.config, &tick);
            let reports = pipeline::poll_feeds(ctx, &feeds).await;
            for r in &reports {
                if let pipeline::FeedOutcome::Failed(error) = &r.outcome
                    && error.is_the_feeds()
                {
                    let url = ctx.config.feed(&r.feed).map(|f| f.url.as_str());
                    tracing::warn!(feed = %r.feed, url = url.unwrap_or(""), error = %error, "feed failed");
                }
            }
            let failed = reports
                .iter()
                .filter(|r| matches!(r.outcome, pipeline::FeedOutcome::Failed(_)))
                .count();
            let (new_items, matched_items) =
                reports.iter().fold((0, 0), |(n, m), r| match &r.outcome {
                    pipeline::FeedOutcome::Stored(s) => (n + s.new_items, m + s.matched_items),
                    _ => (n, m),
                });
            tracing::info!(
                feeds = reports.len(),
                failed,
                new_items,
                matched_items,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "poll finished"
            );
            vec![Tick::AfterPoll]
        }
        Tick::AfterPoll => {
            if let Err(e) = pipeline::flush_outbox(ctx, None, pipeline::Retry::Due).await {
                tracing::error!(error = %e, "cannot deliver");
            }
            let immediate: Vec<_> = ctx
                .config
                .digests
                .iter()
                .filter(|d| d.schedule == DigestSchedule::Immediate)
                .cloned()
                .collect();
            if !immediate.is_empty()
                && let Err(e) = pipeline::deliver(ctx, &immediate, pipeline::Retry::Due).await
            {
                tracing::error!(error = %e, "cannot deliver");
            }
            Vec::new()
        }
        Tick::Digest(name) => {
            if let Some(d) = ctx.config.digest(name) {
                match pipeline::deliver(ctx, std::slice::from_ref(d), pipeline::Retry::Due).await {
                    Ok(r) => {
                        tracing::info!(digest = %name, queued = r.queued, sent = r.sent, failed = r.failed, "digest run finished")
                    }
                    Err(e) => tracing::error!(digest = %name, error = %e, "digest run failed"),
                }
            }
            Vec::new()
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
        let config = crate::config::parse(text, std::path::Path::new("/x.toml"), None).unwrap();
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
        let names = |tick: Tick| {
            feeds_for(&config, &tick)
                .into_iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Tick::Poll), vec!["normal".to_string()]);
        let fired = |tick: Tick, at: Option<&str>| jobs::Fired {
            tick,
            occurrence: at.map(|t| {
                chrono::DateTime::parse_from_rfc3339(t)
                    .unwrap()
                    .with_timezone(&chrono::Utc)
            }),
        };
        let at = Some("2026-11-27T10:15:00Z");
        assert_eq!(
            jobs::jitter_for(&config, &fired(Tick::Poll, at)),
            Duration::from_secs(30),
            "15 min / 10, capped at 30 s"
        );
        assert_eq!(
            jobs::jitter_for(&config, &fired(Tick::PollFeed("fast".into()), at)),
            Duration::from_secs(30)
        );
        assert_eq!(
            jobs::jitter_for(&config, &fired(Tick::Digest("am".into()), at)),
            Duration::ZERO
        );
        assert_eq!(
            jobs::jitter_for(&config, &fired(Tick::Poll, None)),
            Duration::ZERO,
            "by hand: no delay"
        );
        assert_eq!(
            names(Tick::PollFeed("fast".into())),
            vec!["fast".to_string()]
        );
    }
}
