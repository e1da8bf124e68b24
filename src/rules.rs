//! Rules stage: the watch-rule language of SPEC §3 → an AST with byte spans →
//! an FTS5 MATCH expression. Pure: no I/O, no SQLite; `store` runs what this
//! produces, so a rule gives the same answer live and in `search` (DESIGN §3).
//!
//! Grammar (operators are upper case; everything else is a search term):
//! ```text
//! query   := or EOF
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*
//! unary   := "NOT" unary | "-" primary | primary
//! primary := [field ":"] (word["*"] | "phrase" | "(" or ")" | NEAR(t t…, n) | @set)
//! ```
//! Every term is quoted in the FTS5 output, so no user text is ever read as
//! FTS5 syntax; case, accents and inflections are folded by the index's
//! `porter unicode61 remove_diacritics 2` tokenizer, not here.

use std::collections::HashMap;
use std::fmt;

/// The columns of the FTS5 index a rule may scope a term to.
pub const FIELDS: [&str; 5] = ["title", "summary", "author", "category", "feed"];

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

/// A parsed query. Spans are byte ranges in the query text.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Term { text: String, prefix: bool },
    Phrase { text: String },
    Near { terms: Vec<Node>, distance: u32 },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>, usize),
    Field(String, Box<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String, bool),
    Phrase(String),
    Field(String),
    Set(String),
    Near,
    LParen,
    RParen,
    Comma,
    Minus,
    And,
    Or,
    Not,
}

/// Named term sets (`[terms]`), already parsed, used as `@name`.
pub type TermSets = HashMap<String, Node>;

fn error(src: &str, offset: usize, message: impl Into<String>) -> RuleError {
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

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '"' | ',' | ':' | '*' | '@')
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, RuleError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '-' => Some(Tok::Minus),
            _ => None,
        };
        if let Some(tok) = single {
            chars.next();
            out.push((tok, start));
            continue;
        }
        if c == '"' {
            chars.next();
            let mut text = String::new();
            let mut closed = false;
            for (_, ch) in chars.by_ref() {
                if ch == '"' {
                    closed = true;
                    break;
                }
                text.push(ch);
            }
            if !closed {
                return Err(error(src, start, "unclosed quote: expected a closing \""));
            }
            out.push((Tok::Phrase(text), start));
            continue;
        }
        if c == '@' {
            chars.next();
            let mut name = String::new();
            while let Some(&(_, ch)) = chars.peek() {
                if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                    name.push(ch);
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                return Err(error(src, start, "expected a term set name after @"));
            }
            out.push((Tok::Set(name), start));
            continue;
        }
        if c == '*' || c == ':' {
            return Err(error(
                src,
                start,
                format!("unexpected '{c}': expected a term"),
            ));
        }
        let mut word = String::new();
        while let Some(&(_, ch)) = chars.peek() {
            if is_word_char(ch) {
                word.push(ch);
                chars.next();
            } else {
                break;
            }
        }
        let mut prefix = false;
        match chars.peek() {
            Some(&(_, '*')) => {
                chars.next();
                prefix = true;
            }
            Some(&(_, ':')) => {
                chars.next();
                out.push((Tok::Field(word), start));
                continue;
            }
            Some(&(_, '(')) if word == "NEAR" => {
                out.push((Tok::Near, start));
                continue;
            }
            _ => {}
        }
        let tok = match word.as_str() {
            "AND" if !prefix => Tok::And,
            "OR" if !prefix => Tok::Or,
            "NOT" if !prefix => Tok::Not,
            _ => Tok::Word(word, prefix),
        };
        out.push((tok, start));
    }
    Ok(out)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    sets: &'a TermSets,
    depth: usize,
}

/// Deep nesting is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |(_, o)| *o)
    }
    fn bump(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Node, RuleError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Node, RuleError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.bump();
                    parts.push(self.unary()?);
                }
                None | Some(Tok::Or) | Some(Tok::RParen) | Some(Tok::Comma) => break,
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Node, RuleError> {
        let at = self.offset();
        match self.peek() {
            Some(Tok::Not) => {
                self.bump();
                Ok(Node::Not(Box::new(self.unary()?), at))
            }
            Some(Tok::Minus) => {
                self.bump();
                Ok(Node::Not(Box::new(self.primary()?), at))
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Node, RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(self.src, self.offset(), "query nested too deeply"));
        }
        let node = self.primary_inner();
        self.depth -= 1;
        node
    }

    fn primary_inner(&mut self) -> Result<Node, RuleError> {
        let at = self.offset();
        let Some((tok, _)) = self.bump() else {
            return Err(error(
                self.src,
                at,
                "expected a term, a phrase or '(' but the query ended",
            ));
        };
        match tok {
            Tok::Word(text, prefix) => {
                check_term(self.src, at, &text)?;
                Ok(Node::Term { text, prefix })
            }
            Tok::Phrase(text) => {
                check_term(self.src, at, &text)?;
                Ok(Node::Phrase { text })
            }
            Tok::Set(name) => match self.sets.get(&name) {
                Some(node) => Ok(node.clone()),
                None => Err(error(
                    self.src,
                    at,
                    format!("unknown term set @{name}: define it under [terms]"),
                )),
            },
            Tok::Field(name) => {
                if !FIELDS.contains(&name.as_str()) {
                    let hint = suggest(&name, &FIELDS);
                    return Err(error(
                        self.src,
                        at,
                        format!(
                            "unknown field '{name}'{hint}: fields are {}",
                            FIELDS.join(", ")
                        ),
                    ));
                }
                if matches!(self.peek(), Some(Tok::Minus) | Some(Tok::Not)) {
                    return Err(error(
                        self.src,
                        self.offset(),
                        "put the negation before the field: -title:word",
                    ));
                }
                let inner = self.primary()?;
                Ok(Node::Field(name, Box::new(inner)))
            }
            Tok::LParen => {
                if self.peek() == Some(&Tok::RParen) {
                    return Err(error(
                        self.src,
                        at,
                        "empty group: expected a term inside ( )",
                    ));
                }
                let inner = self.or()?;
                match self.bump() {
                    Some((Tok::RParen, _)) => Ok(inner),
                    Some((_, o)) => Err(error(self.src, o, "expected ')'")),
                    None => Err(error(self.src, at, "unclosed '(': expected ')'")),
                }
            }
            Tok::Near => self.near(at),
            Tok::RParen => Err(error(self.src, at, "unexpected ')': expected a term")),
            Tok::Comma => Err(error(self.src, at, "unexpected ',': expected a term")),
            Tok::And | Tok::Or => Err(error(self.src, at, "expected a term before this operator")),
            Tok::Not | Tok::Minus => Err(error(self.src, at, "expected a term after the negation")),
        }
    }

    fn near(&mut self, at: usize) -> Result<Node, RuleError> {
        // The '(' directly follows NEAR (the tokenizer saw it).
        self.bump();
        let mut terms = Vec::new();
        let mut distance = DEFAULT_NEAR;
        loop {
            let o = self.offset();
            match self.bump() {
                Some((Tok::Word(text, prefix), _)) => {
                    check_term(self.src, o, &text)?;
                    terms.push(Node::Term { text, prefix });
                }
                Some((Tok::Phrase(text), _)) => {
                    check_term(self.src, o, &text)?;
                    terms.push(Node::Phrase { text });
                }
                Some((Tok::Comma, _)) => {
                    let o = self.offset();
                    match self.bump() {
                        Some((Tok::Word(n, false), _)) => {
                            distance = n.parse().map_err(|_| {
                                error(self.src, o, "expected the NEAR distance as a whole number")
                            })?;
                        }
                        _ => {
                            return Err(error(
                                self.src,
                                o,
                                "expected the NEAR distance as a whole number",
                            ));
                        }
                    }
                    match self.bump() {
                        Some((Tok::RParen, _)) => break,
                        _ => {
                            return Err(error(
                                self.src,
                                self.offset().min(o + 1),
                                "expected ')' after the NEAR distance",
                            ));
                        }
                    }
                }
                Some((Tok::RParen, _)) => break,
                Some((_, o)) => {
                    return Err(error(
                        self.src,
                        o,
                        "NEAR takes only words and phrases, then ', distance'",
                    ));
                }
                None => return Err(error(self.src, at, "unclosed NEAR(: expected ')'")),
            }
        }
        if terms.len() < 2 {
            return Err(error(self.src, at, "NEAR needs at least two terms"));
        }
        Ok(Node::Near { terms, distance })
    }
}

fn check_term(src: &str, at: usize, text: &str) -> Result<(), RuleError> {
    if text.chars().any(char::is_alphanumeric) {
        Ok(())
    } else {
        Err(error(src, at, "a term needs at least one letter or digit"))
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

/// Parses a query in rule syntax. `sets` resolves `@name`.
pub fn parse(src: &str, sets: &TermSets) -> Result<Node, RuleError> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(error(src, 0, "empty query: expected at least one term"));
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        sets,
        depth: 0,
    };
    let node = p.or()?;
    if let Some((tok, o)) = p.toks.get(p.pos) {
        let what = match tok {
            Tok::RParen => "unexpected ')' with no '(' before it",
            _ => "unexpected text after the query",
        };
        return Err(error(src, *o, what));
    }
    Ok(node)
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Compiles a parsed query to an FTS5 MATCH expression. Fails (with the
/// position of the offending NOT) where FTS5 has no meaning for the query:
/// a negation with no positive term beside it.
pub fn compile(node: &Node, src: &str) -> Result<String, RuleError> {
    match node {
        Node::Term { text, prefix } => Ok(if *prefix {
            format!("{}*", quote(text))
        } else {
            quote(text)
        }),
        Node::Phrase { text } => Ok(quote(text)),
        Node::Near { terms, distance } => {
            let parts: Result<Vec<_>, _> = terms.iter().map(|t| compile(t, src)).collect();
            Ok(format!("NEAR({}, {distance})", parts?.join(" ")))
        }
        Node::And(parts) => {
            let mut pos = Vec::new();
            let mut neg = Vec::new();
            let mut first_not = None;
            for part in parts {
                match part {
                    Node::Not(inner, at) => {
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
        Node::Not(_, at) => Err(no_positive(src, *at)),
        Node::Field(field, inner) => Ok(format!("{field} : ({})", compile(inner, src)?)),
    }
}

fn no_positive(src: &str, at: usize) -> RuleError {
    error(
        src,
        at,
        "a negation needs a positive term beside it (write 'iran -israel', not just '-israel')",
    )
}

/// Parses and compiles in one step.
pub fn compile_query(src: &str, sets: &TermSets) -> Result<String, RuleError> {
    compile(&parse(src, sets)?, src)
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
        parts.push(Node::Not(Box::new(Node::Or(none)), 0));
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
mod tests {
    use super::*;

    fn c(q: &str) -> String {
        compile_query(q, &TermSets::new()).unwrap_or_else(|e| panic!("{q}: {e}"))
    }
    fn err(q: &str) -> RuleError {
        compile_query(q, &TermSets::new()).expect_err(q)
    }

    #[test]
    fn words_and_implicit_and() {
        assert_eq!(c("iran"), "\"iran\"");
        assert_eq!(c("iran drone"), "(\"iran\" AND \"drone\")");
        assert_eq!(c("iran AND drone"), "(\"iran\" AND \"drone\")");
        assert_eq!(
            c("iran* AND drone* AND ukrain*"),
            "(\"iran\"* AND \"drone\"* AND \"ukrain\"*)"
        );
    }

    #[test]
    fn or_not_and_minus() {
        assert_eq!(c("iran OR tehran"), "(\"iran\" OR \"tehran\")");
        assert_eq!(c("iran NOT israel"), "(\"iran\" NOT \"israel\")");
        assert_eq!(c("iran -israel"), "(\"iran\" NOT \"israel\")");
        assert_eq!(
            c("iran -israel -gaza"),
            "(\"iran\" NOT (\"israel\" OR \"gaza\"))"
        );
        assert_eq!(c("a b OR c"), "((\"a\" AND \"b\") OR \"c\")");
    }

    #[test]
    fn phrases_near_fields_groups() {
        assert_eq!(c("\"iranian drones\""), "\"iranian drones\"");
        assert_eq!(c("NEAR(iran drone, 5)"), "NEAR(\"iran\" \"drone\", 5)");
        assert_eq!(
            c("NEAR(iran \"shahed drone\")"),
            "NEAR(\"iran\" \"shahed drone\", 10)"
        );
        assert_eq!(c("title:iran"), "title : (\"iran\")");
        assert_eq!(
            c("title:(iran OR tehran)"),
            "title : ((\"iran\" OR \"tehran\"))"
        );
        assert_eq!(c("(a OR b) c"), "((\"a\" OR \"b\") AND \"c\")");
        assert_eq!(c("-title:x y"), "(\"y\" NOT title : (\"x\"))");
    }

    #[test]
    fn user_text_cannot_become_fts_syntax() {
        assert_eq!(c("NEAR"), "\"NEAR\"");
        assert_eq!(c("col{x}"), "\"col{x}\"");
        assert_eq!(c("o'brien"), "\"o'brien\"");
    }

    #[test]
    fn term_sets_expand_as_groups() {
        let mut sets = TermSets::new();
        sets.insert(
            "drones".into(),
            parse("drone* OR UAV* OR Shahed", &sets.clone()).unwrap(),
        );
        assert_eq!(
            compile_query("iran @drones", &sets).unwrap(),
            "(\"iran\" AND (\"drone\"* OR \"UAV\"* OR \"Shahed\"))"
        );
        let e = compile_query("iran @missing", &sets).unwrap_err();
        assert_eq!(e.pos, 6);
        assert!(e.message.contains("@missing"), "{e}");
    }

    #[test]
    fn errors_name_the_position() {
        let e = err("iran AND");
        assert_eq!(e.pos, 9, "{e}");
        assert!(e.message.contains("ended"));
        let e = err("iran (drone");
        assert_eq!(e.pos, 6, "{e}");
        let e = err("iran drone)");
        assert_eq!(e.pos, 11, "{e}");
        let e = err("iran \"drone");
        assert_eq!(e.pos, 6, "{e}");
        let e = err("titel:iran");
        assert_eq!(e.pos, 1);
        assert!(e.message.contains("did you mean 'title'"), "{e}");
        let e = err("NEAR(iran, x)");
        assert_eq!(e.pos, 12, "{e}");
        let e = err("");
        assert_eq!(e.pos, 1);
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let e = err("україн* OR");
        assert_eq!(e.pos, 11);
        assert_eq!(e.offset, "україн* OR".len());
    }

    #[test]
    fn negation_needs_a_positive_term() {
        let e = err("-israel");
        assert_eq!(e.pos, 1);
        assert!(e.message.contains("positive"));
        let e = err("iran OR -israel");
        assert_eq!(e.pos, 9);
        let e = err("NOT a NOT b");
        assert_eq!(e.pos, 1);
    }

    #[test]
    fn terms_need_letters() {
        assert_eq!(err("iran ---").pos, 7);
        assert_eq!(err("iran @").pos, 6);
        assert_eq!(err("\"\"").pos, 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = "(".repeat(10_000) + "a" + &")".repeat(10_000);
        assert!(err(&q).message.contains("nested"));
    }

    #[test]
    fn list_form_is_the_same_as_the_query() {
        let sets = TermSets::new();
        let lists = from_lists(
            &["iran*".into(), "drone*".into()],
            &["ukrain*".into(), "kyiv".into()],
            &["\"press release\"".into()],
            &sets,
        )
        .unwrap();
        let from_query =
            parse("iran* drone* (ukrain* OR kyiv) -(\"press release\")", &sets).unwrap();
        assert_eq!(
            compile(&lists, "").unwrap(),
            compile(&from_query, "").unwrap()
        );
        let e = from_lists(&["ok".into()], &["bad)".into()], &[], &sets).unwrap_err();
        assert_eq!((e.list, e.index, e.error.pos), ("any", 0, 4));
        assert!(from_lists(&[], &[], &["x".into()], &sets).is_err());
    }
}
