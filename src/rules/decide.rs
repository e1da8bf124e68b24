//! Rules, why a rule matched an item or not (`feedwatch explain`, docs/reference.md,
//! "Commands"): the rule's compiled tree (`Query`, what the live matcher
//! and FTS5 both run) walked clause by clause, each leaf asked of the item
//! by the caller (the store asks the archive index, as `search` does), and
//! the clause that decided the answer named in rule syntax. Pure: the
//! asking is passed in.

use crate::model::{Columns, Phrase, Query};

/// Whether a rule matched, and the clause that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub matched: bool,
    pub because: String,
}

/// Decides `query` on one item; `found` answers whether an FTS5 query
/// (one phrase or NEAR, in its columns) finds the item.
pub fn decide<E>(
    query: &Query,
    found: &mut dyn FnMut(&str) -> Result<bool, E>,
) -> Result<Decision, E> {
    match query {
        Query::Phrase { .. } | Query::Near { .. } => {
            let shown = show(query);
            let matched = match fts_leaf(query) {
                Some(fts) => found(&fts)?,
                None => false,
            };
            Ok(Decision {
                matched,
                because: if matched {
                    format!("{shown} is in it")
                } else {
                    format!("{shown} is not in it")
                },
            })
        }
        Query::And(parts) => {
            let mut reasons = Vec::new();
            for p in parts {
                let d = decide(p, found)?;
                if !d.matched {
                    return Ok(d);
                }
                reasons.push(d.because);
            }
            Ok(Decision {
                matched: true,
                because: reasons.join("; "),
            })
        }
        Query::Or(parts) => {
            for p in parts {
                let d = decide(p, found)?;
                if d.matched {
                    return Ok(d);
                }
            }
            let shown: Vec<String> = parts.iter().map(show).collect();
            Ok(Decision {
                matched: false,
                because: match shown.len() {
                    0 => "it can match nothing".into(),
                    1 => format!("{} is not in it", shown[0]),
                    // A concept's word is the first of its many forms
                    // (`--explain` lists them).
                    n if n > SHOWN_FORMS => format!(
                        "none of {} and its {} other forms (search --explain) is in it",
                        shown[0],
                        n - 1
                    ),
                    _ => format!("none of {} is in it", shown.join(", ")),
                },
            })
        }
        Query::Not { positive, negative } => {
            let d = decide(positive, found)?;
            if !d.matched {
                return Ok(d);
            }
            let n = decide(negative, found)?;
            Ok(if n.matched {
                Decision {
                    matched: false,
                    because: format!("excluded: {}", n.because),
                }
            } else {
                Decision {
                    matched: true,
                    because: format!("{}; nothing it excludes is in it", d.because),
                }
            })
        }
    }
}

/// A leaf (phrase or NEAR) as an FTS5 query, in its columns; `None` when it
/// may be in no column.
fn fts_leaf(query: &Query) -> Option<String> {
    let (body, columns) = match query {
        Query::Phrase { phrase, columns } => (fts_phrase(phrase), *columns),
        Query::Near {
            phrases,
            distance,
            columns,
        } => {
            let inner: Vec<String> = phrases.iter().map(fts_phrase).collect();
            (format!("NEAR({}, {distance})", inner.join(" ")), *columns)
        }
        _ => return None,
    };
    let names = column_names(columns);
    (!names.is_empty()).then(|| format!("{{{}}} : {body}", names.join(" ")))
}

fn fts_phrase(p: &Phrase) -> String {
    format!(
        "{}{}",
        super::quote(&p.text),
        if p.prefix { "*" } else { "" }
    )
}

fn column_names(columns: Columns) -> Vec<&'static str> {
    Columns::NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| columns.has(*i))
        .map(|(_, n)| *n)
        .collect()
}

/// A clause in rule syntax, as the reader wrote it (after folding): `drone*`,
/// `"unmanned aerial"`, `title:iran`, `NEAR(iran drone, 10)`.
pub fn show(query: &Query) -> String {
    let field = |columns: Columns, body: String| {
        let names = column_names(columns);
        // The default columns (every one but `feed`) need no field.
        if columns == super::UNQUALIFIED_COLUMNS || names.len() != 1 {
            body
        } else {
            format!("{}:{body}", names[0])
        }
    };
    let phrase = |p: &Phrase| {
        let quoted = p.text.contains(|c: char| !c.is_alphanumeric());
        match (quoted, p.prefix) {
            (true, prefix) => format!("\"{}\"{}", p.text, if prefix { "*" } else { "" }),
            (false, true) => format!("{}*", p.text),
            (false, false) => p.text.clone(),
        }
    };
    match query {
        Query::Phrase { phrase: p, columns } => field(*columns, phrase(p)),
        Query::Near {
            phrases,
            distance,
            columns,
        } => {
            let inner: Vec<String> = phrases.iter().map(phrase).collect();
            field(*columns, format!("NEAR({}, {distance})", inner.join(" ")))
        }
        Query::And(parts) => format!(
            "({})",
            parts.iter().map(show).collect::<Vec<_>>().join(" AND ")
        ),
        Query::Or(parts) => format!(
            "({})",
            parts.iter().map(show).collect::<Vec<_>>().join(" OR ")
        ),
        Query::Not { positive, negative } => {
            format!("({} -{})", show(positive), show(negative))
        }
    }
}

/// Alternatives of a clause named one by one; more are a concept's forms.
const SHOWN_FORMS: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{TermSets, rule_from_query};

    /// Decides `q` on a text, each leaf found when the text has its words
    /// (a stand-in for the index: enough for the walk).
    fn on(q: &str, words: &[&str]) -> Decision {
        let rule = rule_from_query("r", q, &TermSets::new()).unwrap();
        let mut found = |fts: &str| -> Result<bool, ()> {
            Ok(words.iter().any(|w| fts.contains(&format!("\"{w}\""))))
        };
        decide(&rule.query, &mut found).unwrap()
    }

    #[test]
    fn the_clause_that_decided_is_named() {
        let d = on("iran AND drone* AND ukraine", &["iran", "drone"]);
        assert!(!d.matched);
        assert!(
            d.because.starts_with("none of ukraine and its ")
                && d.because
                    .ends_with(" other forms (search --explain) is in it"),
            "{}",
            d.because
        );
        let d = on("=iran AND (drone* OR =uav)", &["iran"]);
        assert_eq!(d.because, "none of drone*, uav is in it");
        let d = on(
            "iran AND drone* AND ukraine",
            &["iranian", "drone", "ukraine"],
        );
        assert!(d.matched);
        assert_eq!(
            d.because,
            "iranian* is in it; drone* is in it; ukraine is in it"
        );
        let d = on("drone* -israel", &["drone", "israel"]);
        assert!(!d.matched);
        assert!(d.because.starts_with("excluded: "), "{}", d.because);
        let d = on("title:\"unmanned aerial\" OR UAV", &[]);
        assert!(!d.matched);
        assert!(
            d.because.contains("title:\"unmanned aerial\""),
            "{}",
            d.because
        );
    }

    #[test]
    fn leaves_are_asked_in_their_columns() {
        let rule = rule_from_query("r", "title:NEAR(iran drone*, 5)", &TermSets::new()).unwrap();
        let mut asked = Vec::new();
        let mut found = |fts: &str| -> Result<bool, ()> {
            asked.push(fts.to_string());
            Ok(true)
        };
        assert!(decide(&rule.query, &mut found).unwrap().matched);
        assert_eq!(asked, vec!["{title} : NEAR(\"iran\" \"drone\"*, 5)"]);
    }
}
