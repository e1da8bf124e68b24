//! Digest stage: the names a report gives (people, places below the city,
//! ships, anything the concept lexicon does not know), each as a key that
//! is the same in every script and language the digest reads: Syniehubov,
//! Синєгубов, Синегубова and Synjehubow are one key, as are Chornomorsk,
//! Чорноморську, Czarnomorsku and Tschornomorsk. `same_event` counts shared
//! names beside shared concepts. Pure.
//!
//! The key is a skeleton of consonants: the word transliterated from
//! Cyrillic, its accents folded, then each consonant by its class, vowels
//! (and y, j, the soft sign) dropped, doubles merged. The classes are
//! coarse because the spellings differ: Latin "ch" is ч in English and х
//! in German and Polish, so ч, х, к and their spellings are one class; ш,
//! щ, ж, ц, з, с and theirs another; г is h in Ukrainian transliteration
//! and g in Russian, so h and g are one. Case endings (-ом, -им, -ach,
//! -ami) add at most a consonant of the classes m or k at the end, which is
//! stripped while the key is longer than three (not v: Budanov would be
//! Biden).

/// The names in `text`, each as one key, sorted and once: words written
/// with a capital that name no concept (`is_concept`) and whose key has at
/// least three consonants; not the first word of the text or of a
/// sentence, which has its capital anyway, unless a colon follows it (a
/// headline's "Budanov: …"). Words in a row are one name, keyed by its
/// last word that has a key: "Oleh Syniehubov" and "Синєгубов" are one
/// name, while "Oleksandr Vilkul" and "Oleksandr Prokudin" are two, and a
/// governor's two names are not two shared names.
pub fn names(text: &str, is_concept: &dyn Fn(&str) -> bool) -> Vec<u64> {
    let raw: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    let mut name: Option<u64> = None;
    let mut starts_sentence = true;
    for (i, r) in raw.iter().enumerate() {
        let word = r.trim_matches(|c: char| !c.is_alphanumeric());
        let capital = word.chars().next().is_some_and(char::is_uppercase);
        let said = r.ends_with(':') || raw.get(i + 1) == Some(&":");
        let in_name = capital && (!starts_sentence || said) && !is_concept(word);
        if in_name && let Some(key) = key(word) {
            name = Some(key);
        }
        // A name ends at a word that is not one, at punctuation, or with
        // the text.
        let ends = !in_name || r.ends_with(|c: char| !c.is_alphanumeric()) || i + 1 == raw.len();
        if ends && let Some(key) = name.take() {
            out.push(key);
        }
        starts_sentence = r.ends_with(['.', '!', '?']) || word.is_empty();
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A name's key (see the module), as a number; `None` when it has fewer
/// than three consonants (too short to tell names apart).
fn key(word: &str) -> Option<u64> {
    let mut latin = String::with_capacity(word.len() * 2);
    for c in word.chars().flat_map(char::to_lowercase) {
        match cyrillic(c) {
            Some(s) => latin.push_str(s),
            None => latin.push(c),
        }
    }
    let latin = crate::lexicon::fold(&latin)
        .replace('ł', "l")
        .replace('ß', "ss");
    let bytes = latin.as_bytes();
    let mut classes: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        // Spellings of one sound, longest first.
        let (class, len) = [
            (&b"shch"[..], b's'),
            (b"szcz", b's'),
            (b"tsch", b'k'),
            (b"sch", b's'),
            (b"kh", b'k'),
            (b"ch", b'k'),
            (b"cz", b'k'),
            (b"sh", b's'),
            (b"sz", b's'),
            (b"zh", b's'),
            (b"rz", b's'),
            (b"ts", b's'),
            (b"tz", b's'),
        ]
        .iter()
        .find(|(spelling, _)| rest.starts_with(spelling))
        .map_or_else(
            || (class(bytes[i]), 1),
            |(spelling, class)| (Some(*class), spelling.len()),
        );
        if let Some(class) = class
            && classes.last() != Some(&class)
        {
            classes.push(class);
        }
        i += len;
    }
    while classes.len() > 3 && matches!(classes.last(), Some(b'm' | b'k')) {
        classes.pop();
    }
    if classes.len() < 3 {
        return None;
    }
    let skeleton: String = classes.iter().map(|&c| char::from(c)).collect();
    Some(super::same_story::fnv1a(&skeleton))
}

/// A consonant's class; `None` for a vowel, y, j, and anything else.
fn class(b: u8) -> Option<u8> {
    match b {
        b'c' | b'k' | b'q' | b'x' => Some(b'k'),
        b's' | b'z' => Some(b's'),
        b'h' | b'g' => Some(b'g'),
        b'w' | b'v' => Some(b'v'),
        b'b' | b'd' | b'f' | b'l' | b'm' | b'n' | b'p' | b'r' | b't' => Some(b),
        _ => None,
    }
}

/// A Cyrillic letter (lower case) in Latin, as its consonant class reads
/// it; `None` for any other character.
fn cyrillic(c: char) -> Option<&'static str> {
    Some(match c {
        'а' | 'е' | 'є' | 'и' | 'і' | 'ї' | 'й' | 'о' | 'у' | 'ы' | 'э' | 'ю' | 'я' | 'ё' => {
            "a"
        }
        'ь' | 'ъ' => "",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' => "g",
        'д' => "d",
        'ж' => "zh",
        'з' => "z",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(words: &[&str]) {
        let keys: Vec<Option<u64>> = words.iter().map(|w| key(w)).collect();
        assert!(keys[0].is_some(), "{}", words[0]);
        assert!(keys.iter().all(|k| *k == keys[0]), "{words:?}: {keys:?}");
    }

    #[test]
    fn a_name_has_one_key_in_every_script_spelling_and_case() {
        one(&[
            "Syniehubov",
            "Синєгубов",
            "Синегубова",
            "Synjehubow",
            "Синєгубовим",
        ]);
        one(&[
            "Chornomorsk",
            "Чорноморську",
            "Черноморск",
            "Czarnomorsku",
            "Tschornomorsk",
        ]);
        one(&["Pisochyn", "Пісочині", "Песочин", "Pisoczyn", "Pisochin"]);
        one(&["Budanov", "Буданов", "Budanow", "Буданова", "Budanova"]);
        one(&["Vilkul", "Вілкул", "Вилкулом"]);
        one(&["Stryi", "Стрий", "Стрию"]);
        one(&["Strauß", "Strauss", "Штраус"]);
    }

    #[test]
    fn different_names_have_different_keys() {
        let keys: Vec<Option<u64>> = ["Budanov", "Biden", "Vilkul", "Syrskyi", "Stryi", "Sybiha"]
            .iter()
            .map(|w| key(w))
            .collect();
        for (i, a) in keys.iter().enumerate() {
            assert!(keys[i + 1..].iter().all(|b| b != a), "{keys:?}");
        }
        assert_eq!(key("Ivo"), None, "too short to tell apart");
    }

    #[test]
    fn names_are_capitalised_words_inside_a_sentence_that_name_no_concept() {
        let no_concept = |_: &str| false;
        let found = names(
            "Governor Syniehubov said. Budanov spoke; the Kharkiv school.",
            &|w| w == "Kharkiv",
        );
        let k = |w| key(w).unwrap();
        assert_eq!(found, [k("Syniehubov")]);
        assert_eq!(names("Тривога у Пісочині", &no_concept), [k("Pisochyn")]);
        assert_eq!(
            names("Буданов: Іран", &no_concept),
            [k("Budanov")],
            "before a colon"
        );
        let mut two = vec![k("Syniehubov"), k("Budanov")];
        two.sort_unstable();
        assert_eq!(
            names("said governor Oleh Syniehubov, and Budanov", &no_concept),
            two,
            "one name of two words, by its last, then another"
        );
        assert_ne!(
            names("said Oleksandr Vilkul", &no_concept),
            names("said Oleksandr Prokudin", &no_concept),
            "a first name shared is not a name shared"
        );
    }
}
