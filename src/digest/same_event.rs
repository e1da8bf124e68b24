//! Digest stage: one event told in several languages, or rewritten by
//! another outlet (docs/digests.md, "What is new"; docs/concepts.md). The word
//! shingles of `same_story` need the same words, so a Ukrainian and a
//! German report of one strike never share one; what they share is what
//! the event is made of: the concepts they name (`lexicon`: Kharkiv and
//! missile, in any language and case), the names the lexicon does not know
//! (`names`: Syniehubov and Синєгубов, Pisochyn and Пісочині) and its
//! figures (3 killed, 21 injured, 07:40, 40 тисяч). Two reports are one
//! event when they name mostly the same concepts and names, at least
//! `MIN_SHARED` of them, and their figures agree, or, where one gives no
//! figures, they share `MIN_NAMES_WITHOUT_FIGURES` names: two strikes on
//! one city on one day name the same concepts, and differ in their figures
//! and places. Measured on the labelled multilingual set (docs/concepts.md).
//! Pure.

use super::{names, same_story};
use crate::lexicon;

/// Concepts two reports of one event must share at least, besides those
/// common in the digest (measured on the labelled set: 3 found 0.22 of the
/// pairs, 1 joined wrongly one pair in five).
const MIN_SHARED: usize = 2;

/// Names two reports without figures (one of them or both) must share at
/// least to be one event (measured on the labelled set: 1 joined wrongly
/// one pair in five, 3 found 0.61 of the pairs against 0.69).
const MIN_NAMES_WITHOUT_FIGURES: usize = 2;

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
    /// The names it gives (`names`), each as its key.
    names: Vec<u64>,
}

/// A report's event, from its title and the start of its text.
pub fn event(title: &str, text: &str) -> Event {
    // Words past `same_story`'s do not count: the lede tells the event.
    let lede: Vec<&str> = text
        .split_whitespace()
        .take(same_story::MAX_WORDS)
        .collect();
    let all = format!("{title}. {}", lede.join(" "));
    let lexicon = lexicon::lexicon();
    Event {
        concepts: lexicon.tag(&all),
        figures: figures(&all),
        names: names::names(&all, &|w| !lexicon.tag(w).is_empty()),
    }
}

/// The figures of a text: numbers of two digits or more, with their
/// thousands separators read (`2,000`, `2 000`, `2.000` are 2000); a
/// single digit is too common to tell events apart, and a year (four
/// digits from 1900 to 2100, written without a separator) says nothing of
/// which event.
fn figures(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    // Persian and Arabic digits (۲۱, ٢١) are the figures Latin digits are.
    let chars: Vec<char> = text
        .chars()
        .map(|c| match c {
            '\u{6f0}'..='\u{6f9}' => char::from(b'0' + (c as u32 - 0x6f0) as u8),
            '\u{660}'..='\u{669}' => char::from(b'0' + (c as u32 - 0x660) as u8),
            _ => c,
        })
        .collect();
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
            let grouped = matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}' | '\u{66c}')
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
        // A time (07:40, 07h40) is one figure, not an hour and a count of 40.
        let minutes: String = chars
            .get(i + 1..i + 3)
            .map_or(String::new(), |m| m.iter().collect());
        if matches!(chars.get(i), Some(':' | 'h'))
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
        let times = magnitude(&chars[i..]);
        if let Ok(n) = digits.parse::<u64>()
            && (n >= 10 || times > 1)
            && (separated || times > 1 || !(1900..=2100).contains(&n))
        {
            out.push(n.saturating_mul(times));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// What the word after a number multiplies it by: "40 тисяч", "30 тыс.",
/// "40 tys." are 40,000 as "40,000" is; 1 for any other word.
fn magnitude(after: &[char]) -> u64 {
    let word: String = after
        .iter()
        .skip_while(|c| matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .take_while(|c| c.is_alphabetic())
        .flat_map(|c| c.to_lowercase())
        .collect();
    if after.first().is_some_and(|c| c.is_alphabetic()) && word.chars().count() > 3 {
        // "40th", "5km": a word of its own only after a space, or short.
        return 1;
    }
    const EXACT: [(&str, u64); 11] = [
        // Spanish "mil"; the Polish "mil" (miles) is rarer in this news, and
        // misread it only makes a distance a larger figure.
        ("mil", 1_000),
        ("mille", 1_000),
        ("tys", 1_000),
        ("тис", 1_000),
        ("тыс", 1_000),
        ("млн", 1_000_000),
        ("mln", 1_000_000),
        ("mio", 1_000_000),
        ("млрд", 1_000_000_000),
        ("هزار", 1_000),
        ("mld", 1_000_000_000),
    ];
    const STEMS: [(&str, u64); 18] = [
        ("thousand", 1_000),
        ("tausend", 1_000),
        ("тисяч", 1_000),
        ("тысяч", 1_000),
        ("tysi", 1_000),
        ("million", 1_000_000),
        ("millón", 1_000_000),
        ("millon", 1_000_000),
        ("milion", 1_000_000),
        ("мільйон", 1_000_000),
        ("миллион", 1_000_000),
        ("billion", 1_000_000_000),
        ("milliard", 1_000_000_000),
        ("мільярд", 1_000_000_000),
        ("миллиард", 1_000_000_000),
        ("miliard", 1_000_000_000),
        ("میلیون", 1_000_000),
        ("میلیارد", 1_000_000_000),
    ];
    EXACT
        .iter()
        .find(|(w, _)| word == *w)
        .or_else(|| STEMS.iter().find(|(w, _)| word.starts_with(w)))
        .map_or(1, |&(_, m)| m)
}

/// Times are figures above this (07:40 is TIME + 740), apart from counts.
const TIME: u64 = 1_000_000_000_000;

/// Whether two reports tell one event (in a digest, with what most of its
/// reports name left out of both: `Common::leave_out`).
pub fn same_event(a: &Event, b: &Event) -> bool {
    let names = same_story::shared(&a.names, &b.names);
    // A shared name counts as a shared concept: the governor, the village,
    // the ship that the lexicon does not know.
    let shared_concepts = same_story::shared(&a.concepts, &b.concepts) + names;
    let smaller = a.concepts.len().min(b.concepts.len());
    if shared_concepts < MIN_SHARED
        || (shared_concepts as f64) < CONCEPTS_CONTAINED * smaller as f64
    {
        return false;
    }
    // Without figures on both sides, concepts alone cannot tell two
    // strikes on one city apart; names can, when two or more are shared
    // (one is often the governor who reports every strike).
    // One shared figure is chance (a toll of 12, a time of :40): two, or
    // the only one a report gives.
    let fewer = a.figures.len().min(b.figures.len());
    if fewer == 0 {
        return names >= MIN_NAMES_WITHOUT_FIGURES;
    }
    let common = same_story::shared(&a.figures, &b.figures);
    common as f64 >= FIGURES_CONTAINED * fewer as f64 && (common >= 2 || fewer == 1)
}

/// A digest compares the events of at most this many copies, pair by
/// pair (a digest larger than this groups by text and links only).
const MAX_COMPARED: usize = 1000;

/// A digest's stories from this many on are enough to tell which
/// concepts are common among them.
const MIN_FOR_COMMON: usize = 8;

/// The concepts and names more than a quarter of a digest's stories give
/// (each sorted), when they are `MIN_FOR_COMMON` or more: in a digest of
/// the war, Ukraine and Russia are in every report, and sharing them says
/// nothing.
#[derive(Debug)]
struct Common {
    concepts: Vec<usize>,
    names: Vec<u64>,
}

impl Common {
    fn of<'a>(events: impl Iterator<Item = &'a Event> + Clone) -> Common {
        Common {
            concepts: common(events.clone().map(|e| e.concepts.as_slice())),
            names: common(events.map(|e| e.names.as_slice())),
        }
    }

    /// `event` without what is common: once per story, not per pair.
    fn leave_out(&self, event: &mut Event) {
        event
            .concepts
            .retain(|c| self.concepts.binary_search(c).is_err());
        event.names.retain(|n| self.names.binary_search(n).is_err());
    }
}

/// What more than a quarter of `sets` hold, sorted (none when they are
/// fewer than `MIN_FOR_COMMON`).
fn common<T: Ord + Copy + std::hash::Hash, S: AsRef<[T]>>(sets: impl Iterator<Item = S>) -> Vec<T> {
    let mut count: std::collections::HashMap<T, usize> = std::collections::HashMap::new();
    let mut n = 0;
    for set in sets {
        n += 1;
        for &x in set.as_ref() {
            *count.entry(x).or_default() += 1;
        }
    }
    if n < MIN_FOR_COMMON {
        return Vec::new();
    }
    let mut common: Vec<T> = count
        .into_iter()
        .filter(|&(_, k)| k * 4 > n)
        .map(|(x, _)| x)
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
/// (`Common`).
pub fn join(roots: &[usize], event: impl Fn(usize) -> Event) -> Vec<usize> {
    let mut parent: Vec<usize> = roots.to_vec();
    let n = parent.len();
    if n > MAX_COMPARED {
        return parent;
    }
    let mut heads: Vec<(usize, Event)> = (0..n)
        .filter(|&i| same_story::find(&mut parent, i) == i)
        .map(|i| (i, event(i)))
        .collect();
    let common = Common::of(heads.iter().map(|(_, e)| e));
    for (_, e) in &mut heads {
        common.leave_out(e);
    }
    // Each event group: its first story's first copy, and that event.
    let mut groups: Vec<&(usize, Event)> = Vec::new();
    for head in &heads {
        match groups.iter().find(|(_, g)| same_event(g, &head.1)) {
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
    fn reports_without_figures_are_one_event_by_two_shared_names() {
        let en = event(
            "Ballistic missile hits Pisochyn on the edge of Kharkiv",
            "Governor Oleh Syniehubov said a gas pipeline was damaged in Pisochyn.",
        );
        let uk = event(
            "Балістика по Пісочину",
            "Синєгубов: у Пісочині пошкоджено газогін, ракета влучила біля школи.",
        );
        let other = event(
            "Missile strike on Kharkiv's Kyivskyi district",
            "Governor Oleh Syniehubov said a missile hit a warehouse in Kharkiv.",
        );
        assert!(same_event(&en, &uk), "{en:?} {uk:?}");
        for (a, b) in [(&uk, &other), (&en, &other)] {
            assert!(
                !same_event(a, b),
                "the governor alone, who reports every strike"
            );
        }
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
        assert_eq!(figures("без світла 40 тисяч родин"), [40_000]);
        assert_eq!(figures("30 тыс. книг, 40 tys. domów"), [30_000, 40_000]);
        assert_eq!(
            figures("1 млн, 59 Millionen, 2 milliards"),
            [1_000_000, 59_000_000, 2_000_000_000]
        );
        assert_eq!(figures("à 23h15, le 5 mil"), [5_000, TIME + 2315]);
        assert_eq!(
            figures("ساعت ۷:۴۰، ۲۱ زخمی و شش هزار تن، ٣٤ و ۱۲ هزار، ۴۰٬۰۰۰"),
            [21, 34, 12_000, 40_000, TIME + 740]
        );
        assert_eq!(
            figures("22 millones, 3 miliardy, 2 миллиарда"),
            [22_000_000, 2_000_000_000, 3_000_000_000]
        );
        assert_eq!(
            figures("the 40th, 5km, 12 miles"),
            [12, 40],
            "not magnitudes"
        );
    }
}
