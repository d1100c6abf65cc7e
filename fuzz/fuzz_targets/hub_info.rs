//! The Hugging Face Hub's answers: the model-info JSON (`GET /api/models/<repo>`, read as
//! `hub::ModelInfo` exactly as the client reads it) and the card served for it, assembled
//! into a record by `hub::assemble` (as a fetch and the replay of a stored fetch do).
//!
//! Input: the model-info JSON, then the line `#CARD#`, then the card (optional).
//!
//! Invariants: no panic; model info survives the cache's round trip (written as JSON,
//! read back equal); an assembled record has the repository's id and the commit as its
//! revision, the Hub's gating, only document files, and survives the record round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate::hub::{ModelInfo, assemble, is_document, validate_repo};
use modelgate_engine::{Format, ParseOptions};

const SEPARATOR: &[u8] = b"\n#CARD#\n";

fuzz_target!(|data: &[u8]| {
    let (info_bytes, card) = match data.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        Some(i) => (&data[..i], &data[i + SEPARATOR.len()..]),
        None => (data, &[][..]),
    };
    let Ok(info) = serde_json::from_slice::<ModelInfo>(info_bytes) else {
        return;
    };
    let cached = serde_json::to_vec(&info).expect("model info serializes");
    let back: ModelInfo = match serde_json::from_slice(&cached) {
        Ok(b) => b,
        Err(e) => panic!("cached model info does not read back: {e}"),
    };
    assert_eq!(back, info, "model info changes through the cache");

    // As `fetch_model`: the Hub's spelling of the id when it is a valid one.
    let name = if validate_repo(&info.id).is_ok() {
        info.id.clone()
    } else {
        "fuzz/model".to_string()
    };
    let sha = "0123456789abcdef0123456789abcdef01234567".to_string();
    let gated = info.is_gated();
    match assemble(
        modelgate_fuzz::pack(),
        name.clone(),
        sha.clone(),
        info,
        card.to_vec(),
        false,
    ) {
        Ok(m) => {
            let rec = &m.record;
            assert_eq!(rec.id, name);
            assert_eq!(rec.revision.as_deref(), Some(sha.as_str()));
            assert_eq!(rec.gating.gated, gated);
            // Files come from the card, or are the repository's documents.
            let from_card = if card.iter().all(u8::is_ascii_whitespace) {
                Vec::new()
            } else {
                modelgate_fuzz::pack()
                    .parse(card, Some(Format::HfCard), &ParseOptions::default())
                    .map(|r| r.files)
                    .unwrap_or_default()
            };
            for f in &rec.files {
                assert!(
                    from_card.contains(f) || is_document(f),
                    "{f} is listed, not a document"
                );
            }
            modelgate_fuzz::store_round_trip(rec);
            modelgate_fuzz::native_round_trip(rec);
        }
        Err(e) => {
            assert!(
                !card.iter().all(u8::is_ascii_whitespace),
                "no card, yet an error: {e}"
            );
            let _ = e.to_string();
        }
    }
});
