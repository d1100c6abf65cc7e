//! Helpers over the test corpus, shared by the engine's suites (`service/engine/tests/`)
//! and the integration suites (`tests/`, which include this file by path): the fixed
//! evaluation time, the shared reference cards, the repository's rule pack, and one
//! evaluation through the engine's entry point. Pure engine and files; no service.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Fixed evaluation time of the suites: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

/// The repository: the folder above the including crate that holds `rules/pack.yaml`.
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("rules/pack.yaml").is_file())
        .unwrap_or(&here)
        .to_path_buf()
}

/// The shared reference folder (`../shared` beside the repository), if present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = repo_root().join("../shared");
    p.is_dir().then_some(p)
}

/// The real Hugging Face model cards of the shared fixtures, sorted; `None` (with a
/// message on stderr) when the shared folder is absent.
pub fn fixture_cards() -> Option<Vec<PathBuf>> {
    let Some(dir) = shared_dir().map(|d| d.join("fixtures/model-cards")) else {
        eprintln!("SKIP: ../shared/fixtures/model-cards is absent; fixture-card tests not run");
        return None;
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    v.sort();
    Some(v)
}

/// `hf-org--name@date.md` -> `hf:org/name`.
pub fn model_ref_for(card: &Path) -> String {
    let stem = card
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("unnamed");
    let stem = stem.strip_prefix("hf-").unwrap_or(stem);
    let stem = stem.split('@').next().unwrap_or(stem);
    let stem = stem.trim_end_matches(".gguf-derivative");
    format!("hf:{}", stem.replacen("--", "/", 1))
}

/// Every model of a document, each with the others as its known ancestors (as `modelgate
/// check` and the pack tests evaluate a document), at Unix time `now`.
pub fn evaluate_document(
    pack: &modelgate_engine::Pack,
    records: &[modelgate_engine::ModelRecord],
    ctx: &modelgate_engine::UseContext,
    now: i64,
    input_digest: &str,
) -> Vec<modelgate_engine::Decision> {
    (0..records.len())
        .map(|i| {
            let ancestors = modelgate_engine::record::others(records, i);
            modelgate_engine::evaluate(&modelgate_engine::Evaluation {
                ancestors: &ancestors,
                ..modelgate_engine::Evaluation::new(
                    pack,
                    &records[i],
                    ctx,
                    modelgate_engine::time::from_unix(now),
                    input_digest,
                )
            })
        })
        .collect()
}

/// One evaluation through the engine's one entry point, at Unix time `now`, with the
/// ancestors the test knows and no waivers.
pub fn evaluate(
    pack: &modelgate_engine::Pack,
    record: &modelgate_engine::ModelRecord,
    ancestors: &[modelgate_engine::ModelRecord],
    ctx: &modelgate_engine::UseContext,
    now: i64,
    input_digest: &str,
) -> modelgate_engine::Decision {
    modelgate_engine::evaluate(&modelgate_engine::Evaluation {
        ancestors,
        ..modelgate_engine::Evaluation::new(
            pack,
            record,
            ctx,
            modelgate_engine::time::from_unix(now),
            input_digest,
        )
    })
}

/// The repository's rule pack (`rules/`), as files read from disk.
pub fn rules_files() -> Vec<modelgate_engine::PackFile> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<modelgate_engine::PackFile>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(modelgate_engine::PackFile {
                    path: rel.to_string_lossy().replace('\\', "/"),
                    bytes: std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
                });
            }
        }
    }
    let root = repo_root().join("rules");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The repository's rule pack, compiled.
pub fn rules_pack() -> modelgate_engine::Pack {
    modelgate_engine::Pack::load(&rules_files()).unwrap_or_else(|e| panic!("rules/: {e:?}"))
}
