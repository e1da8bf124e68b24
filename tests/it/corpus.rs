//! The third-party corpus in `../shared/corpus/` (feedparser's test feeds,
//! good and broken): every file parses or fails with a clean error; none
//! takes the process down. Panics inside feed-rs are caught by the parse
//! stage and reported as `Crashed`: they are counted here so that a change in
//! them is noticed.

use std::path::{Path, PathBuf};

use feedwatch::parse::{ParseError, parse_feed};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("xml" | "json" | "rdf" | "atom" | "rss")
        ) {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_file_parses_or_fails_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(
        all.len() > 2000,
        "the corpus is expected beside the repository at {}",
        root.display()
    );
    let base = url::Url::parse("http://corpus.example/feed").unwrap();
    let (mut ok, mut failed, mut crashed) = (0, 0, Vec::new());
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        match parse_feed(&bytes, &base, 1000) {
            Ok(_) => ok += 1,
            Err(ParseError::Crashed(_)) => crashed.push(path.display().to_string()),
            Err(ParseError::Invalid(msg)) => {
                assert!(!msg.is_empty());
                failed += 1;
            }
        }
    }
    eprintln!(
        "corpus: {} files, {ok} parsed, {failed} failed cleanly, {} crashed inside feed-rs",
        all.len(),
        crashed.len()
    );
    assert!(crashed.len() <= 1, "feed-rs panics caught: {crashed:?}");
}
