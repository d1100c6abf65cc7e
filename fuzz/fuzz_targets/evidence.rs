//! Evidence bundles (`GET /v1/decisions/{id}/evidence`, checked offline by auditors):
//! `evidence::verify_bundle` against a verifier key, and `evidence::render_html` (the
//! printable page, which reads an unverified bundle's leaf, decision and checkpoint).
//!
//! Input: the first byte chooses the mode:
//! * `B`: two bytes of position and one of bit, then a recorded decision (JSON text): a
//!   bundle is built for it (a decision entry at index 3 of a 5-record log, checkpoint
//!   signed with a fixed test key), verified, rendered, then one bit of its JSON is
//!   flipped and it is verified again;
//! * anything else: the bytes are a bundle, verified with the fixed key and rendered.
//!
//! Invariants: no panic; a built bundle verifies and renders; a bundle with any bit
//! changed is refused unless it reads as the same bundle (every field is bound by the
//! signature, the leaf or the key); a
//! bundle that verifies renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_audit::Hash;
use modelgate_audit::checkpoint::CheckpointSigner;
use modelgate_audit::entry::{leaf_bytes, leaf_hash};
use modelgate_audit::evidence::{EvidenceBundle, render_html, verify_bundle};
use modelgate_audit::tree::{append, inclusion_proof};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The key pair of Go's `sumdb/note` documentation: a public test vector.
const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SIZE: u64 = 5;
const INDEX: u64 = 3;

fn signer() -> &'static CheckpointSigner {
    static S: OnceLock<CheckpointSigner> = OnceLock::new();
    S.get_or_init(|| CheckpointSigner::new(SKEY).expect("the test key"))
}

/// A bundle for the recorded decision `text`, or `None` when it is not JSON or its entry
/// cannot be logged.
fn build(text: &str) -> Option<EvidenceBundle> {
    let recorded: Value = serde_json::from_str(text).ok()?;
    let s = |p: &str| {
        recorded
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let entry = json!({
        "id": "0193a1f2-0000-7000-8000-000000000003",
        "tenant": "default",
        "model_ref": s("/model/id").unwrap_or_else(|| "hf:acme/m".into()),
        "verdict": s("/verdict"),
        "pack_digest": "sha256:dddd",
        "decision_digest": format!("sha256:{}", hex(&Sha256::digest(text.as_bytes()))),
    });
    let leaf = leaf_bytes("decision", &entry).ok()?;
    let mut leaves: Vec<Hash> = (0..SIZE).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    leaves[INDEX as usize] = leaf_hash(&leaf);
    let stored: HashMap<u64, Hash> = append(0, &leaves, &HashMap::new())
        .expect("a small tree")
        .new_hashes
        .into_iter()
        .collect();
    let root = modelgate_audit::tree::root(SIZE, &stored).expect("root");
    let proof = inclusion_proof(INDEX, SIZE, &stored).expect("proof");
    let checkpoint = signer().sign(SIZE, root).expect("signs");
    match EvidenceBundle::build(&leaf, text, INDEX, &proof, &checkpoint, VKEY) {
        Ok(b) => Some(b),
        Err(e) => panic!("no bundle for a logged decision: {e}\n{text}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b'B', rest)) if rest.len() >= 3 => {
            let pos = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            let bit = rest[2] % 8;
            let text = modelgate_fuzz::text(&rest[3..]);
            let Some(bundle) = build(&text) else {
                return;
            };
            let json = serde_json::to_vec(&bundle).expect("a bundle serializes");
            let v = verify_bundle(&json, VKEY).expect("a built bundle verifies");
            assert_eq!((v.index, v.tree_size), (INDEX, SIZE));
            render_html(&bundle).expect("a built bundle renders");
            let mut changed = json.clone();
            let i = pos % changed.len();
            changed[i] ^= 1 << bit;
            // The content is bound, not its JSON spelling: a change that reads as the same
            // bundle (`\u001f` for `\u001F`) may verify.
            let same =
                serde_json::from_slice::<EvidenceBundle>(&changed).is_ok_and(|b| b == bundle);
            assert!(
                same || verify_bundle(&changed, VKEY).is_err(),
                "byte {i} bit {bit} changed, and the bundle still verifies"
            );
        }
        _ => {
            let verified = verify_bundle(data, VKEY);
            if let Ok(b) = serde_json::from_slice::<EvidenceBundle>(data) {
                let html = render_html(&b);
                if verified.is_ok() {
                    assert!(html.is_ok(), "a verified bundle does not render: {html:?}");
                }
            } else {
                assert!(verified.is_err(), "a bundle that does not parse verifies");
            }
        }
    }
});
