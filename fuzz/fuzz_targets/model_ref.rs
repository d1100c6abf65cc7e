//! Model references as callers give them (`--model-ref`, the API's `model_ref`):
//! `ingest::split_model_ref` (`hf:org/name@rev` -> id and revision), and the reference
//! naming a document that does not name its model (a card without a name, a native record
//! without an id).
//!
//! Invariants: no panic; a revision is split off only with a non-empty id and revision, and
//! the parts rejoin to the reference; a card or record without a name takes the id and
//! revision of the reference (or `unnamed-model` for a blank one) and round-trips, unless
//! that id is over 512 characters, which the card parser refuses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::ingest::{MAX_ID_CHARS, split_model_ref};
use modelgate_engine::{Format, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let r = modelgate_fuzz::text(data);
    let (id, rev) = split_model_ref(&r);
    let bare = r.trim();
    let bare = bare.strip_prefix("hf:").unwrap_or(bare);
    match &rev {
        Some(rev) => {
            assert!(!id.is_empty() && !rev.is_empty() && !rev.contains('@'));
            assert_eq!(format!("{id}@{rev}"), bare);
        }
        None => assert_eq!(id, bare),
    }

    let opts = ParseOptions::with_model_ref(r.as_ref());
    let expected_id = if id.trim().is_empty() {
        "unnamed-model"
    } else {
        id.as_str()
    };
    let card = b"---\nlicense: mit\n---\n# A card that does not name its model\n";
    let parsed = modelgate_fuzz::check_parse(card, Some(Format::HfCard), &opts, false);
    if expected_id.chars().count() > MAX_ID_CHARS {
        assert!(parsed.is_none(), "an id over {MAX_ID_CHARS} characters");
        return;
    }
    let recs = parsed.expect("the card parses");
    assert_eq!(recs[0].id, expected_id, "the card's id");
    if !id.trim().is_empty() {
        assert_eq!(recs[0].revision, rev, "the card's revision");
    }
    // A native record without an id takes it from the reference; the schema decides
    // whether that id is acceptable.
    let _ = modelgate_fuzz::check_parse(
        br#"{"licenses": [{"value": "mit"}]}"#,
        Some(Format::Native),
        &opts,
        false,
    );
});
