//! The rule language against SQLite itself: a property test (seeded, so
//! reproducible) that no input makes the parser panic and that whatever it
//! accepts compiles to a query FTS5 accepts; and backtesting — `search`
//! returns exactly what live matching matched.

use feedwatch::rules::{self, TermSets};
use feedwatch::store::Store;

/// Pieces that exercise every branch of the grammar, and some that are not
/// in it at all.
const PIECES: &[&str] = &[
    "iran",
    "drone*",
    "\"iranian drones\"",
    "AND",
    "OR",
    "NOT",
    "-",
    "(",
    ")",
    "NEAR(",
    ",",
    "5",
    "x9",
    "title:",
    "summary:",
    "feed:",
    "author:",
    "category:",
    "bogus:",
    "@drones",
    "@nope",
    "\"",
    "*",
    ":",
    "україн*",
    "Kyïv",
    "{",
    "}",
    "^",
    "+",
    "'",
    "NEAR",
    "a",
    "\u{0}",
    "ß",
    "\u{2}",
    "\\",
    "AND)",
    "((",
    "-(",
    "\"\"",
    "@",
];

fn sets() -> TermSets {
    let mut sets = TermSets::new();
    sets.insert(
        "drones".into(),
        rules::parse("drone* OR UAV* OR \"unmanned aerial\"", &TermSets::new()).unwrap(),
    );
    sets
}

fn check(q: &str, sets: &TermSets, scratch: &Store, accepted: &mut usize) {
    match rules::compile_query(q, sets) {
        Ok(fts) => {
            *accepted += 1;
            if let Err(e) = scratch.check_query("fuzz", &fts) {
                panic!("query {q:?} compiled to {fts:?}, which FTS5 rejects: {e}");
            }
        }
        Err(e) => {
            assert!(
                e.pos >= 1 && e.pos <= q.chars().count() + 1,
                "{q:?}: position {} out of range",
                e.pos
            );
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn no_query_panics_the_parser_and_every_accepted_one_is_valid_fts5() {
    let scratch = Store::open_in_memory().unwrap();
    let sets = sets();
    let mut rng = fastrand::Rng::with_seed(0x5eed_f33d);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let n = rng.usize(0..12);
        let q: String = (0..n)
            .map(|_| {
                let sep = if rng.bool() { " " } else { "" };
                format!("{}{sep}", PIECES[rng.usize(..PIECES.len())])
            })
            .collect();
        check(&q, &sets, &scratch, &mut accepted);
    }
    for _ in 0..5_000 {
        let q: String = (0..rng.usize(0..20)).map(|_| rng.char(..)).collect();
        check(&q, &sets, &scratch, &mut accepted);
    }
    // The generator must reach the accepting paths, or the test proves little.
    assert!(
        accepted > 2_000,
        "only {accepted} generated queries were accepted"
    );
}
