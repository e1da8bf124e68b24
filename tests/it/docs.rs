//! The documentation kept true (as the opening of docs/DESIGN.md promises): every section a comment
//! or a doc cites — `docs/fetching.md, "Full text"`, `README, "Layout"`,
//! `docs/DESIGN.md §3` — exists under that title, every relative link
//! between the docs lands on a file and a heading, and the README stays a
//! newcomer's page (under 300 lines; the rest lives under `docs/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The text files that may cite the documentation.
fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = [
        "src", "tests", "benches", "systemd", "tools", "config", "docs", ".ci",
    ]
    .iter()
    .map(|d| root().join(d))
    .collect();
    out.push(root().join("README.md"));
    out.push(root().join("Cargo.toml"));
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                // Fixtures are the world's text, not ours.
                if name != "fixtures" && name != "corpus" {
                    todo.push(path);
                }
            } else if name == "docs.rs" && path.parent().is_some_and(|p| p.ends_with("tests/it")) {
                // This checker's own examples.
            } else if [".rs", ".sql", ".sh", ".toml", ".py", ".service", ".md", ""]
                .iter()
                .any(|ext| {
                    if ext.is_empty() {
                        !name.contains('.')
                    } else {
                        name.ends_with(ext)
                    }
                })
            {
                out.push(path);
            }
        }
    }
    out
}

/// A heading's text → its GitHub anchor, for each heading of a markdown file
/// (outside code blocks).
fn headings(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut out = BTreeMap::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim().to_string();
        let anchor: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        out.insert(title, anchor);
    }
    out
}

/// The title that follows a citation at `rest` (`, "Full\n/// text"` or
/// ` \"Operations\"`), comment markers and line breaks folded to spaces.
fn cited_title(rest: &str) -> Option<String> {
    let rest = rest.strip_prefix(',').unwrap_or(rest);
    let rest = skip_space(rest);
    let rest = rest.strip_prefix('\\').unwrap_or(rest);
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let raw = rest[..end].trim_end_matches('\\');
    let words: Vec<&str> = raw
        .split_whitespace()
        .filter(|w| !matches!(*w, "//" | "///" | "//!" | "--" | "#"))
        .collect();
    Some(words.join(" "))
}

/// Spaces, line breaks and the comment markers that may start a line.
fn skip_space(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        let t = ["///", "//!", "//", "--", "#"]
            .iter()
            .find_map(|m| {
                t.strip_prefix(m)
                    .filter(|r| r.starts_with(char::is_whitespace))
            })
            .unwrap_or(t);
        if t.len() == s.len() {
            return s;
        }
        s = t;
    }
}

#[test]
fn every_cited_section_exists() {
    let mut cited = 0;
    let mut wrong = Vec::new();
    for file in sources() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let shown = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        for (doc, path) in citations(&text) {
            let target = root().join(&doc);
            if !target.is_file() {
                wrong.push(format!("{shown}: cites {doc}, which does not exist"));
                continue;
            }
            let heads = headings(&target);
            match path {
                Cited::File => {}
                Cited::Title(title) => {
                    cited += 1;
                    if !heads.keys().any(|h| h.starts_with(&title)) {
                        wrong.push(format!(
                            "{shown}: cites {doc}, \"{title}\": no such section"
                        ));
                    }
                }
                Cited::Number(n) => {
                    cited += 1;
                    if !heads.keys().any(|h| h.starts_with(&format!("{n}. "))) {
                        wrong.push(format!("{shown}: cites {doc} §{n}: no such section"));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "citations of missing sections:\n{}",
        wrong.join("\n")
    );
    // The code cites the docs about 150 times: a parser that found none
    // would pass on nothing.
    assert!(cited > 100, "only {cited} citations found");
}

enum Cited {
    /// The file named alone: it must exist.
    File,
    Title(String),
    Number(String),
}

/// `(doc path, section)` for each citation in a text: `docs/X.md, "Title"`,
/// `README, "Title"` and `docs/DESIGN.md §n`.
fn citations(text: &str) -> Vec<(String, Cited)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("docs/") {
        let rest = &text[at..];
        let Some(md) = rest.find(".md") else { continue };
        let name = &rest[..md + 3];
        if name.len() > 40
            || !name[5..md]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            continue;
        }
        let after = &rest[md + 3..];
        out.push((name.to_string(), Cited::File));
        if let Some(n) = after.strip_prefix(" §") {
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                out.push((name.to_string(), Cited::Number(digits)));
            }
        } else if (after.starts_with(',') || after.starts_with(" \"") || after.starts_with(" \\\""))
            && let Some(title) = cited_title(after)
        {
            out.push((name.to_string(), Cited::Title(title)));
        }
    }
    for (at, _) in text.match_indices("README") {
        let after = &text[at + 6..];
        let after = after.strip_prefix(".md").unwrap_or(after);
        if (after.starts_with(',') || after.starts_with(" \""))
            && let Some(title) = cited_title(after)
        {
            out.push(("README.md".to_string(), Cited::Title(title)));
        }
    }
    out
}

#[test]
fn relative_links_land_on_a_file_and_a_heading() {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.push(root().join("README.md"));
    let mut wrong = Vec::new();
    let mut links = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).expect("a doc");
        for (at, _) in text.match_indices("](") {
            let rest = &text[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let link = &rest[..end];
            if link.contains("://") || link.starts_with("mailto:") || link.contains(' ') {
                continue;
            }
            links += 1;
            let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("a folder").join(path)
            };
            if !target.exists() {
                wrong.push(format!("{}: link to {link}: no such file", doc.display()));
            } else if !anchor.is_empty() && !headings(&target).values().any(|a| a == anchor) {
                wrong.push(format!(
                    "{}: link to {link}: no such heading",
                    doc.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "broken links:\n{}", wrong.join("\n"));
    assert!(links > 20, "only {links} links found");
}

#[test]
fn the_readme_is_a_newcomers_page() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines < 300,
        "the README has {lines} lines: move reference material to docs/"
    );
    // The two commands of a fresh clone, and the install block the systemd
    // test runs.
    assert!(readme.contains("cargo run -- --config config/feedwatch.toml run --once"));
    assert!(readme.contains("cargo test --locked"));
    assert!(readme.contains("<!-- install:"));
}

#[test]
fn the_citation_reader_finds_what_is_written() {
    let text = "x (docs/fetching.md, \"Full\n/// text\"), y (README, \"Layout\") and docs/DESIGN.md §3; docs/a.md alone; README.md, \"Install\"";
    let found: Vec<String> = citations(text)
        .into_iter()
        .filter_map(|(doc, c)| match c {
            Cited::File => None,
            Cited::Title(t) => Some(format!("{doc}|{t}")),
            Cited::Number(n) => Some(format!("{doc}|§{n}")),
        })
        .collect();
    assert_eq!(
        found,
        [
            "docs/fetching.md|Full text",
            "docs/DESIGN.md|§3",
            "README.md|Layout",
            "README.md|Install"
        ]
    );
}
