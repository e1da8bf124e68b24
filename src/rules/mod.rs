//! Rules stage: the watch-rule language (docs/reference.md, "Rule syntax") → an AST →
//! an FTS5 MATCH expression; errors carry the position in the query. Pure: no I/O, no SQLite; `store` runs what this
//! produces, so a rule gives the same answer live and in `search` (docs/DESIGN.md §3).
//!
//! Grammar (operators are upper case; everything else is a search term):
//! ```text
//! query   := or EOF
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*
//! unary   := "NOT" unary | "-" primary | primary
//! primary := [field ":"] (word["*"] | "phrase" | "=" (word | "phrase") | "(" or ")" | NEAR(t t…, n) | @set)
//! ```
//! Every term is quoted in the FTS5 output, so no user text is ever read as
//! FTS5 syntax; case, accents and inflections are folded by the index's
//! `porter unicode61 remove_diacritics 2` tokenizer, not here.

pub mod decide;
mod fold;
mod marks;
mod parser;

use std::collections::HashMap;
use std::fmt;

use crate::model::{Columns, CompiledRule, Phrase, Query, quote};

pub use crate::lexicon::LANGUAGES;
pub use fold::{Folded, Languages, fold};
pub use parser::parse;

/// The columns of the FTS5 index a rule may scope a term to.
pub const FIELDS: [&str; 5] = ["title", "summary", "author", "category", "feed"];

/// Where a term without a field is looked for: everything but the feed's
/// name, which is searched only with `feed:` (a feed named `kyiv-city`
/// must not make every one of its items match `kyiv`).
const UNQUALIFIED: &str = "{title summary author category} : ";

/// NEAR's distance when the query gives none (FTS5's own default).
const DEFAULT_NEAR: u32 = 10;

/// A rule error: where in the query, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {pos}: {message}")]
pub struct RuleError {
    /// 1-based character position in the query text.
    pub pos: usize,
    /// Byte offset in the query text (for mapping back onto the config file).
    pub offset: usize,
    pub message: String,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Term {
        text: String,
        prefix: bool,
    },
    Phrase {
        text: String,
    },
    Near {
        terms: Vec<Node>,
        distance: u32,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    /// `NOT x` or `-x`; `at` is the byte offset of the operator in the
    /// query, for the error when nothing positive is left beside it.
    Not {
        inner: Box<Node>,
        at: usize,
    },
    /// `field:x`: `inner` looked for in one column only.
    Field {
        field: String,
        inner: Box<Node>,
    },
    /// `=word` or `="phrase"`: a term kept as written, never expanded into
    /// its concept's forms (a Term or a Phrase).
    Exact(Box<Node>),
}

/// Named term sets (`[terms]`), already parsed, used as `@name`.
pub type TermSets = HashMap<String, Node>;

pub(crate) fn error(src: &str, offset: usize, message: impl Into<String>) -> RuleError {
    let offset = offset.min(src.len());
    let pos = src
        .get(..offset)
        .map_or(offset, |s| s.chars().count())
        .saturating_add(1);
    RuleError {
        pos,
        offset,
        message: message.into(),
    }
}

/// `, did you mean 'x'?` when a known word is close to what was written.
pub fn suggest(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::levenshtein(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default()
}

/// Compiles a parsed query to an FTS5 MATCH expression. Fails (with the
/// position of the offending NOT) where FTS5 has no meaning for the query:
/// a negation with no positive term beside it.
pub fn compile(node: &Node, src: &str) -> Result<String, RuleError> {
    compile_in(node, src, UNQUALIFIED)
}

/// `compile`, with `columns` the column filter of the terms without a
/// field of their own (empty inside a field).
fn compile_in(node: &Node, src: &str, columns: &str) -> Result<String, RuleError> {
    let compile = |n: &Node, src: &str| compile_in(n, src, columns);
    match node {
        Node::Term { text, prefix } => Ok(if *prefix {
            format!("{columns}{}*", quote(text))
        } else {
            format!("{columns}{}", quote(text))
        }),
        Node::Phrase { text } => Ok(format!("{columns}{}", quote(text))),
        Node::Near { terms, distance } => {
            let parts: Result<Vec<_>, _> = terms.iter().map(|t| compile_in(t, src, "")).collect();
            Ok(format!("{columns}NEAR({}, {distance})", parts?.join(" ")))
        }
        Node::And(parts) => {
            let mut pos = Vec::new();
            let mut neg = Vec::new();
            let mut first_not = None;
            for part in parts {
                match part {
                    Node::Not { inner, at } => {
                        first_not.get_or_insert(*at);
                        neg.push(compile(inner, src)?);
                    }
                    other => pos.push(compile(other, src)?),
                }
            }
            if pos.is_empty() {
                return Err(no_positive(src, first_not.unwrap_or(0)));
            }
            let positive = if pos.len() == 1 {
                pos.remove(0)
            } else {
                format!("({})", pos.join(" AND "))
            };
            Ok(match neg.len() {
                0 => positive,
                1 => format!("({positive} NOT {})", neg[0]),
                _ => format!("({positive} NOT ({}))", neg.join(" OR ")),
            })
        }
        Node::Or(parts) if parts.len() == 1 => compile(&parts[0], src),
        Node::Or(parts) => {
            let compiled: Result<Vec<_>, _> = parts.iter().map(|p| compile(p, src)).collect();
            Ok(format!("({})", compiled?.join(" OR ")))
        }
        Node::Not { at, .. } => Err(no_positive(src, *at)),
        Node::Field { field, inner } => Ok(format!("{field} : ({})", compile_in(inner, src, "")?)),
        Node::Exact(inner) => compile(inner, src),
    }
}

fn no_positive(src: &str, at: usize) -> RuleError {
    error(
        src,
        at,
        "a negation needs a positive term beside it (write 'iran -israel', not just '-israel')",
    )
}

/// Parses, folds (`fold`: `drone` also finds UAV and безпілотник, `Іран`
/// "іранські") into every language and compiles in one step: how a rule's
/// query and `search` are compiled.
pub fn compile_query(src: &str, sets: &TermSets) -> Result<String, RuleError> {
    compile_rule(parse(src, sets)?, src, &Languages::default()).map(|c| c.fts_query)
}

/// A rule folded and compiled: the FTS5 query `search` runs, the same
/// query as a tree for the live matcher, the query its marks are asked
/// with when FTS5 would mark its own wrong (`marks`), and what `explain`
/// says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub fts_query: String,
    pub query: Query,
    pub mark_query: Option<String>,
    pub explanation: String,
}

/// A parsed rule folded into `languages` and compiled (`Compiled`).
pub fn compile_rule(node: Node, src: &str, languages: &Languages) -> Result<Compiled, RuleError> {
    let explanation = explain(node.clone(), src, languages)?;
    let folded = fold(node, languages).0;
    let query = tree(&folded, None);
    Ok(Compiled {
        fts_query: compile(&folded, src)?,
        mark_query: marks::mark_query(&query),
        query,
        explanation,
    })
}

/// A rule of the default digest over every feed, from its query: for
/// tests and tools that have a query and no config file.
pub fn rule_from_query(name: &str, src: &str, sets: &TermSets) -> Result<CompiledRule, RuleError> {
    let c = compile_rule(parse(src, sets)?, src, &Languages::default())?;
    Ok(CompiledRule {
        name: name.to_string(),
        digest: "default".to_string(),
        fts_query: c.fts_query,
        query: c.query,
        mark_query: c.mark_query,
        explanation: c.explanation,
        feeds: None,
        at: (1, 1),
    })
}

/// The columns a term without a field is looked for in (`UNQUALIFIED`).
const UNQUALIFIED_COLUMNS: Columns = Columns(0b0_1111);

/// What `compile` makes of a node, as a tree, for a query `compile`
/// accepted. `scope` is the column filter of the fields around the node
/// (None at the top, where `UNQUALIFIED` applies): FTS5 intersects nested
/// column filters, and `compile` gives each term its filter.
fn tree(node: &Node, scope: Option<Columns>) -> Query {
    let columns = scope.unwrap_or(UNQUALIFIED_COLUMNS);
    match node {
        Node::Term { text, prefix } => Query::Phrase {
            phrase: Phrase {
                text: text.clone(),
                prefix: *prefix,
            },
            columns,
        },
        Node::Phrase { text } => Query::Phrase {
            phrase: Phrase {
                text: text.clone(),
                prefix: false,
            },
            columns,
        },
        Node::Near { terms, distance } => Query::Near {
            phrases: terms.iter().filter_map(near_phrase).collect(),
            distance: *distance,
            columns,
        },
        Node::And(parts) => {
            let (neg, pos): (Vec<&Node>, Vec<&Node>) =
                parts.iter().partition(|p| matches!(p, Node::Not { .. }));
            let mut pos: Vec<Query> = pos.into_iter().map(|p| tree(p, scope)).collect();
            let positive = if pos.len() == 1 {
                pos.remove(0)
            } else {
                Query::And(pos)
            };
            let neg: Vec<Query> = neg
                .into_iter()
                .filter_map(|n| match n {
                    Node::Not { inner, .. } => Some(tree(inner, scope)),
                    _ => None,
                })
                .collect();
            if neg.is_empty() {
                positive
            } else {
                Query::Not {
                    positive: Box::new(positive),
                    negative: Box::new(Query::Or(neg)),
                }
            }
        }
        Node::Or(parts) => Query::Or(parts.iter().map(|p| tree(p, scope)).collect()),
        // `compile` refuses a negation with nothing positive beside it.
        Node::Not { .. } => Query::Or(Vec::new()),
        Node::Field { field, inner } => {
            let own = Columns::named(field).unwrap_or(Columns(0));
            tree(inner, Some(scope.map_or(own, |outer| outer.and(own))))
        }
        Node::Exact(inner) => tree(inner, scope),
    }
}

/// A term of a NEAR group as a phrase (an exact one too: folding unwraps
/// it, but a tree of a rule not folded keeps it).
fn near_phrase(t: &Node) -> Option<Phrase> {
    match t {
        Node::Term { text, prefix } => Some(Phrase {
            text: text.clone(),
            prefix: *prefix,
        }),
        Node::Phrase { text } => Some(Phrase {
            text: text.clone(),
            prefix: false,
        }),
        Node::Exact(inner) => near_phrase(inner),
        _ => None,
    }
}

/// What a rule finds, for `search --explain`: each word with the concept
/// it names and every form it expands to, per language, and why; the
/// FTS5 query it runs as. (The whole rule after folding is in the FTS5
/// line: with concepts, it is too long to read twice.)
pub fn explain(node: Node, src: &str, languages: &Languages) -> Result<String, RuleError> {
    let (folded, log) = fold(node, languages);
    let fts = compile(&folded, src)?;
    let mut out = String::new();
    if let Some(langs) = &languages.0 {
        out.push_str(&format!("languages: {}\n", langs.join(", ")));
    }
    if log.is_empty() {
        out.push_str("folded: nothing (prefixed words, or words with no other forms)\n");
    }
    for f in &log {
        let concept = f
            .concept
            .as_ref()
            .map(|c| format!(" → concept {c}"))
            .unwrap_or_default();
        out.push_str(&format!("{}{concept} ({})\n", f.term, f.why));
        for (lang, forms) in &f.finds {
            out.push_str(&format!("  {lang:<4}{}\n", forms.join(" | ")));
        }
    }
    out.push_str(&format!("FTS5:   {fts}\n"));
    Ok(out)
}

/// A node in rule syntax; `top` leaves its outer parentheses off.
pub(crate) fn show(node: &Node, top: bool) -> String {
    let group = |parts: &[Node], op: &str| {
        let inner: Vec<String> = parts.iter().map(|p| show(p, false)).collect();
        let joined = inner.join(op);
        if top || parts.len() == 1 {
            joined
        } else {
            format!("({joined})")
        }
    };
    match node {
        Node::Term { text, prefix } if text.contains(|c: char| !c.is_alphanumeric()) => {
            format!("\"{text}\"{}", if *prefix { "*" } else { "" })
        }
        Node::Term { text, prefix } => format!("{text}{}", if *prefix { "*" } else { "" }),
        Node::Phrase { text } => format!("\"{text}\""),
        Node::Near { terms, distance } => {
            let terms: Vec<String> = terms.iter().map(|t| show(t, false)).collect();
            format!("NEAR({}, {distance})", terms.join(" "))
        }
        Node::And(parts) => group(parts, " AND "),
        Node::Or(parts) => group(parts, " OR "),
        Node::Not { inner, .. } => format!("-{}", show(inner, false)),
        Node::Field { field, inner } => format!("{field}:{}", show(inner, false)),
        Node::Exact(inner) => format!("={}", show(inner, false)),
    }
}

/// Words a rule writes both plain (expanded into their concept's forms)
/// and exact (`=drone`, or as a prefix `drone*`), with the offset of the
/// exact one: `check` warns, since the plain one finds what the exact one
/// was written to leave out. Offsets are not kept in the tree, so the
/// exact one is found again in `src` by its text.
pub fn mixed_exact(node: &Node, src: &str) -> Vec<(usize, String)> {
    fn walk<'a>(n: &'a Node, plain: &mut Vec<&'a str>, exact: &mut Vec<(&'a str, &'static str)>) {
        match n {
            Node::Term {
                text,
                prefix: false,
            }
            | Node::Phrase { text } => plain.push(text),
            Node::Term { text, prefix: true } => exact.push((text, "*")),
            Node::Exact(inner) => {
                if let Node::Term { text, .. } | Node::Phrase { text } = inner.as_ref() {
                    exact.push((text, "="));
                }
            }
            Node::Near { terms, .. } | Node::And(terms) | Node::Or(terms) => {
                terms.iter().for_each(|t| walk(t, plain, exact))
            }
            Node::Not { inner, .. } => walk(inner, plain, exact),
            Node::Field { field, .. } if field == "feed" => {}
            Node::Field { inner, .. } => walk(inner, plain, exact),
        }
    }
    let (mut plain, mut exact) = (Vec::new(), Vec::new());
    walk(node, &mut plain, &mut exact);
    let lex = crate::lexicon::lexicon();
    let mut out: Vec<(usize, String)> = Vec::new();
    for (word, how) in exact {
        let key = crate::lexicon::fold(word);
        let Some(concept) = plain
            .iter()
            .filter(|p| crate::lexicon::fold(p) == key)
            .find_map(|p| lex.lookup(p))
        else {
            continue;
        };
        let written = match how {
            "=" if word.contains(|c: char| !c.is_alphanumeric()) => format!("=\"{word}\""),
            "=" => format!("={word}"),
            _ => format!("{word}*"),
        };
        if out.iter().any(|(_, m)| m.contains(&format!("'{written}'"))) {
            continue;
        }
        out.push((
            src.find(&written).unwrap_or(0),
            format!(
                "'{word}' is expanded into the concept {} in one place and kept as written ('{written}') in another: write it one way (docs/reference.md, \"Concepts\")",
                concept.concept.id
            ),
        ));
    }
    out
}

/// The list form of a rule (`all`, `any`, `none`) as one AST: every `all`,
/// at least one `any`, no `none`. Errors name the list and index.
pub fn from_lists(
    all: &[String],
    any: &[String],
    none: &[String],
    sets: &TermSets,
) -> Result<Node, ListError> {
    let parse_list = |name: &'static str, list: &[String]| -> Result<Vec<Node>, ListError> {
        list.iter()
            .enumerate()
            .map(|(i, q)| {
                parse(q, sets).map_err(|error| ListError {
                    list: name,
                    index: i,
                    error,
                })
            })
            .collect()
    };
    let mut parts = parse_list("all", all)?;
    let any = parse_list("any", any)?;
    if !any.is_empty() {
        parts.push(Node::Or(any));
    }
    let none = parse_list("none", none)?;
    if parts.is_empty() {
        return Err(ListError {
            list: "all",
            index: 0,
            error: error(
                "",
                0,
                "a rule needs a query, or at least one term in all or any",
            ),
        });
    }
    if !none.is_empty() {
        parts.push(Node::Not {
            inner: Box::new(Node::Or(none)),
            at: 0,
        });
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Node::And(parts)
    })
}

/// An error in one element of a rule's list form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    pub list: &'static str,
    pub index: usize,
    pub error: RuleError,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}] {}", self.list, self.index, self.error)
    }
}

#[cfg(test)]
mod tests;
