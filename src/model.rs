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
    /// Our identity of the item within its feed (docs/digests.md, "What is new"), see `parse::item_key`.
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
    /// The text of the article the item links to, for a `full_text` feed
    /// (docs/fetching.md, "Full text"); stored and matched after `summary`.
    pub article: Option<String>,
}

impl Item {
    /// What is stored and searched as the item's summary: the feed's text,
    /// then the article's.
    pub fn full_summary(&self) -> std::borrow::Cow<'_, str> {
        match &self.article {
            Some(article) if !article.is_empty() => {
                std::borrow::Cow::Owned(format!("{}\n\n{article}", self.summary))
            }
            _ => std::borrow::Cow::Borrowed(&self.summary),
        }
    }
}

/// Text as one line: headers (a digest's subject) and a digest's title can
/// never start a new header or line (docs/operations.md, "Bad input").
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What became of the articles of one fetch's new items (docs/fetching.md, "Full
/// text"), counted on the feed's row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticleTally {
    pub fetched: i64,
    pub failed: i64,
    /// Why the last one that failed did.
    pub last_error: Option<String>,
}

/// The most an article page may hold before it is parsed (docs/fetching.md, "Full
/// text": `max_article_depth`, `max_article_elements`; `parse::bounds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Elements nested inside one another.
    pub depth: usize,
    /// Elements in the whole page.
    pub elements: usize,
}

impl PageLimits {
    /// The defaults of `max_article_depth` and `max_article_elements`.
    /// Browsers stop nesting at 512 (Blink's tree builder flattens deeper
    /// elements); a long news page has 3,000–15,000 elements (the pages in
    /// `tests/fixtures/articles/` have a few hundred). Measured at the
    /// limits (debug build): 49,000 elements parse in 0.1–0.2 s and peak at
    /// 22–38 MB; 48,000 of them under 500 levels, the worst shape (the
    /// reader walks each element's ancestors), in 1.4 s.
    pub const DEFAULT: PageLimits = PageLimits {
        depth: 512,
        elements: 50_000,
    };
}

/// HTTP validators for a conditional GET, stored with the items they led to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A host inside the operator's network that URLs found in feed data may
/// lead to all the same (`[poll] allow_internal`; docs/fetching.md, "Fetching").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalHost {
    /// As a URL parser writes it: lower case, punycode, an IPv6 address
    /// in brackets (`[::1]`).
    pub host: String,
    /// Only this port, when given; any port otherwise.
    pub port: Option<u16>,
}

/// A rule compiled for the store: an FTS5 query plus where it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    pub name: String,
    pub digest: String,
    /// FTS5 MATCH expression over the columns title, summary, author, category, feed.
    pub fts_query: String,
    /// The same query as a tree, for the live matcher (`store::matcher`),
    /// which evaluates it on each new item's tokens.
    pub query: Query,
    /// The FTS5 query the rule's marks (snippet, marked title) are asked
    /// with, when FTS5 would mark `fts_query` wrong (a NEAR of several
    /// phrases: docs/DESIGN.md §6); `None`: `fts_query` itself.
    pub mark_query: Option<String>,
    /// What the rule finds after folding, and why (`search --explain`).
    pub explanation: String,
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

/// A set of the FTS5 index's columns, one bit per column in the order of
/// `Columns::NAMES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns(pub u8);

impl Columns {
    /// The index's columns, in order.
    pub const NAMES: [&'static str; 5] = ["title", "summary", "author", "category", "feed"];
    pub const ALL: Columns = Columns(0b1_1111);

    /// The column called `name`, if the index has one.
    pub fn named(name: &str) -> Option<Columns> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Columns(1 << i))
    }

    pub fn and(self, other: Columns) -> Columns {
        Columns(self.0 & other.0)
    }

    pub fn has(self, column: usize) -> bool {
        column < 8 && self.0 & (1 << column) != 0
    }
}

/// One phrase of a query: its text, tokenised by the matcher as FTS5
/// tokenises query text; `prefix` when its last token is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    pub text: String,
    pub prefix: bool,
}

/// `text` as one FTS5 string: in double quotes, its own doubled.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

impl Phrase {
    /// The phrase in FTS5 syntax with its column filter (`{title summary}
    /// : "iran"*`); `None` when it may be in no column.
    pub fn to_fts5(&self, columns: Columns) -> Option<String> {
        let names: Vec<&str> = Columns::NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| columns.has(*i))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            return None;
        }
        let star = if self.prefix { "*" } else { "" };
        Some(format!(
            "{{{}}} : {}{star}",
            names.join(" "),
            quote(&self.text)
        ))
    }
}

/// A compiled rule as a tree: exactly what its FTS5 query (`fts_query`)
/// asks, with every column filter pushed down to the phrases.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// The phrase in one of `columns`.
    Phrase {
        phrase: Phrase,
        columns: Columns,
    },
    /// Every phrase in one column of `columns`, at most `distance` tokens
    /// between the end of one and the start of the last (FTS5's NEAR).
    Near {
        phrases: Vec<Phrase>,
        distance: u32,
        columns: Columns,
    },
    And(Vec<Query>),
    Or(Vec<Query>),
    /// `positive` and not `negative` (FTS5's binary NOT).
    Not {
        positive: Box<Query>,
        negative: Box<Query>,
    },
}

impl Query {
    /// Calls `each` with every phrase that can make the query match (not
    /// those under a NOT), and its columns: the words a match's marks show.
    pub fn positive_phrases(&self, each: &mut dyn FnMut(&Phrase, Columns)) {
        match self {
            Query::Phrase { phrase, columns } => each(phrase, *columns),
            Query::Near {
                phrases, columns, ..
            } => phrases.iter().for_each(|p| each(p, *columns)),
            Query::And(parts) | Query::Or(parts) => {
                parts.iter().for_each(|p| p.positive_phrases(each));
            }
            Query::Not { positive, .. } => positive.positive_phrases(each),
        }
    }
}

/// What storing one feed's fetched items changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub new_items: usize,
    /// New items that one rule or more matched (each counted once).
    pub matched_items: usize,
    /// New items held for their articles, unmatched yet (docs/fetching.md, "Full
    /// text"): each item's place in the fetch and its row id.
    pub held: Vec<(usize, i64)>,
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
    /// Each rule's own snippet (its words only), in rule order: a line
    /// pointing to the item from another rule's section shows that rule's.
    pub rule_snippets: Vec<(String, String)>,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// When feedwatch first stored it.
    pub fetched_at: DateTime<Utc>,
    /// Short text with matched words between `MARK_START` and `MARK_END`.
    pub snippet: String,
    /// Every rule found it only in the article its link leads to, not in
    /// what the feed gave (docs/fetching.md, "Full text").
    pub in_article: bool,
    /// The item's text, for finding the same story in other feeds; empty
    /// when `unreadable`.
    pub summary: String,
    /// Its stored text cannot be read (damage in the database): it is
    /// shown by its title, link and the snippet kept with the match.
    pub unreadable: bool,
    /// The other copies of the same story (filled in by `digest`).
    pub also_in: Vec<AlsoIn>,
}

/// A story a digest reported, remembered for a while so that a later copy
/// in another feed is not presented as new (docs/digests.md, "What is new").
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlsoIn {
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
    /// A later copy that says something the copy shown does not (an
    /// update: a sentence added, a figure revised): when, and those
    /// sentences. Empty for a plain copy.
    pub updated: Option<DateTime<Utc>>,
    pub changed: Vec<String>,
    /// Its language (a BCP 47 code) when it is not the shown copy's: one
    /// event told in several languages is one entry (docs/reference.md, "Concepts").
    pub lang: Option<String>,
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
    /// Its stored text cannot be read (damage in the database): found by
    /// the index, shown by its title and link, with no snippet.
    pub unreadable: bool,
}

/// What a digest ends with (docs/digests.md, "Delivery"): feeds that need the reader's
/// attention and earlier digests that are still undelivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    /// Feeds that worked and have failed `[poll] failing_after` polls in a row.
    pub failing: Vec<FailingFeed>,
    /// Feeds never fetched successfully since they were added (a wrong URL,
    /// most likely), however recent.
    pub never_fetched: Vec<NeverFetched>,
    /// Feeds whose server says they are gone (HTTP 410).
    pub gone: Vec<String>,
    /// Feeds that redirect permanently.
    pub moved: Vec<MovedFeed>,
    /// Earlier messages not delivered yet.
    pub undelivered: Vec<Undelivered>,
}

/// A feed failing since `since`, `polls` polls in a row; `error` is the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingFeed {
    pub feed: String,
    pub since: DateTime<Utc>,
    pub polls: i64,
    pub error: String,
}

/// What a scheduled digest covered, from its last message to this one
/// (docs/digests.md, "Coverage and outages"): its own feeds only, those its rules
/// read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// The last message of this digest; `None` before its first, when the
    /// period starts with its feeds' first polls.
    pub from: Option<DateTime<Utc>>,
    /// The feeds its rules read.
    pub feeds: usize,
    /// Of them, those fetched successfully at least once in the period.
    pub read: usize,
    /// The others, by name.
    pub unread: Vec<String>,
    /// New items those feeds brought in the period, every one checked
    /// against the rules.
    pub items: i64,
    /// Feeds whose articles could not be read in the period, and how many
    /// (`full_text` feeds: their items were matched on the feed's text).
    pub unreadable_articles: Vec<(String, i64)>,
}

/// What an immediate digest tells of its own feeds when it happens (docs/digests.md,
/// "Coverage and outages"): each outage once, when it starts, and each
/// recovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceNews {
    /// Feeds that have just passed `failing_after` failed polls in a row.
    pub down: Vec<FailingFeed>,
    /// Feeds said to be down that have been fetched since: (feed, down since).
    pub back: Vec<(String, DateTime<Utc>)>,
}

impl SourceNews {
    pub fn is_empty(&self) -> bool {
        self.down.is_empty() && self.back.is_empty()
    }
}

/// A feed never fetched successfully; `error` is the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeverFetched {
    pub feed: String,
    pub error: String,
}

/// A feed whose URL redirects permanently to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedFeed {
    pub feed: String,
    pub to: String,
}

/// A message of `digest` written at `written_at`, tried `attempts` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub digest: String,
    pub written_at: DateTime<Utc>,
    pub attempts: i64,
    pub error: String,
}

impl Attention {
    pub fn is_empty(&self) -> bool {
        self.failing.is_empty()
            && self.never_fetched.is_empty()
            && self.gone.is_empty()
            && self.moved.is_empty()
            && self.undelivered.is_empty()
    }

    /// A key for each problem, the same for as long as the problem lasts
    /// (an immediate digest shows each one once a day).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(self.failing.iter().map(|f| failing_key(&f.feed)));
        keys.extend(self.never_fetched.iter().map(|f| failing_key(&f.feed)));
        keys.extend(self.gone.iter().map(|f| gone_key(f)));
        keys.extend(self.moved.iter().map(moved_key));
        keys.extend(self.undelivered.iter().map(undelivered_key));
        keys
    }

    /// Only the problems of the feeds `reads` accepts (a digest's own
    /// feeds), and every undelivered message.
    pub fn for_feeds(&self, reads: impl Fn(&str) -> bool) -> Attention {
        Attention {
            failing: self
                .failing
                .iter()
                .filter(|f| reads(&f.feed))
                .cloned()
                .collect(),
            never_fetched: self
                .never_fetched
                .iter()
                .filter(|f| reads(&f.feed))
                .cloned()
                .collect(),
            gone: self.gone.iter().filter(|f| reads(f)).cloned().collect(),
            moved: self
                .moved
                .iter()
                .filter(|m| reads(&m.feed))
                .cloned()
                .collect(),
            undelivered: self.undelivered.clone(),
        }
    }

    /// Only the problems whose key `keep` accepts.
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Attention {
        fn kept<T: Clone>(
            all: &[T],
            key: impl Fn(&T) -> String,
            keep: &dyn Fn(&str) -> bool,
        ) -> Vec<T> {
            all.iter().filter(|x| keep(&key(x))).cloned().collect()
        }
        Attention {
            failing: kept(&self.failing, |f| failing_key(&f.feed), &keep),
            never_fetched: kept(&self.never_fetched, |f| failing_key(&f.feed), &keep),
            gone: kept(&self.gone, |f| gone_key(f), &keep),
            moved: kept(&self.moved, moved_key, &keep),
            undelivered: kept(&self.undelivered, undelivered_key, &keep),
        }
    }
}

fn failing_key(feed: &str) -> String {
    format!("failing:{feed}")
}

fn gone_key(feed: &str) -> String {
    format!("gone:{feed}")
}

fn moved_key(m: &MovedFeed) -> String {
    format!("moved:{}:{}", m.feed, m.to)
}

fn undelivered_key(u: &Undelivered) -> String {
    format!("undelivered:{}:{}", u.digest, u.written_at.timestamp())
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
    /// The last fetch that succeeded (a 200 or a 304).
    pub last_success: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub items: i64,
    pub consecutive_errors: i64,
    pub last_error: Option<String>,
    /// Backing off until then (after failures, Retry-After, 410).
    pub next_fetch: Option<DateTime<Utc>>,
    /// Where the feed's URL redirects permanently.
    pub moved_to: Option<String>,
    /// Articles fetched for its items and those that failed, with why the
    /// last one did (`full_text` feeds).
    pub articles: ArticleTally,
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
            query: Query::Or(Vec::new()),
            mark_query: None,
            explanation: String::new(),
            feeds: None,
            at: (1, 1),
        };
        assert!(r.applies_to("any"));
        r.feeds = Some(vec!["a".into()]);
        assert!(r.applies_to("a"));
        assert!(!r.applies_to("b"));
    }
}
