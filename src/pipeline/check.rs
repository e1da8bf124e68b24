//! Pipeline, before anything runs: the one way to load a config, and what
//! `check` has to say about it. Loading is the config stage's validation,
//! then every compiled rule put to SQLite's FTS5, which only the store can
//! ask; the CLI (every command) and the daemon's reload both use it, so a
//! reload accepts exactly what `check` accepts. The check report adds what
//! is not an error but would trip the service up (its state directory, its
//! SMTP password), each with the fix. Touches no network and no state.

use std::path::{Path, PathBuf};

use super::feed::{FeedError, Fetch, Found, fetch_and_parse};
use crate::config::{self, Config, ConfigError, ConfigErrors, StateDirFrom, Transport};
use crate::fetch::Fetcher;
use crate::mail::{self, PasswordPlaces};
use crate::store::{FullCheck, Store, StoreError};

/// Where the systemd unit keeps its config (`ConfigurationDirectory=`).
const SERVICE_CONFIG_DIR: &str = "/etc/feedwatch";

/// The unit this version ships, to tell an upgrade that kept an old one
/// (its chatter, no `ExecReload=… check`, no `SetCredential=` came back).
const SHIPPED_UNIT: &str = include_str!("../../systemd/feedwatch.service");
/// And the template unit of instances (`feedwatch@NAME`).
const SHIPPED_TEMPLATE: &str = include_str!("../../systemd/feedwatch@.service");

/// Where the install steps put the units.
const UNITS: &str = "/etc/systemd/system";

/// A warning when the unit `name` installed in `units` is not the one
/// this version ships (`shipped`); nothing when none is installed there.
fn unit_warning(units: &Path, name: &str, shipped: &str) -> Option<String> {
    let installed = units.join(name);
    let text = std::fs::read_to_string(&installed).ok()?;
    (text != shipped).then(|| {
        format!(
            "{} is not the unit this feedwatch ships (an upgrade kept the old one, and its \
             fixes are missing): install it again from this release, \
             `install -m 644 systemd/{name} {UNITS}/ && systemctl daemon-reload`, \
             then restart feedwatch",
            installed.display()
        )
    })
}

/// Where a config comes from: its file, and the state directory given on
/// the command line (which wins over the file's). The daemon keeps it to
/// reload the same way it loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub state_dir: Option<PathBuf>,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        load_config(&self.path, self.state_dir.as_deref())
    }
}

/// Reads and validates the config at `path`, with `state_dir` from the
/// command line when given, and checks every rule against FTS5.
pub fn load_config(path: &Path, state_dir: Option<&Path>) -> Result<Config, ConfigErrors> {
    let config = config::load(path)?;
    let config = match state_dir {
        Some(dir) => config.with_state_dir(dir.to_path_buf()),
        None => config,
    };
    let mut scratch = Store::open_in_memory()
        .map_err(|e| ConfigErrors::one(path, 0, 0, format!("cannot check the rules: {e}")))?;
    let errors: Vec<ConfigError> = config
        .rules
        .iter()
        .filter_map(|r| {
            let e = scratch.check_query(&r.name, &r.fts_query).err()?;
            Some(ConfigError {
                line: r.at.0,
                col: r.at.1,
                message: e.to_string(),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors {
            path: path.to_path_buf(),
            errors,
            warnings: config.warnings.clone(),
        })
    }
}

/// Whether a file of `mode` can be read by a user that neither owns it nor
/// is in its group: the service's own user (the unit's `DynamicUser=yes`)
/// is such a user for the files under /etc/feedwatch.
fn others_may_read(mode: u32) -> bool {
    mode & 0o004 != 0
}

/// The places the SMTP password may come from for this config: its
/// `password_file`, and the file beside the config that the unit loads as
/// its credential.
pub fn password_places(config: &Config) -> PasswordPlaces<'_> {
    match &config.email.transport {
        Transport::Smtp(s) => PasswordPlaces {
            file: s.password_file.as_deref(),
            credential_file: Some(&s.credential_file),
        },
        _ => PasswordPlaces::default(),
    }
}

/// What `check` reports beyond "valid": facts worth knowing, and warnings
/// about what would fail later, each with its fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub notes: Vec<String>,
    /// Each at the line and column of what it is about (line 0: the file
    /// as a whole).
    pub warnings: Vec<config::ConfigError>,
}

/// A warning at `at`, the place of a key (the whole file when none).
fn warning(at: Option<(usize, usize)>, message: String) -> config::ConfigError {
    let (line, col) = at.unwrap_or((0, 0));
    config::ConfigError { line, col, message }
}

/// Looks at what a valid config will meet when it runs: where its state
/// goes, and where its SMTP password comes from.
pub fn check(config: &Config) -> CheckReport {
    let mut report = CheckReport::default();
    report.warnings.extend(config.warnings.iter().cloned());
    report.notes.push(format!(
        "state: {} ({})",
        config.state_dir.display(),
        config.state_dir_from
    ));
    // The main service's config, or an instance's (`feedwatch@NAME`).
    let instance = config::instance_of(&config.path);
    let for_the_service =
        instance.is_some() || config.path.parent() == Some(Path::new(SERVICE_CONFIG_DIR));
    let service_state = instance.map_or_else(
        || config::DEFAULT_STATE_DIR.to_string(),
        |name| format!("{}-{name}", config::DEFAULT_STATE_DIR),
    );
    if for_the_service
        && config.state_dir_from == StateDirFrom::Config
        && config.state_dir != Path::new(&service_state)
    {
        report.warnings.push(warning(
            config.at.state_dir,
            format!(
                "state_dir is set to {}, but the systemd unit can write only {service_state} (its StateDirectory): \
                 remove state_dir from {} to run it as the service",
                config.state_dir.display(),
                config.path.display()
            ),
        ));
    }
    if for_the_service
        && let Ok(meta) = std::fs::metadata(&config.path)
        && !others_may_read(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()))
    {
        report.warnings.push(warning(
            None,
            format!(
                "{} can be read by its owner only, and the service runs as a user of its own \
                 (DynamicUser): it would not start; `chmod 644 {}` (keep the password in \
                 {}, which only root reads)",
                config.path.display(),
                config.path.display(),
                credential_source(config).display()
            ),
        ));
    }
    if let Transport::Smtp(smtp) = &config.email.transport {
        smtp_password(config, smtp, for_the_service, &mut report);
    }
    let (unit, shipped) = match instance {
        Some(_) => ("feedwatch@.service", SHIPPED_TEMPLATE),
        None => ("feedwatch.service", SHIPPED_UNIT),
    };
    if for_the_service && let Some(w) = unit_warning(Path::new(UNITS), unit, shipped) {
        report.warnings.push(warning(None, w));
    }
    report.warnings.sort_by_key(|w| (w.line, w.col));
    report
}

fn smtp_password(
    config: &Config,
    smtp: &config::SmtpConfig,
    for_the_service: bool,
    report: &mut CheckReport,
) {
    let Some(user) = &smtp.user else {
        return;
    };
    match mail::password(password_places(config)) {
        Ok(Some((_, source))) => report.notes.push(format!(
            "smtp: {user}@{}:{}, password from {source}",
            smtp.host, smtp.port
        )),
        Ok(None) => report
            .warnings
            .push(warning(config.at.smtp, mail::no_password(user))),
        Err(e) => report.warnings.push(warning(config.at.smtp, e.to_string())),
    }
    if let Some(file) = &smtp.password_file
        && for_the_service
        && !readable_by_others(file)
    {
        report.warnings.push(warning(
            config.at.password_file,
            format!(
                "password_file {} is not readable by the service, which runs as its own unprivileged \
                 user: leave password_file out and put the password in {}, \
                 which the unit passes to the service as its credential",
                file.display(),
                credential_source(config).display()
            ),
        ));
    }
}

/// Where the unit loads the service's credential from: `smtp-password`
/// beside the config (`/etc/feedwatch`, or an instance's folder).
fn credential_source(config: &Config) -> std::path::PathBuf {
    config
        .path
        .parent()
        .unwrap_or(Path::new(SERVICE_CONFIG_DIR))
        .join("smtp-password")
}

fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
}

/// What `check --probe` found at one feed's URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// A feed; `advertised` is its URL when the configured URL is a web
    /// page that advertises it.
    Feed {
        items: usize,
        moved_to: Option<url::Url>,
        advertised: Option<url::Url>,
        /// For a `full_text` feed: what its newest item's article gives.
        article: Option<ArticleProbe>,
    },
    Failed(FeedError),
}

/// What the article of a `full_text` feed's newest item gives.
#[derive(Debug, Clone, PartialEq)]
pub enum ArticleProbe {
    Text {
        link: String,
        text: String,
    },
    Failed {
        link: String,
        why: String,
    },
    /// The feed has no item with a link.
    NoLink,
}

/// The article of the newest item of `found` (by date; the first without
/// dates), as a poll would read it.
async fn probe_article(config: &Config, fetcher: &Fetcher, found: &Found) -> ArticleProbe {
    let items = &found.parsed.items;
    // The first of the latest date: feeds list their newest first.
    let newest = items
        .iter()
        .filter(|i| i.link.is_some())
        .min_by_key(|i| std::cmp::Reverse(i.published))
        .filter(|i| i.published.is_some())
        .or_else(|| items.iter().find(|i| i.link.is_some()));
    let Some(link) = newest.and_then(|i| i.link.clone()) else {
        return ArticleProbe::NoLink;
    };
    let fetcher = fetcher
        .with_max_body(config.poll.max_article, "max_article")
        .with_firm_deadline();
    let deadline =
        tokio::time::Instant::now() + config.poll.timeout + config.poll.article_parse_time;
    let read = match url::Url::parse(&link) {
        Ok(url) => super::articles::read_article(
            &fetcher,
            super::articles::Reader::of(config),
            &url,
            None,
            deadline,
        )
        .await
        .map_err(|f| f.why),
        Err(e) => Err(e.to_string()),
    };
    match read {
        Ok(text) => ArticleProbe::Text { link, text },
        Err(why) => ArticleProbe::Failed { link, why },
    }
}

/// Fetches each feed of `config` once, as a poll would (the same steps:
/// fetch, parse, the feed a page advertises), without validators and
/// without storing anything.
pub async fn probe(config: &Config) -> Result<Vec<(String, Probe)>, crate::fetch::FetchError> {
    let fetcher = Fetcher::new(config.poll.timeout, config.poll.max_body)?
        .allowing(&config.poll.allow_internal);
    let mut out = Vec::with_capacity(config.feeds.len());
    for feed in &config.feeds {
        let deadline = tokio::time::Instant::now() + config.poll.timeout;
        let none = crate::model::Validators::default();
        let probe = match fetch_and_parse(
            &fetcher,
            config.poll.max_items,
            &feed.url,
            None,
            &none,
            deadline,
        )
        .await
        {
            Ok(Fetch::Parsed(mut found)) => {
                // Parsed: the large-body turn may go to the article.
                found.fetched.large.release();
                let article = if feed.full_text {
                    Some(probe_article(config, &fetcher, &found).await)
                } else {
                    None
                };
                Probe::Feed {
                    items: found.parsed.items.len(),
                    advertised: found.page.map(|_| found.fetched.final_url.clone()),
                    moved_to: found.fetched.moved_to,
                    article,
                }
            }
            // Without validators a server has nothing to answer 304 to.
            Ok(Fetch::NotModified) => Probe::Feed {
                items: 0,
                moved_to: None,
                advertised: None,
                article: None,
            },
            Err(e) => Probe::Failed(e),
        };
        out.push((feed.name.clone(), probe));
    }
    Ok(out)
}

/// How often the whole database is checked: by the daemon (at start, then
/// this often), and by `run --once` when the last check is this old, so
/// that damage is found by whoever runs feedwatch only from cron.
pub const FULL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The full check of the database (its structure, and every stored text
/// unpacked), recorded for `status`. `FullCheck::problem` says the damage
/// with the way back.
pub async fn check_database(ctx: &super::Context) -> Result<FullCheck, StoreError> {
    let at = chrono::Utc::now();
    // On a connection of its own, on a blocking thread: the check reads the
    // whole file (minutes on a 2 GB archive), and the store the lanes, the
    // watchdog's health check and `status` use stays free meanwhile. A
    // database that cannot be opened so (an in-memory one) is checked
    // through the store.
    let Ok(reader) = crate::store::Store::open_read_only(&ctx.config.state_dir) else {
        return ctx.db.call(move |s| s.check_full(at)).await;
    };
    let interrupt = reader.interrupt_handle();
    let mut examine = tokio::task::spawn_blocking(move || reader.examine());
    let found = tokio::select! {
        found = &mut examine => found,
        () = ctx.shutdown_requested() => {
            // A stop does not wait for the check: SQLite ends it.
            interrupt.interrupt();
            examine.await
        }
    };
    let found = found.map_err(StoreError::Task)??;
    ctx.db.call(move |s| s.record_full(at, found)).await
}

/// `check_database` when the last full check is `FULL_CHECK_EVERY` old or
/// there is none; `None` when it was not due.
pub async fn check_database_if_due(ctx: &super::Context) -> Result<Option<FullCheck>, StoreError> {
    let last = ctx.db.call(|s| s.last_integrity()).await?;
    let every = chrono::Duration::from_std(FULL_CHECK_EVERY).unwrap_or(chrono::Duration::MAX);
    let due = last.is_none_or(|(at, _)| chrono::Utc::now() - at >= every);
    if !due {
        return Ok(None);
    }
    check_database(ctx).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_only_its_owner_reads_is_unreadable_by_the_service() {
        assert!(!others_may_read(0o100600), "root's 0600 config");
        assert!(!others_may_read(0o100640), "root's group only");
        assert!(others_may_read(0o100644));
    }

    /// An upgrade that kept the old unit is warned about; the unit this
    /// version ships, or none, is not.
    #[test]
    fn an_installed_unit_other_than_the_shipped_one_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let unit = dir.path().join("feedwatch.service");
        let warn = || unit_warning(dir.path(), "feedwatch.service", SHIPPED_UNIT);
        assert_eq!(warn(), None, "none installed");
        std::fs::write(&unit, SHIPPED_UNIT).unwrap();
        assert_eq!(warn(), None);
        std::fs::write(&unit, SHIPPED_UNIT.replace("ExecReload", "#ExecReload")).unwrap();
        let w = warn().expect("a warning");
        assert!(w.contains("install it again"), "{w}");
    }
}
