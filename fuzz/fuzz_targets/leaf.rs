//! Audit log leaves (`"<kind>/v1\n"` + RFC 8785 JSON), as `modelgate audit verify` and
//! evidence bundles read them back: `entry::parse_leaf`, and the canonical JSON writer
//! (`canonical::to_vec`, `entry::leaf_bytes`) on whatever JSON the input holds.
//!
//! Invariants: no panic; a leaf that parses is exactly the leaf its kind and entry give
//! (one entry, one encoding, one hash); canonical JSON is a fixed point (canonicalizing
//! it again changes nothing); a leaf written for any JSON value parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_audit::canonical;
use modelgate_audit::entry::{is_valid_kind, leaf_bytes, leaf_hash, parse_leaf};

fuzz_target!(|data: &[u8]| {
    if let Ok((kind, value)) = parse_leaf(data) {
        assert!(is_valid_kind(&kind));
        match leaf_bytes(&kind, &value) {
            Ok(leaf) => {
                assert_eq!(leaf, data, "a parsed leaf is not its own encoding");
                assert_eq!(leaf_hash(&leaf), leaf_hash(data));
            }
            // A canonical leaf may hold an integer beyond 2^53 (RFC 8785 writes it as a
            // double): it reads, it is never written.
            Err(modelgate_audit::AuditError::UnsafeInteger { .. }) => {}
            Err(e) => panic!("a parsed leaf cannot be written again: {e}"),
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let c = canonical::to_vec(&value).expect("parsed JSON canonicalizes");
    let reread: serde_json::Value = match serde_json::from_slice(&c) {
        Ok(v) => v,
        Err(e) => panic!(
            "canonical JSON does not parse: {e}: {}",
            String::from_utf8_lossy(&c)
        ),
    };
    assert_eq!(
        canonical::to_vec(&reread).expect("canonicalizes"),
        c,
        "canonical JSON is not a fixed point"
    );
    if let Ok(leaf) = leaf_bytes("decision", &value) {
        match parse_leaf(&leaf) {
            Ok((kind, back)) => {
                assert_eq!(kind, "decision");
                match leaf_bytes(&kind, &back) {
                    Ok(again) => assert_eq!(again, leaf, "a leaf read back is written differently"),
                    // A double beyond 2^53 is written as digits (`1e17` as
                    // `100000000000000000`), which read back as an integer, which is never
                    // written: the leaf reads, only its entry cannot be logged again.
                    Err(modelgate_audit::AuditError::UnsafeInteger { .. }) => {}
                    Err(e) => panic!("a leaf read back cannot be written again: {e}"),
                }
            }
            Err(e) => panic!("a written leaf does not parse: {e}"),
        }
    }
});
