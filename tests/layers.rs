//! The library's modules form layers: no module reaches (through `crate::` paths outside
//! its tests) a module that reaches back to it. Lists every cycle of `crate::` references
//! between files of `src/` (comments and `#[cfg(test)]` sections excluded); no GPU needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of every `.rs` file under `src` (`backend/gpu/mod.rs` → `backend::gpu`).
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts.join("::"), std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// The modules `text` refers to by `crate::a::b...` paths (the longest prefix that is a
/// module file), brace groups included.
fn references(text: &str, mods: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let longest = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|k| path[..k].join("::"))
            .find(|m| mods.contains(m))
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
        if rest[end..].starts_with('{') {
            let inner = &rest[end + 1..rest[end..].find('}').map_or(end + 1, |j| end + j)];
            for part in inner.split(',') {
                let mut p = path.clone();
                p.extend(part.trim().split("::").filter(|s| !s.is_empty()));
                out.extend(longest(&p));
            }
        }
        out.extend(longest(&path));
    }
    out
}

#[test]
fn no_module_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let names: BTreeSet<String> = files.keys().filter(|k| !k.is_empty()).cloned().collect();
    let edges: BTreeMap<&String, BTreeSet<String>> = names
        .iter()
        .map(|m| {
            let mut r = references(&files[m], &names);
            r.remove(m);
            // A module may use its own submodules and its parents' items freely only when
            // that forms no cycle; parents are checked like any other module.
            (m, r)
        })
        .collect();
    assert!(edges.len() > 20, "found only {} modules", edges.len());
    // A cycle exists iff some module reaches itself.
    let mut cycles = Vec::new();
    for start in &names {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = edges[start]
            .iter()
            .map(|n| (n.clone(), vec![start.clone(), n.clone()]))
            .collect();
        while let Some((m, path)) = stack.pop() {
            if &m == start {
                cycles.push(path.join(" -> "));
                break;
            }
            if !seen.insert(m.clone()) {
                continue;
            }
            for n in edges.get(&m).into_iter().flatten() {
                let mut p = path.clone();
                p.push(n.clone());
                stack.push((n.clone(), p));
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_a_planted_cycle() {
    let mods: BTreeSet<String> = ["a", "b", "b::c"].iter().map(|s| s.to_string()).collect();
    let r = references(
        "use crate::b::c::X; // crate::a\nfn f() { crate::a::g() }",
        &mods,
    );
    assert_eq!(r, ["a", "b::c"].iter().map(|s| s.to_string()).collect());
    let r = references("use crate::{a, b::c::Y};", &mods);
    assert!(r.contains("a") && r.contains("b::c"), "{r:?}");
}
