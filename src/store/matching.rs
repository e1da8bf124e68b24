//! Store, the match step of the pipeline (docs/DESIGN.md §1, §3): every
//! rule runs over just the new items of a group of feeds, in the live
//! matcher (`matcher`), so that the cost of matching does not grow with the
//! archive. A rule's match counts only in the feeds it applies to. Each
//! match carries its snippet (from the summary) and its title with the
//! matched words marked, for the digest: FTS5's own `snippet()` and
//! `highlight()` on the item's row in the archive index, which the group's
//! transaction has just written.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;
use super::matcher::Matcher;
use crate::model::{CompiledRule, Item, MARK_END, MARK_START};

/// A new item that may alert, waiting to be matched.
pub(super) struct Candidate<'a> {
    pub item_id: i64,
    pub item: &'a Item,
    /// Index of its batch in the group.
    pub batch: usize,
}

/// One rule's match of one candidate.
pub(super) struct Found<'r> {
    pub item_id: i64,
    pub batch: usize,
    pub rule: &'r CompiledRule,
    pub snippet: String,
    /// The title with the matched words marked.
    pub title: String,
    /// Found in the item's article only, not in what the feed gave.
    pub in_article: bool,
}

/// Runs every rule that applies to one of the group's feeds over the
/// group's candidates, then asks the archive index (`conn`, in the group's
/// transaction) for each match's snippet. `feeds_of_group[batch]` is the
/// feed of each batch.
pub(super) fn match_candidates<'r>(
    matcher: &mut Matcher,
    conn: &Connection,
    feeds_of_group: &[&str],
    candidates: &[Candidate<'_>],
    rules: &'r [CompiledRule],
) -> Result<Vec<Found<'r>>> {
    let feed_of = |batch: usize| feeds_of_group.get(batch).copied().unwrap_or("");
    let mut found = Vec::new();
    for c in candidates {
        let feed = feed_of(c.batch);
        let item = c.item;
        let applies = |i: usize| rules.get(i).is_some_and(|r| r.applies_to(feed));
        let full = item.full_summary();
        let texts = |summary| {
            [
                item.title.as_str(),
                summary,
                &item.author,
                &item.category,
                feed,
            ]
        };
        let hits = matcher.matching(rules, texts(&full), &applies);
        if hits.is_empty() {
            continue;
        }
        // An item with its article is matched again on the feed's own text:
        // a rule that finds the one but not the other found the item in its
        // article only (README, "Full text").
        let by_teaser = match item.article.as_deref() {
            Some(a) if !a.is_empty() => {
                matcher.matching(rules, texts(&item.summary), &|i| hits.contains(&i))
            }
            _ => hits.clone(),
        };
        for i in hits {
            let rule = &rules[i];
            let (snippet, title) = marked(conn, rule, c)?;
            found.push(Found {
                item_id: c.item_id,
                batch: c.batch,
                rule,
                snippet,
                title,
                in_article: !by_teaser.contains(&i),
            });
        }
    }
    mark_every_rule(conn, &mut found)?;
    article_snippets_start_clean(&mut found, candidates);
    Ok(found)
}

/// The snippet and marked title FTS5 makes of a match, from the archive
/// index. The matcher and FTS5 agree (tests/it/matcher.rs); were they ever
/// not to, the match still alerts, with the summary's beginning, rather
/// than be lost.
fn marked(conn: &Connection, rule: &CompiledRule, c: &Candidate<'_>) -> Result<(String, String)> {
    let sql = format!(
        "SELECT {}, {} FROM items_fts WHERE items_fts MATCH ?1 AND rowid = ?2",
        snippet_sql(),
        title_sql()
    );
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![rule.fts_query, c.item_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(row.unwrap_or_else(|| {
        tracing::warn!(rule = %rule.name, item = c.item_id, "the matcher found an item FTS5 does not; alerting without marks");
        let head: String = c.item.summary.split_whitespace().take(24).collect::<Vec<_>>().join(" ");
        (head, c.item.title.clone())
    }))
}

/// FTS5 starts a snippet that does not begin its column with "…"; a
/// snippet that begins the article of a `full_text` item begins a text of
/// its own, and the "…" would read as a cut.
fn article_snippets_start_clean(found: &mut [Found<'_>], candidates: &[Candidate<'_>]) {
    let articles: HashMap<i64, &str> = candidates
        .iter()
        .filter_map(|c| Some((c.item_id, c.item.article.as_deref()?)))
        .collect();
    for f in found.iter_mut() {
        let Some(article) = articles.get(&f.item_id) else {
            continue;
        };
        let Some(rest) = f.snippet.strip_prefix('…') else {
            continue;
        };
        let plain: String = rest
            .chars()
            .filter(|c| *c != MARK_START && *c != MARK_END)
            .take(40)
            .collect();
        if !plain.is_empty() && article.starts_with(&plain) {
            f.snippet = rest.to_string();
        }
    }
}

/// The snippet FTS5 makes: from the summary (column 1), never the title,
/// which the digest shows anyway. Where the matched words are not in the
/// summary, it is the summary's beginning.
fn snippet_sql() -> String {
    format!("snippet(items_fts, 1, '{MARK_START}', '{MARK_END}', '…', 24)")
}

/// The whole title, the matched words marked.
fn title_sql() -> String {
    format!("highlight(items_fts, 0, '{MARK_START}', '{MARK_END}')")
}

/// An item several rules matched gets one snippet with the words of every
/// one of them marked: the snippet of their rules joined by OR.
fn mark_every_rule(conn: &Connection, found: &mut [Found<'_>]) -> Result<()> {
    let mut rules_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        rules_of.entry(f.item_id).or_default().push(i);
    }
    let sql = format!(
        "SELECT {} FROM items_fts WHERE items_fts MATCH ?1 AND rowid = ?2",
        snippet_sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for (item_id, at) in rules_of.into_iter().filter(|(_, at)| at.len() > 1) {
        let either: Vec<String> = at
            .iter()
            .map(|&i| format!("({})", found[i].rule.fts_query))
            .collect();
        let snippet: String =
            stmt.query_row(params![either.join(" OR "), item_id], |r| r.get(0))?;
        for i in at {
            found[i].snippet.clone_from(&snippet);
        }
    }
    Ok(())
}
