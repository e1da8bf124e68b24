//! docs/DESIGN.md §2 kept true: stages never import each other, they exchange
//! `model` types; only `pipeline` composes stages. This reads `src/` and
//! fails on any `crate::…` edge the table below does not allow (test code,
//! after `#[cfg(test)]` or in `tests.rs`, is exempt).

use std::collections::BTreeSet;
use std::path::Path;

/// What each module may use. `cli` (the top) may use anything.
fn allowed(module: &str) -> Option<&'static [&'static str]> {
    Some(match module {
        "model" | "opml" | "lexicon" => &[],
        "rules" => &["model", "lexicon"],
        "config" => &["model", "rules"],
        "fetch" | "parse" | "store" | "mail" => &["model"],
        // The digest tags texts with concepts to see one event told in
        // several languages.
        "digest" => &["model", "lexicon"],
        "pipeline" => &[
            "model", "lexicon", "rules", "config", "fetch", "parse", "store", "digest", "mail",
        ],
        "daemon" => &["model", "config", "pipeline"],
        _ => return None,
    })
}

/// Module names referred to as `crate::name` or `crate::{a, b::c}`.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

#[test]
fn stages_never_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(allowed) = allowed(&module) else {
            continue;
        };
        let code = std::fs::read_to_string(&file).unwrap();
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        checked += 1;
        for name in references(code) {
            if name != module && !allowed.contains(&name.as_str()) {
                violations.push(format!("{}: uses crate::{name}", rel.display()));
            }
        }
    }
    assert!(checked >= 12, "found only {checked} files to check");
    assert!(
        violations.is_empty(),
        "forbidden edges (docs/DESIGN.md §2):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_reference_scanner_sees_grouped_and_plain_uses() {
    let refs = references("use crate::{digest, parse::x};\nlet a = crate::store::Store::open();");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["digest", "parse", "store"]
    );
}
