//! Shared helpers of modelgate's fuzz targets (`fuzz_targets/*.rs`): the built-in rule
//! pack, loaded once per process, and the invariants every parsed record must hold.
//!
//! A broken invariant panics with a message saying which one; libFuzzer reports the panic
//! as a crash and saves the input under `fuzz/artifacts/<target>/`.

use modelgate_engine::decision::Verdict;
use modelgate_engine::{Format, IngestError, ModelRecord, Pack, ParseOptions, UseContext};
use std::sync::OnceLock;

/// The fixed evaluation time of the targets (2026-01-01T00:00:00Z, as the test suites).
pub const T0: i64 = 1_767_225_600;

/// The built-in pack (the repository's `rules/`, embedded in the `modelgate` crate), as the
/// service and `modelgate check` load it.
pub fn pack() -> &'static Pack {
    static P: OnceLock<Pack> = OnceLock::new();
    P.get_or_init(|| match modelgate::packdir::builtin() {
        Ok(p) => p,
        Err(e) => panic!("the built-in pack does not load: {e}"),
    })
}

/// A result made comparable: records by their `Debug` form (so that a NaN compares equal
/// to itself), errors by their message.
pub fn fingerprint(r: &Result<Vec<ModelRecord>, IngestError>) -> String {
    match r {
        Ok(recs) => format!("{recs:?}"),
        Err(e) => format!("error: {e:?} / {e}"),
    }
}

/// Parses `bytes` as `format` (`None`: detect) twice and checks what every parser
/// promises:
///
/// * parsing is deterministic (same records or same error);
/// * a success has at least one record, each with a non-blank id, whose `source_format`
///   is the format asked for (or detected);
/// * each record survives the store's round trip (`serde_json` text and back, as a
///   decision's record is kept and replayed) and the native round trip (its JSON validates
///   against `model.schema.json` and reads back as the same record);
/// * with `evaluate`: each record evaluates under the default use context and, when it
///   declares no licence, is never allowed (fail closed).
///
/// Returns the records, if any.
pub fn check_parse(
    bytes: &[u8],
    format: Option<Format>,
    opts: &ParseOptions,
    evaluate: bool,
) -> Option<Vec<ModelRecord>> {
    let p = pack();
    let first = p.parse_all(bytes, format, opts);
    let again = p.parse_all(bytes, format, opts);
    let fp = fingerprint(&first);
    assert_eq!(fp, fingerprint(&again), "parsing is not deterministic");
    let recs = match first {
        Ok(recs) => recs,
        Err(e) => {
            // The message is what users see: it must render.
            let _ = e.to_string();
            return None;
        }
    };
    assert!(!recs.is_empty(), "a successful parse without records");
    let expected = match format.filter(|f| *f != Format::Auto) {
        Some(f) => f,
        None => match Format::detect(bytes) {
            Ok(f) => f,
            Err(e) => panic!("parsed as auto, but detection fails: {e}"),
        },
    };
    for rec in &recs {
        assert!(
            !rec.id.trim().is_empty(),
            "a record with a blank id: {rec:?}"
        );
        assert_eq!(
            rec.source_format,
            expected.as_str(),
            "source_format of {}",
            rec.id
        );
        store_round_trip(rec);
        native_round_trip(rec);
    }
    if evaluate {
        for i in 0..recs.len() {
            fail_closed(&recs, i);
        }
    }
    Some(recs)
}

/// The record as the store keeps it (JSON text) reads back as the same record (its prose
/// is not kept).
pub fn store_round_trip(rec: &ModelRecord) {
    let text = match serde_json::to_string(rec) {
        Ok(t) => t,
        Err(e) => panic!("record {} does not serialize: {e}", rec.id),
    };
    let back: ModelRecord = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => panic!("record {} does not read back: {e}\n{text}", rec.id),
    };
    let mut expected = rec.clone();
    expected.prose.clear();
    assert_eq!(
        format!("{back:?}"),
        format!("{expected:?}"),
        "record {} changes through its JSON:\n{text}",
        rec.id
    );
}

/// The record's JSON is a native record: it validates against `model.schema.json` and
/// parses back to the same record.
pub fn native_round_trip(rec: &ModelRecord) {
    let json = match serde_json::to_value(rec) {
        Ok(v) => v,
        Err(e) => panic!("record {} does not serialize: {e}", rec.id),
    };
    let back = match pack().record_from_json(json.clone(), &ParseOptions::default()) {
        Ok(r) => r,
        Err(e) => panic!(
            "record {} from {} is not a valid native record: {e}\n{json}",
            rec.id, rec.source_format
        ),
    };
    let mut expected = rec.clone();
    expected.prose.clear();
    expected.source_format = back.source_format.clone();
    assert_eq!(
        format!("{back:?}"),
        format!("{expected:?}"),
        "record {} changes through the native format",
        rec.id
    );
}

/// Evaluates record `i` of a document (the others as its known ancestors, as `check`
/// does) under the default context: a record without any licence is never allowed.
pub fn fail_closed(recs: &[ModelRecord], i: usize) {
    let rec = &recs[i];
    let ancestors = modelgate_engine::record::others(recs, i);
    let ctx = UseContext::default();
    let d = modelgate_engine::evaluate(&modelgate_engine::Evaluation {
        ancestors: &ancestors,
        ..modelgate_engine::Evaluation::new(
            pack(),
            rec,
            &ctx,
            modelgate_engine::time::from_unix(T0),
            "sha256:fuzz",
        )
    });
    if rec.licenses.is_empty() && rec.license_expression.is_none() {
        assert!(
            matches!(d.verdict, Verdict::Review | Verdict::Deny),
            "{} declares no licence but is {}",
            rec.id,
            d.verdict.as_str()
        );
    }
    // The decision is what the service stores and returns: it must serialize.
    if let Err(e) = serde_json::to_string(&d) {
        panic!("the decision on {} does not serialize: {e}", rec.id);
    }
}

/// `s` as UTF-8, lossily: for targets whose parser takes text.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A set of files written as text, for the pack targets and their seeds: each file starts
/// with a line `=== <path>` and runs to the next such line; bytes before the first are
/// ignored. `==> <path> -> <target>` is a symbolic link and `==/ <path>` a directory (only
/// archives have those; [`files`] skips them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File(String, Vec<u8>),
    Link(String, String),
    Dir(String),
}

/// Reads the `=== <path>` container (see [`Entry`]).
pub fn entries(data: &[u8]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut rest = data;
    let mut at_line_start = true;
    let mut current: Option<(String, Vec<u8>)> = None;
    while !rest.is_empty() {
        let line_end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(line_end);
        rest = tail;
        let header = at_line_start
            && line.len() > 4
            && line.starts_with(b"==")
            && matches!(line[2], b'=' | b'>' | b'/')
            && line[3] == b' ';
        at_line_start = line.ends_with(b"\n");
        if !header {
            if let Some((_, bytes)) = &mut current {
                bytes.extend_from_slice(line);
            }
            continue;
        }
        if let Some((p, b)) = current.take() {
            out.push(Entry::File(p, b));
        }
        let name = String::from_utf8_lossy(&line[4..]);
        let name = name.strip_suffix('\n').unwrap_or(&name);
        match line[2] {
            b'=' => current = Some((name.to_string(), Vec::new())),
            b'>' => {
                let (p, t) = name.split_once(" -> ").unwrap_or((name, ""));
                out.push(Entry::Link(p.to_string(), t.to_string()));
            }
            _ => out.push(Entry::Dir(name.to_string())),
        }
    }
    if let Some((p, b)) = current.take() {
        out.push(Entry::File(p, b));
    }
    out
}

/// The regular files of a container, as pack files.
pub fn files(entries: &[Entry]) -> Vec<modelgate_engine::PackFile> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::File(path, bytes) => Some(modelgate_engine::PackFile {
                path: path.clone(),
                bytes: bytes.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Loads a pack from its files as an upload does (`Pack::load`, then its own tests) and
/// checks what a loaded pack promises: its digest is the digest of its files, it has
/// licences and rules, its tests run, and it evaluates a card (a decision that
/// serializes). A pack that does not load reports at least one problem.
pub fn check_pack(files: &[modelgate_engine::PackFile]) {
    let pack = match Pack::load(files) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.problems.is_empty(), "a pack refused without a problem");
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(pack.digest, modelgate_engine::rules::pack::digest(files));
    assert!(!pack.catalog.is_empty(), "a pack without licences loaded");
    assert!(!pack.rules.is_empty(), "a pack without rules loaded");
    let report = pack.run_tests();
    assert_eq!(report.passed + report.failed, pack.tests.len());
    let card = b"---\nlicense: mit\nbase_model: acme/base\ntags: [text-generation]\n---\n# Card\n";
    if let Ok(rec) = pack.parse(card, None, &ParseOptions::default()) {
        let ctx = UseContext::default();
        let d = modelgate_engine::evaluate(&modelgate_engine::Evaluation::new(
            &pack,
            &rec,
            &ctx,
            modelgate_engine::time::from_unix(T0),
            "sha256:fuzz",
        ));
        if let Err(e) = serde_json::to_string(&d) {
            panic!("a decision of a fuzzed pack does not serialize: {e}");
        }
    }
}
