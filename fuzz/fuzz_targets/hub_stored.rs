//! A stored Hub fetch (`hub::rebuild`): the document the service keeps for a decision on an
//! `hf:` reference (JSON `modelgate-hub-fetch/1`: each fetched model's repository, commit,
//! model info and card), read back on replay, on evaluating a registered version and for
//! the evidence bundle.
//!
//! Invariants: no panic; rebuilding is deterministic; a rebuilt model and its ancestors are
//! one record per stored model, in order, each with the stored id and the commit as its
//! revision, named as Hub cards are (`source_format` hf-card); the stored fetch survives
//! its own JSON (as the store keeps it) and rebuilds the same from it; every record
//! survives the record round trips, and the model, evaluated with its ancestors, is never
//! allowed without a licence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate::hub::{StoredFetch, rebuild};

fuzz_target!(|data: &[u8]| {
    let pack = modelgate_fuzz::pack();
    let first = rebuild(pack, data);
    let again = rebuild(pack, data);
    assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "rebuilding is not deterministic"
    );
    let (model, ancestors) = match first {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a message");
            return;
        }
    };
    let stored: StoredFetch = match serde_json::from_slice(data) {
        Ok(s) => s,
        Err(e) => panic!("rebuilt from what is not a stored fetch: {e}"),
    };
    assert_eq!(
        ancestors.len() + 1,
        stored.models.len(),
        "one record per stored model"
    );
    let records: Vec<_> = std::iter::once(model).chain(ancestors).collect();
    for (rec, m) in records.iter().zip(&stored.models) {
        assert_eq!(rec.id, m.id, "the record's id is not the stored id");
        assert!(!rec.id.trim().is_empty(), "a blank id");
        assert_eq!(rec.revision.as_deref(), Some(m.sha.as_str()));
        assert_eq!(rec.source_format, "hf-card");
        modelgate_fuzz::store_round_trip(rec);
        modelgate_fuzz::native_round_trip(rec);
    }
    // As the store keeps it: written again, it reads and rebuilds the same.
    let rewritten = serde_json::to_vec(&stored).expect("a stored fetch serializes");
    let back: StoredFetch = serde_json::from_slice(&rewritten).expect("and reads back");
    assert_eq!(back, stored, "a stored fetch changes through its JSON");
    let (m2, a2) = rebuild(pack, &rewritten).expect("the rewritten fetch rebuilds");
    let again: Vec<_> = std::iter::once(m2).chain(a2).collect();
    assert_eq!(
        format!("{again:?}"),
        format!("{records:?}"),
        "rebuilt differently"
    );
    modelgate_fuzz::fail_closed(&records, 0);
});
