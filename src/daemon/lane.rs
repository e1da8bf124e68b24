//! Daemon: a lane runs pipeline work one step at a time, in order. There
//! are two — polling, and delivery — so that a mail server that stalls
//! never holds up polling, nor a long poll a digest. Each lane knows when
//! its running step last made progress (the pipeline's heartbeat), which is
//! what the watchdog asks before telling systemd all is well.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::Tick;
use crate::pipeline::{Context, Heartbeat};

/// A tick waiting its turn in a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Queued {
    pub tick: Tick,
    /// How much to spread a scheduled poll's feeds.
    pub jitter: Duration,
    /// The occurrence it was scheduled for: the step does not start before
    /// it (the scheduler fires up to a second early).
    pub due: Option<DateTime<Utc>>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) struct Lane {
    pub name: &'static str,
    queue: VecDeque<Queued>,
    running: Option<(Tick, JoinHandle<Vec<Tick>>)>,
    heartbeat: Heartbeat,
}

impl Lane {
    pub fn new(name: &'static str) -> Self {
        Lane {
            name,
            queue: VecDeque::new(),
            running: None,
            heartbeat: Heartbeat::default(),
        }
    }

    /// Queues a tick, once: one already waiting is not queued again.
    pub fn push(&mut self, queued: Queued) {
        if !self.queue.iter().any(|q| q.tick == queued.tick) {
            self.queue.push_back(queued);
        }
    }

    /// Starts the next step when the lane is idle. `run` is the step; it
    /// returns the ticks that follow from it (delivery after a poll).
    pub fn start_next<F, Fut>(&mut self, ctx: &Context, run: F)
    where
        F: FnOnce(Context, Tick) -> Fut,
        Fut: std::future::Future<Output = Vec<Tick>> + Send + 'static,
    {
        if self.running.is_some() {
            return;
        }
        let Some(next) = self.queue.pop_front() else {
            return;
        };
        let mut ctx = ctx.clone();
        ctx.jitter = next.jitter;
        ctx.heartbeat = self.heartbeat.clone();
        ctx.heartbeat.beat();
        let wait = next
            .due
            .and_then(|due| (due - Utc::now()).to_std().ok())
            .unwrap_or_default();
        let step = run(ctx.clone(), next.tick.clone());
        let (tick, due) = (next.tick.clone(), next.due);
        let task = tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    let started = Utc::now();
                    let due = due.map_or_else(|| "now".to_string(), stamp);
                    tracing::debug!(?tick, %due, started = %stamp(started), "step started");
                    step.await
                }
                () = ctx.shutdown_requested() => Vec::new(),
            }
        });
        self.running = Some((next.tick, task));
    }

    /// Waits for the running step to end (pending for ever while none runs).
    pub async fn finished(&mut self) -> (Tick, Result<Vec<Tick>, tokio::task::JoinError>) {
        match self.running.as_mut() {
            Some((_, task)) => {
                let result = task.await;
                let (tick, _) = self.running.take().expect("a step was running");
                (tick, result)
            }
            None => std::future::pending().await,
        }
    }

    /// A running step that has not made progress for `limit` is stuck.
    pub fn stuck(&self, limit: Duration) -> bool {
        self.running.is_some() && self.heartbeat.last().is_some_and(|at| at.elapsed() > limit)
    }

    /// At shutdown: the step in flight ends quickly (the pipeline stops at
    /// its token); what is queued is dropped.
    pub async fn stop(&mut self) {
        self.queue.clear();
        if let Some((_, task)) = self.running.take() {
            let _ = task.await;
        }
    }
}
