//! Shared helpers of modelgate's integration suites (the suites are modules of one test binary, `tests/tests/suite/`).

pub mod api;
pub mod db;
pub mod hubstub;
pub mod packs;
pub mod pgtls;
pub mod ui;

// The corpus helpers are shared with the engine's own suites (one file, no crate between).
#[path = "../../service/engine/tests/support/corpus.rs"]
mod corpus;
pub use corpus::{T0, evaluate, evaluate_document, fixture_cards, model_ref_for, shared_dir};

use std::path::PathBuf;

/// The built-in pack.
pub fn pack() -> modelgate_engine::Pack {
    match modelgate::packdir::builtin() {
        Ok(p) => p,
        Err(e) => panic!("built-in pack: {e}"),
    }
}

/// The real metadata documents of the shared reference corpus (CycloneDX, SPDX 3, MOF),
/// sorted; `None` (with a message on stderr) when the shared folder is absent.
pub fn shared_format_files() -> Option<Vec<PathBuf>> {
    let Some(dir) = shared_dir().map(|d| d.join("reference/formats")) else {
        eprintln!("SKIP: ../shared/reference/formats is absent; shared format tests not run");
        return None;
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Some(v)
}

/// The repository's own format fixtures (`tests/fixtures/formats/`).
pub fn format_fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats")
}

/// One of the repository's own format fixtures, by file name.
pub fn format_fixture(name: &str) -> Vec<u8> {
    let p = format_fixtures_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every fixture of `tests/fixtures/formats/`, sorted.
pub fn format_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(format_fixtures_dir())
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The built-in pack's files as (path, text).
pub fn packs_builtin() -> Vec<(String, String)> {
    modelgate::packdir::builtin_files()
        .into_iter()
        .map(|f| (f.path, String::from_utf8(f.bytes).expect("UTF-8 pack file")))
        .collect()
}

/// A decision to write straight through the store (around the service): tenant `default`,
/// verdict `allow`, small placeholder input, no leaf hash. Override fields with
/// `NewDecision { field: …, ..sample_decision(id, model_ref, created_at) }`.
pub fn sample_decision<'a>(
    id: &'a str,
    model_ref: &'a str,
    created_at: i64,
) -> modelgate::store::NewDecision<'a> {
    modelgate::store::NewDecision {
        id,
        tenant: "default",
        model_ref,
        model_version: None,
        profile: None,
        verdict: "allow",
        format: "hf-card",
        document: b"doc",
        record_json: "{}",
        context_json: "{}",
        decision_json: r#"{"verdict":"allow"}"#,
        pack_digest: "sha256:p",
        engine_version: "0",
        input_digest: "sha256:i",
        created_at,
        requested_by: None,
        idempotency_key: None,
        request_digest: None,
        trace_id: None,
        leaf_hash: None,
        generation: None,
        link_digest: None,
    }
}
