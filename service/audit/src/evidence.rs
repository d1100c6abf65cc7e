//! Evidence bundles: everything needed to check one logged decision offline.
//!
//! A bundle carries the decision's leaf (its exact logged bytes), the decision itself (the
//! JSON text whose SHA-256 the leaf records as `decision_digest`), the leaf's inclusion proof,
//! a signed checkpoint covering it and the verifier key's text. [`verify_bundle`] checks it
//! against a verifier key the auditor trusts; [`render_html`] turns it into one printable,
//! self-contained page for a lawyer.
//!
//! Trust: the verifier key passed to [`verify_bundle`] is what counts. The bundle's own copy in
//! `log.verifier_key` is informational; it must equal the given key (so a bundle never names a
//! different key than the one it was checked with), but it is never used to verify anything.

use crate::checkpoint::{open_checkpoint, read_checkpoint_unverified};
use crate::entry::{hex_hash, leaf_hash, parse_hex_hash, parse_leaf, truncate};
use crate::tree::verify_inclusion;
use crate::{AuditError, Hash};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

/// The `format` string of version 1 bundles.
pub const EVIDENCE_FORMAT: &str = "modelgate-evidence/v1";

/// The entry kind of decisions.
pub const DECISION_KIND: &str = "decision";

/// A self-contained evidence bundle for one decision (JSON, see the field docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// Always [`EVIDENCE_FORMAT`].
    pub format: String,
    /// The decision's id (equal to the logged entry's `id`).
    pub decision_id: String,
    /// The decision exactly as recorded: JSON text whose SHA-256 is the logged entry's
    /// `decision_digest` (the leaf records the digest, not the decision).
    pub decision: String,
    /// Which log the decision is in.
    pub log: LogInfo,
    /// The logged entry and its inclusion proof.
    pub entry: EntryProof,
    /// The signed checkpoint (C2SP signed note text) of a tree of `entry.tree_size` records.
    pub checkpoint: String,
    /// The rule pack that made the decision.
    pub pack: PackInfo,
}

/// The log a bundle's entry is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogInfo {
    /// The log's origin (the checkpoint key name).
    pub origin: String,
    /// The log's verifier key `<name>+<id>+<base64>` (informational; see the module docs).
    pub verifier_key: String,
}

/// A log entry with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryProof {
    /// The entry kind, `"decision"`.
    pub kind: String,
    /// The entry's 0-based index in the log.
    pub index: u64,
    /// The leaf bytes (UTF-8): `"decision/v1\n"` and RFC 8785 JSON.
    pub leaf: String,
    /// Lowercase hex of `SHA-256(0x00 || leaf)`.
    pub leaf_hash: String,
    /// The size of the tree the proof and checkpoint are for.
    pub tree_size: u64,
    /// RFC 6962 audit path, lowercase hex, leaf side first.
    pub inclusion_proof: Vec<String>,
}

/// The rule pack of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: String,
    /// Pack digest, e.g. `sha256:…`.
    pub digest: String,
}

/// What [`verify_bundle`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The decision id.
    pub decision_id: String,
    /// The entry's index in the log.
    pub index: u64,
    /// The size of the signed tree that includes it.
    pub tree_size: u64,
    /// That tree's root hash, lowercase hex.
    pub root: String,
    /// The entry's leaf hash, lowercase hex.
    pub leaf_hash: String,
    /// The log origin.
    pub origin: String,
    /// Name of the key that signed the checkpoint.
    pub key_name: String,
    /// Id of that key.
    pub key_id: u32,
    /// `decision.verdict` of the entry, if it records one.
    pub verdict: Option<String>,
    /// `model_ref` of the entry, if it records one.
    pub model_ref: Option<String>,
}

impl EvidenceBundle {
    /// Builds a bundle from a decision leaf, the recorded decision (JSON text), the leaf's
    /// index, its inclusion proof in the tree of the given signed checkpoint, and the log's
    /// verifier key; decision id and pack come from the leaf and the decision. The result is
    /// checked with [`verify_bundle`] before it is returned.
    ///
    /// # Errors
    ///
    /// Any [`AuditError`] of [`verify_bundle`], or [`AuditError::BundleMismatch`] if the leaf
    /// lacks `id` or `pack_digest`.
    pub fn build(
        leaf: &[u8],
        decision: &str,
        index: u64,
        proof: &[Hash],
        checkpoint: &str,
        verifier_key: &str,
    ) -> Result<EvidenceBundle, AuditError> {
        let (kind, entry) = parse_leaf(leaf).map_err(|e| e.in_field("entry.leaf"))?;
        let opened =
            open_checkpoint(checkpoint, verifier_key).map_err(|e| e.in_field("checkpoint"))?;
        let field = |p: &str| entry.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let recorded: Value = serde_json::from_str(decision)
            .map_err(|e| AuditError::BundleJson(format!("the decision is not JSON: {e}")))?;
        let of_decision = |p: &str| {
            recorded
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let missing = |what: &str| AuditError::BundleMismatch {
            what: format!("the decision entry records no {what}"),
        };
        let bundle = EvidenceBundle {
            format: EVIDENCE_FORMAT.to_owned(),
            decision_id: field("/id").ok_or_else(|| missing("\"id\""))?,
            decision: decision.to_owned(),
            log: LogInfo {
                origin: opened.origin.clone(),
                verifier_key: verifier_key.to_owned(),
            },
            entry: EntryProof {
                kind,
                index,
                // parse_leaf has checked that the leaf is UTF-8 JSON.
                leaf: String::from_utf8_lossy(leaf).into_owned(),
                leaf_hash: hex_hash(&leaf_hash(leaf)),
                tree_size: opened.size,
                inclusion_proof: proof.iter().map(hex_hash).collect(),
            },
            checkpoint: checkpoint.to_owned(),
            pack: PackInfo {
                name: of_decision("/pack/name").unwrap_or_default(),
                version: of_decision("/pack/version").unwrap_or_default(),
                digest: field("/pack_digest").ok_or_else(|| missing("\"pack_digest\""))?,
            },
        };
        let json =
            serde_json::to_vec(&bundle).map_err(|e| AuditError::BundleJson(e.to_string()))?;
        verify_bundle(&json, verifier_key)?;
        Ok(bundle)
    }
}

fn mismatch(what: String) -> AuditError {
    AuditError::BundleMismatch { what }
}

/// Verifies an evidence bundle (JSON bytes) against the verifier key `vkey` the caller trusts.
///
/// Checks, in order: JSON shape and format string; that `log.verifier_key` equals `vkey`; the
/// checkpoint's signature by `vkey` and that its origin equals `log.origin`; that the
/// checkpoint's size equals `entry.tree_size` and `entry.index` is below it; that
/// `entry.leaf_hash` is `SHA-256(0x00 || leaf)`; that the leaf is a canonical `decision` entry
/// of kind `entry.kind`; that its `id` equals `decision_id`, its `pack_digest` equals
/// `pack.digest` and its `decision_digest` is the SHA-256 of `decision`; that `decision` is
/// JSON whose `verdict` (and, where it records them, `pack` name and version) agree with the
/// entry and `pack`; and that the inclusion proof leads from the leaf hash to the checkpoint's
/// root.
///
/// # Errors
///
/// The first failed check, as [`AuditError::BundleJson`], [`AuditError::BundleFormat`],
/// [`AuditError::BundleField`] (naming the field), [`AuditError::BundleMismatch`] or
/// [`AuditError::BundleInclusion`].
pub fn verify_bundle(json: &[u8], vkey: &str) -> Result<VerifiedBundle, AuditError> {
    let b: EvidenceBundle =
        serde_json::from_slice(json).map_err(|e| AuditError::BundleJson(e.to_string()))?;
    if b.format != EVIDENCE_FORMAT {
        return Err(AuditError::BundleFormat {
            found: truncate(&b.format, 80),
        });
    }
    if b.log.verifier_key != vkey {
        return Err(mismatch(format!(
            "log.verifier_key {:?} is not the verifier key given for checking ({:?})",
            truncate(&b.log.verifier_key, 200),
            truncate(vkey, 200)
        )));
    }
    let cp = open_checkpoint(&b.checkpoint, vkey).map_err(|e| e.in_field("checkpoint"))?;
    if cp.origin != b.log.origin {
        return Err(mismatch(format!(
            "log.origin {:?} is not the checkpoint origin {:?}",
            truncate(&b.log.origin, 200),
            cp.origin
        )));
    }
    let e = &b.entry;
    if cp.size != e.tree_size {
        return Err(mismatch(format!(
            "entry.tree_size {} is not the checkpoint's tree size {}",
            e.tree_size, cp.size
        )));
    }
    if e.index >= e.tree_size {
        return Err(AuditError::IndexOutOfRange {
            index: e.index,
            size: e.tree_size,
        }
        .in_field("entry.index"));
    }
    let claimed = parse_hex_hash(&e.leaf_hash).map_err(|err| err.in_field("entry.leaf_hash"))?;
    let actual = leaf_hash(e.leaf.as_bytes());
    if claimed != actual {
        return Err(mismatch(format!(
            "entry.leaf_hash {} is not SHA-256(0x00 || entry.leaf) = {}",
            e.leaf_hash,
            hex_hash(&actual)
        )));
    }
    let (kind, entry) = parse_leaf(e.leaf.as_bytes()).map_err(|err| err.in_field("entry.leaf"))?;
    if kind != DECISION_KIND || e.kind != kind {
        return Err(mismatch(format!(
            "entry.kind is {:?} and the leaf's kind is {:?}; both must be \"decision\"",
            truncate(&e.kind, 80),
            kind
        )));
    }
    let text = |p: &str| entry.pointer(p).and_then(Value::as_str);
    match text("/id") {
        Some(id) if id == b.decision_id => {}
        other => {
            return Err(mismatch(format!(
                "decision_id {:?} is not the logged entry's id {:?}",
                truncate(&b.decision_id, 200),
                other.unwrap_or("(none)")
            )));
        }
    }
    match text("/pack_digest") {
        Some(d) if d == b.pack.digest => {}
        other => {
            return Err(mismatch(format!(
                "pack.digest {:?} is not the logged entry's pack_digest {:?}",
                truncate(&b.pack.digest, 200),
                other.unwrap_or("(none)")
            )));
        }
    }
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(b.decision.as_bytes()))
    );
    match text("/decision_digest") {
        Some(d) if d == digest => {}
        other => {
            return Err(mismatch(format!(
                "decision has SHA-256 {digest}, the logged entry's decision_digest is {:?}",
                other.unwrap_or("(none)")
            )));
        }
    }
    let decision: Value = serde_json::from_str(&b.decision)
        .map_err(|e| AuditError::BundleJson(format!("decision is not JSON: {e}")))?;
    let of_decision = |p: &str| decision.pointer(p).and_then(Value::as_str);
    if text("/verdict") != of_decision("/verdict") {
        return Err(mismatch(format!(
            "the decision's verdict {:?} is not the logged entry's verdict {:?}",
            of_decision("/verdict").unwrap_or("(none)"),
            text("/verdict").unwrap_or("(none)")
        )));
    }
    for (field, ptr, value) in [
        ("pack.name", "/pack/name", &b.pack.name),
        ("pack.version", "/pack/version", &b.pack.version),
    ] {
        if let Some(logged) = of_decision(ptr)
            && logged != value
        {
            return Err(mismatch(format!(
                "{field} {:?} is not the logged decision's {:?}",
                truncate(value, 200),
                logged
            )));
        }
    }
    let mut proof = Vec::with_capacity(e.inclusion_proof.len());
    for (i, h) in e.inclusion_proof.iter().enumerate() {
        proof.push(
            parse_hex_hash(h).map_err(|err| err.in_field(format!("entry.inclusion_proof[{i}]")))?,
        );
    }
    match verify_inclusion(e.index, e.tree_size, actual, &proof, cp.root) {
        Ok(()) => {}
        Err(AuditError::InclusionMismatch { index, size }) => {
            return Err(AuditError::BundleInclusion { index, size });
        }
        Err(err) => return Err(err.in_field("entry.inclusion_proof")),
    }
    Ok(VerifiedBundle {
        decision_id: b.decision_id,
        index: e.index,
        tree_size: e.tree_size,
        root: hex_hash(&cp.root),
        leaf_hash: hex_hash(&actual),
        origin: cp.origin,
        key_name: cp.key_name,
        key_id: cp.key_id,
        verdict: of_decision("/verdict").map(str::to_owned),
        model_ref: text("/model_ref").map(str::to_owned),
    })
}

// ---------------------------------------------------------------------------------------------
// HTML rendering
// ---------------------------------------------------------------------------------------------

const NOT_RECORDED: &str = "not recorded";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Plain-text form of a JSON value for display (not escaped).
fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => NOT_RECORDED.to_owned(),
        Some(Value::String(s)) if s.is_empty() => NOT_RECORDED.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "yes".to_owned(),
        Some(Value::Bool(false)) => "no".to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) if items.is_empty() => "none".to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| show(Some(i)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(map)) if map.is_empty() => "none".to_owned(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", show(Some(v))))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Escaped display text of the value at JSON pointer `ptr` of `v`.
fn at(v: &Value, ptr: &str) -> String {
    escape_html(&show(v.pointer(ptr)))
}

fn items<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Human label from a snake_case key.
fn label(key: &str) -> String {
    let mut s = key.replace('_', " ");
    if let Some(first) = s.get(..1) {
        let upper = first.to_uppercase();
        s.replace_range(..1, &upper);
    }
    s
}

/// A two-column table of `(label, already escaped value)` rows.
fn kv_table(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{}</th><td>{v}</td></tr>", escape_html(k));
    }
    out.push_str("</table>\n");
}

/// A two-column table of all members of the object at `ptr`, or a "not recorded" line.
fn object_table(out: &mut String, v: &Value, ptr: &str) {
    match v.pointer(ptr).and_then(Value::as_object) {
        Some(map) if !map.is_empty() => {
            let rows: Vec<(String, String)> = map
                .iter()
                .map(|(k, val)| (label(k), escape_html(&show(Some(val)))))
                .collect();
            let rows: Vec<(&str, String)> =
                rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            kv_table(out, &rows);
        }
        _ => out.push_str("<p class=\"muted\">Not recorded.</p>\n"),
    }
}

/// A table with the given columns (header, JSON pointer relative to each row) over the array
/// at `ptr`, or `empty` if there are no rows.
fn array_table(out: &mut String, v: &Value, ptr: &str, cols: &[(&str, &str)], empty: &str) {
    let rows = items(v, ptr);
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape_html(empty));
        return;
    }
    out.push_str("<table class=\"grid\">\n<tr>");
    for (h, _) in cols {
        let _ = write!(out, "<th>{}</th>", escape_html(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (_, p) in cols {
            let _ = write!(out, "<td>{}</td>", at(row, p));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// One-line citation text: licence, source, section, summary, URL.
fn citation(c: Option<&Value>) -> String {
    let Some(c) = c.filter(|c| c.is_object()) else {
        return escape_html(NOT_RECORDED);
    };
    let mut parts = Vec::new();
    for (name, key) in [
        ("Licence", "license"),
        ("Source", "source"),
        ("Section", "section"),
        ("Summary", "summary"),
        ("URL", "url"),
    ] {
        if let Some(val) = c.get(key).filter(|x| !x.is_null()) {
            parts.push(format!("{name}: {}", show(Some(val))));
        }
    }
    if parts.is_empty() {
        escape_html(NOT_RECORDED)
    } else {
        escape_html(&parts.join(" · "))
    }
}

const CSS: &str = "\
@page { size: A4; margin: 18mm 16mm; }
body { font-family: Georgia, 'Times New Roman', serif; font-size: 11pt; line-height: 1.4; color: #000; background: #fff; max-width: 52em; margin: 0 auto; padding: 1em; }
h1 { font-size: 18pt; margin: 0 0 .2em; }
h2 { font-size: 13pt; border-bottom: 1px solid #444; margin-top: 1.4em; page-break-after: avoid; break-after: avoid; }
h3 { font-size: 11.5pt; margin: .8em 0 .3em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; page-break-inside: auto; }
th, td { border: 1px solid #999; padding: .25em .45em; text-align: left; vertical-align: top; }
table.kv th { width: 28%; background: #f2f2f2; }
table.grid th { background: #f2f2f2; }
tr { page-break-inside: avoid; break-inside: avoid; }
.verdict { font-size: 14pt; font-weight: bold; border: 2px solid #000; display: inline-block; padding: .15em .6em; }
.verdict-deny { border-style: double; border-width: 4px; }
.finding { border: 1px solid #999; padding: .2em .8em .6em; margin: .8em 0; page-break-inside: avoid; break-inside: avoid; }
.muted { color: #444; font-style: italic; }
code, .hash { font-family: 'DejaVu Sans Mono', Consolas, monospace; font-size: 9pt; word-break: break-all; }
pre { white-space: pre-wrap; word-break: break-all; border: 1px solid #999; padding: .5em; font-size: 9pt; }
footer { margin-top: 2em; font-size: 9pt; color: #444; }
";

/// Renders a bundle as one printable, self-contained HTML page (inline CSS, no scripts, no
/// external resources; all text HTML-escaped). Fields missing from the logged entry are shown
/// as "not recorded".
///
/// This does not verify anything: call [`verify_bundle`] first. The page names the command an
/// auditor runs to verify the bundle themselves.
///
/// # Errors
///
/// [`AuditError::BundleField`] if the leaf is not a canonical entry (there is nothing to show).
pub fn render_html(bundle: &EvidenceBundle) -> Result<String, AuditError> {
    let (_, mut d) =
        parse_leaf(bundle.entry.leaf.as_bytes()).map_err(|e| e.in_field("entry.leaf"))?;
    // The page shows the recorded decision as if it were part of the entry.
    if let Value::Object(m) = &mut d {
        let decision = serde_json::from_str(&bundle.decision).unwrap_or(Value::Null);
        m.insert("decision".into(), decision);
    }
    let cp = read_checkpoint_unverified(&bundle.checkpoint).ok();
    let verdict_raw = show(d.pointer("/decision/verdict"));
    let verdict_class = match verdict_raw.as_str() {
        "allow" | "conditional" | "review" | "deny" => verdict_raw.as_str(),
        _ => "unknown",
    };
    let model = at(&d, "/model_ref");
    let mut o = String::with_capacity(16 * 1024);

    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Decision evidence: {model} ({verdict})</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        verdict = escape_html(&verdict_raw),
    );

    // Heading.
    let _ = write!(
        o,
        "<header>\n<h1>Licence and policy decision for {model}</h1>\n\
         <p class=\"verdict verdict-{verdict_class}\">Verdict: {}</p>\n",
        escape_html(&verdict_raw.to_uppercase()),
    );
    let summary = d.pointer("/decision/summary");
    let _ = writeln!(
        o,
        "<p>Rule results: {} passed, {} failed, {} warnings, {} errors, {} skipped.</p>\n</header>",
        escape_html(&show(summary.and_then(|s| s.get("pass")))),
        escape_html(&show(summary.and_then(|s| s.get("fail")))),
        escape_html(&show(summary.and_then(|s| s.get("warn")))),
        escape_html(&show(summary.and_then(|s| s.get("error")))),
        escape_html(&show(summary.and_then(|s| s.get("skip")))),
    );

    // Request.
    o.push_str("<h2>The request</h2>\n");
    kv_table(
        &mut o,
        &[
            ("Decision id", escape_html(&bundle.decision_id)),
            ("Model reference", model.clone()),
            ("Model name", at(&d, "/decision/model/name")),
            ("Model id", at(&d, "/decision/model/id")),
            ("Model revision", at(&d, "/decision/model/revision")),
            ("Registered model version", at(&d, "/model_version")),
            ("Metadata format", at(&d, "/format")),
            ("Requested by (API key id)", at(&d, "/requested_by")),
            ("Decided at (UTC)", at(&d, "/created_at")),
            ("Tenant", at(&d, "/tenant")),
            ("Use profile", at(&d, "/profile")),
        ],
    );

    o.push_str("<h2>Intended use</h2>\n");
    object_table(&mut o, &d, "/decision/context");

    // Facts.
    o.push_str("<h2>Licences</h2>\n<h3>Declared</h3>\n");
    array_table(
        &mut o,
        &d,
        "/decision/license/declared",
        &[
            ("As written", "/raw"),
            ("Licence name", "/license_name"),
            ("Licence link", "/license_link"),
            ("Identified as", "/id"),
            ("SPDX", "/spdx"),
            ("How identified", "/resolution"),
            ("Source", "/source"),
        ],
        "No licence declared.",
    );
    kv_table(
        &mut o,
        &[
            (
                "Chosen licence expression",
                at(&d, "/decision/license/chosen"),
            ),
            (
                "Conflicting licences",
                at(&d, "/decision/license/conflicting"),
            ),
        ],
    );
    o.push_str("<h3>Alternatives considered</h3>\n");
    array_table(
        &mut o,
        &d,
        "/decision/license/alternatives",
        &[("Expression", "/expression"), ("Verdict", "/verdict")],
        "None.",
    );
    o.push_str("<h3>Inherited from other models</h3>\n");
    array_table(
        &mut o,
        &d,
        "/decision/license/inherited",
        &[
            ("Model", "/model"),
            ("Licence", "/license"),
            ("Relation", "/relation"),
            ("Source", "/source"),
        ],
        "None.",
    );
    o.push_str("<h3>Effective licences</h3>\n");
    array_table(
        &mut o,
        &d,
        "/decision/license/effective",
        &[
            ("Licence", "/id"),
            ("Name", "/name"),
            ("Origin", "/origin"),
            ("Via", "/via"),
        ],
        "None recorded.",
    );
    o.push_str("<h2>Lineage</h2>\n");
    object_table(&mut o, &d, "/decision/lineage");
    o.push_str("<h2>Openness</h2>\n");
    object_table(&mut o, &d, "/decision/openness");

    // Findings that did not pass.
    o.push_str("<h2>Findings that did not pass</h2>\n");
    let failing: Vec<&Value> = items(&d, "/decision/findings")
        .iter()
        .filter(|f| f.get("result").and_then(Value::as_str) != Some("pass"))
        .collect();
    if failing.is_empty() {
        o.push_str("<p class=\"muted\">None: every evaluated rule passed.</p>\n");
    }
    for f in failing {
        let _ = writeln!(
            o,
            "<section class=\"finding\">\n<h3>{} <span class=\"muted\">({})</span></h3>\n<p>{}</p>",
            at(f, "/title"),
            at(f, "/rule_id"),
            at(f, "/message"),
        );
        let evidence: Vec<String> = f
            .get("evidence")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let mut s = format!("{} = {}", show(e.get("path")), show(e.get("value")));
                if let Some(src) = e.get("source").filter(|x| !x.is_null()) {
                    s.push_str(&format!(" (from {})", show(Some(src))));
                }
                escape_html(&s)
            })
            .collect();
        let evidence = if evidence.is_empty() {
            escape_html(NOT_RECORDED)
        } else {
            evidence.join("<br>")
        };
        kv_table(
            &mut o,
            &[
                ("Result", at(f, "/result")),
                ("Effect", at(f, "/effect")),
                ("Severity", at(f, "/severity")),
                ("Category", at(f, "/category")),
                ("Clause / citation", citation(f.get("citation"))),
                ("How to fix", at(f, "/how_to_fix")),
                ("Evidence", evidence),
                ("Waived", at(f, "/waived")),
            ],
        );
        o.push_str("</section>\n");
    }

    // Obligations.
    o.push_str("<h2>Obligations</h2>\n");
    let obligations = items(&d, "/decision/obligations");
    if obligations.is_empty() {
        o.push_str("<p class=\"muted\">None.</p>\n");
    }
    for ob in obligations {
        let _ = writeln!(
            o,
            "<h3>{} <span class=\"muted\">({})</span></h3>\n<p>{}</p>",
            at(ob, "/title"),
            at(ob, "/rule_id"),
            at(ob, "/text"),
        );
        kv_table(
            &mut o,
            &[
                ("Category", at(ob, "/category")),
                ("Licences", at(ob, "/licenses")),
                ("Clause / citation", citation(ob.get("citation"))),
            ],
        );
    }

    // Rules and inputs.
    o.push_str("<h2>Rules and inputs</h2>\n");
    let hash = |s: String| format!("<span class=\"hash\">{s}</span>");
    kv_table(
        &mut o,
        &[
            ("Rule pack", escape_html(&bundle.pack.name)),
            ("Rule pack version", escape_html(&bundle.pack.version)),
            ("Rule pack digest", hash(escape_html(&bundle.pack.digest))),
            ("Engine version", at(&d, "/engine_version")),
            ("Input digest", hash(at(&d, "/input_digest"))),
            ("Document digest", hash(at(&d, "/document_digest"))),
            ("Model record digest", hash(at(&d, "/record_digest"))),
            ("Evaluated at (UTC)", at(&d, "/decision/evaluated_at")),
            ("Trace id", at(&d, "/trace_id")),
        ],
    );

    // Proof.
    o.push_str("<h2>Proof that this decision is in the audit log</h2>\n");
    let (root, size, signers) = match &cp {
        Some(c) => (
            hash(hex_hash(&c.root)),
            c.size.to_string(),
            c.signatures
                .iter()
                .map(|(n, id)| escape_html(&format!("{n} (key id {id:08x})")))
                .collect::<Vec<_>>()
                .join("<br>"),
        ),
        None => (
            "checkpoint not readable".to_owned(),
            "checkpoint not readable".to_owned(),
            "checkpoint not readable".to_owned(),
        ),
    };
    kv_table(
        &mut o,
        &[
            ("Log origin", escape_html(&bundle.log.origin)),
            ("Entry index", bundle.entry.index.to_string()),
            ("Tree size (signed checkpoint)", size),
            ("Root hash (SHA-256, hex)", root),
            (
                "Leaf hash (SHA-256, hex)",
                hash(escape_html(&bundle.entry.leaf_hash)),
            ),
            (
                "Inclusion proof length",
                format!("{} hashes", bundle.entry.inclusion_proof.len()),
            ),
            ("Checkpoint signed by", signers),
            ("Verifier key", hash(escape_html(&bundle.log.verifier_key))),
        ],
    );
    o.push_str("<h3>Signed checkpoint</h3>\n");
    let _ = writeln!(o, "<pre>{}</pre>", escape_html(&bundle.checkpoint));

    let _ = write!(
        o,
        "<h2>How to verify</h2>\n<p>This page was generated from the evidence bundle file \
         <code>evidence.json</code>; the page itself proves nothing. The bundle contains the \
         decision exactly as it was recorded, the audit log entry that fixes its SHA-256 digest \
         (as RFC 8785 canonical JSON), a Merkle inclusion \
         proof (RFC 6962) and a checkpoint of the audit log signed with the log's Ed25519 key. \
         Obtain the log's verifier key from a trusted source, not from this page, and run:</p>\n\
         <pre>modelgate audit verify-evidence evidence.json --key '{}'</pre>\n\
         <p>The command succeeds only if the signature on the checkpoint is valid for that key and \
         the recorded decision is included, unaltered, in the signed log at entry {} of {}. \
         Any change to the decision, the proof or the checkpoint makes it fail.</p>\n",
        escape_html(&bundle.log.verifier_key),
        bundle.entry.index,
        bundle.entry.tree_size,
    );
    let _ = write!(
        o,
        "<footer>Evidence bundle format {}. Decision {}.</footer>\n</body>\n</html>\n",
        escape_html(&bundle.format),
        escape_html(&bundle.decision_id),
    );
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn show_values() {
        let v = serde_json::json!({"a": null, "b": [1, "x"], "c": {"k": true}, "d": ""});
        assert_eq!(show(v.get("a")), NOT_RECORDED);
        assert_eq!(show(v.get("missing")), NOT_RECORDED);
        assert_eq!(show(v.get("b")), "1, x");
        assert_eq!(show(v.get("c")), "k: yes");
        assert_eq!(show(v.get("d")), NOT_RECORDED);
        assert_eq!(label("monthly_active_users"), "Monthly active users");
    }
}
