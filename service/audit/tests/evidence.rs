//! Evidence bundles: build, verify, reject tampering, render.

mod common;

use modelgate_audit::AuditError;
use modelgate_audit::checkpoint::generate_key;
use modelgate_audit::entry::hex_hash;
use modelgate_audit::evidence::{EvidenceBundle, render_html, verify_bundle};
use rand_core::OsRng;

fn json(b: &EvidenceBundle) -> Vec<u8> {
    serde_json::to_vec_pretty(b).unwrap()
}

#[test]
fn round_trip_verifies() {
    let log = common::log(11, 6, "llama-3-ft");
    for index in [0, 6, 10] {
        let b = log.bundle(index);
        assert_eq!(b.format, "modelgate-evidence/v1");
        assert_eq!(b.pack.name, "default");
        assert_eq!(b.pack.version, "1.4.0");
        assert_eq!(b.pack.digest, "sha256:dddd");
        let v = verify_bundle(&json(&b), &log.vkey).unwrap();
        assert_eq!(v.index, index);
        assert_eq!(v.tree_size, 11);
        assert_eq!(v.root, hex_hash(&log.root));
        assert_eq!(
            v.decision_id,
            format!("0193a1f2-0000-7000-8000-{index:012}")
        );
        assert_eq!(v.verdict.as_deref(), Some("conditional"));
        assert_eq!(v.origin, common::ORIGIN);
        assert_eq!(v.key_name, common::ORIGIN);
        let want_model = if index == 6 {
            "hf:org/llama-3-ft".to_owned()
        } else {
            format!("hf:org/model-{index}")
        };
        assert_eq!(v.model_ref.as_deref(), Some(want_model.as_str()));
    }
}

#[test]
fn wrong_key_rejected() {
    let log = common::log(4, 1, "m");
    let b = log.bundle(1);
    let (_, other) = generate_key(&mut OsRng, common::ORIGIN);
    // The bundle names the real key, so a different given key is a mismatch...
    let err = verify_bundle(&json(&b), &other).unwrap_err();
    assert!(matches!(err, AuditError::BundleMismatch { .. }), "{err}");
    // ...and with the bundle's copy replaced too, the signature check fails.
    let mut b2 = b.clone();
    b2.log.verifier_key = other.clone();
    let err = verify_bundle(&json(&b2), &other).unwrap_err();
    assert!(err.to_string().contains("checkpoint"), "{err}");
    assert!(matches!(err, AuditError::BundleField { ref field, .. } if field == "checkpoint"));
}

#[test]
fn each_check_has_its_own_error() {
    let log = common::log(9, 3, "m");
    let good = log.bundle(3);
    let check = |f: &dyn Fn(&mut EvidenceBundle), want: &str| {
        let mut b = good.clone();
        f(&mut b);
        let err = verify_bundle(&json(&b), &log.vkey).unwrap_err();
        assert!(err.to_string().contains(want), "want {want:?}, got: {err}");
    };
    check(&|b| b.format = "modelgate-evidence/v2".into(), "format");
    check(&|b| b.log.origin = "x".into(), "log.origin");
    check(
        &|b| b.entry.tree_size = 8,
        "entry.tree_size 8 is not the checkpoint's tree size 9",
    );
    check(
        &|b| b.entry.index = 9,
        "leaf index 9 is not below tree size 9",
    );
    check(
        &|b| b.entry.leaf_hash = "00".repeat(32),
        "is not SHA-256(0x00 || entry.leaf)",
    );
    check(&|b| b.entry.leaf_hash = "XY".into(), "entry.leaf_hash");
    check(
        &|b| b.entry.kind = "review".into(),
        "both must be \"decision\"",
    );
    check(
        &|b| b.decision_id = "other".into(),
        "is not the logged entry's id",
    );
    check(&|b| b.pack.digest = "sha256:eeee".into(), "pack.digest");
    check(&|b| b.pack.version = "9.9.9".into(), "pack.version");
    check(&|b| b.pack.name = "other".into(), "pack.name");
    check(
        &|b| b.entry.inclusion_proof[1] = "ab".repeat(32),
        "inclusion proof does not lead to the checkpoint's root",
    );
    check(
        &|b| b.entry.inclusion_proof[0] = "zz".into(),
        "entry.inclusion_proof[0]",
    );
    check(
        &|b| {
            b.entry.inclusion_proof.pop();
        },
        "inclusion proof does not lead to the checkpoint's root",
    );
    check(
        &|b| b.entry.index = 4,
        "inclusion proof does not lead to the checkpoint's root",
    );
    let err = verify_bundle(b"{\"format\":1}", &log.vkey).unwrap_err();
    assert!(matches!(err, AuditError::BundleJson(_)), "{err}");
    let err = verify_bundle(b"not json", &log.vkey).unwrap_err();
    assert!(matches!(err, AuditError::BundleJson(_)), "{err}");
    // Unknown fields are rejected, so nothing unverified can ride along.
    let mut v: serde_json::Value = serde_json::from_slice(&json(&good)).unwrap();
    v["note"] = "extra".into();
    assert!(matches!(
        verify_bundle(&serde_json::to_vec(&v).unwrap(), &log.vkey),
        Err(AuditError::BundleJson(_))
    ));
}

#[test]
fn a_non_decision_leaf_is_rejected() {
    use modelgate_audit::entry::{leaf_bytes, leaf_hash};
    use modelgate_audit::tree::{append, inclusion_proof};
    let leaf = leaf_bytes("review", &common::decision(0, "m")).unwrap();
    let a = append(0, &[leaf_hash(&leaf)], &Default::default()).unwrap();
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let cp = modelgate_audit::checkpoint::CheckpointSigner::new(&skey)
        .unwrap()
        .sign(1, a.root)
        .unwrap();
    let stored = a.new_hashes.into_iter().collect();
    let proof = inclusion_proof(0, 1, &stored).unwrap();
    let err = EvidenceBundle::build(&leaf, &common::decision_text("m"), 0, &proof, &cp, &vkey)
        .unwrap_err();
    assert!(err.to_string().contains("decision"), "{err}");
}

#[test]
fn html_shows_decision_and_proof_and_escapes() {
    let log = common::log(5, 2, "<script>alert(1)</script>");
    let b = log.bundle(2);
    let html = render_html(&b).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Escaping: the hostile model name never appears raw.
    assert!(!html.contains("<script"), "unescaped script tag");
    assert!(html.contains("hf:org/&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Self-contained and printable.
    assert!(!html.contains("src="));
    assert!(!html.contains("<link"));
    assert!(!html.contains("http://"));
    assert!(html.contains("<style>") && html.contains("@page"));
    // Heading, verdict, who and when, context.
    assert!(html.contains("Verdict: CONDITIONAL"));
    assert!(html.contains("key-7"));
    assert!(html.contains("2026-11-27T04:05:06.123456Z"));
    assert!(html.contains("customer support chatbot"));
    assert!(html.contains("Monthly active users"));
    // Facts.
    assert!(html.contains("Llama 3 Community License"));
    assert!(html.contains("meta-llama/Meta-Llama-3-8B"));
    // Failing findings with clause and fix; passing ones left out.
    assert!(html.contains("Attribution required"));
    assert!(html.contains("Section: 1.b.i"));
    assert!(html.contains("https://example.invalid/llama3#1bi"));
    assert!(html.contains("Add the notice to the product&#39;s third-party notices."));
    assert!(!html.contains("PASSING-FINDING-MESSAGE"));
    // Obligations, pack, engine, digests.
    assert!(html.contains("Built with Llama"));
    assert!(html.contains("1.4.0") && html.contains("sha256:dddd"));
    assert!(html.contains("sha256:cccc") && html.contains("sha256:aaaa"));
    // Proof summary and how to verify.
    assert!(html.contains(common::ORIGIN));
    assert!(html.contains(&hex_hash(&log.root)));
    assert!(html.contains(&b.entry.leaf_hash));
    assert!(html.contains("<tr><th>Entry index</th><td>2</td></tr>"));
    assert!(html.contains("<tr><th>Tree size (signed checkpoint)</th><td>5</td></tr>"));
    assert!(html.contains(&format!(
        "modelgate audit verify-evidence evidence.json --key '{}'",
        log.vkey
    )));
    assert!(html.contains(&log.vkey));
    // "not recorded" for missing fields (trace_id is null).
    assert!(html.contains("<tr><th>Trace id</th><td>not recorded</td></tr>"));
}

#[test]
fn html_of_sparse_entry_says_not_recorded() {
    use modelgate_audit::entry::{leaf_bytes, leaf_hash};
    use modelgate_audit::tree::{append, inclusion_proof};
    let entry = serde_json::json!({"id": "d1", "pack_digest": "sha256:p",
        "decision_digest": common::digest(b"{}")});
    let leaf = leaf_bytes("decision", &entry).unwrap();
    let a = append(0, &[leaf_hash(&leaf)], &Default::default()).unwrap();
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let cp = modelgate_audit::checkpoint::CheckpointSigner::new(&skey)
        .unwrap()
        .sign(1, a.root)
        .unwrap();
    let stored = a.new_hashes.into_iter().collect();
    let proof = inclusion_proof(0, 1, &stored).unwrap();
    let b = EvidenceBundle::build(&leaf, "{}", 0, &proof, &cp, &vkey).unwrap();
    assert_eq!(b.pack.name, "");
    let v = verify_bundle(&json(&b), &vkey).unwrap();
    assert_eq!(v.verdict, None);
    let html = render_html(&b).unwrap();
    assert!(html.contains("<tr><th>Requested by (API key id)</th><td>not recorded</td></tr>"));
    assert!(html.contains("None: every evaluated rule passed."));
}

#[test]
fn a_changed_decision_is_rejected_by_its_digest() {
    let log = common::log(3, 1, "m");
    let mut b = log.bundle(1);
    verify_bundle(&json(&b), &log.vkey).unwrap();
    // The same decision re-serialised (a space added) is other bytes: rejected too.
    for changed in [
        b.decision.replace("\"conditional\"", "\"allow\""),
        b.decision.replacen(':', ": ", 1),
    ] {
        assert_ne!(changed, b.decision);
        b.decision = changed;
        let err = verify_bundle(&json(&b), &log.vkey).unwrap_err();
        assert!(
            matches!(err, AuditError::BundleMismatch { .. })
                && err.to_string().contains("decision_digest"),
            "{err}"
        );
        b.decision = log.decisions[1].clone();
    }
}
