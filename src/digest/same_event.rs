//! Digest stage: one event told in several languages, or rewritten by
//! another outlet (README, "What is new"; docs/concepts.md). The word
//! shingles of `same_story` need the same words, so a Ukrainian and a
//! German report of one strike never share one; what they share is what
//! the event is made of: the concepts they name (`lexicon`: Kharkiv and
//! missile, in any language and case) and its figures (3 killed, 21
//! injured, 07:40). Two reports are one event when they name mostly the
//! same concepts, at least `MIN_SHARED` of them, and their figures agree:
//! two strikes on one city on one day name the same concepts, and differ
//! in their figures. Measured on the labelled multilingual set (README).
//! Pure.

use super::same_story;
use crate::lexicon;

/// Concepts two reports of one event must share at least, besides those
/// common in the digest (measured on the labelled set: 3 found 0.22 of the
/// pairs, 1 joined wrongly one pair in five).
const MIN_SHARED: usize = 2;

/// Share of the smaller report's concepts the other must name.
const CONCEPTS_CONTAINED: f64 = 0.75;

/// Figures of two reports that both give figures: share of the smaller
/// set that the other must give.
const FIGURES_CONTAINED: f64 = 0.5;

/// What a report says of its event: its concepts and its figures, each
/// sorted and once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    concepts: Vec<usize>,
    figures: Vec<u64>,
}

/// Words of a text beyond this many do not count: the lede tells the
/// event (as in `same_story`).
const MAX_WORDS: usize = 200;

/// A report's event, from its title and the start of its text.
pub fn event(title: &str, text: &str) -> Event {
    let lede: Vec<&str> = text.split_whitespace().take(MAX_WORDS).collect();
    let all = format!("{title}. {}", lede.join(" "));
    Event {
        concepts: lexicon::lexicon().tag(&all),
        figures: figures(&all),
    }
}

/// The figures of a text: numbers of two digits or more, with their
/// thousands separators read (`2,000`, `2 000`, `2.000` are 2000); a
/// single digit is too common to tell events apart, and a year (four
/// digits from 1900 to 2100, written without a separator) says nothing of
/// which event.
fn figures(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        let mut separated = false;
        while i < chars.len() {
            let c = chars[i];
            let grouped = matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                && chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count()
                    == 3;
            if c.is_ascii_digit() {
                digits.push(c);
            } else if grouped {
                separated = true;
            } else {
                break;
            }
            i += 1;
        }
        // A time (07:40) is one figure, not an hour and a count of 40.
        let minutes: String = chars
            .get(i + 1..i + 3)
            .map_or(String::new(), |m| m.iter().collect());
        if chars.get(i) == Some(&':')
            && digits.len() <= 2
            && minutes.len() == 2
            && minutes.chars().all(|c| c.is_ascii_digit())
            && !chars.get(i + 3).is_some_and(char::is_ascii_digit)
            && let (Ok(h), Ok(m)) = (digits.parse::<u64>(), minutes.parse::<u64>())
        {
            out.push(TIME + h * 100 + m);
            i += 3;
            continue;
        }
        if let Ok(n) = digits.parse::<u64>()
            && n >= 10
            && (separated || !(1900..=2100).contains(&n))
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Times are figures above this (07:40 is TIME + 740), apart from counts.
const TIME: u64 = 1_000_000_000_000;

fn shared<T: Ord>(a: &[T], b: &[T]) -> usize {
    a.iter().filter(|x| b.binary_search(x).is_ok()).count()
}

/// Whether two reports tell one event.
pub fn same_event(a: &Event, b: &Event) -> bool {
    same_event_but(a, b, &[])
}

/// `same_event`, the concepts in `common` (sorted) left out: what most
/// reports of a digest name (Ukraine, Russia, a strike) tells none of
/// them apart.
fn same_event_but(a: &Event, b: &Event, common: &[usize]) -> bool {
    let telling = |e: &Event| -> Vec<usize> {
        e.concepts
            .iter()
            .copied()
            .filter(|c| common.binary_search(c).is_err())
            .collect()
    };
    let (ca, cb) = (telling(a), telling(b));
    let common = shared(&ca, &cb);
    let smaller = ca.len().min(cb.len());
    if common < MIN_SHARED || (common as f64) < CONCEPTS_CONTAINED * smaller as f64 {
        return false;
    }
    // Without figures on both sides, concepts alone cannot tell two
    // strikes on one city apart: not joined.
    // One shared figure is chance (a toll of 12, a time of :40): two, or
    // the only one a report gives.
    let fewer = a.figures.len().min(b.figures.len());
    let common = shared(&a.figures, &b.figures);
    fewer > 0 && common as f64 >= FIGURES_CONTAINED * fewer as f64 && (common >= 2 || fewer == 1)
}

/// A digest compares the events of at most this many copies, pair by
/// pair (a digest larger than this groups by text and links only).
const MAX_COMPARED: usize = 1000;

/// A digest's stories from this many on are enough to tell which
/// concepts are common among them.
const MIN_FOR_COMMON: usize = 8;

/// The concepts more than a quarter of `events` name (sorted), when they
/// are `MIN_FOR_COMMON` or more: in a digest of the war, Ukraine and
/// Russia are in every report, and sharing them says nothing.
fn common_concepts<'a>(events: impl Iterator<Item = &'a Event>) -> Vec<usize> {
    let mut count: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut n = 0;
    for e in events {
        n += 1;
        for &c in &e.concepts {
            *count.entry(c).or_default() += 1;
        }
    }
    if n < MIN_FOR_COMMON {
        return Vec::new();
    }
    let mut common: Vec<usize> = count
        .into_iter()
        .filter(|&(_, k)| k * 4 > n)
        .map(|(c, _)| c)
        .collect();
    common.sort_unstable();
    common
}

/// `roots` (each copy's story, from `same_story::group`) with the stories
/// that tell one event joined: a story joins the first earlier story whose
/// first copy tells its event (`same_event`). Each is compared with a
/// group's first copy, not with any of its copies: chains of "a bit like
/// the last one" would join a day's reports on one topic into one.
/// `event(i)` is asked only of the first copy of each story, once.
/// Concepts most of the stories name are left out of the comparison
/// (`common_concepts`).
pub fn join(roots: &[usize], event: impl Fn(usize) -> Event) -> Vec<usize> {
    let mut parent: Vec<usize> = roots.to_vec();
    let n = parent.len();
    if n > MAX_COMPARED {
        return parent;
    }
    let heads: Vec<(usize, Event)> = (0..n)
        .filter(|&i| same_story::find(&mut parent, i) == i)
        .map(|i| (i, event(i)))
        .collect();
    let common = common_concepts(heads.iter().map(|(_, e)| e));
    // Each event group: its first story's first copy, and that event.
    let mut groups: Vec<&(usize, Event)> = Vec::new();
    for head in &heads {
        match groups
            .iter()
            .find(|(_, g)| same_event_but(g, &head.1, &common))
        {
            Some(&&(g, _)) => same_story::union(&mut parent, g, head.0),
            None => groups.push(head),
        }
    }
    (0..n).map(|i| same_story::find(&mut parent, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_strike_in_three_languages_is_one_event_and_another_strike_is_not() {
        let en = event(
            "Russian missile strike on Kharkiv kills 3, injures 21",
            "An Iskander-M missile hit a school in Kharkiv at 07:40, governor Syniehubov said.",
        );
        let uk = event(
            "Ракетний удар по Харкову: 3 загиблих, 21 поранений",
            "О 07:40 ракета «Іскандер-М» влучила у школу в Харкові, повідомив Синєгубов.",
        );
        let ru = event(
            "Удар по Харькову: трое погибших, 21 раненый",
            "Ракета «Искандер» попала в школу в Харькове в 07:40.",
        );
        let other = event(
            "Second missile strike on Kharkiv at night injures 9",
            "Two S-300 missiles hit an industrial site in Kharkiv at 23:15, 9 injured.",
        );
        assert!(same_event(&en, &uk), "{en:?} {uk:?}");
        assert!(same_event(&uk, &ru), "{uk:?} {ru:?}");
        assert!(!same_event(&en, &other), "another strike that day");
    }

    #[test]
    fn figures_are_read_with_their_separators_and_years_left_out() {
        assert_eq!(
            figures("12,000 drones in 2026, 31 of 35, 07:40"),
            [31, 35, 12_000, TIME + 740]
        );
        assert_eq!(figures("2,000 troops"), [2000], "a figure, not a year");
        assert_eq!(
            figures("at 07:40, 12:40 and 21"),
            [21, TIME + 740, TIME + 1240]
        );
        assert_eq!(figures("1 000 000 тонн"), [1_000_000]);
    }
}
