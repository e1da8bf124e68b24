//! Store, the match step of the pipeline (docs/DESIGN.md §1, §3): every
//! rule runs over just the new items of a group of feeds, in the live
//! matcher (`matcher`), so that the cost of matching does not grow with the
//! archive. A rule's match counts only in the feeds it applies to. Each
//! match carries its snippet (from the summary) and its title with the
//! matched words marked, for the digest: FTS5's own `snippet()` and
//! `highlight()`, on a small index of just the group's matched items, asked
//! with those of the rule's words that these items have
//! (`Matcher::mark_query`). Marks never cost a match: where FTS5 cannot
//! mark one, it alerts unmarked.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

use super::matcher::Matcher;
use super::tokenizer::Replay;
use super::{FTS_DEFINITION, Result};
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
    /// The query its marks were asked with (`Matcher::mark_query`).
    pub mark_query: String,
    pub snippet: String,
    /// The snippet with this rule's words only (`snippet` gets the words of
    /// every rule of the digest that matched).
    pub rule_snippet: String,
    /// The title with the matched words marked.
    pub title: String,
    /// Found in the item's article only, not in what the feed gave.
    pub in_article: bool,
}

/// Runs every rule that applies to one of the group's feeds over the
/// group's candidates, then has FTS5 mark each match (`index_matched`).
/// `feeds_of_group[batch]` is the feed of each batch.
pub(super) fn match_candidates<'r>(
    matcher: &mut Matcher,
    feeds_of_group: &[&str],
    candidates: &[Candidate<'_>],
    rules: &'r [CompiledRule],
    replay: Option<&Replay>,
) -> Result<Vec<Found<'r>>> {
    let feed_of = |batch: usize| feeds_of_group.get(batch).copied().unwrap_or("");
    matcher.prepare(rules)?;
    // (candidate, rule, found in the article only)
    let mut hits: Vec<(usize, usize, bool)> = Vec::new();
    for (n, c) in candidates.iter().enumerate() {
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
        let by_full = matcher.matching(texts(&full), &applies, replay)?;
        if by_full.is_empty() {
            continue;
        }
        // An item with its article is matched again on the feed's own text:
        // a rule that finds the one but not the other found the item in its
        // article only (docs/fetching.md, "Full text").
        let by_teaser = match item.article.as_deref() {
            Some(a) if !a.is_empty() => {
                matcher.matching(texts(&item.summary), &|i| by_full.contains(&i), None)?
            }
            _ => by_full.clone(),
        };
        hits.extend(by_full.into_iter().map(|i| (n, i, !by_teaser.contains(&i))));
    }
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let mut unmarked = std::mem::take(&mut matcher.unmarked);
    let conn = matcher.tokenizer().connection();
    let mut matched: Vec<usize> = hits.iter().map(|h| h.0).collect();
    matched.dedup();
    index_matched(conn, &matched, candidates, &feed_of)?;
    let mut found = Vec::with_capacity(hits.len());
    // Each rule's marks, asked once for the whole group (`marks_of`), with
    // the words of it the group's matched items have (`Matcher::mark_query`).
    let mut asked: HashMap<usize, (String, Asked)> = HashMap::new();
    let mut items_of: HashMap<usize, Vec<i64>> = HashMap::new();
    for &(n, i, _) in &hits {
        items_of.entry(i).or_default().push(candidates[n].item_id);
    }
    for (n, i, in_article) in hits {
        let (c, rule) = (&candidates[n], &rules[i]);
        let (query, marks) = match asked.entry(i) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let query = matcher
                    .mark_query(i)
                    .unwrap_or_else(|| mark_query(rule).to_string());
                let items = items_of.get(&i).map_or(&[][..], Vec::as_slice);
                let marks = marks_of(conn, &query, items)?;
                e.insert((query, marks))
            }
        };
        let (snippet, title) = marked(marks, rule, c, &mut unmarked);
        found.push(Found {
            mark_query: query.clone(),
            item_id: c.item_id,
            batch: c.batch,
            rule,
            rule_snippet: snippet.clone(),
            snippet,
            title,
            in_article,
        });
    }
    mark_every_rule(conn, &mut found, &mut unmarked)?;
    article_snippets_start_clean(&mut found, candidates);
    matcher.unmarked = unmarked;
    Ok(found)
}

/// The matched items of a group, indexed for FTS5's `snippet()` and
/// `highlight()`: staged in a plain table, then indexed by one statement
/// (one segment) into an FTS5 table made anew for the group, in the
/// matcher's own in-memory database. Only matched items are indexed. (The
/// archive's index gives the same marks, but took 260 µs per match, a seek
/// in each segment of a large index, against the matcher's 34 µs per item;
/// measured with `--match-only`.)
fn index_matched<'f>(
    conn: &Connection,
    matched: &[usize],
    candidates: &[Candidate<'_>],
    feed_of: &dyn Fn(usize) -> &'f str,
) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS staged(id INTEGER PRIMARY KEY, \
           title TEXT, summary TEXT, author TEXT, category TEXT, feed TEXT); \
         DELETE FROM staged; DROP TABLE IF EXISTS marks; \
         CREATE VIRTUAL TABLE marks USING fts5({FTS_DEFINITION}, content = 'staged', content_rowid = 'id');"
    ))?;
    {
        let mut stage = tx.prepare_cached(
            "INSERT INTO staged(id, title, summary, author, category, feed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for c in matched.iter().filter_map(|&n| candidates.get(n)) {
            let item = c.item;
            stage.execute(params![
                c.item_id,
                item.title,
                item.full_summary(),
                item.author,
                item.category,
                feed_of(c.batch)
            ])?;
        }
    }
    tx.execute_batch(
        "INSERT INTO marks(rowid, title, summary, author, category, feed)
         SELECT id, title, summary, author, category, feed FROM staged;",
    )?;
    Ok(tx.commit()?)
}

/// The query FTS5 is asked for `rule`'s marks with.
fn mark_query(rule: &CompiledRule) -> &str {
    rule.mark_query.as_deref().unwrap_or(&rule.fts_query)
}

/// A rule's marks over the group's matched items (item id → snippet and
/// marked title), or FTS5's error for its query.
type Asked = std::result::Result<HashMap<i64, (String, String)>, rusqlite::Error>;

/// The snippets and marked titles FTS5 makes of a rule's matches (`items`)
/// in the group, in one statement, with `query` (`Matcher::mark_query`: the
/// few of the rule's phrases the group's matches have). SQLite runs the
/// rowid IN as one FTS5 lookup per item, each parsing that short query;
/// without it, FTS5 made snippets for every matched item of the group that
/// has one of the rule's words, matched by another rule or not (matching
/// took three times as long, benchmark `--match-only`). Asked with the
/// rule's whole expanded query once per match, marks cost matching 22%.
fn marks_of(conn: &Connection, query: &str, items: &[i64]) -> Result<Asked> {
    let sql = format!(
        "SELECT rowid, {}, {} FROM marks
         WHERE marks MATCH ?1 AND rowid IN (SELECT value FROM json_each(?2))",
        snippet_sql(),
        title_sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = serde_json::Value::from(items.to_vec()).to_string();
    let rows = stmt.query_map(params![query, items], |r| {
        Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?)))
    });
    Ok(rows.and_then(|rows| rows.collect()))
}

/// The snippet and marked title FTS5 makes of a match (from `marks_of`).
/// The matcher and FTS5 agree (tests/it/matcher.rs); were they ever not
/// to, the match still alerts, with the summary's beginning, rather than
/// be lost. So does a match of a rule FTS5 cannot mark (said once per
/// rule in `unmarked`).
fn marked(
    asked: &Asked,
    rule: &CompiledRule,
    c: &Candidate<'_>,
    unmarked: &mut HashSet<String>,
) -> (String, String) {
    let plain = || {
        let head: String = c
            .item
            .summary
            .split_whitespace()
            .take(24)
            .collect::<Vec<_>>()
            .join(" ");
        (head, c.item.title.clone())
    };
    match asked {
        Ok(marks) => match marks.get(&c.item_id) {
            Some(row) => row.clone(),
            None => {
                tracing::warn!(rule = %rule.name, item = c.item_id, "the matcher found an item FTS5 does not; alerting without marks");
                plain()
            }
        },
        Err(e) => {
            if unmarked.insert(rule.name.clone()) {
                tracing::warn!(rule = %rule.name, error = %e, "FTS5 cannot mark this rule's matches; they alert with the start of their text, unmarked");
            }
            plain()
        }
    }
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
        let clean = |snippet: &str| -> Option<String> {
            let rest = snippet.strip_prefix('…')?;
            let plain: String = rest
                .chars()
                .filter(|c| *c != MARK_START && *c != MARK_END)
                .take(40)
                .collect();
            (!plain.is_empty() && article.starts_with(&plain)).then(|| rest.to_string())
        };
        if let Some(c) = clean(&f.snippet) {
            f.snippet = c;
        }
        if let Some(c) = clean(&f.rule_snippet) {
            f.rule_snippet = c;
        }
    }
}

/// The snippet FTS5 makes: from the summary (column 1), never the title,
/// which the digest shows anyway. Where the matched words are not in the
/// summary, it is the summary's beginning.
fn snippet_sql() -> String {
    format!("snippet(marks, 1, '{MARK_START}', '{MARK_END}', '…', 24)")
}

/// The whole title, the matched words marked.
fn title_sql() -> String {
    format!("highlight(marks, 0, '{MARK_START}', '{MARK_END}')")
}

/// An item several rules of one digest matched gets one snippet and one
/// headline with the words of every one of them marked: their mark
/// queries joined by OR. Only its own digest's rules: another digest's
/// words are not this digest's reader's (docs/digests.md, "Delivery"). Where FTS5
/// cannot make them, each rule keeps its own (said once per set of rules in
/// `unmarked`).
fn mark_every_rule(
    conn: &Connection,
    found: &mut [Found<'_>],
    unmarked: &mut HashSet<String>,
) -> Result<()> {
    let mut rules_of: HashMap<(i64, &str), Vec<usize>> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        rules_of
            .entry((f.item_id, f.rule.digest.as_str()))
            .or_default()
            .push(i);
    }
    let rules_of: Vec<(i64, Vec<usize>)> = rules_of
        .into_iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|((item, _), at)| (item, at))
        .collect();
    let sql = format!(
        "SELECT {}, {} FROM marks WHERE marks MATCH ?1 AND rowid = ?2",
        snippet_sql(),
        title_sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for (item_id, at) in rules_of {
        let either: Vec<String> = at
            .iter()
            .map(|&i| format!("({})", found[i].mark_query))
            .collect();
        // None if FTS5 disagreed with the matcher or failed (see `marked`):
        // each rule then keeps its own marks.
        let marks: Option<(String, String)> = match stmt
            .query_row(params![either.join(" OR "), item_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        {
            Ok(marks) => marks,
            Err(e) => {
                let rules: Vec<&str> = at.iter().map(|&i| found[i].rule.name.as_str()).collect();
                if unmarked.insert(rules.join(" OR ")) {
                    tracing::warn!(rules = %rules.join(", "), error = %e, "FTS5 cannot mark these rules' matches together; each keeps its own snippet");
                }
                None
            }
        };
        for i in at {
            if let Some((snippet, title)) = &marks {
                found[i].snippet.clone_from(snippet);
                found[i].title.clone_from(title);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_match_fts5_cannot_mark_alerts_with_its_text_and_is_said_once() {
        let rule = crate::rules::rule_from_query("r", "iran", &Default::default()).unwrap();
        let item = Item {
            key: "1".into(),
            link: None,
            title: "Iran".into(),
            summary: "Iran's envoy spoke of a drone.".into(),
            author: String::new(),
            category: String::new(),
            published: None,
            article: None,
        };
        let c = Candidate {
            item_id: 1,
            item: &item,
            batch: 0,
        };
        let failed: Asked = Err(rusqlite::Error::InvalidQuery);
        let mut unmarked = HashSet::new();
        let plain = (
            "Iran's envoy spoke of a drone.".to_string(),
            "Iran".to_string(),
        );
        assert_eq!(marked(&failed, &rule, &c, &mut unmarked), plain);
        assert_eq!(marked(&failed, &rule, &c, &mut unmarked), plain);
        assert_eq!(unmarked.len(), 1);
        // An item FTS5 does not find alerts the same way.
        assert_eq!(marked(&Ok(HashMap::new()), &rule, &c, &mut unmarked), plain);
    }
}
