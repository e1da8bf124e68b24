//! Store, the match step of the pipeline (docs/DESIGN.md §1, §3): every
//! rule runs over just the new items of a group of feeds, in an in-memory
//! FTS5 table made anew for each group, so that the cost of matching does
//! not grow with the archive. A rule's match counts only in the feeds it
//! applies to. Each match carries its snippet (from the summary) and its
//! title with the matched words marked, for the digest.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use super::{FTS_DEFINITION, Result, StoreError};
use crate::model::{CompiledRule, Item, MARK_END, MARK_START};

/// The matching scratch database (docs/DESIGN.md §3): new items are staged in a plain
/// table, then indexed by one statement into an FTS5 table that reads its
/// text from there (external content: the text is held once).
const SCRATCH_SCHEMA: &str = "CREATE TABLE staged(id INTEGER PRIMARY KEY, \
     title TEXT, summary TEXT, author TEXT, category TEXT, feed TEXT);";

/// The scratch FTS5 table, made anew for each group of new items.
fn scratch_index() -> String {
    format!(
        "DROP TABLE IF EXISTS batch; \
         CREATE VIRTUAL TABLE batch USING fts5({FTS_DEFINITION}, content = 'staged', content_rowid = 'id');"
    )
}

/// The in-memory scratch database, ready for a group.
pub(super) fn open_scratch() -> Result<Connection> {
    let scratch = Connection::open_in_memory()?;
    scratch.execute_batch(SCRATCH_SCHEMA)?;
    scratch.execute_batch(&scratch_index())?;
    Ok(scratch)
}

/// Empties the scratch database and gives its memory back.
pub(super) fn release_scratch(scratch: &Connection) -> Result<()> {
    scratch.execute_batch("DELETE FROM staged; DROP TABLE IF EXISTS batch; VACUUM;")?;
    scratch.execute_batch(&scratch_index())?;
    scratch.execute_batch("PRAGMA shrink_memory;")?;
    Ok(())
}

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
/// group's candidates. `feeds_of_group[batch]` is the feed of each batch.
pub(super) fn match_candidates<'r>(
    scratch: &Connection,
    feeds_of_group: &[&str],
    candidates: &[Candidate<'_>],
    rules: &'r [CompiledRule],
) -> Result<Vec<Found<'r>>> {
    let feed_of = |batch: usize| feeds_of_group.get(batch).copied().unwrap_or("");
    // The feeds with candidates (they come batch by batch, so in runs).
    let mut feeds: Vec<&str> = candidates.iter().map(|c| feed_of(c.batch)).collect();
    feeds.dedup();
    let rules: Vec<&CompiledRule> = rules
        .iter()
        .filter(|r| feeds.iter().any(|f| r.applies_to(f)))
        .collect();
    if candidates.is_empty() || rules.is_empty() {
        return Ok(Vec::new());
    }
    let batch_of = index_candidates(scratch, candidates, &feed_of)?;
    let with_article: HashSet<i64> = candidates
        .iter()
        .filter(|c| c.item.article.as_deref().is_some_and(|a| !a.is_empty()))
        .map(|c| c.item_id)
        .collect();
    let mut found = Vec::new();
    for rule in rules {
        let rows = query_rule(scratch, rule)?;
        // The feed's own text of an item with an article is staged under
        // the negated row id (`index_candidates`).
        let by_teaser: HashSet<i64> = rows.iter().map(|r| -r.0).filter(|id| *id > 0).collect();
        for (item_id, snippet, title) in rows {
            let Some(&batch) = batch_of.get(&item_id) else {
                continue;
            };
            if rule.applies_to(feed_of(batch)) {
                found.push(Found {
                    item_id,
                    batch,
                    rule,
                    snippet,
                    title,
                    in_article: with_article.contains(&item_id) && !by_teaser.contains(&item_id),
                });
            }
        }
    }
    mark_every_rule(scratch, &mut found)?;
    article_snippets_start_clean(&mut found, candidates);
    Ok(found)
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

/// Puts the candidates in a fresh scratch index; returns each one's batch
/// by row id.
fn index_candidates<'f>(
    scratch: &Connection,
    candidates: &[Candidate<'_>],
    feed_of: &dyn Fn(usize) -> &'f str,
) -> Result<HashMap<i64, usize>> {
    // A fresh index per group: deleting rows from an FTS5 table leaves
    // tombstones that every later query has to read, so a long-lived
    // scratch table got slower with every batch (measured: 57 ms per batch
    // of 50 items with 100 rules, after 100,000 items).
    let tx = scratch.unchecked_transaction()?;
    tx.execute_batch("DELETE FROM staged;")?;
    tx.execute_batch(&scratch_index())?;
    let mut batch_of: HashMap<i64, usize> = HashMap::with_capacity(candidates.len());
    {
        let mut stage = tx.prepare_cached(
            "INSERT INTO staged(id, title, summary, author, category, feed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for c in candidates {
            let feed = feed_of(c.batch);
            let item = c.item;
            stage.execute(params![
                c.item_id,
                item.title,
                item.full_summary(),
                item.author,
                item.category,
                feed
            ])?;
            batch_of.insert(c.item_id, c.batch);
            // An item with its article also as the feed gave it, under the
            // negated id: a rule that finds the one but not the other found
            // the item in its article only (README, "Full text").
            if item.article.as_deref().is_some_and(|a| !a.is_empty()) {
                stage.execute(params![
                    -c.item_id,
                    item.title,
                    item.summary,
                    item.author,
                    item.category,
                    feed
                ])?;
            }
        }
    }
    // One statement, so that the group becomes one FTS5 segment: row by
    // row, each insert was a segment of its own (006_fts_by_group.sql) and
    // every query merged them all.
    tx.execute_batch(
        "INSERT INTO batch(rowid, title, summary, author, category, feed)
         SELECT id, title, summary, author, category, feed FROM staged;",
    )?;
    tx.commit()?;
    Ok(batch_of)
}

/// One rule over the scratch index: row id, snippet, marked title of each
/// match. A query FTS5 refuses is the rule's error, named.
fn query_rule(scratch: &Connection, rule: &CompiledRule) -> Result<Vec<(i64, String, String)>> {
    let sql = format!(
        "SELECT rowid, {}, {} FROM batch WHERE batch MATCH ?1",
        snippet_sql(),
        title_sql()
    );
    let mut stmt = scratch.prepare_cached(&sql)?;
    stmt.query_map([&rule.fts_query], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| StoreError::BadQuery {
            rule: rule.name.clone(),
            message: e.to_string(),
        })
}

/// The snippet FTS5 makes: from the summary (column 1), never the title,
/// which the digest shows anyway. Where the matched words are not in the
/// summary, it is the summary's beginning.
fn snippet_sql() -> String {
    format!("snippet(batch, 1, '{MARK_START}', '{MARK_END}', '…', 24)")
}

/// The whole title, the matched words marked.
fn title_sql() -> String {
    format!("highlight(batch, 0, '{MARK_START}', '{MARK_END}')")
}

/// An item several rules matched gets one snippet with the words of every
/// one of them marked: the snippet of their rules joined by OR.
fn mark_every_rule(scratch: &Connection, found: &mut [Found<'_>]) -> Result<()> {
    let mut rules_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        rules_of.entry(f.item_id).or_default().push(i);
    }
    let sql = format!(
        "SELECT {} FROM batch WHERE batch MATCH ?1 AND rowid = ?2",
        snippet_sql()
    );
    let mut stmt = scratch.prepare_cached(&sql)?;
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
