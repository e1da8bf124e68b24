//! The same-story detector on the test set of 30 syndicated pairs and 30
//! pairs of different stories on the same topics; the figures it prints are
//! the ones in the README, and the assertions keep them.

use super::*;

#[derive(serde::Deserialize)]
struct Set {
    story: Vec<Story>,
}

#[derive(serde::Deserialize)]
struct Story {
    topic: String,
    title: String,
    text: String,
    variant_title: String,
    variant_text: String,
}

fn set() -> Vec<Story> {
    let text = include_str!("../../../tests/fixtures/same_story.toml");
    toml::from_str::<Set>(text).expect("test set parses").story
}

/// (similarity, is the same story) for the 60 pairs.
fn pairs() -> Vec<(f64, bool, String)> {
    let s = set();
    let mut out = Vec::new();
    for st in &s {
        let a = shingles(&st.title, &st.text);
        let b = shingles(&st.variant_title, &st.variant_text);
        out.push((similarity(&a, &b), true, st.title.clone()));
    }
    for (i, x) in s.iter().enumerate() {
        for y in s.iter().skip(i + 1).filter(|y| y.topic == x.topic) {
            let a = shingles(&x.title, &x.text);
            let b = shingles(&y.title, &y.text);
            out.push((
                similarity(&a, &b),
                false,
                format!("{} / {}", x.title, y.title),
            ));
        }
    }
    out
}

#[test]
fn precision_and_recall_on_the_test_set() {
    let p = pairs();
    let positives = p.iter().filter(|x| x.1).count();
    let negatives = p.len() - positives;
    assert_eq!((positives, negatives), (30, 30), "the set is 30 + 30 pairs");
    let tp = p.iter().filter(|x| x.1 && x.0 >= THRESHOLD).count();
    let fp = p.iter().filter(|x| !x.1 && x.0 >= THRESHOLD).count();
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / positives as f64;
    let lowest_same = p.iter().filter(|x| x.1).map(|x| x.0).fold(1.0, f64::min);
    let highest_different = p.iter().filter(|x| !x.1).map(|x| x.0).fold(0.0, f64::max);
    eprintln!(
        "same story at {THRESHOLD}: precision {precision:.3} recall {recall:.3} \
         (tp {tp}, fp {fp}); lowest same-story {lowest_same:.3}, highest different {highest_different:.3}"
    );
    for (sim, same, name) in &p {
        if (*same && *sim < THRESHOLD) || (!*same && *sim >= THRESHOLD) {
            eprintln!("  misjudged ({sim:.3}, same = {same}): {name}");
        }
    }
    assert!(precision >= 1.0, "precision {precision}");
    assert!(recall >= 0.9, "recall {recall}");
}

#[test]
fn grouping_the_whole_set_finds_the_pairs() {
    let s = set();
    // Interleave originals and variants as a digest would list them.
    let mut texts = Vec::new();
    for st in &s {
        texts.push(shingles(&st.title, &st.text));
    }
    for st in &s {
        texts.push(shingles(&st.variant_title, &st.variant_text));
    }
    let links = vec![None; texts.len()];
    let roots = group(&links, &texts);
    let n = s.len();
    let joined = (0..n).filter(|&i| roots[i + n] == roots[i]).count();
    let wrongly = (0..2 * n)
        .filter(|&i| roots[i] != i && roots[i] % n != i % n)
        .count();
    assert!(joined >= 27, "only {joined} of {n} pairs grouped");
    assert_eq!(wrongly, 0, "different stories grouped together");
}

#[test]
fn equal_links_group_whatever_the_text() {
    let texts = vec![shingles("a", ""), shingles("b", ""), shingles("c", "")];
    let roots = group(
        &[
            Some("https://x/1"),
            Some("https://x/2"),
            Some("https://x/1"),
        ],
        &texts,
    );
    assert_eq!(roots, vec![0, 1, 0]);
}

#[test]
fn short_texts_are_not_compared_by_text() {
    let a = shingles("Iran", "drones");
    assert_eq!(similarity(&a, &a), 0.0);
    let long = shingles(
        "Ukraine confirms talks with Tehran",
        "on Russia's use of Iranian drones in the war",
    );
    assert_eq!(similarity(&long, &long), 1.0);
}
