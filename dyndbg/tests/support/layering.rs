//! The layering check shared by `dyndbg/tests/layering.rs` and
//! `markers/tests/layering.rs`: a module of `src/` may name
//! (`crate::module`) only the modules listed below it.

use std::path::{Path, PathBuf};

/// Every problem found under `src`, as one line each.
pub(crate) fn check(src: &Path, layers: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    walk(src, &mut files);
    files.sort();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let module = top_module(rel);
        if module == "lib" {
            continue; // the root re-exports everything
        }
        let Some(own) = layers.iter().position(|m| *m == module) else {
            problems.push(format!(
                "{}: module `{module}` is not in the layer list",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue; // comments and doc links are not dependencies
            }
            for named in crate_paths(line) {
                let problem = match layers.iter().position(|m| *m == named) {
                    Some(at) if at <= own => continue,
                    Some(_) => format!(
                        "names `{named}`, a layer above `{module}`: move the item down or the code up"
                    ),
                    // `#[macro_export]` macros live at the root.
                    None if named.starts_with("__") => continue,
                    None => format!(
                        "names `crate::{named}`, not a module: name the module that defines it"
                    ),
                };
                problems.push(format!("{}:{}: {problem}", rel.display(), n + 1));
            }
        }
    }
    problems
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `store.rs` -> `store`; `query/parser.rs` -> `query`.
fn top_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.strip_suffix(".rs").unwrap_or(first).to_owned()
}

/// The first segment after each `crate::` in a line (not `$crate::`),
/// including each name of a `crate::{a, b::c}` group.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| c == '$' || c == '_' || c.is_alphanumeric()) {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(
                group
                    .split(',')
                    .map(|item| ident(item.trim()))
                    .filter(|s| !s.is_empty()),
            );
        } else {
            out.push(ident(after));
        }
    }
    out
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| *c == '_' || c.is_alphanumeric())
        .collect()
}
