//! Config stage: validation of the rule sections (`[terms]`, `[[rules]]`):
//! each query is parsed and compiled by `rules`, and a query error is mapped
//! back onto the config file so that it names the line and column of the
//! offending character, not just the rule.

use std::collections::BTreeMap;

use super::raw::{self, S};
use super::validate::Validator;
use super::{DEFAULT_DIGEST, DigestConfig, FeedConfig};
use crate::model::CompiledRule;
use crate::rules::{self, Languages, TermSets};

impl Validator<'_> {
    /// A `languages` list (the config's, or a rule's over `default`).
    pub(super) fn languages(
        &mut self,
        raw: Option<&S<Vec<S<String>>>>,
        default: &Languages,
    ) -> Languages {
        let Some(list) = raw else {
            return default.clone();
        };
        let mut out = Vec::new();
        for l in list.get_ref() {
            let code = l.get_ref().to_lowercase();
            if rules::LANGUAGES.contains(&code.as_str()) {
                out.push(code);
            } else {
                self.push(
                    l.span().start,
                    format!(
                        "unknown language '{}'{}: concepts have {}",
                        l.get_ref(),
                        country_of_language(&code).map_or_else(
                            || rules::suggest(&code, &rules::LANGUAGES),
                            |lang| format!(
                                " (did you mean '{lang}'? '{code}' is the country's code)"
                            )
                        ),
                        rules::LANGUAGES.join(", ")
                    ),
                );
            }
        }
        if list.get_ref().is_empty() {
            self.push(
                list.span().start,
                "languages is empty: leave it out for every language",
            );
        }
        Languages(Some(out))
    }

    pub(super) fn term_sets(&mut self, raw: &BTreeMap<String, S<Vec<S<String>>>>) -> TermSets {
        let mut sets = TermSets::new();
        for (name, terms) in raw {
            let empty = TermSets::new();
            let mut nodes = Vec::new();
            for t in terms.get_ref() {
                match rules::parse(t.get_ref(), &empty) {
                    Ok(n) => nodes.push(n),
                    Err(e) => {
                        let at = self.query_offset(t, e.offset);
                        self.push(at, format!("term set '{name}': {e}"));
                    }
                }
            }
            if nodes.is_empty() {
                self.push(
                    terms.span().start,
                    format!("term set '{name}' has no terms"),
                );
                continue;
            }
            sets.insert(name.clone(), rules::Node::Or(nodes));
        }
        sets
    }

    /// Maps an offset inside a TOML string value onto the file. Exact when the
    /// string has no escapes; otherwise points at the string itself.
    fn query_offset(&self, value: &S<String>, offset: usize) -> usize {
        let span = value.span();
        let raw = self.text.get(span.clone()).unwrap_or("");
        let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            3
        } else {
            1
        };
        let inner = raw
            .get(quote..raw.len().saturating_sub(quote))
            .unwrap_or("");
        if inner == value.get_ref() {
            span.start + quote + offset
        } else {
            span.start
        }
    }

    pub(super) fn rules(
        &mut self,
        raw: &[S<raw::RawRule>],
        feeds: &[FeedConfig],
        sets: &TermSets,
        digests: &[DigestConfig],
        languages: &Languages,
    ) -> Vec<CompiledRule> {
        let mut out: Vec<CompiledRule> = Vec::new();
        for r in raw {
            let at = r.span().start;
            let r = r.get_ref();
            let name = r.name.get_ref();
            if out.iter().any(|o| &o.name == name) {
                self.push(
                    r.name.span().start,
                    format!("rule name '{name}' is used twice"),
                );
            }
            let languages = self.languages(r.languages.as_ref(), languages);
            let compiled = self.rule_query(r, at, sets, &languages);
            let scope = r
                .feeds
                .as_ref()
                .map(|list| self.rule_feeds(name, list, feeds));
            let digest = r
                .digest
                .as_ref()
                .map_or(DEFAULT_DIGEST.to_string(), |d| d.get_ref().clone());
            if !digests.iter().any(|d| d.name == digest) {
                let where_ = r
                    .digest
                    .as_ref()
                    .map_or(r.name.span().start, |d| d.span().start);
                let names: Vec<&str> = digests.iter().map(|d| d.name.as_str()).collect();
                self.push(
                    where_,
                    format!(
                        "rule '{name}': no digest named '{digest}'{} (digests: {})",
                        rules::suggest(&digest, &names),
                        names.join(", ")
                    ),
                );
            }
            if let Some(rules::Compiled {
                fts_query,
                query,
                mark_query,
                explanation,
            }) = compiled
            {
                let query_at = r
                    .query
                    .as_ref()
                    .map_or(r.name.span().start, |q| q.span().start);
                out.push(CompiledRule {
                    name: name.clone(),
                    digest,
                    fts_query,
                    query,
                    mark_query,
                    explanation,
                    feeds: scope,
                    at: self.lines.line_col(query_at),
                });
            }
        }
        out
    }

    /// The rule's FTS5 query and its explanation.
    fn rule_query(
        &mut self,
        r: &raw::RawRule,
        at: usize,
        sets: &TermSets,
        languages: &Languages,
    ) -> Option<rules::Compiled> {
        let name = r.name.get_ref();
        let has_lists = !(r.all.is_empty() && r.any.is_empty() && r.none.is_empty());
        match (&r.query, has_lists) {
            (Some(q), false) => match rules::parse(q.get_ref(), sets).and_then(|node| {
                for (offset, warning) in rules::mixed_exact(&node, q.get_ref()) {
                    let at = self.query_offset(q, offset);
                    self.warn(at, format!("rule '{name}': {warning}"));
                }
                rules::compile_rule(node, q.get_ref(), languages)
            }) {
                Ok(s) => Some(s),
                Err(e) => {
                    let off = self.query_offset(q, e.offset);
                    self.push(off, format!("rule '{name}': query {e}"));
                    None
                }
            },
            (Some(q), true) => {
                self.push(
                    q.span().start,
                    format!("rule '{name}': use either query or all/any/none, not both"),
                );
                None
            }
            (None, true) => {
                let strings =
                    |l: &[S<String>]| l.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
                let lists =
                    rules::from_lists(&strings(&r.all), &strings(&r.any), &strings(&r.none), sets)
                        .and_then(|node| {
                            // The list form has no one text to point into:
                            // its warnings name the rule's line.
                            for (_, warning) in rules::mixed_exact(&node, "") {
                                self.warn(r.name.span().start, format!("rule '{name}': {warning}"));
                            }
                            rules::compile_rule(node, "", languages).map_err(|error| {
                                rules::ListError {
                                    list: "none",
                                    index: 0,
                                    error,
                                }
                            })
                        });
                match lists {
                    Ok(s) => Some(s),
                    Err(e) => {
                        let list = match e.list {
                            "all" => &r.all,
                            "any" => &r.any,
                            _ => &r.none,
                        };
                        let off = list
                            .get(e.index)
                            .map_or(at, |v| self.query_offset(v, e.error.offset));
                        self.push(off, format!("rule '{name}': {e}"));
                        None
                    }
                }
            }
            (None, false) => {
                self.push(
                    r.name.span().start,
                    format!("rule '{name}' has no query (or all/any/none list)"),
                );
                None
            }
        }
    }

    fn rule_feeds(&mut self, rule: &str, list: &[S<String>], feeds: &[FeedConfig]) -> Vec<String> {
        let mut names = Vec::new();
        let feed_names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
        for entry in list {
            let e = entry.get_ref();
            if let Some(tag) = e.strip_prefix("tag:") {
                let tagged: Vec<String> = feeds
                    .iter()
                    .filter(|f| f.tags.iter().any(|t| t == tag))
                    .map(|f| f.name.clone())
                    .collect();
                if tagged.is_empty() {
                    self.push(
                        entry.span().start,
                        format!("rule '{rule}': no feed has the tag '{tag}'"),
                    );
                }
                names.extend(tagged);
            } else if feed_names.contains(&e.as_str()) {
                names.push(e.clone());
            } else {
                self.push(
                    entry.span().start,
                    format!(
                        "rule '{rule}': no feed named '{e}'{}",
                        rules::suggest(e, &feed_names)
                    ),
                );
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The language of a country whose code is often written for it (`ua`
/// for Ukrainian; `ir`, Iran, for Persian), which spelling distance
/// would not find: `ua` is as near to `fa` as to `uk`.
fn country_of_language(code: &str) -> Option<&'static str> {
    match code {
        "ua" => Some("uk"),
        "ir" => Some("fa"),
        "gb" | "us" => Some("en"),
        "at" => Some("de"),
        "mx" | "ar" => Some("es"),
        _ => None,
    }
}
