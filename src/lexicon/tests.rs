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
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cells: Vec<&str> = line.split('\t').collect();
        assert_eq!(cells.len(), 3, "three cells: {line}");
        assert!(
            cells[1] == "see" || lang_of(cells[1]).is_some(),
            "a known language: {line}"
        );
        assert!(
            cells[2].split('|').all(|f| !f.trim().is_empty()),
            "no empty form: {line}"
        );
    }
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

/// The guard the generated names need most: a common word of any of the
/// languages names no concept (того, "of that", was Togo; груз*, "cargo",
/// Georgia; суда*, "ships", Sudan; island, Iceland).
#[test]
fn common_words_name_no_concept() {
    let lex = lexicon();
    for text in [
        "Того дня самі дані про вантаж надійшли до суду; малі діти гралися біля палацу, \
         індивідуальні гурти грали на площі, а дощ ішов увесь день.",
        "Того же числа суда с грузом пришли в порт; данные палаты малы, самолёты сели, \
         и самое главное — дождь шёл весь день.",
        "The island was small, and the data came that day in an individual report; \
         the court heard it while the weather held.",
        "Tego dnia mali chłopcy na wyspie oglądali dane, a sąd zebrał się w pałacu.",
        "Die Insel war klein; die Daten kamen am selben Tag, und das Gericht tagte.",
        "Mais ce jour-là, les données sont arrivées et le tribunal a siégé au palais.",
        "Ese día los datos llegaron pronto y el tribunal se reunió en el palacio.",
        // Persian: a bag and a wallet (کیف, Kyiv elsewhere), a witness
        // (شاهد), financial (مالی, Mali), a cheque (چک), a racket (راکت),
        // fire (آتش), scrutiny (موشکافی, not موشک), dear (گران, Geran).
        "آن روز یک شاهد کیف پول و چک را در دادگاه نشان داد؛ گزارش مالی با \
         موشکافی خوانده شد، راکت تنیس گران بود و آتش تا شب روشن ماند.",
    ] {
        let found: Vec<&str> = lex
            .tag(text)
            .into_iter()
            .map(|c| lex.concepts()[c].id.as_str())
            .collect();
        assert!(found.is_empty(), "{found:?} in: {text}");
    }
}

/// No prefix of one concept starts a word another concept names, unless
/// one sees the other or the word is a compound of both (Drohnenangriff:
/// drone and strike) (`австр*`, Austria, found Австралія; `нігер*` was
/// both Niger and Nigeria; `dominik*`, Dominica, Dominikana).
#[test]
fn no_prefix_of_one_concept_finds_another() {
    let lex = lexicon();
    let sees = |a: &Concept, b: &Concept| a.see.contains(&b.id) || b.see.contains(&a.id);
    let mut clashes = Vec::new();
    for a in lex.concepts() {
        for p in a.forms.iter().filter(|f| f.prefix && f.words.len() == 1) {
            for b in lex
                .concepts()
                .iter()
                .filter(|b| b.id != a.id && !sees(a, b))
            {
                for f in b.forms.iter().filter(|f| f.words.len() == 1) {
                    // The rest of a compound, after a German linking -n or -s.
                    let rest = f.key.get(p.key.len()..).unwrap_or("");
                    let compound = [rest, rest.get(1..).unwrap_or("")].iter().any(|r| {
                        r.len() > 3 && lex.lookup(r).is_some_and(|l| l.concept.id == b.id)
                    });
                    if f.key.starts_with(&p.key) && !compound {
                        clashes.push(format!("{}: {}* finds {}: {}", a.id, p.key, b.id, f.key));
                    }
                }
            }
        }
    }
    assert!(clashes.is_empty(), "{clashes:#?}");
}

/// The lexicon folds as the index does, so that two forms it takes for
/// one are one to the index too (checked against SQLite's own tokenizer).
#[test]
fn folding_is_the_indexs() {
    for (a, b, same) in [
        ("Irán", "iran", true),
        ("Dänemark", "danemark", true),
        ("санкций", "санкции", false),
        ("ёлка", "елка", false),
        ("Київ", "киів", false),
        ("łódź", "lodz", false),
        ("Ørsted", "orsted", false),
    ] {
        assert_eq!(fold(a) == fold(b), same, "{a} {b}");
    }
}
