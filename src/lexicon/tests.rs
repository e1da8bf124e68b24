use super::*;

fn concept_of(term: &str) -> Option<String> {
    lexicon().lookup(term).map(|f| f.concept.id.clone())
}

#[test]
fn the_shipped_file_is_read_whole() {
    let text = include_str!("concepts.tsv");
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    let forms: usize = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|l| l.split('\t').nth(1) != Some("see"))
        .map(|l| l.split('\t').nth(2).map_or(0, |f| f.split('|').count()))
        .sum();
    let lex = lexicon();
    assert!(lines > 1000, "{lines} lines");
    assert_eq!(
        lex.concepts().iter().map(|c| c.forms.len()).sum::<usize>(),
        forms,
        "every form of every line is read"
    );
    for c in lex.concepts() {
        for id in &c.see {
            assert!(
                lex.get(id).is_some(),
                "{} sees {id}, which is not a concept",
                c.id
            );
        }
    }
}

#[test]
fn words_find_their_concept_in_every_language_and_form() {
    for (term, id) in [
        ("drone", "drone"),
        ("UAV", "drone"),
        ("безпілотник", "drone"),
        ("БпЛА", "drone"),
        ("беспилотники", "drone"),
        ("Drohnen", "drone"),
        ("shahed", "shahed"),
        ("шахеди", "shahed"),
        ("Kyiv", "kyiv"),
        ("Kiev", "kyiv"),
        ("Kiew", "kyiv"),
        ("Kijów", "kyiv"),
        ("Києві", "kyiv"),
        ("Киеве", "kyiv"),
        ("ППО", "air-defence"),
        ("air defence", "air-defence"),
        ("Flugabwehr", "air-defence"),
        ("ceasefire", "ceasefire"),
        ("cease-fire", "ceasefire"),
        ("перемирие", "ceasefire"),
        ("ЗАЕС", "znpp"),
        ("Iran", "iran"),
        ("Ірану", "iran"),
        ("irański", "iran"),
        ("France", "france"),
        ("Франції", "france"),
    ] {
        assert_eq!(concept_of(term).as_deref(), Some(id), "{term}");
    }
    assert_eq!(concept_of("Київстар"), None, "a false friend of Київ");
    assert_eq!(concept_of("ракетка"), None, "a racket is no missile");
    assert_eq!(concept_of("газ"), None, "gas is not Gaza");
    assert_eq!(concept_of("mais"), None, "French 'but' is not maize");
}

#[test]
fn a_concept_finds_what_it_sees_and_languages_limit_it() {
    let lex = lexicon();
    let drone = lex.get("drone").unwrap();
    let all: Vec<String> = lex.forms(drone, None).iter().map(|f| f.shown()).collect();
    assert!(all.contains(&"шахед*".to_string()), "drone sees shahed");
    let uk: Vec<String> = lex
        .forms(drone, Some(&["uk".to_string()]))
        .iter()
        .map(|f| f.shown())
        .collect();
    assert!(uk.contains(&"безпілотн*".to_string()) && !uk.contains(&"drohne*".to_string()));
    assert!(
        uk.contains(&"shahed*".to_string()),
        "a form for all languages stays"
    );
}

#[test]
fn a_text_is_tagged_with_the_concepts_it_names() {
    let lex = lexicon();
    let ids = |text: &str| -> Vec<String> {
        lex.tag(text)
            .into_iter()
            .map(|c| lex.concepts()[c].id.clone())
            .collect()
    };
    let uk = ids("Сили ППО збили над Києвом 12 ударних безпілотників типу «Шахед»");
    for id in ["air-defence", "kyiv", "drone", "shahed"] {
        assert!(uk.contains(&id.to_string()), "{id} in {uk:?}");
    }
    let de = ids("Waffenruhe im Gazastreifen: Verhandlungen in Kairo");
    assert!(de.contains(&"ceasefire".to_string()) && de.contains(&"gaza".to_string()));
    let fr = ids("La centrale nucléaire de Zaporijia privée de courant");
    assert!(fr.contains(&"nuclear-plant".to_string()) && fr.contains(&"zaporizhzhia".to_string()));
}
