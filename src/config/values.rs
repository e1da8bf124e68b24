//! Config stage: the small value grammars of the config (durations `15m`, sizes
//! `10MiB`, cron schedules with 5 or 6 fields, feed URLs, hosts with an
//! optional port)
//! and byte offset → line:column. Pure functions; each returns a message fit
//! to show after the position.

use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::model::InternalHost;

/// A cron schedule, normalised to the 6-field form (seconds first) that
/// croner is set to expect (docs/DESIGN.md §3).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub expr: String,
    pub cron: croner::Cron,
}

impl Schedule {
    /// The first occurrence strictly after `after`, evaluated as local time
    /// in `tz`: a 07:00 schedule fires at 07:00 local on both sides of a DST
    /// change (croner works on zoned times). Occurrences are whole seconds:
    /// croner keeps the fraction of the time it is given.
    ///
    /// When the clocks go back, an hour of local times comes twice, and
    /// croner answers the earlier instant even when it is before `after`
    /// (a daemon started at 03:10 EET on that night got 03:15 EEST, an hour
    /// past, for ever: a busy loop). The later instant is taken then,
    /// unless `after` is that same local time's earlier instant (a 03:30
    /// digest runs once that night); otherwise the search goes on.
    pub fn next_after(
        &self,
        tz: chrono_tz::Tz,
        after: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        use chrono::TimeZone as _;
        let after =
            chrono::DurationRound::duration_trunc(after, chrono::TimeDelta::seconds(1)).ok()?;
        let mut from = after.with_timezone(&tz);
        // A repeated hour holds at most 3,600 occurrences of a schedule
        // with seconds; no zone repeats more than one hour at a time.
        for _ in 0..4_000 {
            let found = self.cron.find_next_occurrence(&from, false).ok()?;
            let instants = match tz.from_local_datetime(&found.naive_local()) {
                chrono::LocalResult::Ambiguous(early, late) => vec![early, late],
                _ => vec![found],
            };
            let same_time_just_run = after.with_timezone(&tz).naive_local() == found.naive_local();
            if let Some(t) = instants
                .into_iter()
                .find(|t| *t > after && !same_time_just_run)
            {
                return Some(t.with_timezone(&chrono::Utc));
            }
            from = found;
        }
        None
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

pub fn parse_schedule(text: &str) -> Result<Schedule, String> {
    let fields = text.split_whitespace().count();
    let expr = match fields {
        5 => format!("0 {}", text.trim()),
        6 => text.trim().to_string(),
        n => {
            return Err(format!(
                "a schedule is a cron expression of 5 fields (or 6 with seconds), found {n}: '{text}'"
            ));
        }
    };
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&expr)
        .map_err(|e| format!("invalid cron expression '{text}': {e}"))?;
    let schedule = Schedule { expr, cron };
    let now = chrono::Utc::now();
    let horizon = now + chrono::Duration::days(SCHEDULE_HORIZON_DAYS);
    if schedule
        .next_after(chrono_tz::UTC, now)
        .is_none_or(|next| next > horizon)
    {
        return Err(format!(
            "the schedule '{text}' never fires (no occurrence in the next four years)"
        ));
    }
    Ok(schedule)
}

/// The longest duration anything takes: a century. Longer ones are typos,
/// and do not fit the calendar arithmetic they are used in.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration '{text}' ({e}): write e.g. 30s, 15m, 2h, 7d"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "duration '{text}' is longer than a century (36500d): write a shorter one"
        ));
    }
    Ok(d)
}

/// A duration within `min..=max`, said in the config's words.
pub fn parse_duration_between(
    text: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < min || d > max {
        return Err(format!(
            "'{text}' is out of range: it must be between {} and {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// How far ahead a schedule must have its next occurrence: one that never
/// fires (`0 0 30 2 *`, February 30th) would keep its matches pending for ever.
const SCHEDULE_HORIZON_DAYS: i64 = 4 * 366;

pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("invalid size '{text}': write e.g. 512KiB, 10MiB, 1GiB");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// An entry of `[poll] allow_internal`: `host` or `host:port`, the host
/// as a URL has it (a name, an IPv4 address, an IPv6 address in
/// brackets), stored as the URL parser writes it so that the guard can
/// compare it with a URL's host.
pub fn parse_internal_host(text: &str) -> Result<InternalHost, String> {
    let bad = |why: &str| {
        format!(
            "allow_internal: '{text}' {why}: write a host or host:port, such as \"wiki.lan\", \"10.0.0.5:8080\" or \"[fd00::1]:8080\""
        )
    };
    if text.contains("://") {
        return Err(bad("has a scheme"));
    }
    let url =
        Url::parse(&format!("http://{text}/")).map_err(|e| bad(&format!("is not a host ({e})")))?;
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(bad("is more than a host and port"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("has no host"))?;
    // The parser forgets a port that is the scheme's default (80).
    let port = url.port().or_else(|| text.ends_with(":80").then_some(80));
    Ok(InternalHost {
        host: host.to_string(),
        port,
    })
}

/// Feed URLs are http(s) or file. `file://PATH` with a relative PATH is
/// resolved against the config file's folder, so a config can ship with its
/// sample feed (`file://sample-feed.xml`). PATH is URL-escaped, as in any
/// URL: `local%20feed.xml` is the file `local feed.xml`.
pub fn feed_url(text: &str, base: &Path) -> Result<Url, String> {
    if let Some(rest) = text.strip_prefix("file://") {
        let rest = percent_encoding::percent_decode_str(rest)
            .decode_utf8()
            .map_err(|_| format!("file URL '{text}' escapes bytes that are not UTF-8"))?;
        let p = Path::new(rest.as_ref());
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        let abs = if abs.is_absolute() {
            abs
        } else {
            std::env::current_dir()
                .map_err(|e| e.to_string())?
                .join(abs)
        };
        return Url::from_file_path(&abs)
            .map_err(|_| format!("invalid file path '{}'", abs.display()));
    }
    let u = Url::parse(text).map_err(|e| format!("invalid feed URL '{text}': {e}"))?;
    match u.scheme() {
        "http" | "https" if u.host_str().is_some() => Ok(u),
        "http" | "https" => Err(format!("feed URL '{text}' has no host")),
        s => Err(format!(
            "feed URL scheme must be http, https or file, found '{s}'"
        )),
    }
}

/// The line starts of a text, for many `line_col` lookups in it: a config
/// of 10,000 feeds has its rules after them, and scanning from the start
/// for each rule was a fifth of `status` (perf).
pub struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// `line_col(text, offset)`, by binary search.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before
        .get(line_start..)
        .map_or(1, |s| s.chars().count() + 1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
    }

    #[test]
    fn durations_longer_than_a_century_are_refused() {
        assert!(
            parse_duration("100000000d")
                .unwrap_err()
                .contains("century")
        );
        assert!(parse_duration("9999999999999d").is_err());
        assert!(parse_duration("36500d").is_ok());
        let second = Duration::from_secs(1);
        assert!(parse_duration_between("0s", second, MAX_DURATION).is_err());
        assert_eq!(
            parse_duration_between("1s", second, MAX_DURATION),
            Ok(second)
        );
    }

    #[test]
    fn a_schedule_that_never_fires_is_refused() {
        let e = parse_schedule("0 0 30 2 *").unwrap_err();
        assert!(e.contains("never fires"), "{e}");
        assert!(
            parse_schedule("0 0 29 2 *").is_ok(),
            "a leap day comes within four years"
        );
    }

    #[test]
    fn allow_internal_entries_are_hosts_with_an_optional_port() {
        let host = |h: &str, port| InternalHost {
            host: h.to_string(),
            port,
        };
        assert_eq!(parse_internal_host("Wiki.LAN"), Ok(host("wiki.lan", None)));
        assert_eq!(
            parse_internal_host("10.0.0.5:8080"),
            Ok(host("10.0.0.5", Some(8080)))
        );
        assert_eq!(
            parse_internal_host("127.0.0.1:80"),
            Ok(host("127.0.0.1", Some(80)))
        );
        assert_eq!(
            parse_internal_host("[FD00::1]:8443"),
            Ok(host("[fd00::1]", Some(8443)))
        );
        for bad in [
            "",
            "http://wiki.lan",
            "wiki.lan/path",
            "fd00::1",
            "user@wiki.lan",
            "wiki.lan:99999",
        ] {
            let err = parse_internal_host(bad).expect_err(bad);
            assert!(err.starts_with("allow_internal: "), "{err}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("10 furlongs").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }

    #[test]
    fn schedules_take_5_or_6_fields() {
        assert_eq!(
            parse_schedule("*/15 * * * *").unwrap().expr,
            "0 */15 * * * *"
        );
        assert_eq!(parse_schedule("30 0 7 * * *").unwrap().expr, "30 0 7 * * *");
        assert!(parse_schedule("* * *").unwrap_err().contains("found 3"));
        assert!(parse_schedule("0 99 * * *").is_err());
    }

    fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn a_0700_schedule_stays_at_0700_local_across_dst_changes() {
        let s = parse_schedule("0 7 * * *").unwrap();
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // Spring forward on 2026-03-29: 07:00 is 06:00 UTC before, 05:00 UTC after.
        assert_eq!(
            s.next_after(berlin, utc("2026-03-27T08:00:00Z")),
            Some(utc("2026-03-28T06:00:00Z"))
        );
        assert_eq!(
            s.next_after(berlin, utc("2026-03-28T08:00:00Z")),
            Some(utc("2026-03-29T05:00:00Z"))
        );
        // Fall back on 2026-10-25: 05:00 UTC before, 06:00 UTC after.
        assert_eq!(
            s.next_after(berlin, utc("2026-10-23T08:00:00Z")),
            Some(utc("2026-10-24T05:00:00Z"))
        );
        assert_eq!(
            s.next_after(berlin, utc("2026-10-24T08:00:00Z")),
            Some(utc("2026-10-25T06:00:00Z"))
        );
        // Occurrences are whole seconds, whatever the time asked from.
        let every_second = parse_schedule("* * * * * *").unwrap();
        assert_eq!(
            every_second.next_after(berlin, utc("2026-03-27T08:00:00.908Z")),
            Some(utc("2026-03-27T08:00:01Z"))
        );
        // Strictly after: the occurrence itself is not next.
        assert_eq!(
            s.next_after(berlin, utc("2026-10-25T06:00:00Z")),
            Some(utc("2026-10-26T06:00:00Z"))
        );
    }

    #[test]
    fn schedules_are_evaluated_in_the_configured_zone() {
        let s = parse_schedule("0 7 * * *").unwrap();
        let kyiv: chrono_tz::Tz = "Europe/Kyiv".parse().unwrap();
        let next = s.next_after(kyiv, utc("2026-01-10T00:00:00Z")).unwrap();
        assert_eq!(next, utc("2026-01-10T05:00:00Z"), "07:00 EET is 05:00 UTC");
        let every_15 = parse_schedule("*/15 * * * *").unwrap();
        assert_eq!(
            every_15.next_after(kyiv, utc("2026-01-10T00:07:00Z")),
            Some(utc("2026-01-10T00:15:00Z"))
        );
    }

    #[test]
    fn line_and_column() {
        let t = "a = 1\nbb = 2\nкк = 3";
        let lines = Lines::new(t);
        for offset in 0..=t.len() + 2 {
            if t.is_char_boundary(offset.min(t.len())) {
                assert_eq!(lines.line_col(offset), line_col(t, offset), "at {offset}");
            }
        }
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 8), (2, 3));
        assert_eq!(
            line_col(
                t,
                t.find('=').map(|_| t.rfind('=').unwrap_or(0)).unwrap_or(0)
            ),
            (3, 4)
        );
    }
}
