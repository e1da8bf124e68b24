//! Daemon: turns schedules into pipeline runs. tokio-cron-scheduler jobs only
//! `try_send` a tick into a bounded channel (its runs are detached and may
//! overlap, DESIGN §3); one loop here runs the pipeline for each tick, so runs
//! never overlap and a burst of ticks coalesces. Signals are handled in this
//! one place: SIGTERM/SIGINT stop taking work and let the current step
//! finish, SIGHUP reloads the config if it is valid. Uses `pipeline`, `config`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{Offset, TimeZone, Utc};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, DigestSchedule};
use crate::pipeline::{self, Context};

/// What a schedule asks the daemon loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Poll every feed that has no schedule of its own.
    Poll,
    /// Poll one feed with its own schedule.
    PollFeed(String),
    /// Send one digest.
    Digest(String),
}

/// How often the loop checks whether the zone's UTC offset changed (DST),
/// which makes it rebuild the jobs: tokio-cron-scheduler fixes the offset
/// when a job is created (DESIGN §3).
const DST_CHECK: Duration = Duration::from_secs(600);

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
    let (tx, mut rx) = mpsc::channel::<Tick>(16);
    let mut jobs = Jobs::start(&ctx.config, &tx).await?;
    tracing::info!(
        feeds = ctx.config.feeds.len(),
        rules = ctx.config.rules.len(),
        "feedwatch started"
    );
    // Poll once at start: a restarted daemon should not wait a whole period.
    let _ = tx.try_send(Tick::Poll);
    let mut dst_check = tokio::time::interval(DST_CHECK);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(()) = reload.recv() => {
                match config::load(&path) {
                    Ok(new) => {
                        jobs.stop().await;
                        ctx = ctx.with_config(new)?;
                        jobs = Jobs::start(&ctx.config, &tx).await?;
                        tracing::info!(feeds = ctx.config.feeds.len(), rules = ctx.config.rules.len(), "config reloaded");
                    }
                    Err(errors) => {
                        for e in &errors.errors {
                            tracing::error!(line = e.line, column = e.col, error = %e.message, "invalid config; still running on the previous one");
                        }
                    }
                }
            }
            _ = dst_check.tick() => {
                if jobs.offset_changed(&ctx.config) {
                    tracing::info!("time zone offset changed; rebuilding schedules");
                    jobs.stop().await;
                    jobs = Jobs::start(&ctx.config, &tx).await?;
                }
            }
            Some(tick) = rx.recv() => handle(&ctx, tick).await,
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
            let feeds: Vec<_> = ctx
                .config
                .feeds
                .iter()
                .filter(|f| match &tick {
                    Tick::PollFeed(name) => &f.name == name,
                    _ => f.schedule.is_none(),
                })
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

/// The scheduler and the UTC offset its jobs were built with.
struct Jobs {
    scheduler: JobScheduler,
    offset: i32,
}

fn current_offset(config: &Config) -> i32 {
    config
        .timezone
        .offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc()
}

impl Jobs {
    async fn start(config: &Config, tx: &mpsc::Sender<Tick>) -> anyhow::Result<Self> {
        let scheduler = JobScheduler::new()
            .await
            .context("starting the scheduler")?;
        let add = |expr: &str, tick: Tick| {
            let tx = tx.clone();
            Job::new_async_tz(expr, config.timezone, move |_, _| {
                let (tx, tick) = (tx.clone(), tick.clone());
                Box::pin(async move {
                    // A full channel means the loop is busy: the tick coalesces.
                    let _ = tx.try_send(tick);
                })
            })
            .with_context(|| format!("invalid schedule '{expr}'"))
        };
        let mut jobs = vec![add(&config.poll.schedule.expr, Tick::Poll)?];
        for f in &config.feeds {
            if let Some(s) = &f.schedule {
                jobs.push(add(&s.expr, Tick::PollFeed(f.name.clone()))?);
            }
        }
        for d in &config.digests {
            if let DigestSchedule::Cron(s) = &d.schedule {
                jobs.push(add(&s.expr, Tick::Digest(d.name.clone()))?);
            }
        }
        for job in jobs {
            scheduler.add(job).await.context("adding a scheduled job")?;
        }
        scheduler.start().await.context("starting the scheduler")?;
        Ok(Jobs {
            scheduler,
            offset: current_offset(config),
        })
    }

    fn offset_changed(&self, config: &Config) -> bool {
        current_offset(config) != self.offset
    }

    async fn stop(&mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "stopping the scheduler");
        }
    }
}
