//! The layering rules of CONTRIBUTING.md, checked on the source: no module cycles between
//! the top-level modules of `service/src`, nor between the modules of
//! `service/engine/src/rules`; only `http/` knows status codes; only `store/` speaks SQL;
//! the engine reads no clock.
//!
//! A module depends on another when its code (comments, strings and `#[cfg(test)] mod
//! tests` left out) names it by path: `crate::x` (and `use crate::{x, ...}`) for the
//! service, `super::x` and `crate::rules::x` inside `rules/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The code of a file: comments, string and char literals blanked, test modules cut.
fn code(src: &str) -> String {
    let src = match src.find("#[cfg(test)]\nmod tests") {
        Some(i) => &src[..i],
        None => src,
    };
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].bytes().take_while(|&c| c == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            i += rest[body..]
                .find(&close)
                .map_or(rest.len(), |e| body + e + close.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && (rest.get(2..3) == Some("'") || rest.starts_with("'\\")) {
            // A char literal ('a', '\n', '\u{0}'); a lifetime has no closing quote.
            i += rest[1..].find('\'').map_or(1, |e| e + 2);
            out.push_str("' '");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first path segments named after each `prefix` (`crate::`, `super::`...), groups
/// (`prefix{a, b::c}`) included.
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let start = from + at;
        from = start + prefix.len();
        if code[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && item.is_empty() && c.is_whitespace() {
                    continue;
                }
                item.push(c);
            }
            out.insert(item);
        } else {
            out.insert(rest.chars().take_while(|&c| is_ident(c)).collect());
        }
    }
    out.into_iter()
        .map(|s| s.chars().take_while(|&c| is_ident(c)).collect::<String>())
        .filter(|s| !s.is_empty() && s != "self")
        .collect()
}

/// Every `.rs` file under `p` (or `p` itself).
fn rust_files(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).expect("read_dir").flatten() {
        let q = e.path();
        if q.is_dir() {
            out.extend(rust_files(&q));
        } else if q.extension().is_some_and(|x| x == "rs") {
            out.push(q);
        }
    }
    out
}

/// The modules of directory `dir` (each `x.rs` or `x/`), `skip` aside, and the code of each.
fn modules(dir: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        let name = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let rust = p.extension().is_some_and(|x| x == "rs");
        if skip.contains(&name.as_str()) || !(p.is_dir() || rust) {
            continue;
        }
        let text: String = rust_files(&p)
            .iter()
            .map(|f| code(&std::fs::read_to_string(f).expect("read")))
            .collect();
        out.entry(name).or_default().push_str(&text);
    }
    out
}

/// The dependency graph: module -> the other modules it names after `prefixes`.
fn graph(mods: &BTreeMap<String, String>, prefixes: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    mods.iter()
        .map(|(m, text)| {
            let deps = prefixes
                .iter()
                .flat_map(|p| named_after(text, p))
                .filter(|d| d != m && mods.contains_key(d))
                .collect();
            (m.clone(), deps)
        })
        .collect()
}

/// The cycles of a graph: its strongly connected components of more than one module.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two modules are in one cycle when each reaches the other.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for d in g.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let all: BTreeMap<&String, BTreeSet<String>> = g.keys().map(|k| (k, reach(k))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for (k, r) in &all {
        if done.contains(*k) || !r.contains(*k) {
            continue;
        }
        let comp: Vec<String> = all
            .iter()
            .filter(|(o, ro)| r.contains(**o) && ro.contains(*k))
            .map(|(o, _)| (*o).clone())
            .collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

fn show(g: &BTreeMap<String, BTreeSet<String>>) -> String {
    g.iter()
        .map(|(m, d)| {
            format!(
                "  {m} -> {}",
                d.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn service_modules_have_no_cycles() {
    let mods = modules(&repo().join("service/src"), &["main", "lib"]);
    assert!(
        mods.contains_key("http") && mods.contains_key("app"),
        "{:?}",
        mods.keys()
    );
    let g = graph(&mods, &["crate::"]);
    let c = cycles(&g);
    assert!(
        c.is_empty(),
        "module cycles in service/src: {c:?}\n{}",
        show(&g)
    );
}

#[test]
fn rules_modules_have_no_cycles() {
    let mods = modules(&repo().join("service/engine/src/rules"), &["mod"]);
    assert!(
        mods.contains_key("run") && mods.contains_key("pack"),
        "{:?}",
        mods.keys()
    );
    let g = graph(&mods, &["super::", "crate::rules::"]);
    let c = cycles(&g);
    assert!(c.is_empty(), "module cycles in rules/: {c:?}\n{}", show(&g));
}

/// The checker finds a cycle when there is one, in every form of path it reads.
#[test]
fn the_cycle_check_sees_cycles() {
    let mods: BTreeMap<String, String> = [
        ("a", "use crate::{b::X, c};"),
        ("b", "fn f() { crate::a::g() } // crate::c::h"),
        (
            "c",
            "const S: &str = \"crate::a\"; fn g<'a>(x: &'a str) -> char { 'x' }",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), code(v)))
    .collect();
    let g = graph(&mods, &["crate::"]);
    assert_eq!(
        cycles(&g),
        vec![vec!["a".to_string(), "b".to_string()]],
        "{}",
        show(&g)
    );
}

/// Status codes are HTTP's: no other module of the service names them.
#[test]
fn only_http_knows_status_codes() {
    let mods = modules(&repo().join("service/src"), &["main", "lib"]);
    for (m, text) in &mods {
        if m == "http" {
            continue;
        }
        assert!(
            !text.contains("StatusCode") && !text.contains("actix_web::http"),
            "module `{m}` uses HTTP status codes; map its errors in http/problem.rs"
        );
    }
}

/// SQL is the store's: no other module of the service runs a query.
#[test]
fn only_the_store_speaks_sql() {
    let mods = modules(&repo().join("service/src"), &["main", "lib"]);
    for (m, text) in &mods {
        if m == "store" {
            continue;
        }
        assert!(
            !text.contains("sqlx::query"),
            "module `{m}` runs SQL; add a Store method instead"
        );
    }
}

/// The engine is pure: no clock, no file system, no network, no async.
#[test]
fn the_engine_reads_no_clock_and_does_no_io() {
    for f in rust_files(&repo().join("service/engine/src")) {
        let text = code(&std::fs::read_to_string(&f).expect("read"));
        for banned in [
            "SystemTime",
            "Instant::now",
            "Timestamp::now",
            "std::fs",
            "std::net",
            "async fn",
            "tokio",
        ] {
            assert!(!text.contains(banned), "{} uses `{banned}`", f.display());
        }
    }
}
