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
    /// The occurrence it was scheduled for, for the log (`jobs` takes a
    /// tick only once the clock has reached it).
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
        let step = run(ctx.clone(), next.tick.clone());
        let (tick, due) = (next.tick.clone(), next.due);
        let task = tokio::spawn(async move {
            let due = due.map_or_else(|| "now".to_string(), stamp);
            tracing::debug!(?tick, %due, started = %stamp(Utc::now()), "step started");
            // The step itself stops at the token (a message in flight gets
            // its grace); one not begun is not begun.
            if ctx.shutting_down() {
                return Vec::new();
            }
            step.await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        let text = "state_dir = \"/nonexistent\"\n[email]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n";
        let config = crate::config::parse(text, std::path::Path::new("/x.toml"), None).unwrap();
        let db = crate::store::Db::new(crate::store::Store::open_in_memory().unwrap());
        Context::new(std::sync::Arc::new(config), db, Default::default()).unwrap()
    }

    /// The watchdog's question, on paused time: a step that beats is alive
    /// however long it runs; one that stops beating is stuck after `limit`.
    #[tokio::test(start_paused = true)]
    async fn a_step_is_stuck_only_when_it_stops_making_progress() {
        let limit = Duration::from_secs(150);
        let mut lane = Lane::new("test");
        assert!(!lane.stuck(limit), "an idle lane is never stuck");
        lane.push(Queued {
            tick: Tick::Poll,
            jitter: Duration::ZERO,
            due: None,
        });
        let (beats, stop) = (
            std::sync::Arc::new(tokio::sync::Notify::new()),
            CancelOnDrop::default(),
        );
        let (step_beats, token) = (beats.clone(), stop.0.clone());
        lane.start_next(&context(), move |ctx, _| async move {
            // Beats twice a minute for five minutes, then hangs.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(30)).await;
                ctx.heartbeat.beat();
                step_beats.notify_one();
            }
            token.cancelled().await;
            Vec::new()
        });
        for _ in 0..10 {
            beats.notified().await;
            assert!(!lane.stuck(limit), "progress every 30 s");
        }
        tokio::time::sleep(Duration::from_secs(149)).await;
        assert!(!lane.stuck(limit));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(lane.stuck(limit), "no progress for 151 s");
        drop(stop);
    }

    /// Cancels its token when dropped (ends the hung step).
    #[derive(Default)]
    struct CancelOnDrop(tokio_util::sync::CancellationToken);

    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.cancel();
        }
    }
}
