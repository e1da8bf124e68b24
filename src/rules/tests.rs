//! Unit tests of the rule language: compilation, positions, list form.
use super::*;

/// The compiled query, without the column filter every unqualified term
/// carries (checked once, in `unqualified_terms_leave_the_feed_name_out`).
/// Folding (`fold`) is left out here: it has tests of its own.
fn c(q: &str) -> String {
    parse(q, &TermSets::new())
        .and_then(|node| compile(&node, q))
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .replace(UNQUALIFIED, "")
}

#[test]
fn unqualified_terms_leave_the_feed_name_out() {
    let q = compile_query(
        "kyiv* OR =\"air defence\" OR NEAR(a b) OR feed:kyiv",
        &TermSets::new(),
    )
    .unwrap();
    assert_eq!(
        q,
        "({title summary author category} : \"kyiv\"* OR {title summary author category} : \"air defence\" \
         OR {title summary author category} : NEAR(\"a\" \"b\", 10) OR feed : (\"kyiv\"))"
    );
    assert_eq!(
        compile_query("title:(=drone OR =missile)", &TermSets::new()).unwrap(),
        "title : ((\"drone\" OR \"missile\"))",
        "a field's terms are that field's only"
    );
}
fn err(q: &str) -> RuleError {
    compile_query(q, &TermSets::new()).expect_err(q)
}

#[test]
fn words_and_implicit_and() {
    assert_eq!(c("iran"), "\"iran\"");
    assert_eq!(c("iran drone"), "(\"iran\" AND \"drone\")");
    assert_eq!(c("iran AND drone"), "(\"iran\" AND \"drone\")");
    assert_eq!(
        c("iran* AND drone* AND ukrain*"),
        "(\"iran\"* AND \"drone\"* AND \"ukrain\"*)"
    );
}

#[test]
fn or_not_and_minus() {
    assert_eq!(c("iran OR tehran"), "(\"iran\" OR \"tehran\")");
    assert_eq!(c("iran NOT israel"), "(\"iran\" NOT \"israel\")");
    assert_eq!(c("iran -israel"), "(\"iran\" NOT \"israel\")");
    assert_eq!(
        c("iran -israel -gaza"),
        "(\"iran\" NOT (\"israel\" OR \"gaza\"))"
    );
    assert_eq!(c("a b OR c"), "((\"a\" AND \"b\") OR \"c\")");
}

#[test]
fn phrases_near_fields_groups() {
    assert_eq!(c("\"iranian drones\""), "\"iranian drones\"");
    assert_eq!(c("NEAR(iran drone, 5)"), "NEAR(\"iran\" \"drone\", 5)");
    assert_eq!(
        c("NEAR(iran \"shahed drone\")"),
        "NEAR(\"iran\" \"shahed drone\", 10)"
    );
    assert_eq!(c("title:iran"), "title : (\"iran\")");
    assert_eq!(
        c("title:(iran OR tehran)"),
        "title : ((\"iran\" OR \"tehran\"))"
    );
    assert_eq!(c("(a OR b) c"), "((\"a\" OR \"b\") AND \"c\")");
    assert_eq!(c("-title:x y"), "(\"y\" NOT title : (\"x\"))");
}

#[test]
fn user_text_cannot_become_fts_syntax() {
    assert_eq!(c("NEAR"), "\"NEAR\"");
    assert_eq!(c("col{x}"), "\"col{x}\"");
    assert_eq!(c("o'brien"), "\"o'brien\"");
}

#[test]
fn term_sets_expand_as_groups() {
    let mut sets = TermSets::new();
    sets.insert(
        "drones".into(),
        parse("drone* OR UAV* OR =Shahed", &sets.clone()).unwrap(),
    );
    assert_eq!(
        compile_query("=missile @drones", &sets)
            .unwrap()
            .replace(UNQUALIFIED, ""),
        "(\"missile\" AND (\"drone\"* OR \"UAV\"* OR \"Shahed\"))"
    );
    let e = compile_query("iran @missing", &sets).unwrap_err();
    assert_eq!(e.pos, 6);
    assert!(e.message.contains("@missing"), "{e}");
}

#[test]
fn errors_name_the_position() {
    let e = err("iran AND");
    assert_eq!(e.pos, 9, "{e}");
    assert!(e.message.contains("ended"));
    let e = err("iran (drone");
    assert_eq!(e.pos, 6, "{e}");
    let e = err("iran drone)");
    assert_eq!(e.pos, 11, "{e}");
    let e = err("iran \"drone");
    assert_eq!(e.pos, 6, "{e}");
    let e = err("titel:iran");
    assert_eq!(e.pos, 1);
    assert!(e.message.contains("did you mean 'title'"), "{e}");
    let e = err("NEAR(iran, x)");
    assert_eq!(e.pos, 12, "{e}");
    let e = err("");
    assert_eq!(e.pos, 1);
}

#[test]
fn positions_count_characters_not_bytes() {
    let e = err("україн* OR");
    assert_eq!(e.pos, 11);
    assert_eq!(e.offset, "україн* OR".len());
}

#[test]
fn negation_needs_a_positive_term() {
    let e = err("-israel");
    assert_eq!(e.pos, 1);
    assert!(e.message.contains("positive"));
    let e = err("iran OR -israel");
    assert_eq!(e.pos, 9);
    let e = err("NOT a NOT b");
    assert_eq!(e.pos, 1);
}

#[test]
fn terms_need_letters() {
    assert_eq!(err("iran ---").pos, 7);
    assert_eq!(err("iran @").pos, 6);
    assert_eq!(err("\"\"").pos, 1);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let q = "(".repeat(10_000) + "a" + &")".repeat(10_000);
    assert!(err(&q).message.contains("nested"));
}

#[test]
fn list_form_is_the_same_as_the_query() {
    let sets = TermSets::new();
    let lists = from_lists(
        &["iran*".into(), "drone*".into()],
        &["ukrain*".into(), "kyiv".into()],
        &["\"press release\"".into()],
        &sets,
    )
    .unwrap();
    let from_query = parse("iran* drone* (ukrain* OR kyiv) -(\"press release\")", &sets).unwrap();
    assert_eq!(
        compile(&lists, "").unwrap(),
        compile(&from_query, "").unwrap()
    );
    let e = from_lists(&["ok".into()], &["bad)".into()], &[], &sets).unwrap_err();
    assert_eq!((e.list, e.index, e.error.pos), ("any", 0, 4));
    assert!(from_lists(&[], &[], &["x".into()], &sets).is_err());
}

#[test]
fn control_characters_separate_terms() {
    // Regression (property test): a NUL inside a term cut the FTS5 string short.
    assert_eq!(c("a\u{0}b"), "(\"a\" AND \"b\")");
    assert_eq!(c("\"x\u{0}y\""), "\"xy\"");
}

#[test]
fn equals_keeps_one_word_or_phrase_exact_and_says_where_it_cannot() {
    assert_eq!(
        compile_query("=drone", &TermSets::new()).unwrap(),
        format!("{UNQUALIFIED}\"drone\"")
    );
    assert_eq!(
        compile_query("=\"air defence\"", &TermSets::new()).unwrap(),
        format!("{UNQUALIFIED}\"air defence\"")
    );
    assert!(
        compile_query("drone", &TermSets::new())
            .unwrap()
            .contains("\"безпілотн\"*"),
        "plain: its concept"
    );
    for (q, pos) in [
        ("iran =", 6),
        ("iran = drone", 6),
        ("=drone*", 1),
        ("=(a b)", 1),
        ("=AND", 1),
    ] {
        let e = err(q);
        assert_eq!(e.pos, pos, "{q}: {e}");
        assert!(e.message.contains('='), "{q}: {e}");
    }
}

#[test]
fn explain_names_the_languages_and_each_words_forms_per_language() {
    let node = parse("drone", &TermSets::new()).unwrap();
    let uk = Languages(Some(vec!["uk".into()]));
    let said = explain(node.clone(), "drone", &uk).unwrap();
    assert!(
        said.starts_with("languages: uk\ndrone → concept drone"),
        "{said}"
    );
    assert!(said.contains("\n  uk  дрон* | безпілотн*"), "{said}");
    assert!(!said.contains("\n  de  "), "{said}");
    let all = explain(node, "drone", &Languages::default()).unwrap();
    assert!(
        !all.contains("languages:") && all.contains("\n  de  drohne*"),
        "{all}"
    );
}
