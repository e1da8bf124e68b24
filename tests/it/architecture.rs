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

/// The fields of one error variant that thiserror exposes as `source()`:
/// `#[from]`, `#[source]`, or a field named `source`.
fn source_fields(variant: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["#[from]", "#[source]"] {
        for (at, _) in variant.match_indices(marker) {
            let before = variant[..at].trim_end();
            let after = variant[at + marker.len()..].trim_start();
            if before.ends_with('(') {
                out.push("0".to_string());
            } else if let Some((name, _)) = after.split_once(':') {
                out.push(name.trim().to_string());
            }
        }
    }
    if variant.contains("source:") {
        out.push("source".to_string());
    }
    out
}

/// Variants whose message prints a field that is also their `source()`:
/// a chain printed whole would say that cause twice.
fn twice_said(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let pieces: Vec<&str> = code.split("#[error(").collect();
    for piece in pieces.iter().skip(1) {
        let Some(end) = piece.find(")]") else {
            continue;
        };
        let message = &piece[..end];
        if message.trim() == "transparent" {
            continue;
        }
        // The variant: up to the end of its enum or the next doc comment.
        let rest = &piece[end + 2..];
        let variant = rest.split("\n}").next().unwrap_or(rest);
        for field in source_fields(variant) {
            let said = [
                format!("{{{field}}}"),
                format!("{{{field}:"),
                format!(".{field}"),
            ];
            if said.iter().any(|s| message.contains(s.as_str())) {
                out.push(format!("{} prints its source {field}", message.trim()));
            }
        }
    }
    out
}

/// docs/DESIGN.md §5: an error says its cause or exposes it as `source()`,
/// never both, so the CLI prints a chain whole and says each cause once.
#[test]
fn no_error_says_its_cause_twice() {
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut wrong = Vec::new();
    let mut errors = 0;
    for file in files {
        let code = std::fs::read_to_string(&file).expect("a source file");
        errors += code.matches("#[error(").count();
        for w in twice_said(&code) {
            wrong.push(format!("{}: {w}", file.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(errors > 50, "only {errors} error variants found");
}

#[test]
fn the_twice_said_check_sees_each_form() {
    let code = r#"
enum E {
    #[error("opening: {0}")]
    A(#[from] Inner),
    #[error("cannot create {path}: {source}")]
    B { path: String, source: std::io::Error },
    #[error("reading {what}: {error}")]
    C { what: String, #[source] error: Inner },
    #[error("opening: {0}")]
    D(Inner),
    #[error(transparent)]
    F(#[from] Inner),
    #[error("opening the file")]
    G(#[source] Inner),
}
"#;
    let found = twice_said(code);
    assert_eq!(found.len(), 3, "{found:?}");
}

/// The files that may use `unsafe`, as docs/DESIGN.md §5 lists them.
const UNSAFE_FILES: [&str; 4] = [
    "src/store/tokenizer.rs",
    "src/store/disk.rs",
    "src/daemon/service.rs",
    "src/cli/output.rs",
];

/// docs/DESIGN.md §5: `unsafe` lives in the files listed there, and each
/// block or impl says on the lines above it why it is sound (`SAFETY:`).
#[test]
fn unsafe_is_where_the_design_says_and_says_why() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for file in files {
        let code = std::fs::read_to_string(&file).expect("a source file");
        let name = file
            .strip_prefix(root)
            .expect("under the crate")
            .display()
            .to_string();
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code_part = line.split("//").next().unwrap_or("");
            if !["unsafe {", "unsafe impl", "unsafe fn", "unsafe extern"]
                .iter()
                .any(|u| code_part.contains(u))
            {
                continue;
            }
            seen.insert(name.clone());
            if !UNSAFE_FILES.contains(&name.as_str()) {
                wrong.push(format!("{name}:{}: unsafe outside the listed files", i + 1));
            }
            // The SAFETY comment: on this line's statement or in the
            // comment block just above it (a few lines up for a block
            // that starts a statement).
            let above = lines[i.saturating_sub(6)..=i].join("\n");
            if !above.contains("SAFETY:") {
                wrong.push(format!("{name}:{}: unsafe without a SAFETY comment", i + 1));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let listed: BTreeSet<String> = UNSAFE_FILES.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        seen, listed,
        "docs/DESIGN.md §5 lists a file with no unsafe, or misses one"
    );
    let design = std::fs::read_to_string(root.join("docs/DESIGN.md")).expect("DESIGN.md");
    for file in UNSAFE_FILES {
        let short = file.trim_start_matches("src/");
        assert!(
            design.contains(short),
            "docs/DESIGN.md does not list {file}"
        );
    }
}
