//! Plain data passed between the pipeline stages: what `parse` produces,
//! what `store` keeps and hands back, what `digest` renders and `mail` sends.
//! No stage depends on another stage; they all depend on this file, which
//! depends only on std, chrono and the small crates for its value types.

use chrono::{DateTime, Utc};

/// The sentinel characters FTS5 `snippet()` wraps matched words in. They are
/// stripped from feed text at parse time, so they can only come from us, and
/// `digest` replaces them after escaping (docs/DESIGN.md §3).
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// One feed item as `parse` extracted it: text only, never markup.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Our identity of the item within its feed (README, "What is new"), see `parse::item_key`.
    pub key: String,
    /// The canonical link, when the item has one.
    pub link: Option<String>,
    pub title: String,
    /// Summary and content, as plain text.
    pub summary: String,
    pub author: String,
    /// Categories joined by ", ".
    pub category: String,
    pub published: Option<DateTime<Utc>>,
}

/// HTTP validators for a conditional GET, stored with the items they led to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A rule compiled for the store: an FTS5 query plus where it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    pub name: String,
    pub digest: String,
    /// FTS5 MATCH expression over the columns title, summary, author, category, feed.
    pub fts_query: String,
    /// Feed names the rule applies to; `None` means every feed.
    pub feeds: Option<Vec<String>>,
    /// Line and column of the rule in the config file, for problems found
    /// after validation (SQLite refusing the compiled query).
    pub at: (usize, usize),
}

impl CompiledRule {
    pub fn applies_to(&self, feed: &str) -> bool {
        self.feeds
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == feed))
    }
}

/// What storing one feed's fetched items changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub new_items: usize,
    /// New items that one rule or more matched (each counted once).
    pub matched_items: usize,
}

/// A pending (or historic) match, with everything a digest needs to show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchView {
    pub match_ids: Vec<i64>,
    pub item_id: i64,
    /// Every rule that matched this item, in rule order.
    pub rules: Vec<String>,
    pub feed: String,
    pub title: String,
    /// The title with the matched words between `MARK_START` and `MARK_END`.
    pub title_marked: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// When feedwatch first stored it.
    pub fetched_at: DateTime<Utc>,
    /// Short text with matched words between `MARK_START` and `MARK_END`.
    pub snippet: String,
    /// The item's text, for finding the same story in other feeds.
    pub summary: String,
    /// The other copies of the same story (filled in by `digest`).
    pub also_in: Vec<AlsoIn>,
}

/// A story a digest reported, remembered for a while so that a later copy
/// in another feed is not presented as new (README, "What is new").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentStory {
    pub digest: String,
    pub sent_at: DateTime<Utc>,
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
    /// The text's fingerprint (see `digest::same_story`): sorted shingle
    /// hashes of the whole and of the lede, the feed's boilerplate left out.
    pub shingles: Vec<u64>,
    pub lede: Vec<u64>,
}

/// Another copy of a story a digest shows once: where, and its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlsoIn {
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
}

/// One row of `search` output.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub item_id: i64,
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub snippet: String,
}

/// What a digest ends with (README, "Delivery"): feeds that need the reader's
/// attention and earlier digests that are still undelivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    /// Feeds failing for at least a day: name, since when, last error.
    pub failing: Vec<(String, DateTime<Utc>, String)>,
    /// Feeds never fetched successfully since they were added (a wrong URL,
    /// most likely), however recent: name, last error.
    pub never_fetched: Vec<(String, String)>,
    /// Feeds whose server says they are gone (HTTP 410).
    pub gone: Vec<String>,
    /// Feeds that redirect permanently: name, new URL.
    pub moved: Vec<(String, String)>,
    /// Earlier messages not delivered yet: digest, written at, attempts, last error.
    pub undelivered: Vec<(String, DateTime<Utc>, i64, String)>,
}

impl Attention {
    pub fn is_empty(&self) -> bool {
        self.failing.is_empty()
            && self.never_fetched.is_empty()
            && self.gone.is_empty()
            && self.moved.is_empty()
            && self.undelivered.is_empty()
    }
}

/// A message fixed in the outbox: sent, byte for byte, until accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub digest: String,
    pub message_id: String,
    pub from: String,
    pub recipients: Vec<String>,
    pub message: Vec<u8>,
    pub attempts: i64,
}

/// Per-feed health as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStatus {
    pub name: String,
    pub url: String,
    pub last_fetch: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub items: i64,
    pub consecutive_errors: i64,
    pub last_error: Option<String>,
    /// Backing off until then (after failures, Retry-After, 410).
    pub next_fetch: Option<DateTime<Utc>>,
    /// Where the feed's URL redirects permanently.
    pub moved_to: Option<String>,
}

/// Outbox totals as `status` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    pub queued: i64,
    pub failed: i64,
    pub sent: i64,
}

/// A secret (the SMTP password): never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn rule_scope() {
        let mut r = CompiledRule {
            name: "r".into(),
            digest: "d".into(),
            fts_query: "\"x\"".into(),
            feeds: None,
            at: (1, 1),
        };
        assert!(r.applies_to("any"));
        r.feeds = Some(vec!["a".into()]);
        assert!(r.applies_to("a"));
        assert!(!r.applies_to("b"));
    }
}
