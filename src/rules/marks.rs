//! Rules, the FTS5 query `search` asks a rule's marks with (docs/DESIGN.md
//! §6, "FTS5 marks a NEAR beside an OR"; the live matcher asks with the
//! rule's phrases its group's matches have, `store::matcher`). FTS5's `snippet()` and `highlight()`
//! read the positions of every phrase of the query on the row. A NEAR of
//! several phrases that stands on a row without matching it — beside an
//! OR, under a NOT — keeps the positions the previous row left in its
//! later phrases (SQLite 3.54: `sqlite3Fts5ExprPoslist` does not look at
//! the node's no-match flag), so FTS5 marks words that are not there, or
//! fails with SQLITE_CORRUPT when such a position lies past the row's
//! text. The MATCH itself is right: only the marks go wrong. A rule with
//! such a NEAR is therefore marked with its positive phrases ORed, each in
//! its columns (`model::Query::positive_phrases`): the rule's words
//! wherever they are in the item, which is what a reader looks for, and a
//! query FTS5 marks right (no NEAR).

use crate::model::Query;

/// The query to ask for `query`'s marks with, when FTS5 would mark the
/// rule's own query wrong; `None` when it marks it right.
pub(super) fn mark_query(query: &Query) -> Option<String> {
    if !has_near_of_several(query) {
        return None;
    }
    let mut phrases: Vec<String> = Vec::new();
    query.positive_phrases(&mut |phrase, columns| {
        if let Some(p) = phrase.to_fts5(columns)
            && !phrases.contains(&p)
        {
            phrases.push(p);
        }
    });
    // Nothing positive in any column: the rule can match nothing, and its
    // own query is as good as any.
    (!phrases.is_empty()).then(|| phrases.join(" OR "))
}

/// Whether a NEAR of two phrases or more is anywhere in `query`: in an OR
/// of several rules' marks (a digest marks an item with every rule that
/// matched it) it stands beside an OR even when it is alone in its rule.
fn has_near_of_several(query: &Query) -> bool {
    match query {
        Query::Phrase { .. } => false,
        Query::Near { phrases, .. } => phrases.len() > 1,
        Query::And(parts) | Query::Or(parts) => parts.iter().any(has_near_of_several),
        Query::Not { positive, negative } => {
            has_near_of_several(positive) || has_near_of_several(negative)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::{TermSets, rule_from_query};

    fn marks(q: &str) -> Option<String> {
        rule_from_query("r", q, &TermSets::new())
            .unwrap()
            .mark_query
    }

    #[test]
    fn a_near_of_several_phrases_is_marked_by_its_phrases() {
        let cols = "{title summary author category}";
        assert_eq!(
            marks("NEAR(\"iran drone\" =kyiv) OR =iran").as_deref(),
            Some(
                format!("{cols} : \"iran drone\" OR {cols} : \"kyiv\" OR {cols} : \"iran\"")
                    .as_str()
            )
        );
        // Alone in its rule too: a digest ORs the rules that matched an item.
        assert!(marks("NEAR(iran drone*, 3)").is_some());
        // Not what a NOT excludes, and in the field's column only.
        assert_eq!(
            marks("title:NEAR(=iran =drone) -israel").as_deref(),
            Some("{title} : \"iran\" OR {title} : \"drone\"")
        );
    }

    #[test]
    fn other_rules_are_marked_by_their_own_query() {
        for q in [
            "iran OR drone",
            "\"iran drone\" OR kyiv",
            "title:\"iran drone\" -israel",
        ] {
            assert_eq!(marks(q), None, "{q}");
        }
    }
}
