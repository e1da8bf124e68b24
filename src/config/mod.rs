//! Config stage: TOML text → `raw` structs → a validated `Config`, or every
//! problem found, each with its line and column (docs/reference.md, "Configuration"; docs/operations.md, "Bad input"). Reading the
//! file is the only I/O here (`load`); `parse` works on a string, so tests and
//! `check` see exactly the same errors. Uses `model` and `rules`.

mod raw;
mod rule_sections;
mod validate;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use crate::model::{CompiledRule, InternalHost};
use crate::rules::{self, TermSets};
use raw::RawConfig;
use validate::Validator;
pub use values::Schedule;

pub const DEFAULT_PATH: &str = "/etc/feedwatch/feedwatch.toml";
/// The systemd unit's `StateDirectory=feedwatch`: where the service keeps its
/// database, and so where the other commands look when nothing else is set.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/feedwatch";
pub const DEFAULT_DIGEST: &str = "default";
pub(crate) const DEFAULT_SUBJECT: &str = "feedwatch: {count} new {items}";

/// Where the state directory came from, so that messages can say why it is
/// the one used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateDirFrom {
    /// `--state-dir` on the command line.
    Flag,
    /// `state_dir` in the config file.
    Config,
    /// `$STATE_DIRECTORY`, set by systemd for the service.
    Environment,
    /// Nothing was set: the service's own state directory.
    Default,
    /// Nothing was set, and the config is an instance's
    /// (`/etc/feedwatch-NAME/feedwatch.toml`): that instance's state
    /// directory, `/var/lib/feedwatch-NAME` (the template unit's).
    Instance,
}

impl fmt::Display for StateDirFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateDirFrom::Flag => "from --state-dir",
            StateDirFrom::Config => "from state_dir in the config",
            StateDirFrom::Environment => "from $STATE_DIRECTORY",
            StateDirFrom::Default => "the service's state directory: state_dir is not set",
            StateDirFrom::Instance => {
                "the state directory of the service instance its config's folder names: state_dir is not set"
            }
        })
    }
}

/// The instance a config belongs to, by where it is: NAME for
/// `/etc/feedwatch-NAME/feedwatch.toml`, the template unit
/// `feedwatch@NAME`'s (docs/operations.md, "Several instances").
pub fn instance_of(config: &Path) -> Option<&str> {
    let folder = config.parent()?;
    if folder.parent() != Some(Path::new("/etc")) || config.file_name()? != "feedwatch.toml" {
        return None;
    }
    folder
        .file_name()?
        .to_str()?
        .strip_prefix("feedwatch-")
        .filter(|name| !name.is_empty())
}

/// The validated configuration every other part of the program reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub state_dir: PathBuf,
    pub state_dir_from: StateDirFrom,
    pub timezone: Tz,
    pub retention: Duration,
    /// How long a digest remembers the stories it reported, so that a later
    /// copy in another feed is listed as already reported, not as new.
    pub story_memory: Duration,
    pub poll: PollConfig,
    pub email: EmailConfig,
    pub feeds: Vec<FeedConfig>,
    pub rules: Vec<CompiledRule>,
    pub digests: Vec<DigestConfig>,
    /// `[terms]`, for ad-hoc `search` queries (rules have them compiled in).
    pub terms: TermSets,
    /// The languages concepts expand into (`languages`), for `search`;
    /// each rule has its own compiled in.
    pub languages: rules::Languages,
    /// What `check` warns about in the rules, each at its line and column.
    pub warnings: Vec<ConfigError>,
    /// Where the keys `check` may warn about are written.
    pub at: KeysAt,
}

/// The line and column of a key in the config file, when it is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeysAt {
    pub state_dir: Option<(usize, usize)>,
    pub smtp: Option<(usize, usize)>,
    pub password_file: Option<(usize, usize)>,
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
    /// The largest article page fetched for a `full_text` feed.
    pub max_article: u64,
    /// How long one poll of a feed waits for its articles; the items whose
    /// article is not in by then are matched on the feed's text.
    pub article_wait: Duration,
    /// The least time between two article requests to one host.
    pub article_delay: Duration,
    /// The most an article page may hold before it is parsed.
    pub article_limits: crate::model::PageLimits,
    /// The longest one article page may take to parse.
    pub article_parse_time: Duration,
    /// Failed polls in a row after which a feed that worked is named as
    /// down (digests, `status --check`).
    pub failing_after: u32,
    /// Hosts inside the network that URLs found in feed data (article
    /// links, advertised feeds, redirects) may lead to (docs/fetching.md, "Fetching").
    pub allow_internal: Vec<InternalHost>,
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
    /// Hand each message to a local `sendmail` (this program, or the one on PATH).
    Sendmail(Option<PathBuf>),
    /// Deliver into a local Maildir folder.
    Maildir(PathBuf),
    /// Print each message to stdout instead of sending it (the example, tests).
    Stdout,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub user: Option<String>,
    /// Send the password even without TLS (a relay on this host only).
    pub insecure_auth: bool,
    pub password_file: Option<PathBuf>,
    /// `smtp-password` beside the config file: what the systemd unit loads
    /// as the credential, read directly by commands run outside the unit.
    pub credential_file: PathBuf,
    /// An extra CA certificate (PEM) to trust, for servers with a private CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// smtps://: TLS from the first byte.
    Implicit,
    /// smtp://: STARTTLS when the server offers it (required all the same
    /// when a password is to be sent, unless `insecure_auth`).
    Opportunistic,
    /// smtp:// with `starttls = "required"`.
    Required,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    pub name: String,
    /// The feed's own title (kept from an OPML import, written back on export).
    pub title: Option<String>,
    pub url: Url,
    pub tags: Vec<String>,
    pub schedule: Option<Schedule>,
    /// Fetch each new item's link and match its article text too
    /// (docs/fetching.md, "Full text").
    pub full_text: bool,
    /// The site's own page (OPML's `htmlUrl`), kept for export.
    pub site: Option<String>,
    /// The folders an OPML import found the feed in, as their names were
    /// written (tags are their slugs, for rules); export writes these.
    pub folders: Vec<String>,
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
    /// The name a reader sees in its heading ("Morning digest").
    pub title: String,
    /// A scheduled digest is sent even when nothing matched and all its
    /// feeds are well, with what it covered (docs/digests.md, "Coverage and
    /// outages").
    pub send_when_quiet: bool,
}

/// A digest's title when the config gives none: its name as a reader
/// would write it ("morning" → "Morning digest", "iran-watch" → "Iran watch
/// digest").
pub fn default_title(name: &str) -> String {
    let spaced = name.replace(['-', '_'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => format!("{}{} digest", c.to_uppercase(), chars.as_str()),
        None => "Digest".into(),
    }
}

impl Config {
    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name == name)
    }
    pub fn digest(&self, name: &str) -> Option<&DigestConfig> {
        self.digests.iter().find(|d| d.name == name)
    }
    /// The same config with the state directory given on the command line.
    pub fn with_state_dir(mut self, dir: PathBuf) -> Self {
        self.state_dir = dir;
        self.state_dir_from = StateDirFrom::Flag;
        self
    }
}

/// One problem in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Every problem found in one config file, and the warnings found with
/// them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub path: PathBuf,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

impl ConfigErrors {
    /// One problem of the file `path`.
    pub fn one(path: &Path, line: usize, col: usize, message: String) -> Self {
        ConfigErrors {
            path: path.to_path_buf(),
            errors: vec![ConfigError { line, col, message }],
            warnings: Vec::new(),
        }
    }
}

impl ConfigError {
    /// `file:line:column: message`, as compilers write it (for editors);
    /// line 0 is the file as a whole: `file: message`. `kind` goes before
    /// the message (`warning: `).
    pub fn located(&self, path: &Path, kind: &str) -> String {
        if self.line == 0 {
            format!("{}: {kind}{}", path.display(), self.message)
        } else {
            format!(
                "{}:{}:{}: {kind}{}",
                path.display(),
                self.line,
                self.col,
                self.message
            )
        }
    }
}

impl fmt::Display for ConfigErrors {
    /// Errors and warnings in file order, one line each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut all: Vec<(&ConfigError, &str)> = self
            .errors
            .iter()
            .map(|e| (e, ""))
            .chain(self.warnings.iter().map(|w| (w, "warning: ")))
            .collect();
        all.sort_by_key(|(e, _)| (e.line, e.col));
        for (i, (e, kind)) in all.into_iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", e.located(&self.path, kind))?;
        }
        Ok(())
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let at = |line, col, message| ConfigErrors::one(path, line, col, message);
    let bytes =
        std::fs::read(path).map_err(|e| at(0, 0, format!("cannot read the config file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        // Name the first byte that is not UTF-8, like any other error.
        let valid = e.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        let (line, col) = values::line_col(&before, before.len());
        at(
            line,
            col,
            "the config file is not UTF-8 (save it as UTF-8: TOML requires it)".into(),
        )
    })?;
    let state_env = std::env::var_os("STATE_DIRECTORY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    parse(&text, path, state_env)
}

/// Validates config text. `path` names the file in errors and anchors
/// relative paths; `state_env` is `$STATE_DIRECTORY` (systemd), used when
/// `state_dir` is absent.
pub fn parse(text: &str, path: &Path, state_env: Option<PathBuf>) -> Result<Config, ConfigErrors> {
    let mut v = Validator::new(text, path);
    // A config read past a bad line is never used (the line is an error);
    // the rest is still checked, so that every problem is said.
    let config = read_past_bad_lines(text, &mut v).and_then(|raw| v.config(raw, state_env));
    v.errors.sort_by_key(|e| (e.line, e.col));
    v.errors.dedup();
    match config {
        Some(c) if v.errors.is_empty() => Ok(c),
        config => Err(ConfigErrors {
            path: path.to_path_buf(),
            errors: std::mem::take(&mut v.errors),
            warnings: config.map_or_else(|| std::mem::take(&mut v.warnings), |c| c.warnings),
        }),
    }
}

/// The raw config, reading on past each `key = value` line serde refuses
/// (an unknown key, a value of the wrong type): the line is recorded as an
/// error and blanked, keeping every offset, and the text read again, so
/// that one run of `check` finds every problem, the values' own checks
/// included. A line that is not a `key = value` (a table header, broken
/// syntax) ends the reading there.
fn read_past_bad_lines(text: &str, v: &mut Validator<'_>) -> Option<RawConfig> {
    let mut text = text.to_string();
    let mut left_out: Vec<String> = Vec::new();
    // Each round blanks one line; a config has few.
    for _ in 0..100 {
        let e = match toml::from_str::<RawConfig>(&text) {
            Ok(raw) => return Some(raw),
            Err(e) => e,
        };
        let message = e.message().trim().to_string();
        let at = e.span().map_or(0, |s| s.start);
        // "missing field `url`" after its line was left out: already said.
        if left_out
            .iter()
            .any(|k| message == format!("missing field `{k}`"))
        {
            return None;
        }
        v.push(at, with_suggestion(&message));
        let start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = &text[start..end];
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string());
        match key {
            Some(k) if !line.trim_start().starts_with('[') && !k.is_empty() => {
                left_out.push(k);
                let blank: String = line.chars().map(|_| ' ').collect();
                text.replace_range(start..end, &blank);
            }
            _ => return None,
        }
    }
    None
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

#[cfg(test)]
mod tests;
