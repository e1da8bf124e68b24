//! Daemon: when each schedule of a config is next due. Each schedule's
//! next occurrence is computed in the config's time zone (croner +
//! chrono-tz), so a 07:00 digest is at 07:00 local on both sides of a DST
//! change; the daemon loop waits for the earliest on tokio's timer and
//! takes it when the clock has reached it, never before, then arms the one
//! after. The clock is injected (`Clock`): the system's in service, one
//! that moves with tokio's paused time in tests, so every schedule is
//! tested without sleeping (docs/DESIGN.md §3 says why this is not
//! tokio-cron-scheduler).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Tick;
use crate::config::{Config, DigestSchedule, Schedule};
/// A tick as the loop takes it: which schedule, and the occurrence it
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

/// Where the daemon reads the time of day for its schedules.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's clock (the service).
    System,
    /// `start` when created, then moving with tokio's clock: paused time in
    /// tests drives the schedules hours ahead in milliseconds.
    Tokio {
        start: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `start` now and moves with tokio's time.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Clock::Tokio {
            start,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { start, at } => {
                *start + chrono::Duration::from_std(at.elapsed()).unwrap_or_default()
            }
        }
    }
}

/// The longest the loop sleeps towards an occurrence before it reads the
/// clock again: the system's clock may be set or jump (NTP, a resume from
/// suspend), and tokio's timer does not follow it.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Every schedule's next occurrence, and the ticks sent by hand.
pub(super) struct Jobs {
    tz: Tz,
    clock: Clock,
    schedules: Vec<(Tick, Schedule)>,
    armed: HashMap<Tick, DateTime<Utc>>,
    /// The last occurrence each schedule fired for: kept across a reload,
    /// so that no occurrence runs twice.
    fired: HashMap<Tick, DateTime<Utc>>,
    by_hand: VecDeque<Tick>,
    /// The latest time the clock read, to see it set back.
    seen: DateTime<Utc>,
}

impl Jobs {
    pub(super) fn start(config: &Config, clock: Clock) -> Self {
        let mut jobs = Jobs {
            tz: config.timezone,
            clock,
            schedules: Vec::new(),
            armed: HashMap::new(),
            fired: HashMap::new(),
            by_hand: VecDeque::new(),
            seen: clock.now(),
        };
        // At start nothing is known of what ran: the next occurrence after
        // now (the start-up poll covers the moment).
        let now = jobs.clock.now();
        jobs.configure(config, now);
        jobs
    }

    /// The schedules of a reloaded config. An occurrence that has come this
    /// very second is kept (a reload as a digest's time comes does not
    /// lose it), one that already ran is not armed again (nor run twice).
    ///
    /// A schedule the reload leaves as it was (same expression, same zone)
    /// keeps its armed occurrence, even one the loop has not taken yet
    /// however late it is.
    pub(super) fn reload(&mut self, config: &Config) {
        let kept: HashMap<Tick, DateTime<Utc>> = if config.timezone == self.tz {
            schedules(config)
                .into_iter()
                .filter(|(t, s)| self.schedules.iter().any(|(ot, os)| ot == t && os == *s))
                .filter_map(|(t, _)| self.armed.get(&t).map(|at| (t, *at)))
                .collect()
        } else {
            HashMap::new()
        };
        self.tz = config.timezone;
        let floor = self.clock.now() - chrono::Duration::seconds(1);
        self.configure(config, floor);
        self.armed.extend(kept);
    }

    /// Arms each schedule of `config` at its first occurrence after
    /// `floor` and after the last one it ran for.
    fn configure(&mut self, config: &Config, floor: DateTime<Utc>) {
        self.schedules = schedules(config)
            .into_iter()
            .map(|(t, s)| (t, s.clone()))
            .collect();
        self.arm_all(floor);
    }

    fn arm_all(&mut self, floor: DateTime<Utc>) {
        self.armed.clear();
        for (tick, schedule) in &self.schedules {
            let after = self.fired.get(tick).map_or(floor, |last| floor.max(*last));
            match schedule.next_after(self.tz, after) {
                Some(next) => {
                    tracing::debug!(?tick, %next, "scheduled");
                    self.armed.insert(tick.clone(), next);
                }
                None => {
                    tracing::warn!(schedule = %schedule.expr, "schedule has no next occurrence")
                }
            }
        }
    }

    pub(super) fn send_now(&mut self, tick: Tick) {
        self.by_hand.push_back(tick);
    }

    /// The next tick: one sent by hand at once, else the earliest armed
    /// occurrence once the clock has reached it, with the schedule armed
    /// for its next occurrence. Cancel-safe: nothing changes before it
    /// returns, so the loop may drop it for another event.
    pub(super) async fn next(&mut self) -> Fired {
        loop {
            if let Some(tick) = self.by_hand.pop_front() {
                return Fired {
                    tick,
                    occurrence: None,
                };
            }
            let Some((tick, at)) = self
                .armed
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (t.clone(), *at))
            else {
                return std::future::pending().await;
            };
            let now = self.clock.now();
            if now < self.seen - chrono::Duration::seconds(2) {
                self.clock_set_back(now);
                continue;
            }
            self.seen = now;
            if now >= at {
                self.fired.insert(tick.clone(), at);
                // A daemon that was asleep (suspend, a long stall) runs a
                // missed occurrence once, not once per occurrence missed.
                let after = at.max(now);
                let next = self
                    .schedules
                    .iter()
                    .find(|(t, _)| *t == tick)
                    .and_then(|(_, s)| s.next_after(self.tz, after));
                match next {
                    Some(next) => self.armed.insert(tick.clone(), next),
                    None => self.armed.remove(&tick),
                };
                return Fired {
                    tick,
                    occurrence: Some(at),
                };
            }
            // Never early: tokio's timer may end a little before the
            // clock reads `at`; then this sleeps the rest.
            let wait = (at - now).to_std().unwrap_or_default().min(MAX_SLEEP);
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// The system clock was set back (by hand, or NTP stepping it): the
    /// armed occurrences are hours ahead of it now. Polls are armed again
    /// from now, forgetting what they ran (polling twice costs nothing);
    /// digests stay after the occurrence they last ran, so none is sent
    /// twice.
    fn clock_set_back(&mut self, now: DateTime<Utc>) {
        tracing::warn!(from = %self.seen, to = %now, "the system clock went back; the schedules are armed again from now");
        self.fired.retain(|tick, _| !tick.is_poll());
        self.seen = now;
        self.arm_all(now - chrono::Duration::seconds(1));
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

    /// No schedule's run is long overdue: the loop takes its ticks.
    pub(super) fn on_time(&self) -> bool {
        let late = self.clock.now() - chrono::Duration::from_std(MAX_SLEEP * 2).unwrap_or_default();
        self.armed.values().all(|at| *at >= late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(schedules: &str) -> Config {
        let text = format!(
            "state_dir = \"/tmp/x\"\ntimezone = \"Europe/Kyiv\"\n[poll]\nschedule = \"*/15 * * * *\"\n\
             [email]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n\
             [[feeds]]\nname = \"f\"\nurl = \"https://e.org/f\"\n\
             [[rules]]\nname = \"r\"\nquery = \"x\"\ndigest = \"am\"\n{schedules}"
        );
        crate::config::parse(&text, std::path::Path::new("/x.toml"), None).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A day and a night of schedules on paused time, across the night
    /// Kyiv moves to summer time (03:00 EET → 04:00 EEST, 2026-03-29): the
    /// 07:00 digest is at 07:00 local on both sides, every tick comes once
    /// the clock has reached its occurrence (never before) and within a
    /// millisecond of it, and the polls keep their quarter hours.
    #[tokio::test(start_paused = true)]
    async fn a_day_of_schedules_across_a_dst_change_on_paused_time() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"0 7 * * *\"\n");
        let start = utc("2026-03-28T20:00:00Z");
        let clock = Clock::starting_at(start);
        let mut jobs = Jobs::start(&config, clock);
        let end = utc("2026-03-30T06:00:00Z");
        let (mut polls, mut digests) = (0, Vec::new());
        loop {
            let fired = jobs.next().await;
            let at = fired.occurrence.expect("a scheduled tick");
            if at > end {
                break;
            }
            let late = clock.now() - at;
            assert!(
                late >= chrono::Duration::zero(),
                "{fired:?} came {late} early"
            );
            assert!(
                late < chrono::Duration::milliseconds(2),
                "{fired:?} came {late} late"
            );
            match fired.tick {
                Tick::Poll => {
                    assert_eq!(at.timestamp() % 900, 0, "on a quarter hour: {at}");
                    polls += 1;
                }
                Tick::Digest(_) => digests.push(at),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            digests,
            [utc("2026-03-29T04:00:00Z"), utc("2026-03-30T04:00:00Z")],
            "07:00 EEST, the morning after the change and the next"
        );
        // 34 hours of quarter hours.
        assert_eq!(polls, 34 * 4);
        // The 07:00 before the change is 05:00 UTC: the first digest would
        // be an hour off had the zone's offset been fixed at the start.
        assert!(digests[0].timestamp() % 86_400 != 5 * 3600);
    }

    /// A tick sent by hand comes at once, before any schedule; a config
    /// whose schedules have all run waits for ever, without spinning.
    #[tokio::test(start_paused = true)]
    async fn a_tick_by_hand_comes_first() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"immediate\"\n");
        let mut jobs = Jobs::start(&config, Clock::starting_at(utc("2026-06-01T10:05:00Z")));
        jobs.send_now(Tick::Poll);
        let fired = jobs.next().await;
        assert_eq!((fired.tick, fired.occurrence), (Tick::Poll, None));
        let fired = jobs.next().await;
        assert_eq!(fired.occurrence, Some(utc("2026-06-01T10:15:00Z")));
    }

    /// A reload right at a digest's time, as it fires, arms the next day's:
    /// the occurrence is not run twice (the one-shot timer this replaced
    /// fired up to a second early, and a reload then armed it again). A
    /// reload the moment before keeps the occurrence, and one in the same
    /// second as it, not yet taken, does not lose it.
    #[tokio::test(start_paused = true)]
    async fn a_reload_at_a_digests_time_does_not_run_it_twice() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"0 7 * * *\"\n");
        // 06:59:59 in Kyiv (EEST).
        let clock = Clock::starting_at(utc("2026-06-01T03:59:59Z"));
        let mut jobs = Jobs::start(&config, clock);
        // The 07:00 poll comes at the same moment, in either order.
        loop {
            let fired = jobs.next().await;
            assert_eq!(fired.occurrence, Some(utc("2026-06-01T04:00:00Z")));
            if fired.tick == Tick::Digest("am".into()) {
                break;
            }
        }
        jobs.reload(&config);
        assert_eq!(
            jobs.armed.get(&Tick::Digest("am".into())),
            Some(&utc("2026-06-02T04:00:00Z"))
        );
        // A reload a moment before the occurrence keeps it.
        let mut early = Jobs::start(&config, Clock::starting_at(utc("2026-06-01T03:59:58Z")));
        early.reload(&config);
        assert_eq!(
            early.armed.get(&Tick::Digest("am".into())),
            Some(&utc("2026-06-01T04:00:00Z"))
        );
        let mut same = Jobs::start(&config, Clock::starting_at(utc("2026-06-01T03:59:58Z")));
        tokio::time::advance(Duration::from_millis(2000)).await;
        same.reload(&config);
        assert_eq!(
            same.armed.get(&Tick::Digest("am".into())),
            Some(&utc("2026-06-01T04:00:00Z"))
        );
    }

    /// The watchdog's question: a schedule whose occurrence is long past
    /// means the loop stopped taking ticks.
    #[tokio::test(start_paused = true)]
    async fn a_schedule_long_overdue_is_not_on_time() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"immediate\"\n");
        let jobs = Jobs::start(&config, Clock::starting_at(utc("2026-06-01T10:14:00Z")));
        assert!(jobs.on_time());
        tokio::time::advance(Duration::from_secs(60 + 120)).await;
        assert!(jobs.on_time(), "just past: the loop may be busy");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!jobs.on_time(), "two minutes overdue");
    }

    /// The night the clocks go back in Kyiv (04:00 EEST → 03:00 EET,
    /// 2026-10-25 01:00 UTC), started in the hour that comes twice: the
    /// next quarter hour is the one ahead, not its twin an hour past (which
    /// the daemon fired again and again), every tick comes after the one
    /// before, and a 03:30 digest runs once that night.
    #[tokio::test(start_paused = true)]
    async fn the_night_the_clocks_go_back_runs_each_time_once_and_in_order() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"30 3 * * *\"\n");
        // 03:10 EET, the second time it is 03:10 that night.
        let clock = Clock::starting_at(utc("2026-10-25T01:10:00Z"));
        let mut jobs = Jobs::start(&config, clock);
        let (mut last_poll, mut polls, mut digests) = (utc("2026-10-25T01:10:00Z"), 0, 0);
        loop {
            let fired = jobs.next().await;
            let at = fired.occurrence.expect("scheduled");
            if at > utc("2026-10-25T05:00:00Z") {
                break;
            }
            assert!(clock.now() - at < chrono::Duration::seconds(1), "on time");
            match fired.tick {
                Tick::Poll => {
                    assert!(at > last_poll, "{at} after {last_poll}");
                    last_poll = at;
                    polls += 1;
                }
                _ => digests += 1,
            }
        }
        // 01:15 UTC to 05:00 UTC, each quarter hour once.
        assert_eq!(polls, 16);
        // 03:30 EET: the daemon did not run at 03:30 EEST, an hour before.
        assert_eq!(digests, 1);

        // Started before the change: the 03:30 digest runs at 03:30 EEST,
        // not again at 03:30 EET.
        let clock = Clock::starting_at(utc("2026-10-24T23:00:00Z"));
        let mut jobs = Jobs::start(&config, clock);
        let mut digests = Vec::new();
        loop {
            let fired = jobs.next().await;
            let at = fired.occurrence.expect("scheduled");
            if at > utc("2026-10-25T04:00:00Z") {
                break;
            }
            if fired.tick != Tick::Poll {
                digests.push(at);
            }
        }
        assert_eq!(digests, [utc("2026-10-25T00:30:00Z")]);
    }

    /// A reload that leaves a schedule as it was keeps its occurrence,
    /// even one the loop has not taken yet though it is minutes late.
    #[tokio::test(start_paused = true)]
    async fn a_reload_keeps_an_occurrence_not_yet_taken() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"0 7 * * *\"\n");
        let mut jobs = Jobs::start(&config, Clock::starting_at(utc("2026-06-01T03:59:00Z")));
        // 07:03 EEST: the digest is due, the loop was busy.
        tokio::time::advance(Duration::from_secs(4 * 60)).await;
        jobs.reload(&config);
        let mut due = Vec::new();
        while due.len() < 2 {
            due.push(jobs.next().await);
        }
        assert!(
            due.iter().any(|f| f.tick == Tick::Digest("am".into())
                && f.occurrence == Some(utc("2026-06-01T04:00:00Z"))),
            "{due:?}"
        );
    }

    /// The system clock set back an hour: polls go on every quarter hour
    /// from the new time, not an hour later; the digest that ran is not run
    /// again when its time comes round a second time.
    #[tokio::test(start_paused = true)]
    async fn a_clock_set_back_keeps_polling_and_sends_no_digest_twice() {
        let config = config("[[digests]]\nname = \"am\"\nschedule = \"0 7 * * *\"\n");
        // 06:50 EEST.
        let mut jobs = Jobs::start(&config, Clock::starting_at(utc("2026-06-01T03:50:00Z")));
        let mut ran = Vec::new();
        while ran.len() < 3 {
            let f = jobs.next().await;
            ran.push((f.tick, f.occurrence.expect("scheduled")));
        }
        assert!(ran.contains(&(Tick::Digest("am".into()), utc("2026-06-01T04:00:00Z"))));
        // Now 07:15 EEST; the clock is set back to 06:15.
        jobs.clock = Clock::starting_at(jobs.clock.now() - chrono::Duration::hours(1));
        let mut after = Vec::new();
        while after.len() < 4 {
            let f = jobs.next().await;
            after.push((f.tick, f.occurrence.expect("scheduled")));
        }
        assert_eq!(
            after
                .iter()
                .filter(|(t, _)| *t == Tick::Poll)
                .map(|(_, at)| *at)
                .collect::<Vec<_>>(),
            [
                utc("2026-06-01T03:15:00Z"),
                utc("2026-06-01T03:30:00Z"),
                utc("2026-06-01T03:45:00Z"),
                utc("2026-06-01T04:00:00Z"),
            ],
            "every quarter hour from 06:15 again"
        );
    }
}
