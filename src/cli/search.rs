//! Command line: `search QUERY` / `search --rule NAME`. Reads the archive
//! without writing to it, newest first; matched words are bold on a
//! terminal (unless `NO_COLOR` is set) and `*word*` otherwise. Like grep,
//! it exits 1 when nothing matched. `--explain` says what the query finds
//! after folding instead (docs/reference.md, "Rule syntax"), and needs no archive.

use chrono::Utc;

use super::output::{Out, outln};
use super::{CliError, local_time, rfc3339};
use crate::config::{self, Config};
use crate::model::{MARK_END, MARK_START};
use crate::rules;
use crate::store::Store;

/// What to search for.
pub struct What<'a> {
    pub query: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub since: Option<&'a str>,
    pub limit: usize,
}

fn find_rule<'c>(
    config: &'c Config,
    name: &str,
) -> Result<&'c crate::model::CompiledRule, CliError> {
    config.rules.iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
        CliError::Usage(format!(
            "no rule named '{name}'{}",
            rules::suggest(name, &names)
        ))
    })
}

/// What a search runs: the FTS5 query, the query its hits are marked with
/// when FTS5 would mark that one wrong, and the feed scope.
struct Query {
    fts: String,
    marks: Option<String>,
    scope: Option<Vec<String>>,
}

/// A query's FTS5 text and feed scope: a rule is searched with its scope,
/// so that the answer is what it would have matched live.
fn query(config: &Config, what: &What<'_>) -> Result<Query, CliError> {
    match (what.query, what.rule) {
        (_, Some(name)) => {
            let rule = find_rule(config, name)?;
            Ok(Query {
                fts: rule.fts_query.clone(),
                marks: rule.mark_query.clone(),
                scope: rule.feeds.clone(),
            })
        }
        // Term sets from the config apply to ad-hoc queries too.
        (Some(q), None) => rules::parse(q, &config.terms)
            .and_then(|node| rules::compile_rule(node, q, &config.languages))
            .map(|c| Query {
                fts: c.fts_query,
                marks: c.mark_query,
                scope: None,
            })
            .map_err(|e| CliError::Usage(format!("query {e}"))),
        (None, None) => Err(CliError::Usage("give a query or --rule NAME".into())),
    }
}

/// `search --explain`: the query or rule after folding, and why.
pub fn explain(config: &Config, what: &What<'_>) -> Result<(), CliError> {
    let text = match (what.query, what.rule) {
        (_, Some(name)) => {
            let rule = find_rule(config, name)?;
            format!("rule {}\n{}", rule.name, rule.explanation)
        }
        (Some(q), None) => rules::parse(q, &config.terms)
            .and_then(|node| rules::explain(node, q, &config.languages))
            .map_err(|e| CliError::Usage(format!("query {e}")))?,
        (None, None) => return Err(CliError::Usage("give a query or --rule NAME".into())),
    };
    let mut out = Out::new();
    outln!(out, "{}", text.trim_end());
    Ok(())
}

pub fn search(config: &Config, what: &What<'_>, json: bool) -> Result<(), CliError> {
    let q = query(config, what)?;
    let since = what
        .since
        .map(|s| config::values::parse_duration(s).map_err(CliError::Usage))
        .transpose()?
        .map(|d| {
            // Longer ago than time itself: everything.
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| Utc::now().checked_sub_signed(d))
                .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
        });
    let store = Store::open_read_only(&config.state_dir)?;
    let hits = store.search_marked(
        &q.fts,
        q.marks.as_deref(),
        q.scope.as_deref(),
        since,
        what.limit,
    )?;
    let mut out = Out::new();
    if json {
        let ids: Vec<i64> = hits.iter().map(|h| h.item_id).collect();
        let deliveries = store.deliveries(&ids)?;
        let rows: Vec<_> = hits
            .iter()
            .map(|h| {
                let matches: Vec<_> = deliveries
                    .get(&h.item_id)
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        serde_json::json!({
                            "rule": d.rule, "digest": d.digest,
                            "message_id": d.message_id, "sent_at": d.sent_at.map(rfc3339),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "id": h.item_id,
                    "published": h.published.map(rfc3339),
                    "feed": h.feed, "title": h.title, "link": h.link,
                    "snippet": show_marks(&h.snippet, false),
                    "unreadable": h.unreadable,
                    "matches": matches,
                })
            })
            .collect();
        outln!(out, "{}", serde_json::Value::Array(rows));
    } else {
        let bold = super::logging::colour(out.is_terminal());
        for h in &hits {
            let date = h.published.map(|d| local_time(d, config.timezone));
            outln!(
                out,
                "{}  {}  {}",
                date.as_deref().unwrap_or("undated"),
                h.feed,
                h.title
            );
            if let Some(link) = &h.link {
                outln!(out, "    {link}");
            }
            if h.unreadable {
                outln!(out, "    (its text cannot be read: see below)\n");
            } else {
                outln!(out, "    {}\n", show_marks(&h.snippet, bold));
            }
        }
    }
    let unreadable = hits.iter().filter(|h| h.unreadable).count();
    if unreadable > 0 {
        // Said, not an exit code: the search found what it found.
        eprintln!(
            "feedwatch: of the items found, {}",
            crate::store::unreadable_way_back(unreadable as i64)
        );
    }
    if hits.is_empty() {
        return Err(CliError::NothingFound("no stored item matches".into()));
    }
    Ok(())
}

/// Snippet markers as bold, or as `*word*`.
fn show_marks(snippet: &str, bold: bool) -> String {
    let (on, off) = if bold {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("*", "*")
    };
    // One line: a full_text item's feed text and article are paragraphs.
    let one_line = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.replace(MARK_START, on).replace(MARK_END, off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_bold_on_a_terminal_and_plain_when_piped() {
        let s = format!("the {MARK_START}Iranian{MARK_END} drones");
        assert_eq!(show_marks(&s, false), "the *Iranian* drones");
        assert_eq!(show_marks(&s, true), "the \x1b[1;33mIranian\x1b[0m drones");
    }
}
