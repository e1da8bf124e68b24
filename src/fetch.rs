//! Fetch stage: one reqwest client with the limits of README, "Fetching" (connect and
//! total timeouts, at most 5 redirects, a body cap that holds after
//! decompression because it counts the decoded stream, no proxy from the
//! environment), conditional GET, and `file://` feeds. Returns typed outcomes;
//! it never parses. Uses `model`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::header::{self, HeaderMap};
use url::Url;

use crate::model::Validators;

mod guard;

pub use guard::is_internal;

/// Redirects followed before a fetch fails (README, "Fetching").
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
    /// Whether the fetch started at a public address: then every URL found
    /// in what it brought (an advertised feed, an article link) is fetched
    /// through the guard, like its redirects.
    pub origin_public: bool,
    /// Held while a large body is in memory: dropping it (with the body,
    /// and what was parsed from it) lets the next large body in.
    pub large: LargeBody,
}

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

impl PartialEq for LargeBody {
    fn eq(&self, _: &Self) -> bool {
        true
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
    #[error("the body is larger than max_body ({limit} bytes)")]
    TooLarge { limit: u64 },
    #[error("timed out")]
    Timeout,
    #[error("too many redirects (more than {MAX_REDIRECTS}, or a loop)")]
    TooManyRedirects,
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
    client: reqwest::Client,
    /// The same, resolving names to public addresses only: for the redirects
    /// of a feed on a public address (`guard`).
    guarded: reqwest::Client,
    max_body: u64,
    /// One large body at a time (`LargeBody`).
    large: Arc<tokio::sync::Semaphore>,
    /// Whether the server a fetch starts at is on the public internet (a
    /// field so that a test on loopback can pretend it is).
    origin_is_public: fn(SocketAddr) -> bool,
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
                // whether every hop was permanent (README, "Fetching": reported in status)
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
            max_body,
            large: Arc::new(tokio::sync::Semaphore::new(1)),
            origin_is_public: |a| !is_internal(a.ip()),
        })
    }

    /// Takes every server for one on the public internet, as a test on
    /// loopback needs to: loopback then stands in for the operator's own
    /// network, which a public feed must not lead us into.
    pub fn assume_public_origins(&mut self) {
        self.origin_is_public = |_| true;
    }

    /// Fetches `url`, conditionally when `validators` has any. The whole
    /// fetch — every redirect and the body — ends by `deadline`: reqwest's
    /// own timeout starts again at each hop (docs/DESIGN.md §6).
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        self.fetch_by(url, validators, None, deadline).await
    }

    /// Fetches a URL found in what `found_in` brought (the feed a page
    /// advertises): when that came from a public address, the URL may not
    /// lead into the operator's network, whatever it names.
    pub async fn fetch_found(
        &self,
        url: &Url,
        found_in: &Fetched,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        if found_in.origin_public && url.scheme() == "file" {
            return Err(FetchError::Network(format!(
                "refused: a document from a public address points to a local file ({url})"
            )));
        }
        // A literal IP never reaches the guarded resolver: check it here.
        guard::check_literal(found_in.origin_public, url).map_err(FetchError::Network)?;
        let origin = Some(found_in.origin_public);
        self.fetch_by(url, &Validators::default(), origin, deadline)
            .await
    }

    async fn fetch_by(
        &self,
        url: &Url,
        validators: &Validators,
        origin_public: Option<bool>,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        match url.scheme() {
            "file" => self.fetch_file(url).await,
            _ => {
                self.fetch_http(url, validators, origin_public, deadline)
                    .await
            }
        }
    }

    /// Waits for the large-body turn. The wait is ours, not the server's:
    /// it moves `deadline` back by as long.
    async fn large_turn(&self, deadline: &mut Instant) -> Result<LargeBody, FetchError> {
        let asked = Instant::now();
        let permit = Arc::clone(&self.large)
            .acquire_owned()
            .await
            .map_err(|e| FetchError::Network(e.to_string()))?;
        *deadline += asked.elapsed();
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
            origin_public: false,
            large,
        })))
    }

    async fn fetch_http(
        &self,
        url: &Url,
        validators: &Validators,
        origin_public: Option<bool>,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        let hops = tokio::time::timeout_at(deadline, self.follow(url, validators, origin_public))
            .await
            .unwrap_or(Err(FetchError::Timeout))?;
        let resp = hops.response;
        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(FetchOutcome::NotModified);
        }
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                status,
                retry_after: retry_after(resp.headers()),
            });
        }
        let headers = resp.headers().clone();
        let final_url = resp.url().clone();
        let (body, large) = self.read_body(resp, deadline).await?;
        let text = |h| {
            headers
                .get(h)
                .and_then(|v: &header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(FetchOutcome::Fetched(Box::new(Fetched {
            body,
            final_url,
            status,
            validators: Validators {
                etag: text(header::ETAG),
                last_modified: text(header::LAST_MODIFIED),
            },
            content_type: text(header::CONTENT_TYPE),
            max_age: text(header::CACHE_CONTROL).as_deref().and_then(max_age),
            moved_to: hops.moved_to,
            origin_public: hops.origin_public,
            large,
        })))
    }

    /// Requests `url`, following redirects by hand (at most 5; a loop
    /// fails at once) so that we know whether every hop was permanent
    /// (reported in `status`), and so that a chain that starts at a public
    /// address is never led to an internal one (`guard`). `origin_public`
    /// is known when the URL was found in fetched data.
    async fn follow(
        &self,
        url: &Url,
        validators: &Validators,
        origin_public: Option<bool>,
    ) -> Result<Hops, FetchError> {
        let mut current = url.clone();
        let mut permanent = true;
        let mut visited = vec![url.clone()];
        let mut origin_public = origin_public;
        loop {
            let client = if origin_public == Some(true) {
                &self.guarded
            } else {
                &self.client
            };
            let resp = conditional(client.get(current.as_str()), validators)
                .send()
                .await
                .map_err(classify)?;
            let public = *origin_public
                .get_or_insert_with(|| resp.remote_addr().is_some_and(self.origin_is_public));
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let (true, Some(location)) =
                (resp.status().is_redirection() && status != 304, location)
            else {
                let moved_to = (permanent && visited.len() > 1).then(|| current.clone());
                return Ok(Hops {
                    response: resp,
                    moved_to,
                    origin_public: public,
                });
            };
            let next = redirect_target(&current, location, public)?;
            if visited.contains(&next) || visited.len() > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects);
            }
            permanent &= matches!(status, 301 | 308);
            visited.push(next.clone());
            current = next;
        }
    }

    /// Reads the body by `deadline`, counting the decoded stream: a small
    /// gzip/brotli bomb cannot get past the cap by expanding after the
    /// Content-Length check (README, "Fetching" and "Bad input"). A body
    /// past `SMALL_BODY` waits for the large-body turn.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        mut deadline: Instant,
    ) -> Result<(Vec<u8>, LargeBody), FetchError> {
        let too_large = || FetchError::TooLarge {
            limit: self.max_body,
        };
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large());
        }
        let mut large = LargeBody::default();
        if resp.content_length().is_some_and(|n| n > SMALL_BODY) {
            large = self.large_turn(&mut deadline).await?;
        }
        let mut body = Vec::new();
        loop {
            let chunk = tokio::time::timeout_at(deadline, resp.chunk())
                .await
                .map_err(|_| FetchError::Timeout)?
                .map_err(classify)?;
            let Some(chunk) = chunk else { break };
            let len = body.len() as u64 + chunk.len() as u64;
            if len > self.max_body {
                return Err(too_large());
            }
            if len > SMALL_BODY && large.0.is_none() {
                large = self.large_turn(&mut deadline).await?;
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, large))
    }
}

/// The last response of a redirect chain, and what the chain said.
struct Hops {
    response: reqwest::Response,
    moved_to: Option<Url>,
    origin_public: bool,
}

fn conditional(
    mut req: reqwest::RequestBuilder,
    validators: &Validators,
) -> reqwest::RequestBuilder {
    if let Some(etag) = &validators.etag {
        req = req.header(header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = &validators.last_modified {
        req = req.header(header::IF_MODIFIED_SINCE, lm);
    }
    req
}

/// Where a redirect leads: http(s) only, and never from a public address
/// to a literal internal one (names are checked by the guarded resolver).
fn redirect_target(current: &Url, location: &str, origin_public: bool) -> Result<Url, FetchError> {
    let next = current
        .join(location)
        .map_err(|e| FetchError::Network(format!("bad redirect to '{location}': {e}")))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(FetchError::Network(format!(
            "redirect to a non-HTTP URL: {next}"
        )));
    }
    guard::check_literal(origin_public, &next).map_err(FetchError::Network)?;
    Ok(next)
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_redirect() {
        FetchError::TooManyRedirects
    } else {
        // The chain holds the useful part ("connection refused", DNS, TLS).
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        FetchError::Network(msg)
    }
}

/// `max-age=N` of a Cache-Control header (not when the server also says
/// `no-cache`/`no-store`, which ask for freshness, not for distance).
fn max_age(cache_control: &str) -> Option<Duration> {
    let lower = cache_control.to_ascii_lowercase();
    if lower.contains("no-cache") || lower.contains("no-store") {
        return None;
    }
    lower
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// `Retry-After`, in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_value(
        headers.get(header::RETRY_AFTER)?.to_str().ok()?,
        std::time::SystemTime::now(),
    )
}

/// `Retry-After: 120` or `Retry-After: Fri, 27 Nov 2026 08:00:00 GMT`.
fn retry_after_value(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wiring, on loopback only: an origin taken for public redirects to
    /// `localhost`, which the guarded resolver refuses; the same redirect from
    /// an origin known to be internal is followed.
    #[tokio::test]
    async fn a_redirect_from_a_public_origin_to_an_internal_name_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let location = format!(
            "http://localhost:{}/inside.xml",
            target.local_addr().unwrap().port()
        );
        let feed_url = Url::parse(&format!(
            "http://127.0.0.1:{}/feed.xml",
            origin.local_addr().unwrap().port()
        ))
        .unwrap();
        let serve = |listener: tokio::net::TcpListener, response: String| {
            tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    let mut buf = [0u8; 2048];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(response.as_bytes()).await;
                }
            })
        };
        serve(
            origin,
            format!(
                "HTTP/1.1 301 Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        serve(
            target,
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<rss>".into(),
        );

        let mut fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
        let soon = || Instant::now() + Duration::from_secs(5);
        let followed = fetcher
            .fetch(&feed_url, &Validators::default(), soon())
            .await;
        assert!(
            matches!(followed, Ok(FetchOutcome::Fetched(_))),
            "internal origin: followed ({followed:?})"
        );
        fetcher.assume_public_origins();
        let refused = fetcher
            .fetch(&feed_url, &Validators::default(), soon())
            .await;
        let err = refused.expect_err("public origin: refused").to_string();
        assert!(err.contains("refused") || err.contains("internal"), "{err}");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Fri, 27 Nov 2026 07:00:00 GMT").unwrap();
        assert_eq!(
            retry_after_value("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after_value("Fri, 27 Nov 2026 08:00:00 GMT", now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            retry_after_value("Fri, 27 Nov 2026 06:00:00 GMT", now),
            Some(Duration::ZERO),
            "in the past"
        );
        assert_eq!(retry_after_value("soon", now), None);
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            max_age("max-age=60, must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("no-cache, max-age=60"), None);
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
