//! Digest stage: finding the same story told by several items (docs/digests.md,
//! "What is new"), so that a digest shows it once with "also in: …", and a
//! story already sent is not presented as new again. Two items are the same
//! story when their canonical links are equal (unless both texts can be
//! compared and tell different stories: `same_at_link`), or when both
//! - their texts are near-identical: at least `THRESHOLD` of the word
//!   3-shingles of the shorter text (title and first 200 words) occur in the
//!   other (containment, not Jaccard: one outlet often runs a trimmed copy
//!   of the same wire story), and
//! - one's lede (title and first 40 words) is in the other, at least
//!   `LEDE_THRESHOLD` of its shingles: a next-day follow-up that reuses the
//!   background paragraph is news, and its lede is new.
//!
//! Text a feed repeats across its own items (a paywall blurb, a house
//! boilerplate, a background paragraph) is the feed's, not the story's: its
//! shingles are left out before comparing (`boilerplate`) — unless the items
//! that repeat it have one story's headline (an update, a re-post). Measured on
//! `tests/fixtures/same_story.toml` and `same_story_hard.toml`: see docs/digests.md.
//! Pure.

use std::collections::{HashMap, HashSet};

/// Containment of word 3-shingles at or above which two texts can be the
/// same story (chosen on the test sets; see docs/digests.md).
pub const THRESHOLD: f64 = 0.35;

/// Share of one item's lede that must be in the other (chosen on the hard
/// test set: follow-ups reach 0.22 at most, syndicated copies 0.26 at least
/// in the first set).
pub const LEDE_THRESHOLD: f64 = 0.25;

/// Words of a text beyond this many do not count: the lede decides.
pub(super) const MAX_WORDS: usize = 200;

/// Words of the lede (after the title's).
const LEDE_WORDS: usize = 40;

/// A text with fewer shingles than this is too short to compare by text.
const MIN_SHINGLES: usize = 4;

/// Shingles shared by more items than this are boilerplate, not evidence
/// (and skipping them keeps candidate search linear).
const MAX_POSTINGS: usize = 64;

/// What an item's text says about its story: sorted, unique shingle hashes
/// of the whole (title and first words) and of the lede, boilerplate left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub all: Vec<u64>,
    pub lede: Vec<u64>,
}

fn words<'a>(title: &'a str, text: &'a str) -> impl Iterator<Item = String> + 'a {
    title
        .split(|c: char| !c.is_alphanumeric())
        .chain(text.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The hashes of a text's word 3-shingles (title first), in order, over at
/// most `max_words` words.
fn shingle_hashes(title: &str, text: &str, max_words: usize) -> Vec<u64> {
    let words: Vec<String> = words(title, text).take(max_words).collect();
    words.windows(3).map(|w| fnv1a(&w.join(" "))).collect()
}

fn sorted_unique(mut v: Vec<u64>, leave_out: &HashSet<u64>) -> Vec<u64> {
    v.retain(|h| !leave_out.contains(h));
    v.sort_unstable();
    v.dedup();
    v
}

/// The sorted, unique hashes of a text's word 3-shingles.
pub fn shingles(title: &str, text: &str) -> Vec<u64> {
    sorted_unique(shingle_hashes(title, text, MAX_WORDS), &HashSet::new())
}

/// An item's fingerprint, without its feed's `boilerplate`.
pub fn fingerprint(title: &str, text: &str, boilerplate: &HashSet<u64>) -> Fingerprint {
    let all = shingle_hashes(title, text, MAX_WORDS);
    let title_words = words(title, "").count();
    let lede = all
        .iter()
        .take((title_words + LEDE_WORDS).saturating_sub(2))
        .copied()
        .collect();
    Fingerprint {
        all: sorted_unique(all, boilerplate),
        lede: sorted_unique(lede, boilerplate),
    }
}

/// The shingles that occur in two or more of one feed's `texts` (title,
/// text) that tell different stories: what the feed says about itself, not
/// about a story. Items whose headlines are one story's (`one_headline`:
/// an update, a re-post, a revised figure) count once, so that the text an
/// update repeats is evidence that it is the same story, not boilerplate
/// (an update and its original sat side by side in one digest).
pub fn boilerplate<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> HashSet<u64> {
    let items: Vec<(&str, &str)> = texts.into_iter().collect();
    let heads: Vec<Vec<(String, bool)>> = items.iter().map(|(t, _)| headline_words(t)).collect();
    let texts: Vec<HashSet<String>> = items.iter().map(|(t, x)| words(t, x).collect()).collect();
    let mut parent: Vec<usize> = (0..items.len()).collect();
    // Only headlines that share a telling word are compared, and a word in
    // more than `MAX_POSTINGS` headlines tells nothing: linear in the
    // number of items, however many a digest holds.
    let mut by_word: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, head) in heads.iter().enumerate() {
        for (w, _) in head {
            by_word.entry(w.as_str()).or_default().push(i);
        }
    }
    let mut pairs: Vec<(usize, usize)> = by_word
        .values()
        .filter(|l| l.len() > 1 && l.len() <= MAX_POSTINGS)
        .flat_map(|l| {
            l.iter()
                .enumerate()
                .flat_map(move |(k, &a)| l[k + 1..].iter().map(move |&b| (a, b)))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for (a, b) in pairs {
        if find(&mut parent, a) != find(&mut parent, b)
            && one_headline((&heads[a], &texts[a]), (&heads[b], &texts[b]))
        {
            union(&mut parent, a, b);
        }
    }
    let mut first_story: HashMap<u64, usize> = HashMap::new();
    let mut repeated = HashSet::new();
    for (i, (title, text)) in items.iter().enumerate() {
        let story = find(&mut parent, i);
        for h in shingles(title, text) {
            match first_story.get(&h) {
                Some(&s) if s != story => {
                    repeated.insert(h);
                }
                Some(_) => {}
                None => {
                    first_story.insert(h, story);
                }
            }
        }
    }
    repeated
}

/// Words that say nothing of which story a headline tells.
const HEADLINE_NOISE: &[&str] = &[
    "update", "updated", "the", "and", "for", "with", "from", "over", "after", "into", "says",
    "said", "amid", "new", "live", "breaking", "urgent", "rises", "rise", "risen",
];

/// A headline's telling words: lower case, three letters or more, no
/// figures (an update revises them), no `HEADLINE_NOISE`; each with
/// whether it is a name (capitalised, not the headline's first word).
fn headline_words(title: &str) -> Vec<(String, bool)> {
    let mut w: Vec<(String, bool)> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
        .filter(|(_, w)| w.chars().count() >= 3 && !w.chars().all(|c| c.is_numeric()))
        .map(|(i, w)| {
            let name = i > 0 && w.chars().next().is_some_and(char::is_uppercase);
            (w.to_lowercase(), name)
        })
        .filter(|(w, _)| !HEADLINE_NOISE.contains(&w.as_str()))
        .collect();
    w.sort_unstable();
    w.dedup_by(|a, b| a.0 == b.0);
    w
}

/// Two headlines of one story: most telling words of the shorter in the
/// other, and no name in one headline that the other item does not
/// mention at all ("UPDATE 1-Iran summons Ukrainian envoy" and "Iran
/// summons Ukrainian envoy"; "Drone debris injures two in Kyiv" and
/// "…injures four in Kyiv"; "Finland closes last border crossing with
/// Russia" and "Finland closes Vaalimaa crossing", whose texts name both;
/// but not "Russia claims village near Pokrovsk" and "…near Huliaipole").
fn one_headline(
    (a, a_text): (&[(String, bool)], &HashSet<String>),
    (b, b_text): (&[(String, bool)], &HashSet<String>),
) -> bool {
    let min = a.len().min(b.len());
    if min < 3 {
        return false;
    }
    let has =
        |list: &[(String, bool)], w: &str| list.binary_search_by(|x| x.0.as_str().cmp(w)).is_ok();
    let shared = a.iter().filter(|(w, _)| has(b, w)).count();
    let other_name = a.iter().any(|(w, name)| *name && !b_text.contains(w))
        || b.iter().any(|(w, name)| *name && !a_text.contains(w));
    shared * 5 >= min * 3 && !other_name
}

/// FNV-1a: stable across runs and versions (std's hasher is not promised
/// to be), since fingerprints of sent stories are stored.
pub(super) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How many of `a` are in `b` (both sorted, each once).
pub(super) fn shared<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Containment of the smaller shingle set in the larger, 0.0 when either is
/// too short to judge.
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    let min = a.len().min(b.len());
    if min < MIN_SHINGLES {
        return 0.0;
    }
    shared(a, b) as f64 / min as f64
}

/// Share of `a`'s lede found anywhere in `b`.
fn lede_in(a: &Fingerprint, b: &Fingerprint) -> f64 {
    if a.lede.len() < MIN_SHINGLES {
        return 0.0;
    }
    shared(&a.lede, &b.all) as f64 / a.lede.len() as f64
}

/// Whether two fingerprints tell the same story (the links aside).
pub fn same_story(a: &Fingerprint, b: &Fingerprint) -> bool {
    similarity(&a.all, &b.all) >= THRESHOLD && lede_in(a, b).max(lede_in(b, a)) >= LEDE_THRESHOLD
}

/// Whether a shared link says two items are the same story: unless both
/// texts can be compared and tell different things. A status page or an
/// agency's front page linked by distinct events is not one story, and a
/// later event at that link must not pass for a copy of an earlier one.
pub fn same_at_link(a: &Fingerprint, b: &Fingerprint) -> bool {
    a.all.len() < MIN_SHINGLES
        || b.all.len() < MIN_SHINGLES
        || similarity(&a.all, &b.all) >= THRESHOLD
}

/// The sentences of `text` that `known` (sorted shingle hashes of another
/// version, `Fingerprint::all`) does not have: what an update adds or
/// changes ("injured four people" where it said two). At most `limit`,
/// each whole; only within the first `MAX_WORDS` words, which is all that
/// `known` (with `known_title`, the title it was made with) covers. The
/// feed's `boilerplate` (left out of `known`) is no change.
pub fn changed_sentences(
    text: &str,
    (known, known_title): (&[u64], &str),
    boilerplate: &HashSet<u64>,
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    // `known` covers its title's words and its text's first words, up to
    // `MAX_WORDS` in all: past that, nothing can be told unchanged.
    let mut seen_words = words(known_title, "").count();
    for sentence in sentences(text) {
        let words: Vec<String> = words(sentence, "").collect();
        seen_words += words.len();
        if seen_words > MAX_WORDS || out.len() >= limit {
            break;
        }
        if words.len() < 3 {
            continue;
        }
        let hashes: Vec<u64> = words.windows(3).map(|w| fnv1a(&w.join(" "))).collect();
        let known_here = hashes
            .iter()
            .filter(|h| known.binary_search(h).is_ok() || boilerplate.contains(h))
            .count();
        // A sentence an update left alone is all there; one with a figure
        // or a clause changed loses the shingles around the change.
        if known_here < hashes.len() {
            out.push(sentence.trim().to_string());
        }
    }
    out
}

/// A text's sentences: ended by `.`, `!` or `?` before a space and a
/// capital letter, a digit or a quote (not "a.m. on" or "U.S. envoy").
pub(super) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if matches!(c, '.' | '!' | '?')
            && chars.get(k + 1).is_some_and(|(_, n)| n.is_whitespace())
            && chars
                .get(k + 2)
                .is_some_and(|(_, n)| n.is_uppercase() || n.is_numeric() || *n == '"' || *n == '(')
        {
            let end = i + c.len_utf8();
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() && !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out
}

/// The share of `text`'s word 3-shingles that are in `boilerplate` (0.0
/// for a text too short to have any).
pub(super) fn boilerplate_share(text: &str, boilerplate: &HashSet<u64>) -> f64 {
    let words: Vec<String> = words(text, "").collect();
    let hashes: Vec<u64> = words.windows(3).map(|w| fnv1a(&w.join(" "))).collect();
    if hashes.is_empty() {
        return 0.0;
    }
    hashes.iter().filter(|h| boilerplate.contains(h)).count() as f64 / hashes.len() as f64
}

/// Groups items that are the same story. `links[i]` and `prints[i]`
/// describe item `i`; returns, for every item, the index of the first item
/// of its group (itself when it starts one).
pub fn group(links: &[Option<&str>], prints: &[Fingerprint]) -> Vec<usize> {
    let n = links.len().min(prints.len());
    let mut parent: Vec<usize> = (0..n).collect();
    let mut by_link: HashMap<&str, usize> = HashMap::new();
    for (i, link) in links.iter().enumerate().take(n) {
        if let Some(l) = link {
            match by_link.get(l) {
                // Distinct events at one page (a status page, a live blog)
                // are each their own story.
                Some(&first) if same_at_link(&prints[first], &prints[i]) => {
                    union(&mut parent, first, i)
                }
                Some(_) => {}
                None => {
                    by_link.insert(l, i);
                }
            }
        }
    }
    for (a, b) in candidates(&prints[..n]) {
        if find(&mut parent, a) != find(&mut parent, b) && same_story(&prints[a], &prints[b]) {
            union(&mut parent, a, b);
        }
    }
    (0..n).map(|i| find(&mut parent, i)).collect()
}

/// Pairs that share at least one not-too-common shingle: the only ones
/// worth comparing.
fn candidates(prints: &[Fingerprint]) -> Vec<(usize, usize)> {
    let mut postings: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, p) in prints.iter().enumerate() {
        for h in &p.all {
            postings.entry(*h).or_default().push(i);
        }
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for list in postings
        .values()
        .filter(|l| l.len() > 1 && l.len() <= MAX_POSTINGS)
    {
        for (k, &a) in list.iter().enumerate() {
            for &b in &list[k + 1..] {
                pairs.push((a, b));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

pub(super) fn find(parent: &mut [usize], i: usize) -> usize {
    let mut root = i;
    while parent[root] != root {
        root = parent[root];
    }
    let mut j = i;
    while parent[j] != root {
        let next = parent[j];
        parent[j] = root;
        j = next;
    }
    root
}

/// Joins two groups under the smaller index, so a group's root is its first
/// item.
pub(super) fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}

#[cfg(test)]
mod tests;
