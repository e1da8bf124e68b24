//! Store, the live matcher (docs/DESIGN.md §3): every rule's query tree
//! (`model::Query`) evaluated in Rust on one new item's tokens, which come
//! from the archive index's own tokenizer (`tokenizer`). Each item is
//! tokenised once, here: the archive index takes the stems recorded here
//! (`tokenizer::Replay`), and no second index is built (it was 85% of
//! matching's time). FTS5 stays the answer for
//! `search`, and tests/it/matcher.rs checks, item by item, that both answer
//! alike.
//!
//! The rules' phrases become token ids: exact tokens and prefixes in two
//! hash maps. Scanning an item records, per id, the columns it was seen in
//! (enough for one-token phrases) and its positions (for longer phrases
//! and NEAR). Text is split and folded by unicode61, and each distinct
//! folded word is stemmed by porter once and remembered with its ids
//! (`Memo`): news repeats its words, and porter was the largest part of
//! the scan under perf before. An OR's one-token phrases in the same
//! columns (a concept's forms) share one more id, added to a word's ids in
//! the memo, so that the OR is one lookup (`Compiled::or`). The ids the
//! group's matched items have (`seen`) choose the phrases FTS5 is asked
//! for marks with (`Matcher::mark_query`).

use rustc_hash::FxHashMap;

use super::Result;
use super::tokenizer::{Purpose, Recording, Replay, Stage, Tokenizer};
use crate::model::{Columns, CompiledRule, Phrase, Query};

/// A query tree with its phrases as token ids.
#[derive(Debug)]
enum Expr {
    /// Token ids in order (the last may be a prefix's); none is a phrase
    /// that no text has (FTS5 matches it nowhere).
    Phrase {
        ids: Vec<u32>,
        columns: Columns,
    },
    Near {
        /// Empty phrases left out (FTS5 ignores them in NEAR).
        phrases: Vec<Vec<u32>>,
        distance: u32,
        columns: Columns,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>, Box<Expr>),
}

/// The rules compiled against one dictionary of token ids.
struct Compiled {
    /// The queries they were compiled from: new rules (a reload) compile anew.
    source: Vec<String>,
    exact: FxHashMap<Box<[u8]>, u32>,
    prefixes: FxHashMap<Box<[u8]>, u32>,
    /// The distinct lengths of the prefixes, in bytes, ascending.
    prefix_lengths: Vec<usize>,
    ids: usize,
    /// Per id: whether its positions matter (it is in a phrase of two
    /// tokens or more, or in a NEAR). Only those are recorded: a concept
    /// makes many one-word alternatives, and recording and sorting every
    /// occurrence of them cost matching 15% of its throughput (benchmark,
    /// docs/reference.md, "Concepts").
    positional: Vec<bool>,
    rules: Vec<Expr>,
    /// Per token id: the ids of the ORs of one-token phrases it is one of
    /// (`Compiled::or`).
    also: Vec<Vec<u32>>,
    /// Per rule: the phrases that can make it match, in FTS5 syntax with
    /// their columns, and their token ids (`Matcher::mark_query`).
    marks: Vec<Vec<(String, Vec<u32>)>>,
}

/// What one item's scan found of the rules' tokens.
#[derive(Default)]
struct Hits {
    /// Per token id: the columns it is in (bit i: column i).
    columns: Vec<u8>,
    /// (id, column, position) of every occurrence, sorted before use.
    at: Vec<(u32, u8, u32)>,
}

impl Hits {
    fn columns_of(&self, id: u32) -> u8 {
        self.columns.get(id as usize).copied().unwrap_or(0)
    }

    /// The positions of token `id` in `column`, ascending.
    fn positions(&self, id: u32, column: u8) -> impl Iterator<Item = u32> + '_ {
        let from = self.at.partition_point(|&(i, c, _)| (i, c) < (id, column));
        self.at[from..]
            .iter()
            .take_while(move |&&(i, c, _)| (i, c) == (id, column))
            .map(|&(_, _, p)| p)
    }
}

/// The memo is emptied when it holds this many words (a few MB at most).
const MEMO_WORDS: usize = 100_000;

/// Each folded word seen, with the ids its stem has: the word's index in
/// `ids`, so that a word seen before costs one hash lookup.
#[derive(Default)]
struct Memo {
    /// Words of up to 15 bytes (nearly all), packed with their length into
    /// one integer: hashed and compared inline. Keyed by the bytes, the
    /// lookups and their memcmp calls were a sixth of matching.
    short: FxHashMap<u128, u32>,
    /// Longer words.
    long: FxHashMap<Box<[u8]>, u32>,
    ids: Vec<Box<[u32]>>,
    /// The word's stem as porter makes it within a text, for the archive
    /// index (`Replay`); `None` when that cannot be known from the word
    /// alone (unicode61 does not give it back as one token, or porter gives
    /// other than one).
    stems: Vec<Option<Box<[u8]>>>,
}

impl Memo {
    fn get(&self, word: &[u8]) -> Option<u32> {
        match short_key(word) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(word).copied(),
        }
    }

    fn insert(&mut self, word: &[u8], at: u32) {
        match short_key(word) {
            Some(key) => self.short.insert(key, at),
            None => self.long.insert(word.into(), at),
        };
    }

    fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
        self.ids.clear();
        self.stems.clear();
    }
}

/// A word of at most 15 bytes as one integer: its bytes, then its length
/// in the last byte (so that "a" and "a\0" differ).
fn short_key(word: &[u8]) -> Option<u128> {
    let mut bytes = [0u8; 16];
    bytes
        .get_mut(..word.len())
        .filter(|_| word.len() < 16)?
        .copy_from_slice(word);
    bytes[15] = word.len() as u8;
    Some(u128::from_le_bytes(bytes))
}

/// The matcher: the archive's tokenizer and the rules compiled for it.
pub(super) struct Matcher {
    /// porter over unicode61, as the index: for the rules' phrases, and
    /// to stem one word.
    tokenizer: Tokenizer,
    /// unicode61 alone, for the items' text.
    split: Tokenizer,
    /// unicode61 alone again, to check that a word is one token on its own
    /// (`Memo::stems`).
    resplit: Tokenizer,
    memo: Memo,
    compiled: Option<Compiled>,
    hits: Hits,
    /// Per token id: whether an item of this group that a rule matched
    /// has it (`Matcher::mark_query`).
    seen: Vec<bool>,
    /// The rules whose matches FTS5 could not mark in this run
    /// (`matching::marked`): said once, not once per item. The matcher
    /// goes when a run is over, so a later run says it again.
    pub(super) unmarked: std::collections::HashSet<String>,
}

impl Matcher {
    pub fn new(fts_definition: &str) -> Result<Self> {
        Ok(Matcher {
            tokenizer: Tokenizer::new(fts_definition, Stage::Stemmed)?,
            split: Tokenizer::new(fts_definition, Stage::Split)?,
            resplit: Tokenizer::new(fts_definition, Stage::Split)?,
            memo: Memo::default(),
            compiled: None,
            hits: Hits::default(),
            seen: Vec::new(),
            unmarked: std::collections::HashSet::new(),
        })
    }

    pub(crate) fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Compiles `rules` unless they are the ones compiled last; once per
    /// group, before `matching`.
    pub(crate) fn prepare(&mut self, rules: &[CompiledRule]) -> Result<()> {
        let same = self.compiled.as_ref().is_some_and(|c| {
            c.source.len() == rules.len()
                && c.source.iter().zip(rules).all(|(s, r)| *s == r.fts_query)
        });
        if !same {
            let mut compiled = Compiled {
                source: rules.iter().map(|r| r.fts_query.clone()).collect(),
                exact: FxHashMap::default(),
                prefixes: FxHashMap::default(),
                prefix_lengths: Vec::new(),
                ids: 0,
                positional: Vec::new(),
                rules: Vec::new(),
                also: Vec::new(),
                marks: Vec::new(),
            };
            for r in rules {
                let expr = compiled.expr(&mut self.tokenizer, &r.query)?;
                compiled.rules.push(expr);
                let marks = compiled.marks(&mut self.tokenizer, &r.query)?;
                compiled.marks.push(marks);
            }
            compiled.prefix_lengths.sort_unstable();
            compiled.prefix_lengths.dedup();
            self.compiled = Some(compiled);
            self.memo.clear();
        }
        let ids = self.compiled.as_ref().map_or(0, |c| c.ids);
        self.seen.clear();
        self.seen.resize(ids, false);
        Ok(())
    }

    /// The query FTS5 is asked for rule `rule`'s marks with, in the group
    /// since `prepare`: its phrases that can make it match (not those
    /// under a NOT), ORed, each in its columns; only those whose tokens
    /// are in an item a rule matched, as no others can be marked. A rule
    /// whose words expand into their concepts' forms is an OR of hundreds
    /// of phrases, which FTS5 parsed and looked up for every group: that
    /// was most of what concepts cost matching (benchmark `--match-only`,
    /// docs/reference.md, "Concepts"). `None`: no phrase is there.
    pub(crate) fn mark_query(&self, rule: usize) -> Option<String> {
        let marks = self.compiled.as_ref()?.marks.get(rule)?;
        let there: Vec<&str> = marks
            .iter()
            .filter(|(_, ids)| {
                ids.iter()
                    .all(|&id| self.seen.get(id as usize) == Some(&true))
            })
            .map(|(text, _)| text.as_str())
            .collect();
        (!there.is_empty()).then(|| there.join(" OR "))
    }

    /// Which of the rules last `prepare`d (by index; only those `wanted`
    /// lets through) match an item whose columns hold `texts` (title,
    /// summary, author, category, feed). With `replay`, the texts' tokens
    /// are recorded there for the archive index.
    pub(crate) fn matching(
        &mut self,
        texts: [&str; 5],
        wanted: &dyn Fn(usize) -> bool,
        replay: Option<&Replay>,
    ) -> Result<Vec<usize>> {
        let Some(compiled) = &self.compiled else {
            return Ok(Vec::new());
        };
        if self.memo.ids.len() > MEMO_WORDS {
            self.memo.clear();
        }
        let mut words = Words {
            stemmer: &mut self.tokenizer,
            resplit: &mut self.resplit,
            memo: &mut self.memo,
            compiled,
            failed: None,
        };
        scan(&mut self.split, &mut words, texts, &mut self.hits, replay)?;
        let found: Vec<usize> = (0..compiled.rules.len())
            .filter(|&i| wanted(i) && eval(&compiled.rules[i], &self.hits))
            .collect();
        if !found.is_empty() {
            for (seen, &columns) in self.seen.iter_mut().zip(&self.hits.columns) {
                *seen |= columns != 0;
            }
        }
        Ok(found)
    }
}

impl Compiled {
    fn expr(&mut self, tokenizer: &mut Tokenizer, query: &Query) -> Result<Expr> {
        Ok(match query {
            Query::Phrase { phrase, columns } => {
                let ids = self.phrase(tokenizer, phrase)?;
                if ids.len() > 1 {
                    self.positional(&ids);
                }
                Expr::Phrase {
                    ids,
                    columns: *columns,
                }
            }
            Query::Near {
                phrases,
                distance,
                columns,
            } => {
                let mut kept = Vec::with_capacity(phrases.len());
                for p in phrases {
                    let ids = self.phrase(tokenizer, p)?;
                    if !ids.is_empty() {
                        self.positional(&ids);
                        kept.push(ids);
                    }
                }
                Expr::Near {
                    phrases: kept,
                    distance: *distance,
                    columns: *columns,
                }
            }
            Query::And(parts) => Expr::And(self.exprs(tokenizer, parts)?),
            Query::Or(parts) => self.or(tokenizer, parts)?,
            Query::Not { positive, negative } => Expr::Not(
                Box::new(self.expr(tokenizer, positive)?),
                Box::new(self.expr(tokenizer, negative)?),
            ),
        })
    }

    /// An OR. Its one-token phrases that may be in the same columns become
    /// one id of their own, which a word has when it has one of theirs
    /// (`also`): a concept is an OR of a hundred forms or more, and an
    /// item without it was asked for each of them (the rule `iran AND
    /// drone AND ukraine`, for every item: benchmark `--match-only`,
    /// docs/reference.md, "Concepts").
    fn or(&mut self, tokenizer: &mut Tokenizer, parts: &[Query]) -> Result<Expr> {
        let mut alike: Vec<(Columns, Vec<u32>)> = Vec::new();
        let mut rest = Vec::new();
        for part in parts {
            let Query::Phrase { phrase, columns } = part else {
                rest.push(self.expr(tokenizer, part)?);
                continue;
            };
            let ids = self.phrase(tokenizer, phrase)?;
            if let [id] = ids[..] {
                match alike.iter_mut().find(|(c, _)| c == columns) {
                    Some((_, members)) => members.push(id),
                    None => alike.push((*columns, vec![id])),
                }
                continue;
            }
            if ids.len() > 1 {
                self.positional(&ids);
            }
            rest.push(Expr::Phrase {
                ids,
                columns: *columns,
            });
        }
        for (columns, members) in alike {
            let ids = if members.len() == 1 {
                members
            } else {
                let any = self.ids as u32;
                self.ids += 1;
                for m in members {
                    let m = m as usize;
                    if self.also.len() <= m {
                        self.also.resize(m + 1, Vec::new());
                    }
                    self.also[m].push(any);
                }
                vec![any]
            };
            rest.push(Expr::Phrase { ids, columns });
        }
        Ok(Expr::Or(rest))
    }

    /// Marks `ids` as ids whose positions are recorded.
    fn positional(&mut self, ids: &[u32]) {
        for &id in ids {
            let id = id as usize;
            if self.positional.len() <= id {
                self.positional.resize(id + 1, false);
            }
            self.positional[id] = true;
        }
    }

    /// `query`'s phrases that can make it match, each in FTS5 syntax with
    /// its columns and as token ids; each once, none that has no token.
    fn marks(
        &mut self,
        tokenizer: &mut Tokenizer,
        query: &Query,
    ) -> Result<Vec<(String, Vec<u32>)>> {
        let mut phrases = Vec::new();
        query.positive_phrases(&mut |phrase, columns| {
            if let Some(text) = phrase.to_fts5(columns) {
                phrases.push((text, phrase.clone()));
            }
        });
        let mut marks: Vec<(String, Vec<u32>)> = Vec::with_capacity(phrases.len());
        let mut once = std::collections::HashSet::new();
        for (text, phrase) in phrases {
            if !once.insert(text.clone()) {
                continue;
            }
            let ids = self.phrase(tokenizer, &phrase)?;
            if !ids.is_empty() {
                marks.push((text, ids));
            }
        }
        Ok(marks)
    }

    fn exprs(&mut self, tokenizer: &mut Tokenizer, parts: &[Query]) -> Result<Vec<Expr>> {
        parts.iter().map(|p| self.expr(tokenizer, p)).collect()
    }

    /// A phrase's tokens as ids, tokenised as FTS5 tokenises query text.
    fn phrase(&mut self, tokenizer: &mut Tokenizer, phrase: &Phrase) -> Result<Vec<u32>> {
        let purpose = if phrase.prefix {
            Purpose::PrefixQuery
        } else {
            Purpose::Query
        };
        let mut tokens: Vec<Box<[u8]>> = Vec::new();
        tokenizer.tokens(&phrase.text, purpose, &mut |t| tokens.push(t.into()))?;
        let last = tokens.len().saturating_sub(1);
        let mut ids = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.into_iter().enumerate() {
            let prefix = phrase.prefix && i == last;
            if prefix {
                self.prefix_lengths.push(token.len());
            }
            let next = self.ids as u32;
            let map = if prefix {
                &mut self.prefixes
            } else {
                &mut self.exact
            };
            let id = *map.entry(token).or_insert(next);
            if id == next {
                self.ids += 1;
            }
            ids.push(id);
        }
        Ok(ids)
    }
}

/// A folded word's ids, through the memo.
struct Words<'a> {
    stemmer: &'a mut Tokenizer,
    resplit: &'a mut Tokenizer,
    memo: &'a mut Memo,
    compiled: &'a Compiled,
    /// The stemmer's failure, if it failed (reported after the scan).
    failed: Option<super::StoreError>,
}

impl Words<'_> {
    /// The word's entry in `memo.ids`, made on first sight.
    fn entry(&mut self, word: &[u8]) -> usize {
        if let Some(at) = self.memo.get(word) {
            return at as usize;
        }
        let mut ids = Vec::new();
        let compiled = self.compiled;
        // A word unicode61 made is one token again: porter gives its stem.
        let text = String::from_utf8_lossy(word);
        let mut stems = 0;
        let mut stem_of_word: Option<Box<[u8]>> = None;
        let stemmed = self.stemmer.tokens(&text, Purpose::Document, &mut |stem| {
            stems += 1;
            if stems == 1 {
                stem_of_word = Some(stem.into());
            }
            ids.extend(compiled.exact.get(stem).copied());
            for &len in &compiled.prefix_lengths {
                let Some(head) = stem.get(..len) else {
                    break;
                };
                ids.extend(compiled.prefixes.get(head).copied());
            }
        });
        // Porter within a text stems unicode61's token: the same stem, if
        // unicode61 gives the word back as itself (checked, not assumed).
        let mut again = (0, false);
        let resplit = self.resplit.tokens(&text, Purpose::Document, &mut |w| {
            again.0 += 1;
            again.1 |= w != word;
        });
        let stem = stem_of_word
            .filter(|_| stems == 1 && again == (1, false) && resplit.is_ok() && stemmed.is_ok());
        for k in 0..ids.len() {
            if let Some(any) = compiled.also.get(ids[k] as usize) {
                ids.extend_from_slice(any);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        if let Err(e) = stemmed {
            // Not remembered: reported after the scan.
            self.failed.get_or_insert(e);
            ids.clear();
        }
        let at = self.memo.ids.len();
        self.memo.ids.push(ids.into_boxed_slice());
        self.memo.stems.push(stem);
        if self.failed.is_none() {
            self.memo.insert(word, at as u32);
        }
        at
    }
}

/// Records where the rules' tokens are in the item; with `replay`, each
/// text's stems too, for the archive index (a text with a word whose stem
/// is not known from the word alone is left to porter).
fn scan(
    split: &mut Tokenizer,
    words: &mut Words<'_>,
    texts: [&str; 5],
    hits: &mut Hits,
    replay: Option<&Replay>,
) -> Result<()> {
    hits.columns.clear();
    hits.columns.resize(words.compiled.ids, 0);
    hits.at.clear();
    for (column, text) in texts.iter().enumerate() {
        let mut position = 0u32;
        let mut recording = replay.map(|_| Recording::default());
        split.tokens_at(text, Purpose::Document, &mut |word, start, end| {
            let at = words.entry(word);
            for &id in words.memo.ids[at].iter() {
                if let Some(c) = hits.columns.get_mut(id as usize) {
                    *c |= 1 << column;
                }
                if words.compiled.positional.get(id as usize) == Some(&true) {
                    hits.at.push((id, column as u8, position));
                }
            }
            if let Some(r) = &mut recording {
                match &words.memo.stems[at] {
                    Some(stem) => r.push(stem, start, end),
                    None => recording = None,
                }
            }
            position += 1;
        })?;
        if let (Some(replay), Some(recording)) = (replay, recording) {
            replay.record(text, recording);
        }
    }
    hits.at.sort_unstable();
    words.failed.take().map_or(Ok(()), Err)
}

fn eval(expr: &Expr, hits: &Hits) -> bool {
    match expr {
        Expr::Phrase { ids, columns } => phrase_columns(ids, *columns, hits) != 0,
        Expr::Near {
            phrases,
            distance,
            columns,
        } => near(phrases, *distance, *columns, hits),
        Expr::And(parts) => parts.iter().all(|p| eval(p, hits)),
        Expr::Or(parts) => parts.iter().any(|p| eval(p, hits)),
        Expr::Not(positive, negative) => eval(positive, hits) && !eval(negative, hits),
    }
}

/// The columns (of `columns`) the phrase may be in, by its tokens' columns:
/// exact for a phrase of one token.
fn phrase_columns(ids: &[u32], columns: Columns, hits: &Hits) -> u8 {
    let Some(&first) = ids.first() else {
        return 0;
    };
    let mut mask = columns.0 & hits.columns_of(first);
    for &id in &ids[1..] {
        mask &= hits.columns_of(id);
    }
    if ids.len() == 1 || mask == 0 {
        return mask;
    }
    (0..5u8)
        .filter(|&c| mask & (1 << c) != 0 && !phrase_starts(ids, c, hits).is_empty())
        .fold(0, |m, c| m | (1 << c))
}

/// Where in `column` the phrase starts.
fn phrase_starts(ids: &[u32], column: u8, hits: &Hits) -> Vec<u32> {
    let Some(&first) = ids.first() else {
        return Vec::new();
    };
    hits.positions(first, column)
        .filter(|&start| {
            ids.iter().enumerate().skip(1).all(|(k, &id)| {
                hits.positions(id, column)
                    .any(|p| p == start.saturating_add(k as u32))
            })
        })
        .collect()
}

/// FTS5's NEAR: in one column, a start of each phrase such that, with S
/// the last of them, each phrase starts at or after S − its length −
/// `distance` (fts5ExprNearIsMatch).
fn near(phrases: &[Vec<u32>], distance: u32, columns: Columns, hits: &Hits) -> bool {
    if phrases.is_empty() {
        return false;
    }
    let mask = phrases.iter().fold(columns.0, |m, ids| {
        m & phrase_columns(ids, Columns::ALL, hits)
    });
    (0..5u8).filter(|&c| mask & (1 << c) != 0).any(|column| {
        let starts: Vec<Vec<u32>> = phrases
            .iter()
            .map(|ids| phrase_starts(ids, column, hits))
            .collect();
        starts.iter().flatten().any(|&last| {
            phrases.iter().zip(&starts).all(|(ids, s)| {
                let earliest = i64::from(last) - ids.len() as i64 - i64::from(distance);
                s.iter().any(|&p| i64::from(p) >= earliest && p <= last)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_words_are_keys_apart_and_long_ones_are_not_cut() {
        assert_ne!(short_key(b"a"), short_key(b"a\0"));
        assert_ne!(short_key(b""), short_key(b"\0"));
        assert!(short_key(&[b'x'; 15]).is_some());
        assert_eq!(short_key(&[b'x'; 16]), None);
        let mut memo = Memo::default();
        memo.insert("київ".as_bytes(), 1);
        memo.insert(&[b'x'; 40], 2);
        memo.insert(&[b'x'; 41], 3);
        assert_eq!(memo.get("київ".as_bytes()), Some(1));
        assert_eq!(memo.get(&[b'x'; 40]), Some(2));
        assert_eq!(memo.get(&[b'x'; 41]), Some(3));
        assert_eq!(memo.get("киї".as_bytes()), None);
    }

    use super::*;

    fn rule(q: &str) -> CompiledRule {
        crate::rules::rule_from_query(q, q, &Default::default()).unwrap()
    }

    fn matches(q: &str, title: &str, summary: &str) -> bool {
        let mut m = Matcher::new(super::super::FTS_DEFINITION).unwrap();
        m.prepare(&[rule(q)]).unwrap();
        !m.matching([title, summary, "", "", "feed"], &|_| true, None)
            .unwrap()
            .is_empty()
    }

    #[test]
    fn phrases_prefixes_near_and_negation() {
        assert!(matches("iran AND drones", "Iranian drones", ""));
        assert!(!matches("iran AND drones", "Iran", "tanks"));
        assert!(matches("\"drone strike\"", "", "a Drone strike"));
        assert!(!matches("\"drone strike\"", "", "strike drone"));
        assert!(matches("ukr*", "", "Ukrainian"));
        assert!(matches("NEAR(iran drones, 2)", "", "iran sent new drones"));
        assert!(!matches(
            "NEAR(iran drones, 1)",
            "",
            "iran sent new old drones"
        ));
        assert!(!matches("NEAR(iran drones, 5)", "iran", "drones"));
        assert!(matches("iran -israel", "iran", ""));
        assert!(!matches("iran -israel", "iran", "israel"));
        assert!(matches("title:iran", "iran", ""));
        assert!(!matches("title:iran", "", "iran"));
        assert!(matches("feed:feed", "", ""));
        assert!(!matches("feed", "", ""));
    }

    #[test]
    fn an_or_of_one_word_phrases_is_one_id_in_each_set_of_columns() {
        // Exact words: a concept would be an OR of its own inside.
        let q = "title:(=iran OR =tehran) OR =iran OR =irán OR иран* OR =\"iran drone\" OR NEAR(=kyiv =odesa, 2)";
        assert!(matches(q, "Tehran", ""));
        assert!(!matches(q, "", "Tehran"));
        assert!(matches(q, "", "Иранские"));
        assert!(matches(q, "", "drone iran"));
        assert!(matches(q, "", "kyiv and odesa"));
        assert!(!matches(q, "", "drone kyiv"));
        let mut m = Matcher::new(super::super::FTS_DEFINITION).unwrap();
        m.prepare(&[rule(q)]).unwrap();
        let Some(Expr::Or(parts)) = m.compiled.as_ref().map(|c| &c.rules[0]) else {
            panic!("an OR");
        };
        // title's two, the other columns' three, the phrase, the NEAR.
        assert_eq!(parts.len(), 4, "{parts:?}");
    }

    #[test]
    fn marks_are_asked_with_the_words_the_matched_items_have() {
        let mut m = Matcher::new(super::super::FTS_DEFINITION).unwrap();
        m.prepare(&[rule(
            "(iran OR tehran OR \"air defence\") AND drone* -israel",
        )])
        .unwrap();
        assert_eq!(m.mark_query(0), None);
        m.matching(
            ["Tehran", "air defence drones", "", "", "f"],
            &|_| true,
            None,
        )
        .unwrap();
        let query = m.mark_query(0).unwrap();
        assert!(query.contains("\"tehran\""), "{query}");
        assert!(query.contains("\"air defence\""), "{query}");
        assert!(query.contains("\"drone\"*"), "{query}");
        assert!(!query.contains("iran\""), "{query}");
        assert!(!query.contains("israel"), "{query}");
        // An item no rule matched adds nothing; a new group starts anew.
        m.matching(["Iran", "", "", "", "f"], &|_| true, None)
            .unwrap();
        assert!(!m.mark_query(0).unwrap().contains("\"iran\""));
        m.prepare(&[rule(
            "(iran OR tehran OR \"air defence\") AND drone* -israel",
        )])
        .unwrap();
        assert_eq!(m.mark_query(0), None);
    }
}
