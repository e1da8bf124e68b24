//! Rules stage: the tokenizer and recursive-descent parser of the rule
//! language (grammar in `mod.rs`). Every token keeps its byte offset, so each
//! error names the position where the query went wrong.

use super::{DEFAULT_NEAR, FIELDS, Node, RuleError, TermSets, error, suggest};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A search term; `prefix` when it ends in `*`.
    Word {
        text: String,
        prefix: bool,
    },
    Phrase(String),
    /// `=` before a word or phrase: keep it exact.
    Exact,
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

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !matches!(c, '(' | ')' | '"' | ',' | ':' | '*' | '@')
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, RuleError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        // Control characters separate terms like spaces: a NUL inside a
        // term would end the string SQLite sees (found by the property test).
        if c.is_whitespace() || c.is_control() {
            chars.next();
            continue;
        }
        let tok = match c {
            '(' | ')' | ',' | '-' => {
                chars.next();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    _ => Tok::Minus,
                }
            }
            '"' => phrase(src, &mut chars, start)?,
            '=' => {
                chars.next();
                match chars.peek() {
                    Some(&(_, n)) if n == '"' || is_word_char(n) => Tok::Exact,
                    _ => {
                        return Err(error(
                            src,
                            start,
                            "expected a word or a \"phrase\" right after '=' (=drone keeps it exact)",
                        ));
                    }
                }
            }
            '@' => set_name(src, &mut chars, start)?,
            '*' | ':' => {
                return Err(error(
                    src,
                    start,
                    format!("unexpected '{c}': expected a term"),
                ));
            }
            _ => word(&mut chars),
        };
        out.push((tok, start));
    }
    Ok(out)
}

/// `"…"`: control characters inside are dropped.
fn phrase(src: &str, chars: &mut Chars<'_>, start: usize) -> Result<Tok, RuleError> {
    chars.next();
    let mut text = String::new();
    for (_, ch) in chars.by_ref() {
        if ch == '"' {
            return Ok(Tok::Phrase(text));
        }
        if !ch.is_control() {
            text.push(ch);
        }
    }
    Err(error(src, start, "unclosed quote: expected a closing \""))
}

/// `@name`, a term set.
fn set_name(src: &str, chars: &mut Chars<'_>, start: usize) -> Result<Tok, RuleError> {
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
    Ok(Tok::Set(name))
}

/// A word: a term (`word*` a prefix), a field (`word:`), an operator, or
/// `NEAR` directly followed by `(`.
fn word(chars: &mut Chars<'_>) -> Tok {
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
            return Tok::Field(word);
        }
        Some(&(_, '(')) if word == "NEAR" => return Tok::Near,
        _ => {}
    }
    match word.as_str() {
        "AND" if !prefix => Tok::And,
        "OR" if !prefix => Tok::Or,
        "NOT" if !prefix => Tok::Not,
        _ => Tok::Word { text: word, prefix },
    }
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
                Ok(Node::Not {
                    inner: Box::new(self.unary()?),
                    at,
                })
            }
            Some(Tok::Minus) => {
                self.bump();
                Ok(Node::Not {
                    inner: Box::new(self.primary()?),
                    at,
                })
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
            Tok::Word { text, prefix } => {
                check_term(self.src, at, &text)?;
                Ok(Node::Term { text, prefix })
            }
            Tok::Phrase(text) => {
                check_term(self.src, at, &text)?;
                Ok(Node::Phrase { text })
            }
            Tok::Exact => self.exact(at),
            Tok::Set(name) => match self.sets.get(&name) {
                Some(node) => Ok(node.clone()),
                None => Err(error(
                    self.src,
                    at,
                    format!("unknown term set @{name}: define it under [terms]"),
                )),
            },
            Tok::Field(name) => self.field(name, at),
            Tok::LParen => self.group(at),
            Tok::Near => self.near(at),
            Tok::RParen => Err(error(self.src, at, "unexpected ')': expected a term")),
            Tok::Comma => Err(error(self.src, at, "unexpected ',': expected a term")),
            Tok::And | Tok::Or => Err(error(self.src, at, "expected a term before this operator")),
            Tok::Not | Tok::Minus => Err(error(self.src, at, "expected a term after the negation")),
        }
    }

    /// `=word` or `="phrase"`, after its `=`.
    fn exact(&mut self, at: usize) -> Result<Node, RuleError> {
        let o = self.offset();
        let inner = match self.bump() {
            Some((
                Tok::Word {
                    text,
                    prefix: false,
                },
                _,
            )) => Node::Term {
                text,
                prefix: false,
            },
            Some((Tok::Phrase(text), _)) => Node::Phrase { text },
            _ => {
                return Err(error(
                    self.src,
                    at,
                    "'=' keeps one word or \"phrase\" exact: not a prefix, an operator or a group",
                ));
            }
        };
        if let Node::Term { text, .. } | Node::Phrase { text } = &inner {
            check_term(self.src, o, text)?;
        }
        Ok(Node::Exact(Box::new(inner)))
    }

    /// `field:` and what it scopes.
    fn field(&mut self, name: String, at: usize) -> Result<Node, RuleError> {
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
        Ok(Node::Field {
            field: name,
            inner: Box::new(inner),
        })
    }

    /// `( … )`, after its `(`.
    fn group(&mut self, at: usize) -> Result<Node, RuleError> {
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

    /// `, n)` at the end of NEAR( … ), after the comma.
    fn near_distance(&mut self) -> Result<u32, RuleError> {
        let o = self.offset();
        let expected = "expected the NEAR distance as a whole number";
        let distance = match self.bump() {
            Some((
                Tok::Word {
                    text,
                    prefix: false,
                },
                _,
            )) => text.parse().map_err(|_| error(self.src, o, expected))?,
            _ => return Err(error(self.src, o, expected)),
        };
        match self.bump() {
            Some((Tok::RParen, _)) => Ok(distance),
            _ => Err(error(
                self.src,
                self.offset().min(o + 1),
                "expected ')' after the NEAR distance",
            )),
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
                Some((Tok::Word { text, prefix }, _)) => {
                    check_term(self.src, o, &text)?;
                    terms.push(Node::Term { text, prefix });
                }
                Some((Tok::Phrase(text), _)) => {
                    check_term(self.src, o, &text)?;
                    terms.push(Node::Phrase { text });
                }
                Some((Tok::Exact, _)) => terms.push(self.exact(o)?),
                Some((Tok::Comma, _)) => {
                    distance = self.near_distance()?;
                    break;
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
