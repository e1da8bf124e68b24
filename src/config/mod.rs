//! Config stage: TOML text → `raw` structs → a validated `Config`, or every
//! problem found, each with its line and column (SPEC §2, §8). Reading the
//! file is the only I/O here (`load`); `parse` works on a string, so tests and
//! `check` see exactly the same errors. Uses `model` and `rules`.

mod raw;
pub mod values;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use crate::model::CompiledRule;
use crate::rules::{self, TermSets};
use raw::{RawConfig, RawEmail, RawPoll, S};
pub use values::Schedule;
use values::{line_col, parse_duration, parse_schedule, parse_size};

pub const DEFAULT_PATH: &str = "/etc/feedwatch/feedwatch.toml";
pub const DEFAULT_DIGEST: &str = "default";
const DEFAULT_SUBJECT: &str = "feedwatch: {count} new matches";

/// The validated configuration every other part of the program reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    pub timezone: Tz,
    pub retention: Duration,
    pub poll: PollConfig,
    pub email: EmailConfig,
    pub feeds: Vec<FeedConfig>,
    pub rules: Vec<CompiledRule>,
    pub digests: Vec<DigestConfig>,
    /// `[terms]`, for ad-hoc `search` queries (rules have them compiled in).
    pub terms: TermSets,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PollConfig {
    pub schedule: Schedule,
    pub concurrency: usize,
    pub per_host: usize,
    pub timeout: Duration,
    pub max_body: u64,
    /// How old an item may be and still alert on a feed's first fetch;
    /// `None` means every item of the first fetch may alert (`backfill = "all"`).
    pub backfill: Option<Duration>,
    pub max_items: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    pub from: String,
    pub to: Vec<String>,
    pub transport: Transport,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Smtp(SmtpConfig),
    /// Print each message to stdout instead of sending it (the example, tests).
    Stdout,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust, for servers with a private CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// smtps://: TLS from the first byte.
    Implicit,
    /// smtp://: STARTTLS when the server offers it.
    Opportunistic,
    /// smtp:// with `starttls = "required"`.
    Required,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    pub name: String,
    pub url: Url,
    pub tags: Vec<String>,
    pub schedule: Option<Schedule>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DigestSchedule {
    Cron(Box<Schedule>),
    Immediate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DigestConfig {
    pub name: String,
    pub schedule: DigestSchedule,
    pub to: Vec<String>,
    pub subject: String,
}

impl Config {
    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name == name)
    }
    pub fn digest(&self, name: &str) -> Option<&DigestConfig> {
        self.digests.iter().find(|d| d.name == name)
    }
    pub fn db_path(&self) -> PathBuf {
        self.state_dir.join("feedwatch.db")
    }
}

/// One problem in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub path: PathBuf,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                e.line,
                e.col,
                e.message
            )?;
        }
        Ok(())
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        path: path.to_path_buf(),
        errors: vec![ConfigError {
            line: 0,
            col: 0,
            message: format!("cannot read the config file: {e}"),
        }],
    })?;
    let state_env = std::env::var_os("STATE_DIRECTORY").map(PathBuf::from);
    parse(&text, path, state_env)
}

/// Validates config text. `path` names the file in errors and anchors
/// relative paths; `state_env` is `$STATE_DIRECTORY` (systemd), used when
/// `state_dir` is absent.
pub fn parse(text: &str, path: &Path, state_env: Option<PathBuf>) -> Result<Config, ConfigErrors> {
    let mut v = Validator {
        text,
        path: path.to_path_buf(),
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        errors: Vec::new(),
    };
    let raw: Option<RawConfig> = match toml::from_str(text) {
        Ok(raw) => Some(raw),
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            v.push(at, with_suggestion(e.message().trim()));
            None
        }
    };
    let config = raw.and_then(|raw| v.config(raw, state_env));
    v.errors.sort_by_key(|e| (e.line, e.col));
    match config {
        Some(c) if v.errors.is_empty() => Ok(c),
        _ => Err(ConfigErrors {
            path: path.to_path_buf(),
            errors: v.errors,
        }),
    }
}

/// Adds "did you mean" to serde's unknown-field message, which lists the
/// expected names in backticks.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    format!("{message}{}", rules::suggest(field, &known))
}

struct Validator<'a> {
    text: &'a str,
    path: PathBuf,
    base: PathBuf,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn push(&mut self, offset: usize, message: impl Into<String>) {
        let (line, col) = line_col(self.text, offset);
        self.errors.push(ConfigError {
            line,
            col,
            message: message.into(),
        });
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

    fn config(&mut self, raw: RawConfig, state_env: Option<PathBuf>) -> Option<Config> {
        let state_dir = match (&raw.state_dir, state_env) {
            (Some(s), _) => Some(self.path(s.get_ref())),
            (None, Some(env)) => Some(env),
            (None, None) => {
                self.push(
                    0,
                    "state_dir is not set and $STATE_DIRECTORY is not in the environment",
                );
                None
            }
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
            Some(r) => self.check(r, |t| parse_duration(t)),
            None => Some(Duration::from_secs(180 * 86400)),
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
        let rules = self.rules(&raw.rules, &feeds, &sets, &digests);
        Some(Config {
            path: self.path.clone(),
            state_dir: state_dir?,
            timezone: timezone?,
            retention: retention?,
            poll: poll?,
            email: email?,
            feeds,
            rules,
            digests,
            terms: sets,
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
        let timeout = raw
            .timeout
            .as_ref()
            .map_or(Some(Duration::from_secs(30)), |t| {
                self.check(t, |t| parse_duration(t))
            });
        let max_body = raw
            .max_body
            .as_ref()
            .map_or(Some(10 << 20), |t| self.check(t, |t| parse_size(t)));
        let backfill = match &raw.backfill {
            Some(b) if b.get_ref() == "all" => Some(None),
            Some(b) => self.check(b, |t| parse_duration(t)).map(Some),
            None => Some(Some(Duration::from_secs(86400))),
        };
        Some(PollConfig {
            schedule: schedule?,
            concurrency: concurrency?,
            per_host: per_host?,
            timeout: timeout?,
            max_body: max_body?,
            backfill: backfill?,
            max_items: max_items?,
        })
    }

    fn address(&mut self, a: &S<String>) -> Option<String> {
        self.check(a, |t| {
            lettre::message::Mailbox::from_str(t)
                .map(|m| m.to_string())
                .map_err(|e| format!("invalid email address '{t}': {e}"))
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
            (Some(t), _) if t.get_ref() == "stdout" => Some(Transport::Stdout),
            (Some(t), _) if t.get_ref() != "smtp" => {
                self.push(
                    t.span().start,
                    format!(
                        "unknown transport '{}': use \"smtp\" or \"stdout\"",
                        t.get_ref()
                    ),
                );
                None
            }
            (_, Some(url)) => self.smtp(url, e),
            (_, None) => {
                self.push(at, "[email] needs smtp = \"smtps://user@mail.example.org:465\" (or transport = \"stdout\")");
                None
            }
        };
        Some(EmailConfig {
            from: from?,
            to,
            transport: transport?,
        })
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
            password_file: e.password_file.as_ref().map(|p| self.path(p.get_ref())),
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
            if let Some(url) = url {
                out.push(FeedConfig {
                    name: f.name.get_ref().clone(),
                    url,
                    tags: f.tags.iter().map(|t| t.get_ref().clone()).collect(),
                    schedule,
                });
            }
        }
        out
    }

    fn term_sets(&mut self, raw: &BTreeMap<String, S<Vec<S<String>>>>) -> TermSets {
        let mut sets = TermSets::new();
        for (name, terms) in raw {
            let empty = TermSets::new();
            let mut nodes = Vec::new();
            for t in terms.get_ref() {
                match rules::parse(t.get_ref(), &empty) {
                    Ok(n) => nodes.push(n),
                    Err(e) => {
                        let at = self.query_offset(t, e.offset);
                        self.push(at, format!("term set '{name}': {e}"));
                    }
                }
            }
            if nodes.is_empty() {
                self.push(
                    terms.span().start,
                    format!("term set '{name}' has no terms"),
                );
                continue;
            }
            sets.insert(name.clone(), rules::Node::Or(nodes));
        }
        sets
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
            if let Some(schedule) = schedule {
                out.push(DigestConfig {
                    name: d.name.get_ref().clone(),
                    schedule,
                    to,
                    subject: d
                        .subject
                        .as_ref()
                        .map_or(DEFAULT_SUBJECT.to_string(), |s| s.get_ref().clone()),
                });
            }
        }
        if raw.is_empty() {
            // SPEC §2: without [[digests]], an implicit daily 07:00 digest.
            if let Ok(s) = parse_schedule("0 7 * * *") {
                out.push(DigestConfig {
                    name: DEFAULT_DIGEST.into(),
                    schedule: DigestSchedule::Cron(Box::new(s)),
                    to: default_to,
                    subject: DEFAULT_SUBJECT.into(),
                });
            }
        }
        out
    }

    /// Maps an offset inside a TOML string value onto the file. Exact when the
    /// string has no escapes; otherwise points at the string itself.
    fn query_offset(&self, value: &S<String>, offset: usize) -> usize {
        let span = value.span();
        let raw = self.text.get(span.clone()).unwrap_or("");
        let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            3
        } else {
            1
        };
        let inner = raw
            .get(quote..raw.len().saturating_sub(quote))
            .unwrap_or("");
        if inner == value.get_ref() {
            span.start + quote + offset
        } else {
            span.start
        }
    }

    fn rules(
        &mut self,
        raw: &[S<raw::RawRule>],
        feeds: &[FeedConfig],
        sets: &TermSets,
        digests: &[DigestConfig],
    ) -> Vec<CompiledRule> {
        let mut out: Vec<CompiledRule> = Vec::new();
        for r in raw {
            let at = r.span().start;
            let r = r.get_ref();
            let name = r.name.get_ref();
            if out.iter().any(|o| &o.name == name) {
                self.push(
                    r.name.span().start,
                    format!("rule name '{name}' is used twice"),
                );
            }
            let compiled = self.rule_query(r, at, sets);
            let scope = r
                .feeds
                .as_ref()
                .map(|list| self.rule_feeds(name, list, feeds));
            let digest = r
                .digest
                .as_ref()
                .map_or(DEFAULT_DIGEST.to_string(), |d| d.get_ref().clone());
            if !digests.iter().any(|d| d.name == digest) {
                let where_ = r
                    .digest
                    .as_ref()
                    .map_or(r.name.span().start, |d| d.span().start);
                let names: Vec<&str> = digests.iter().map(|d| d.name.as_str()).collect();
                self.push(
                    where_,
                    format!(
                        "rule '{name}': no digest named '{digest}'{} (digests: {})",
                        rules::suggest(&digest, &names),
                        names.join(", ")
                    ),
                );
            }
            if let Some(fts_query) = compiled {
                out.push(CompiledRule {
                    name: name.clone(),
                    digest,
                    fts_query,
                    feeds: scope,
                });
            }
        }
        out
    }

    fn rule_query(&mut self, r: &raw::RawRule, at: usize, sets: &TermSets) -> Option<String> {
        let name = r.name.get_ref();
        let has_lists = !(r.all.is_empty() && r.any.is_empty() && r.none.is_empty());
        match (&r.query, has_lists) {
            (Some(q), false) => match rules::compile_query(q.get_ref(), sets) {
                Ok(s) => Some(s),
                Err(e) => {
                    let off = self.query_offset(q, e.offset);
                    self.push(off, format!("rule '{name}': query {e}"));
                    None
                }
            },
            (Some(q), true) => {
                self.push(
                    q.span().start,
                    format!("rule '{name}': use either query or all/any/none, not both"),
                );
                None
            }
            (None, true) => {
                let strings =
                    |l: &[S<String>]| l.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
                let lists =
                    rules::from_lists(&strings(&r.all), &strings(&r.any), &strings(&r.none), sets)
                        .and_then(|node| {
                            rules::compile(&node, "").map_err(|error| rules::ListError {
                                list: "none",
                                index: 0,
                                error,
                            })
                        });
                match lists {
                    Ok(s) => Some(s),
                    Err(e) => {
                        let list = match e.list {
                            "all" => &r.all,
                            "any" => &r.any,
                            _ => &r.none,
                        };
                        let off = list
                            .get(e.index)
                            .map_or(at, |v| self.query_offset(v, e.error.offset));
                        self.push(off, format!("rule '{name}': {e}"));
                        None
                    }
                }
            }
            (None, false) => {
                self.push(
                    r.name.span().start,
                    format!("rule '{name}' has no query (or all/any/none list)"),
                );
                None
            }
        }
    }

    fn rule_feeds(&mut self, rule: &str, list: &[S<String>], feeds: &[FeedConfig]) -> Vec<String> {
        let mut names = Vec::new();
        let feed_names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
        for entry in list {
            let e = entry.get_ref();
            if let Some(tag) = e.strip_prefix("tag:") {
                let tagged: Vec<String> = feeds
                    .iter()
                    .filter(|f| f.tags.iter().any(|t| t == tag))
                    .map(|f| f.name.clone())
                    .collect();
                if tagged.is_empty() {
                    self.push(
                        entry.span().start,
                        format!("rule '{rule}': no feed has the tag '{tag}'"),
                    );
                }
                names.extend(tagged);
            } else if feed_names.contains(&e.as_str()) {
                names.push(e.clone());
            } else {
                self.push(
                    entry.span().start,
                    format!(
                        "rule '{rule}': no feed named '{e}'{}",
                        rules::suggest(e, &feed_names)
                    ),
                );
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Feed URLs are http(s) or file. `file://PATH` with a relative PATH is
/// resolved against the config file's folder, so a config can ship with its
/// sample feed (`file://sample-feed.xml`).
fn feed_url(text: &str, base: &Path) -> Result<Url, String> {
    if let Some(rest) = text.strip_prefix("file://") {
        let p = Path::new(rest);
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

#[cfg(test)]
mod tests;
