//! Config stage, second half: checks every value of the `raw` structs and
//! builds the validated `Config`, recording each problem at its line and
//! column instead of stopping at the first, so `check` lists them all.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use super::raw::{self, RawConfig, RawEmail, RawPoll, S};
use super::values::{
    Lines, MAX_DURATION, feed_url, parse_duration, parse_duration_between, parse_internal_host,
    parse_schedule, parse_size,
};
use super::{
    Config, ConfigError, DEFAULT_DIGEST, DEFAULT_STATE_DIR, DEFAULT_SUBJECT, DigestConfig,
    DigestSchedule, EmailConfig, FeedConfig, KeysAt, PollConfig, SmtpConfig, SmtpSecurity,
    StateDirFrom, Transport,
};
use crate::rules::Languages;

const DAY: Duration = Duration::from_secs(86_400);

pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) lines: Lines<'a>,
    path: PathBuf,
    base: PathBuf,
    pub(super) errors: Vec<ConfigError>,
    /// `check`'s warnings about rules (`Config::warnings`).
    pub(super) warnings: Vec<ConfigError>,
}

impl<'a> Validator<'a> {
    pub(super) fn new(text: &'a str, path: &Path) -> Self {
        Validator {
            text,
            lines: Lines::new(text),
            path: path.to_path_buf(),
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// `message` at the line and column of `offset`.
    fn at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, col) = self.lines.line_col(offset);
        ConfigError {
            line,
            col,
            message: message.into(),
        }
    }

    /// A warning at `offset` (`check` shows it; the config stays valid).
    pub(super) fn warn(&mut self, offset: usize, message: impl Into<String>) {
        let warning = self.at(offset, message);
        self.warnings.push(warning);
    }

    pub(super) fn push(&mut self, offset: usize, message: impl Into<String>) {
        let error = self.at(offset, message);
        self.errors.push(error);
    }

    /// Runs `f` on a spanned value; an error is recorded at the value.
    fn check<T, R>(&mut self, value: &S<T>, f: impl FnOnce(&T) -> Result<R, String>) -> Option<R> {
        match f(value.get_ref()) {
            Ok(r) => Some(r),
            Err(m) => {
                self.push(value.span().start, m);
                None
            }
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(super) fn config(&mut self, raw: RawConfig, state_env: Option<PathBuf>) -> Option<Config> {
        let (state_dir, state_dir_from) = match (&raw.state_dir, state_env) {
            (Some(s), _) => (self.path(s.get_ref()), StateDirFrom::Config),
            (None, Some(env)) => (env, StateDirFrom::Environment),
            // An instance's config finds its own state, never the main
            // service's (a second instance's `status` read the first's).
            (None, None) => match super::instance_of(&self.path) {
                Some(name) => (
                    PathBuf::from(format!("{DEFAULT_STATE_DIR}-{name}")),
                    StateDirFrom::Instance,
                ),
                None => (PathBuf::from(DEFAULT_STATE_DIR), StateDirFrom::Default),
            },
        };
        let timezone = match &raw.timezone {
            Some(tz) => self.check(tz, |t| {
                Tz::from_str(t).map_err(|_| {
                    format!("unknown time zone '{t}': use an IANA name such as Europe/Kyiv")
                })
            }),
            None => Some(Tz::UTC),
        };
        let retention = match &raw.retention {
            // Shorter than a day would prune what the next digest needs.
            Some(r) => self.check(r, |t| parse_duration_between(t, DAY, MAX_DURATION)),
            None => Some(Duration::from_secs(180 * 86400)),
        };
        let story_memory = match &raw.story_memory {
            Some(m) => self.check(m, |t| parse_duration(t)),
            None => Some(Duration::from_secs(3 * 86400)),
        };
        let poll = self.poll(raw.poll.unwrap_or_default());
        let email = match &raw.email {
            Some(e) => self.email(e),
            None => {
                self.push(0, "missing [email] section: feedwatch needs from, to and smtp (or transport = \"stdout\")");
                None
            }
        };
        let feeds = self.feeds(&raw.feeds);
        let sets = self.term_sets(&raw.terms);
        let digests = self.digests(
            &raw.digests,
            email.as_ref().map(|e| e.to.clone()).unwrap_or_default(),
        );
        let languages = self.languages(raw.languages.as_ref(), &Languages::default());
        let rules = self.rules(&raw.rules, &feeds, &sets, &digests, &languages);
        Some(Config {
            path: self.path.clone(),
            state_dir,
            state_dir_from,
            timezone: timezone?,
            retention: retention?,
            story_memory: story_memory?,
            poll: poll?,
            email: email?,
            feeds,
            rules,
            digests,
            terms: sets,
            languages,
            warnings: std::mem::take(&mut self.warnings),
            at: KeysAt {
                state_dir: raw
                    .state_dir
                    .as_ref()
                    .map(|s| self.lines.line_col(s.span().start)),
                smtp: raw
                    .email
                    .as_ref()
                    .and_then(|e| e.get_ref().smtp.as_ref())
                    .map(|s| self.lines.line_col(s.span().start)),
                password_file: raw
                    .email
                    .as_ref()
                    .and_then(|e| e.get_ref().password_file.as_ref())
                    .map(|s| self.lines.line_col(s.span().start)),
            },
        })
    }

    fn poll(&mut self, raw: RawPoll) -> Option<PollConfig> {
        let positive = |n: &i64| -> Result<usize, String> {
            usize::try_from(*n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("must be a positive number, found {n}"))
        };
        let schedule = match &raw.schedule {
            Some(s) => self.check(s, |t| parse_schedule(t)),
            None => parse_schedule("*/15 * * * *").ok(),
        };
        let concurrency = raw
            .concurrency
            .as_ref()
            .map_or(Some(16), |c| self.check(c, positive));
        let per_host = raw
            .per_host
            .as_ref()
            .map_or(Some(2), |c| self.check(c, positive));
        let max_items = raw
            .max_items
            .as_ref()
            .map_or(Some(1000), |c| self.check(c, positive));
        // Every fetch fails in less than a second; more than an hour
        // holds a poll for as long.
        let timeout = self.duration(&raw.timeout, 30, 1, 3600);
        let max_body = raw
            .max_body
            .as_ref()
            .map_or(Some(10 << 20), |t| self.check(t, |t| parse_size(t)));
        let backfill = match &raw.backfill {
            Some(b) if b.get_ref() == "all" => Some(None),
            Some(b) => self.check(b, |t| parse_duration(t)).map(Some),
            None => Some(Some(Duration::from_secs(86400))),
        };
        let max_article = raw
            .max_article
            .as_ref()
            .map_or(Some(2 << 20), |t| self.check(t, |t| parse_size(t)));
        // Longer than an hour would hold every digest of that poll for as
        // long.
        let article_wait = self.duration(&raw.article_wait, 30, 1, 3600);
        let article_delay = self.duration(&raw.article_delay, 1, 0, 3600);
        let default = crate::model::PageLimits::DEFAULT;
        let depth = raw
            .max_article_depth
            .as_ref()
            .map_or(Some(default.depth), |c| self.check(c, positive));
        let elements = raw
            .max_article_elements
            .as_ref()
            .map_or(Some(default.elements), |c| self.check(c, positive));
        // A parse is CPU on one thread; a minute is far past any real page
        // (a few milliseconds) and within what the watchdog allows.
        let article_parse_time = self.duration(&raw.article_parse_time, 10, 1, 60);
        // A few polls: one failure is often a blip of the site's server,
        // and a day (what digests waited before) hides an outage.
        let failing_after = raw.failing_after.as_ref().map_or(Some(3), |c| {
            self.check(c, |n| {
                u32::try_from(*n)
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| format!("must be a number of polls from 1 to 1000, found {n}"))
            })
        });
        let allow_internal = raw
            .allow_internal
            .iter()
            .filter_map(|h| self.check(h, |t| parse_internal_host(t)))
            .collect();
        Some(PollConfig {
            schedule: schedule?,
            concurrency: concurrency?,
            per_host: per_host?,
            timeout: timeout?,
            max_body: max_body?,
            backfill: backfill?,
            max_items: max_items?,
            max_article: max_article?,
            article_wait: article_wait?,
            article_delay: article_delay?,
            article_limits: crate::model::PageLimits {
                depth: depth?,
                elements: elements?,
            },
            article_parse_time: article_parse_time?,
            failing_after: failing_after?,
            allow_internal,
        })
    }

    /// A duration setting between `min` and `max` seconds, `default` when
    /// absent.
    fn duration(
        &mut self,
        raw: &Option<S<String>>,
        default: u64,
        min: u64,
        max: u64,
    ) -> Option<Duration> {
        raw.as_ref()
            .map_or(Some(Duration::from_secs(default)), |t| {
                self.check(t, |t| {
                    parse_duration_between(t, Duration::from_secs(min), Duration::from_secs(max))
                })
            })
    }

    fn address(&mut self, a: &S<String>) -> Option<String> {
        self.check(a, |t| {
            // A line break here would start a new header (and lettre panics
            // on one in a display name): refuse it at load time.
            if t.chars().any(char::is_control) {
                return Err(format!(
                    "invalid email address {t:?}: it contains a line break or control character"
                ));
            }
            lettre::message::Mailbox::from_str(t)
                .or_else(|e| name_as_written(t).ok_or(e))
                .map(|m| m.to_string())
                .map_err(|e| {
                    format!(
                        "invalid email address '{t}': {e} (write it as `Name <address@example.org>`, \
                         or the name in double quotes when it holds characters such as , ; : @)"
                    )
                })
        })
    }

    fn email(&mut self, e: &S<RawEmail>) -> Option<EmailConfig> {
        let at = e.span().start;
        let e = e.get_ref();
        let from = match &e.from {
            Some(f) => self.address(f),
            None => {
                self.push(
                    at,
                    "[email] needs from = \"feedwatch <feedwatch@example.org>\"",
                );
                None
            }
        };
        let to: Vec<_> = e.to.iter().filter_map(|a| self.address(a)).collect();
        if e.to.is_empty() {
            self.push(at, "[email] needs to = [\"you@example.org\"]");
        }
        let transport = match (&e.transport, &e.smtp) {
            (Some(t), _) if t.get_ref() != "smtp" => {
                if let Some(s) = &e.starttls {
                    // Accepted and ignored, it let a user believe mail
                    // went out over TLS.
                    self.push(
                        s.span().start,
                        format!(
                            "starttls applies to SMTP only; transport = \"{}\" sends no mail over SMTP: remove starttls",
                            t.get_ref()
                        ),
                    );
                }
                self.transport(t)
            }
            (_, Some(url)) => self.smtp(url, e),
            (_, None) => {
                self.push(
                    at,
                    "[email] needs smtp = \"smtps://user@mail.example.org:465\" (or another transport)",
                );
                None
            }
        };
        Some(EmailConfig {
            from: from?,
            to,
            transport: transport?,
        })
    }

    /// `stdout`, `sendmail`, `sendmail:/path/to/sendmail`, `maildir:/path`.
    fn transport(&mut self, t: &S<String>) -> Option<Transport> {
        let text = t.get_ref().as_str();
        match text.split_once(':') {
            None if text == "stdout" => Some(Transport::Stdout),
            None if text == "sendmail" => Some(Transport::Sendmail(None)),
            Some(("sendmail", p)) if !p.is_empty() => Some(Transport::Sendmail(Some(self.path(p)))),
            Some(("maildir", p)) if !p.is_empty() => Some(Transport::Maildir(self.path(p))),
            _ => {
                self.push(
                    t.span().start,
                    format!(
                        "unknown transport '{text}': use \"smtp\", \"sendmail\", \"sendmail:/path\", \"maildir:/path\" or \"stdout\""
                    ),
                );
                None
            }
        }
    }

    fn smtp(&mut self, url: &S<String>, e: &RawEmail) -> Option<Transport> {
        let parsed = self.check(url, |t| {
            let u = Url::parse(t).map_err(|err| format!("invalid smtp URL '{t}': {err}"))?;
            let implicit = match u.scheme() {
                "smtps" => true,
                "smtp" => false,
                s => return Err(format!("smtp URL scheme must be smtp:// or smtps://, found '{s}://'")),
            };
            if u.password().is_some() {
                return Err("never put the password in the smtp URL: use $FEEDWATCH_SMTP_PASSWORD, password_file or the systemd credential smtp-password".into());
            }
            let host = u.host_str().filter(|h| !h.is_empty()).ok_or("the smtp URL has no host")?;
            let user = (!u.username().is_empty()).then(|| {
                percent_decode(u.username())
            });
            Ok((implicit, host.to_string(), u.port().unwrap_or(if implicit { 465 } else { 587 }), user))
        });
        let security = match (&e.starttls, parsed.as_ref().map(|p| p.0)) {
            (Some(s), Some(false)) => self.check(s, |t| match t.as_str() {
                "required" => Ok(SmtpSecurity::Required),
                "opportunistic" => Ok(SmtpSecurity::Opportunistic),
                other => Err(format!(
                    "starttls must be \"required\" or \"opportunistic\", found '{other}'"
                )),
            }),
            (Some(s), Some(true)) => {
                self.push(
                    s.span().start,
                    "starttls applies to smtp:// only; smtps:// is TLS from the start",
                );
                None
            }
            (_, Some(true)) => Some(SmtpSecurity::Implicit),
            (_, _) => Some(SmtpSecurity::Opportunistic),
        };
        let (_, host, port, user) = parsed?;
        Some(Transport::Smtp(SmtpConfig {
            host,
            port,
            security: security?,
            user,
            insecure_auth: e.insecure_auth.as_ref().is_some_and(|b| *b.get_ref()),
            password_file: e.password_file.as_ref().map(|p| self.path(p.get_ref())),
            credential_file: self.path("smtp-password"),
            ca_file: e.ca_file.as_ref().map(|p| self.path(p.get_ref())),
        }))
    }

    fn feeds(&mut self, raw: &[S<raw::RawFeed>]) -> Vec<FeedConfig> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for f in raw {
            let f = f.get_ref();
            if !seen.insert(f.name.get_ref().clone()) {
                self.push(
                    f.name.span().start,
                    format!("feed name '{}' is used twice", f.name.get_ref()),
                );
            }
            if f.name.get_ref().trim().is_empty() {
                self.push(f.name.span().start, "feed name is empty");
            }
            let base = self.base.clone();
            let url = self.check(&f.url, |t| feed_url(t, &base));
            let schedule = f
                .schedule
                .as_ref()
                .and_then(|s| self.check(s, |t| parse_schedule(t)));
            let site = f.site.as_ref().and_then(|s| {
                self.check(s, |t| match Url::parse(t) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(t.clone()),
                    _ => Err(format!(
                        "site must be an http(s) URL (the site's page), found '{t}'"
                    )),
                })
            });
            if let Some(url) = url {
                out.push(FeedConfig {
                    name: f.name.get_ref().clone(),
                    title: f.title.as_ref().map(|t| t.get_ref().clone()),
                    url,
                    tags: f.tags.iter().map(|t| t.get_ref().clone()).collect(),
                    schedule,
                    full_text: f.full_text.as_ref().is_some_and(|b| *b.get_ref()),
                    site,
                    folders: f.folders.iter().map(|t| t.get_ref().clone()).collect(),
                });
            }
        }
        out
    }

    fn digests(&mut self, raw: &[S<raw::RawDigest>], default_to: Vec<String>) -> Vec<DigestConfig> {
        let mut out = Vec::new();
        for d in raw {
            let d = d.get_ref();
            if out
                .iter()
                .any(|o: &DigestConfig| &o.name == d.name.get_ref())
            {
                self.push(
                    d.name.span().start,
                    format!("digest name '{}' is used twice", d.name.get_ref()),
                );
            }
            let schedule = match &d.schedule {
                Some(s) if s.get_ref() == "immediate" => Some(DigestSchedule::Immediate),
                Some(s) => self
                    .check(s, |t| parse_schedule(t))
                    .map(|s| DigestSchedule::Cron(Box::new(s))),
                None => parse_schedule("0 7 * * *")
                    .ok()
                    .map(|s| DigestSchedule::Cron(Box::new(s))),
            };
            let to = match &d.to {
                Some(list) => list.iter().filter_map(|a| self.address(a)).collect(),
                None => default_to.clone(),
            };
            if let Some(quiet) = &d.send_when_quiet
                && schedule == Some(DigestSchedule::Immediate)
            {
                self.push(
                    quiet.span().start,
                    "send_when_quiet is for scheduled digests: an immediate one is sent when there are new matches or one of its feeds goes down or comes back",
                );
            }
            if let Some(schedule) = schedule {
                out.push(DigestConfig {
                    name: d.name.get_ref().clone(),
                    schedule,
                    to,
                    subject: d
                        .subject
                        .as_ref()
                        .map_or(DEFAULT_SUBJECT.to_string(), |s| s.get_ref().clone()),
                    title: d.title.as_ref().map_or_else(
                        || super::default_title(d.name.get_ref()),
                        // One line: it is also the page's <title>.
                        |t| crate::model::one_line(t.get_ref()),
                    ),
                    send_when_quiet: d.send_when_quiet.as_ref().is_none_or(|q| *q.get_ref()),
                });
            }
        }
        if raw.is_empty() {
            // Without [[digests]], an implicit daily 07:00 digest.
            if let Ok(s) = parse_schedule("0 7 * * *") {
                out.push(DigestConfig {
                    name: DEFAULT_DIGEST.into(),
                    schedule: DigestSchedule::Cron(Box::new(s)),
                    to: default_to,
                    subject: DEFAULT_SUBJECT.into(),
                    title: super::default_title(DEFAULT_DIGEST),
                    send_when_quiet: true,
                });
            }
        }
        out
    }
}

/// `Name <address>` whose name RFC 5322 would read otherwise (in
/// parentheses it is a comment: `Iran watch (feedwatch) <…>`), taken as
/// written: the name is everything before the `<`, the message quotes it.
fn name_as_written(t: &str) -> Option<lettre::message::Mailbox> {
    let t = t.trim();
    let open = t.rfind('<')?;
    let address: lettre::Address = t[open + 1..].strip_suffix('>')?.trim().parse().ok()?;
    let name = t[..open].trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name);
    Some(lettre::message::Mailbox::new(
        (!name.is_empty()).then(|| name.to_string()),
        address,
    ))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
