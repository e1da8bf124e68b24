//! Digest stage: a snippet that shows the item's own news (docs/digests.md,
//! "Delivery"). FTS5's `snippet()` picks the passage densest in the matched
//! words, which on a wire is often the background paragraph every story of
//! the feed carries ("…Shahed drones, first supplied by Iran in 2022…"):
//! two different stories showed the same snippet. When most of a snippet
//! is the feed's boilerplate (`same_story::boilerplate`) and a sentence of
//! the item's own has the matched words, that sentence is the snippet, its
//! matched words marked as FTS5 marked them. Pure.

use std::collections::HashSet;

use super::same_story;
use crate::model::{MARK_END, MARK_START, MatchView};

/// A snippet that is this share of boilerplate or more is the feed's.
const BOILERPLATE_SNIPPET: f64 = 0.5;

/// The longest snippet made here, in characters (FTS5's are ~24 words).
const MAX_CHARS: usize = 240;

/// `m`'s snippet, or a sentence of its own news with the matched words
/// when the snippet is its feed's `boilerplate`.
pub(super) fn own_news(m: &MatchView, boilerplate: &HashSet<u64>) -> Option<String> {
    let plain: String = m
        .snippet
        .chars()
        .filter(|c| *c != MARK_START && *c != MARK_END)
        .collect();
    if boilerplate.is_empty()
        || same_story::boilerplate_share(&plain, boilerplate) < BOILERPLATE_SNIPPET
    {
        return None;
    }
    let mut marked = marked_words(&m.snippet);
    marked.extend(marked_words(&m.title_marked));
    if marked.is_empty() {
        return None;
    }
    same_story::sentences(&m.summary)
        .into_iter()
        .map(str::trim)
        .filter(|s| same_story::boilerplate_share(s, boilerplate) < BOILERPLATE_SNIPPET)
        .find(|s| words_of(s).any(|w| is_marked(w, &marked)))
        .map(|s| mark(&cut(s), &marked))
}

/// The words FTS5 marked, lower case.
fn marked_words(snippet: &str) -> HashSet<String> {
    // A phrase is marked whole ("[air defence]"): each of its words.
    snippet
        .split(MARK_START)
        .skip(1)
        .filter_map(|s| s.split(MARK_END).next())
        .flat_map(|phrase| words_of(phrase).map(str::to_lowercase).collect::<Vec<_>>())
        .collect()
}

/// A word FTS5 marked, or a form of one (FTS5 marks what the rule's
/// folding found, and the sentence may have another form: "drone" where it
/// marked "drones", "Iranian" where it marked "Iran").
fn is_marked(word: &str, marked: &HashSet<String>) -> bool {
    let w = word.to_lowercase();
    marked.contains(&w)
        || marked.iter().any(|k| {
            let (short, long) = if k.len() < w.len() {
                (k.as_str(), w.as_str())
            } else {
                (w.as_str(), k.as_str())
            };
            short.chars().count() >= 4
                && long.starts_with(short)
                && long.chars().count() - short.chars().count() <= 3
        })
}

fn words_of(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// At most `MAX_CHARS`, cut at a word, with an ellipsis.
fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_CHARS).collect();
    let at = head.rfind(char::is_whitespace).unwrap_or(head.len());
    format!("{}…", head[..at].trim_end())
}

/// `s` with each of `marked` (whole words, any case) between the marks.
fn mark(s: &str, marked: &HashSet<String>) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() && is_marked(word, marked) {
            out.push(MARK_START);
            out.push_str(word);
            out.push(MARK_END);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}
