//! Digest stage: finding the same story told by several feeds (README, "What is new"), so
//! that a digest shows it once with "also in: …". Two items are the same
//! story when their canonical links are equal, or when their texts are
//! near-identical: the share of word 3-shingles the shorter text has in
//! common with the other (containment) reaches `THRESHOLD`. Containment,
//! not Jaccard, because one outlet often runs a trimmed version of the same
//! wire copy. Measured on `tests/fixtures/same_story.toml` (30 syndicated
//! pairs, 30 different stories on the same topics): see README. Pure.

use std::collections::HashMap;

/// Containment of word 3-shingles at or above which two texts are the same
/// story (chosen on the test set; see the README for precision and recall).
pub const THRESHOLD: f64 = 0.35;

/// Words of a text beyond this many do not count: the lede decides.
const MAX_WORDS: usize = 200;

/// A text with fewer shingles than this is too short to compare by text.
const MIN_SHINGLES: usize = 4;

/// Shingles shared by more items than this are boilerplate, not evidence
/// (and skipping them keeps candidate search linear).
const MAX_POSTINGS: usize = 64;

/// The sorted, unique hashes of a text's word 3-shingles.
pub fn shingles(title: &str, text: &str) -> Vec<u64> {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .chain(text.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(str::to_lowercase)
        .collect();
    let mut out: Vec<u64> = words.windows(3).map(|w| fnv1a(&w.join(" "))).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// FNV-1a: stable across runs and versions (std's hasher is not promised to be).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Containment of the smaller shingle set in the larger, 0.0 when either is
/// too short to judge.
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    let min = a.len().min(b.len());
    if min < MIN_SHINGLES {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f64 / min as f64
}

/// Groups items that are the same story. `links[i]` and `texts[i]` (shingle
/// sets) describe item `i`; returns, for every item, the index of the first
/// item of its group (itself when it starts one).
pub fn group(links: &[Option<&str>], texts: &[Vec<u64>]) -> Vec<usize> {
    let n = links.len().min(texts.len());
    let mut parent: Vec<usize> = (0..n).collect();
    let mut by_link: HashMap<&str, usize> = HashMap::new();
    for (i, link) in links.iter().enumerate().take(n) {
        if let Some(l) = link {
            match by_link.get(l) {
                Some(&first) => union(&mut parent, first, i),
                None => {
                    by_link.insert(l, i);
                }
            }
        }
    }
    // Candidates share at least one not-too-common shingle.
    let mut postings: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, t) in texts.iter().enumerate().take(n) {
        for h in t {
            postings.entry(*h).or_default().push(i);
        }
    }
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for list in postings
        .values()
        .filter(|l| l.len() > 1 && l.len() <= MAX_POSTINGS)
    {
        for (k, &a) in list.iter().enumerate() {
            for &b in &list[k + 1..] {
                candidates.push((a, b));
            }
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    for (a, b) in candidates {
        if find(&mut parent, a) != find(&mut parent, b)
            && similarity(&texts[a], &texts[b]) >= THRESHOLD
        {
            union(&mut parent, a, b);
        }
    }
    (0..n).map(|i| find(&mut parent, i)).collect()
}

fn find(parent: &mut [usize], i: usize) -> usize {
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
/// (newest) item.
fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}

#[cfg(test)]
mod tests;
