//! The same-story detector on its two labelled sets: 30 syndicated pairs
//! and 30 different stories on the same topics (`same_story.toml`), and the
//! harder set (`same_story_hard.toml`: late copies, rewrites, same-day
//! different events, follow-ups, paywall blurbs). The figures printed are
//! those in docs/digests.md; the assertions keep them.

use std::collections::{BTreeMap, HashMap, HashSet};

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

#[derive(serde::Deserialize)]
struct HardSet {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    kind: String,
    same: bool,
    note: String,
    a: Entry,
    b: Entry,
}

#[derive(serde::Deserialize, Clone)]
struct Entry {
    feed: String,
    title: String,
    text: String,
    link: String,
}

fn set() -> Vec<Story> {
    let text = include_str!("../../../tests/fixtures/same_story.toml");
    toml::from_str::<Set>(text).expect("test set parses").story
}

fn hard() -> Vec<Case> {
    let mut cases = Vec::new();
    for text in [
        include_str!("../../../tests/fixtures/same_story_hard.toml"),
        include_str!("../../../tests/fixtures/same_story_updates.toml"),
    ] {
        cases.extend(
            toml::from_str::<HardSet>(text)
                .expect("hard set parses")
                .case,
        );
    }
    cases
}

fn print(title: &str, text: &str) -> Fingerprint {
    fingerprint(title, text, &HashSet::new())
}

/// (kind, is the same story, judged the same, name) for every pair of both
/// sets. The hard set's feeds are rebuilt from its cases, so that each
/// feed's boilerplate is found as it would be in a digest.
fn judged() -> Vec<(String, bool, bool, String)> {
    let mut out = Vec::new();
    let s = set();
    for st in &s {
        let same = same_story(
            &print(&st.title, &st.text),
            &print(&st.variant_title, &st.variant_text),
        );
        out.push(("syndicated".into(), true, same, st.title.clone()));
    }
    for (i, x) in s.iter().enumerate() {
        for y in s.iter().skip(i + 1).filter(|y| y.topic == x.topic) {
            let same = same_story(&print(&x.title, &x.text), &print(&y.title, &y.text));
            out.push((
                "different".into(),
                false,
                same,
                format!("{} / {}", x.title, y.title),
            ));
        }
    }
    let cases = hard();
    let mut feeds: HashMap<&str, BTreeMap<&str, &Entry>> = HashMap::new();
    for c in &cases {
        for e in [&c.a, &c.b] {
            feeds.entry(&e.feed).or_default().insert(&e.link, e);
        }
    }
    let boiler: HashMap<&str, HashSet<u64>> = feeds
        .iter()
        .map(|(f, items)| {
            (
                *f,
                boilerplate(items.values().map(|e| (e.title.as_str(), e.text.as_str()))),
            )
        })
        .collect();
    let fp = |e: &Entry| fingerprint(&e.title, &e.text, &boiler[e.feed.as_str()]);
    for c in &cases {
        let (a, b) = (fp(&c.a), fp(&c.b));
        let same = (c.a.link == c.b.link && same_at_link(&a, &b)) || same_story(&a, &b);
        out.push((c.kind.clone(), c.same, same, c.note.clone()));
    }
    out
}

#[test]
fn precision_and_recall_on_the_test_sets() {
    let p = judged();
    let mut kinds: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
    kinds.dedup();
    for kind in &kinds {
        let of: Vec<_> = p.iter().filter(|x| x.0 == *kind).collect();
        let judged_same = of.iter().filter(|x| x.2).count();
        eprintln!(
            "same story: {kind:<20} {judged_same:>2} of {:>2} judged the same (all labelled {})",
            of.len(),
            if of[0].1 { "same" } else { "different" }
        );
    }
    let tp = p.iter().filter(|x| x.1 && x.2).count();
    let fp = p.iter().filter(|x| !x.1 && x.2).count();
    let positives = p.iter().filter(|x| x.1).count();
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / positives as f64;
    eprintln!(
        "same story, all sets: precision {precision:.2} recall {recall:.2} (tp {tp}, fp {fp}, {positives} same pairs)"
    );
    for (kind, same, judged, name) in &p {
        if same != judged {
            eprintln!("  misjudged ({kind}, same = {same}): {name}");
        }
    }
    assert_eq!(
        (p.len(), positives),
        (60 + 94 + 16, 30 + 40 + 8),
        "the sets are 30 + 30, 94 and 16 pairs"
    );
    assert_eq!(fp, 0, "different stories judged the same");
    let recall_of = |kind: &str| {
        let of: Vec<_> = p.iter().filter(|x| x.0 == kind).collect();
        of.iter().filter(|x| x.2).count() as f64 / of.len() as f64
    };
    assert!(recall_of("syndicated") >= 1.0, "syndicated copies");
    assert!(recall_of("late-copy") >= 0.75, "late copies");
    assert!(recall_of("same-feed-update") >= 1.0, "a feed's own updates");
    assert!(recall_of("repost") >= 1.0, "a feed's reposts");
    assert!(recall >= 0.64, "recall {recall}");
}

#[test]
fn a_blurb_a_feed_repeats_makes_no_two_of_its_items_the_same_story() {
    // Four paywalled items: their own headlines, one shared blurb.
    let blurb = "Subscribe to read the full story. Our reporters cover the war in Ukraine, \
                 Iranian drones, sanctions and the economy every day, with analysis you will \
                 not find anywhere else. Already a subscriber? Sign in to continue reading.";
    let titles = [
        "Drones hit Odesa port overnight",
        "EU agrees new sanctions package",
        "Kyiv restores power after strikes",
        "Iran denies new arms shipments",
    ];
    let boiler = boilerplate(titles.iter().map(|t| (*t, blurb)));
    let prints: Vec<Fingerprint> = titles
        .iter()
        .map(|t| fingerprint(t, blurb, &boiler))
        .collect();
    let roots = group(&[None, None, None, None], &prints);
    assert_eq!(roots, vec![0, 1, 2, 3], "each is its own story");
    // Without the feed's context, the blurb alone would merge them.
    assert!(same_story(
        &print(titles[0], blurb),
        &print(titles[1], blurb)
    ));
}

/// Equal links group items whose texts are too short to tell apart; two
/// texts at one link that tell different stories stay apart.
#[test]
fn equal_links_group_unless_the_texts_tell_different_stories() {
    let alert = print(
        "Air raid alert in Kyiv region",
        "Air raid alert declared in Kyiv region at 02:10 because of attack drones approaching from the south.",
    );
    let clear = print(
        "All clear in Kyiv region",
        "The air raid alert in Kyiv region ended at 05:45 after three and a half hours; metro stations reopen.",
    );
    let status = Some("https://alerts.example/status");
    assert_eq!(group(&[status, status], &[alert, clear]), vec![0, 1]);

    let prints = vec![print("a", ""), print("b", ""), print("c", "")];
    let roots = group(
        &[
            Some("https://x/1"),
            Some("https://x/2"),
            Some("https://x/1"),
        ],
        &prints,
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

#[test]
fn grouping_the_first_set_finds_its_pairs() {
    let s = set();
    // Interleave originals and variants as a digest would list them.
    let mut prints = Vec::new();
    for st in &s {
        prints.push(print(&st.title, &st.text));
    }
    for st in &s {
        prints.push(print(&st.variant_title, &st.variant_text));
    }
    let links = vec![None; prints.len()];
    let roots = group(&links, &prints);
    let n = s.len();
    let joined = (0..n).filter(|&i| roots[i + n] == roots[i]).count();
    let wrongly = (0..2 * n)
        .filter(|&i| roots[i] != i && roots[i] % n != i % n)
        .count();
    assert_eq!(joined, n, "only {joined} of {n} pairs grouped");
    assert_eq!(wrongly, 0, "different stories grouped together");
}

#[test]
fn what_an_update_changed_is_its_new_or_revised_sentences() {
    let original = "Falling debris from a Russian drone injured two people in Kyiv's Obolon district early on Wednesday, the city administration said. Fires broke out on the top floors and were put out by 5 a.m. (Reporting by Olena Harmash)";
    let update = "Falling debris from a Russian drone injured four people in Kyiv's Obolon district early on Wednesday, the city administration said. Fires broke out on the top floors and were put out by 5 a.m. Two of the injured were taken to hospital. (Reporting by Olena Harmash)";
    let known = shingles("Drone debris injures two in Kyiv", original);
    let sign_off: HashSet<u64> = shingles("", "(Reporting by Olena Harmash)")
        .into_iter()
        .collect();
    assert_eq!(
        changed_sentences(
            update,
            (&known, "Drone debris injures two in Kyiv"),
            &sign_off,
            5
        ),
        [
            "Falling debris from a Russian drone injured four people in Kyiv's Obolon district early on Wednesday, the city administration said.",
            "Two of the injured were taken to hospital."
        ]
    );
    assert!(
        changed_sentences(
            original,
            (&known, "Drone debris injures two in Kyiv"),
            &sign_off,
            5
        )
        .is_empty()
    );
}

/// A long text told again word for word has changed nothing, up to the
/// last word its known version covers (the title's words count there too).
#[test]
fn a_long_text_told_again_has_changed_nothing() {
    let title = "One two three four five six seven eight nine ten";
    let text: String = (0..50)
        .map(|i| format!("Sentence number {i} says the same thing again today."))
        .collect::<Vec<_>>()
        .join(" ");
    let known = shingles(title, &text);
    assert_eq!(
        changed_sentences(&text, (&known, title), &HashSet::new(), 5),
        Vec::<String>::new()
    );
}
