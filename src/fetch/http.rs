//! Fetch stage, HTTP: redirects followed by hand (at most 5, a loop fails
//! at once, every hop decided by the SSRF guard: `guard`), conditional GET,
//! the body read under its cap and deadline, and what the response headers
//! say (validators, Cache-Control max-age, Retry-After).

use reqwest::header::{self, HeaderMap};
use std::time::Duration;
use tokio::time::Instant;
use url::{Origin, Url};

use super::{
    FetchError, FetchOutcome, Fetched, Fetcher, LargeBody, MAX_REDIRECTS, SMALL_BODY, guard,
};
use crate::model::Validators;

impl Fetcher {
    /// `configured`: the origin of the configured feed URL, when `url` is
    /// that URL (or where it moved); `None` for a URL found in data.
    pub(super) async fn fetch_http(
        &self,
        url: &Url,
        validators: &Validators,
        configured: Option<Origin>,
        deadline: Instant,
    ) -> Result<FetchOutcome, FetchError> {
        let hops = tokio::time::timeout_at(deadline, self.follow(url, validators, configured))
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
            large,
        })))
    }

    /// Requests `url`, following redirects by hand (at most 5; a loop
    /// fails at once) so that we know whether every hop was permanent
    /// (reported in `status`), and so that the guard decides every hop
    /// before it is requested. The configured origin is trusted only until
    /// the chain leaves it: a server elsewhere cannot send us back inside.
    async fn follow(
        &self,
        url: &Url,
        validators: &Validators,
        mut configured: Option<Origin>,
    ) -> Result<Hops, FetchError> {
        let mut current = url.clone();
        let mut permanent = true;
        let mut visited = vec![url.clone()];
        loop {
            if configured.as_ref().is_some_and(|o| *o != current.origin()) {
                configured = None;
            }
            let client = match guard::decide(&current, configured.as_ref(), &self.allowed)? {
                guard::Hop::Trusted => &self.client,
                guard::Hop::Guarded => &self.guarded,
            };
            let resp = conditional(client.get(current.as_str()), validators)
                .send()
                .await
                .map_err(classify)?;
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
                });
            };
            let next = redirect_target(&current, location)?;
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
    /// Content-Length check (docs/fetching.md, "Fetching"; docs/operations.md, "Bad input"). A body
    /// past `SMALL_BODY` waits for the large-body turn.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        mut deadline: Instant,
    ) -> Result<(Vec<u8>, LargeBody), FetchError> {
        let too_large = || FetchError::TooLarge {
            limit: self.max_body,
            setting: self.max_body_setting,
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

/// Where a redirect leads: http(s) only (the guard judges the hop itself
/// before it is requested).
fn redirect_target(current: &Url, location: &str) -> Result<Url, FetchError> {
    let next = current
        .join(location)
        .map_err(|e| FetchError::Network(format!("bad redirect to '{location}': {e}")))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(FetchError::Network(format!(
            "redirect to a non-HTTP URL: {next}"
        )));
    }
    Ok(next)
}

pub(super) fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_redirect() {
        FetchError::TooManyRedirects
    } else if let Some(refusal) = refusal_in(&e) {
        // The guarded resolver's refusal, under hyper's connect error.
        FetchError::Refused(refusal)
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

/// The guard's refusal somewhere in an error's chain of sources.
fn refusal_in(e: &reqwest::Error) -> Option<guard::Refusal> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<guard::Refusal>() {
            return Some(r.clone());
        }
        source = s.source();
    }
    None
}

/// `max-age=N` of a Cache-Control header (not when the server also says
/// `no-cache`/`no-store`, which ask for freshness, not for distance).
pub(super) fn max_age(cache_control: &str) -> Option<Duration> {
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
pub(super) fn retry_after_value(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
