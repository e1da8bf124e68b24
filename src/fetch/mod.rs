//! Fetch stage: one reqwest client with the limits of docs/fetching.md, "Fetching" (connect and
//! total timeouts, at most 5 redirects, a body cap that holds after
//! decompression because it counts the decoded stream, no proxy from the
//! environment), the SSRF guard at every hop (`guard`), conditional GET,
//! and `file://` feeds. Returns typed outcomes; it never parses. Uses
//! `model`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use url::Url;

use crate::model::{InternalHost, Validators};

mod guard;
mod http;

use http::classify;

pub use guard::{Refusal, is_public};

/// Redirects followed before a fetch fails (docs/fetching.md, "Fetching").
const MAX_REDIRECTS: usize = 5;
/// Connecting is never allowed more than this, whatever the total timeout.
const MAX_CONNECT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq)]
pub enum FetchOutcome {
    /// 304: the stored copy is current; nothing to parse.
    NotModified,
    Fetched(Box<Fetched>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// Where the bytes came from after redirects: the base for relative links.
    pub final_url: Url,
    pub status: u16,
    pub validators: Validators,
    pub content_type: Option<String>,
    /// `Cache-Control: max-age`: the server asks not to be asked again sooner.
    pub max_age: Option<Duration>,
    /// Where every redirect on the way was permanent (301/308), the new URL.
    pub moved_to: Option<Url>,
    /// Held while a large body is in memory: dropping it (with the body,
    /// and what was parsed from it) lets the next large body in.
    pub large: LargeBody,
}

/// The longest a fetch waits for the large-body turn.
const MAX_LARGE_WAIT: Duration = Duration::from_secs(600);

/// A body larger than `SMALL_BODY` is read only while no other is in
/// memory: `concurrency` small bodies and one large one at a time bound a
/// poll's memory, whatever the feeds send (16 large feeds at once peaked
/// at 343 MB, 1.07 GB with `per_host = 16`).
#[derive(Clone, Default)]
pub struct LargeBody(Option<Arc<tokio::sync::OwnedSemaphorePermit>>);

impl LargeBody {
    /// Lets the next large body in now.
    pub fn release(&mut self) {
        self.0 = None;
    }
}

impl std::fmt::Debug for LargeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "LargeBody(held)"
        } else {
            "LargeBody"
        })
    }
}

/// Equal when both hold the large-body turn or neither does (fetch results
/// are compared in tests; which permit is held does not matter).
impl PartialEq for LargeBody {
    fn eq(&self, other: &Self) -> bool {
        self.0.is_some() == other.0.is_some()
    }
}

/// Bodies up to this size are read without waiting for the large-body turn.
pub const SMALL_BODY: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// `setting` names the limit in the config (`max_body`, `max_article`).
    #[error("the body is larger than {setting} ({limit} bytes)")]
    TooLarge { limit: u64, setting: &'static str },
    #[error("timed out")]
    Timeout,
    #[error("too many redirects (more than {MAX_REDIRECTS}, or a loop)")]
    TooManyRedirects,
    /// The SSRF guard would not let a hop lead where it pointed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Network(String),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
}

impl FetchError {
    /// The HTTP status to record, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Fetcher {
    /// For the operator's choices: the configured URL's origin, the hosts
    /// of `allow_internal` (`guard::Hop::Trusted`).
    client: reqwest::Client,
    /// The same, resolving names to public addresses only: for every other
    /// hop (`guard::Hop::Guarded`).
    guarded: reqwest::Client,
    /// `[poll] allow_internal`: hosts inside the network that URLs found
    /// in feed data may lead to.
    allowed: Arc<[InternalHost]>,
    max_body: u64,
    /// The config setting `max_body` comes from, for the error.
    max_body_setting: &'static str,
    /// One large body at a time (`LargeBody`).
    large: Arc<tokio::sync::Semaphore>,
    /// Whether the deadline holds the wait for the large-body turn too
    /// (`firm_deadline`).
    firm_deadline: bool,
}

/// How long an unused connection is kept for the next feed on its host.
const POOL_IDLE: Duration = Duration::from_secs(5);

impl Fetcher {
    pub fn new(timeout: Duration, max_body: u64) -> Result<Self, FetchError> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(concat!(
                    "feedwatch/",
                    env!("CARGO_PKG_VERSION"),
                    " (+https://github.com/feedwatch)"
                ))
                .connect_timeout(timeout.min(MAX_CONNECT))
                .read_timeout(timeout)
                .timeout(timeout)
                // Redirects are followed by hand (`fetch_http`) so that we know
                // whether every hop was permanent (docs/fetching.md, "Fetching": reported in status)
                // and can keep a public feed from leading us inside (`guard`).
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                // Keep-alive helps within a poll (several feeds on one host);
                // between polls, minutes apart, an idle connection only holds
                // memory (its buffers) and a socket.
                .pool_idle_timeout(POOL_IDLE)
        };
        // The chain says why (e.g. no CA certificates on the system).
        let setup = |e| match classify(e) {
            FetchError::Network(m) => FetchError::Network(format!("cannot set up HTTPS: {m}")),
            other => other,
        };
        let client = builder().build().map_err(setup)?;
        let guarded = builder()
            .dns_resolver(std::sync::Arc::new(guard::PublicOnly))
            .build()
            .map_err(setup)?;
        Ok(Fetcher {
            client,
            guarded,
            allowed: Arc::from([]),
            max_body,
            max_body_setting: "max_body",
            large: Arc::new(tokio::sync::Semaphore::new(1)),
            firm_deadline: false,
        })
    }

    /// The same client, letting URLs found in feed data lead to these hosts
    /// inside the network (`[poll] allow_internal`).
    pub fn allowing(&self, hosts: &[InternalHost]) -> Fetcher {
        Fetcher {
            allowed: Arc::from(hosts),
            ..self.clone()
        }
    }

    /// The same client with another cap on bodies, named by its config
    /// setting (`max_article` for the articles of `full_text` feeds).
    pub fn with_max_body(&self, max_body: u64, setting: &'static str) -> Fetcher {
        Fetcher {
            max_body,
            max_body_setting: setting,
            ..self.clone()
        }
    }

    /// The same client whose deadline also bounds the wait for the
    /// large-body turn: an article must be read within its poll's
    /// `article_wait`, and a feed's large body waited up to 10 minutes for
    /// its turn, each minute of it added to its deadline.
    pub fn with_firm_deadline(&self) -> Fetcher {
        Fetcher {
            firm_deadline: true,
            ..self.clone()
        }
    }

    /// Fetches the configured feed URL `url`, conditionally when
    /// `validators` has any. `url` is the operator's choice, and so are its
    /// redirects while they stay on its origin; any other hop is judged by
    /// where it leads (`guard`). The whole fetch — every redirect and the
    /// body — ends by `deadline`: reqwest's own timeout starts again at each
    /// hop (docs/DESIGN.md §6).
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        match url.scheme() {
            "file" => self.fetch_file(url).await,
            _ => {
                self.fetch_http(url, validators, Some(url.origin()), deadline)
                    .await
            }
        }
    }

    /// Fetches `moved`, where the configured feed URL `configured` moved
    /// permanently (an adopted redirect): trusted only if it is on the
    /// configured URL's origin, like the redirect it came from.
    pub async fn fetch_moved(
        &self,
        configured: &Url,
        moved: &Url,
        validators: &Validators,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        self.fetch_http(moved, validators, Some(configured.origin()), deadline)
            .await
    }

    /// Fetches a URL found in fetched data (an article link, the feed a page
    /// advertises), judged at every hop by where it leads, whatever it was
    /// found in: a feed on an internal address is the operator's choice,
    /// the links in it are not. Never a `file://` URL.
    pub async fn fetch_link(
        &self,
        url: &Url,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        self.fetch_http(url, &Validators::default(), None, deadline)
            .await
    }

    /// Waits for the large-body turn. The wait is ours, not the server's:
    /// it moves `deadline` back by as long, unless the deadline is firm.
    async fn large_turn(&self, deadline: &mut Instant) -> Result<LargeBody, FetchError> {
        let asked = Instant::now();
        // Bounded all the same: a turn that never comes must not hold a
        // poll (the wait is given back below only when the turn comes).
        let wait_until = if self.firm_deadline {
            *deadline
        } else {
            asked + MAX_LARGE_WAIT
        };
        let permit = tokio::time::timeout_at(wait_until, Arc::clone(&self.large).acquire_owned())
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| FetchError::Network(e.to_string()))?;
        if !self.firm_deadline {
            *deadline += asked.elapsed();
        }
        Ok(LargeBody(Some(Arc::new(permit))))
    }

    async fn fetch_file(&self, url: &Url) -> Result<FetchOutcome, FetchError> {
        let path = url.to_file_path().map_err(|_| FetchError::File {
            path: url.to_string(),
            message: "not a local path".into(),
        })?;
        let file_err = |e: std::io::Error| FetchError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let meta = tokio::fs::metadata(&path).await.map_err(file_err)?;
        if meta.len() > self.max_body {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
                setting: self.max_body_setting,
            });
        }
        let large = if meta.len() > SMALL_BODY {
            self.large_turn(&mut Instant::now()).await?
        } else {
            LargeBody::default()
        };
        let body = tokio::fs::read(&path).await.map_err(file_err)?;
        Ok(FetchOutcome::Fetched(Box::new(Fetched {
            body,
            final_url: url.clone(),
            status: 200,
            validators: Validators::default(),
            content_type: None,
            max_age: None,
            moved_to: None,
            large,
        })))
    }
}

#[cfg(test)]
mod tests;
