//! Digest stage: the language of an entry, for its HTML `lang` attribute
//! (docs/digests.md, "Delivery"), so that screen readers speak Ukrainian, Russian or
//! German news in its own voice and clients hyphenate it by its own rules.
//! Feeds rarely say their language per item and often say it wrong, so it
//! is detected from the entry's own words (whatlang's trigrams), and given
//! only when the detection is reliable and the language has a BCP 47 code
//! here; otherwise the page's `en` stands. Pure.

use whatlang::Lang;

/// The BCP 47 tag of the language `title` and `text` are written in, when
/// it is known with confidence.
pub(super) fn of(title: &str, text: &str) -> Option<&'static str> {
    // The first words are enough and keep detection cheap on long texts.
    let sample: String = format!("{title}. {text}").chars().take(600).collect();
    let info = whatlang::detect(&sample)?;
    if matches!(info.lang(), Lang::Ukr | Lang::Rus | Lang::Bel)
        && let Some(l) = cyrillic(&sample)
    {
        return Some(l);
    }
    if matches!(info.lang(), Lang::Pes | Lang::Ara | Lang::Urd)
        && let Some(l) = arabic_script(&sample)
    {
        return Some(l);
    }
    tag(info.lang()).filter(|_| info.is_reliable())
}

/// Persian written in the Arabic script has letters Arabic lacks (پ چ ژ
/// گ) and its own ye and kaf (ی ک for ي ك); Urdu has more letters of
/// its own (ٹ ڈ ڑ ں ے). whatlang is seldom sure on a headline and a
/// sentence.
fn arabic_script(text: &str) -> Option<&'static str> {
    let has = |letters: &[char]| text.chars().any(|c| letters.contains(&c));
    if has(&['ٹ', 'ڈ', 'ڑ', 'ں', 'ے']) {
        return None;
    }
    (has(&['پ', 'چ', 'ژ', 'گ']) || has(&['ی', 'ک']) && !has(&['ي', 'ك', 'ة'])).then_some("fa")
}

/// Ukrainian and Russian share most trigrams (whatlang is often unsure
/// between them on a headline and a sentence), but each has letters the
/// other lacks: і ї є ґ, and ы э ъ ё (and Belarusian has ў). Only between
/// these three: Bulgarian writes ъ too.
fn cyrillic(text: &str) -> Option<&'static str> {
    let has = |letters: &[char]| {
        text.chars()
            .flat_map(char::to_lowercase)
            .any(|c| letters.contains(&c))
    };
    if has(&['ў']) {
        return Some("be");
    }
    match (has(&['і', 'ї', 'є', 'ґ']), has(&['ы', 'э', 'ъ', 'ё'])) {
        (true, false) => Some("uk"),
        (false, true) => Some("ru"),
        _ => None,
    }
}

/// ISO 639-1 where there is one (BCP 47 prefers the shortest code).
fn tag(lang: Lang) -> Option<&'static str> {
    Some(match lang {
        Lang::Eng => "en",
        Lang::Ukr => "uk",
        Lang::Rus => "ru",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Ita => "it",
        Lang::Por => "pt",
        Lang::Pol => "pl",
        Lang::Nld => "nl",
        Lang::Tur => "tr",
        Lang::Ara => "ar",
        Lang::Pes => "fa",
        Lang::Heb => "he",
        Lang::Bel => "be",
        Lang::Ces => "cs",
        Lang::Slk => "sk",
        Lang::Ron => "ro",
        Lang::Hun => "hu",
        Lang::Bul => "bg",
        Lang::Srp => "sr",
        Lang::Hrv => "hr",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "nb",
        Lang::Fin => "fi",
        Lang::Est => "et",
        Lang::Lav => "lv",
        Lang::Lit => "lt",
        Lang::Ell => "el",
        Lang::Kat => "ka",
        Lang::Hye => "hy",
        Lang::Aze => "az",
        Lang::Cmn => "zh",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Hin => "hi",
        Lang::Urd => "ur",
        _ => return None,
    })
}

/// ` lang="uk"`, or nothing.
pub(super) fn attr(title: &str, text: &str) -> String {
    of(title, text).map_or(String::new(), tag_attrs)
}

/// Whether `text` has letters of a right-to-left script (Hebrew, Arabic
/// and the scripts after them up to U+08FF, their presentation forms).
pub(super) fn right_to_left(text: &str) -> bool {
    text.chars().any(
        |c| matches!(c, '\u{590}'..='\u{8ff}' | '\u{fb1d}'..='\u{fdff}' | '\u{fe70}'..='\u{fefc}'),
    )
}

/// ` lang="…"`, and ` dir="rtl"` for a language written right to left
/// (Persian, Arabic, Hebrew, Urdu): its punctuation and figures then sit
/// where its reader expects them, and the element is isolated from the
/// English around it.
pub(super) fn tag_attrs(lang: &str) -> String {
    let rtl = matches!(lang, "fa" | "ar" | "he" | "ur");
    format!(" lang=\"{lang}\"{}", if rtl { " dir=\"rtl\"" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_in_five_languages_is_told_apart() {
        assert_eq!(
            of(
                "Ukraine confirms talks with Tehran on Iranian drones",
                "The Ukrainian Ministry of Foreign Affairs confirmed that Kyiv and Tehran had held a dialogue."
            ),
            Some("en")
        );
        assert_eq!(
            of(
                "Україна підтвердила переговори з Тегераном щодо іранських дронів",
                "Міністерство закордонних справ України підтвердило, що Київ і Тегеран провели діалог."
            ),
            Some("uk")
        );
        assert_eq!(
            of(
                "Украина подтвердила переговоры с Тегераном об иранских беспилотниках",
                "Министерство иностранных дел Украины подтвердило, что Киев и Тегеран провели диалог."
            ),
            Some("ru")
        );
        assert_eq!(
            of(
                "Ukraine bestätigt Gespräche mit Teheran über iranische Drohnen",
                "Das ukrainische Außenministerium bestätigte, dass Kiew und Teheran einen Dialog geführt hätten."
            ),
            Some("de")
        );
        assert_eq!(
            of(
                "حمله موشکی به خارکیف",
                "یک موشک اسکندر ساعت ۷:۴۰ به یک مدرسه اصابت کرد."
            ),
            Some("fa"),
            "Persian, by its letters, on a headline and a sentence"
        );
        assert_ne!(
            of(
                "هجوم صاروخي على خاركيف",
                "أصاب صاروخ مدرسة في المدينة صباحاً."
            ),
            Some("fa"),
            "Arabic"
        );
    }
}
