//! The Hub cache's files (`hub::cache`: a header line `modelgate-cache 1 sha256:<hex>
//! <length>`, then the payload) and the one entry read here: `lineage.json`
//! (`hub::lineage_lock`, the commits base models were pinned to). `info.json` is model
//! info, read as the Hub's answer is (target `hub_info`); `README.md` is a card.
//!
//! Input: a cache file as it would be found on disk.
//!
//! Invariants: no panic; a file is read only when it is exactly what the cache writes for
//! its payload (`encode(decode(f)) == f`), so a file with any one byte changed is never
//! read; any payload survives `encode` then `decode`; a lineage lock holds only commit
//! shas, keyed by lower-cased repository ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate::hub::cache::{decode, encode};
use modelgate::hub::{is_sha, lineage_lock};

fuzz_target!(|data: &[u8]| {
    // Whatever the input, as a payload: written, it reads back.
    let written = encode(data);
    assert_eq!(
        decode(&written).as_deref(),
        Some(data),
        "a payload does not survive the cache"
    );
    let read = decode(data);
    assert_eq!(read, decode(data), "reading is not deterministic");
    if let Some(payload) = &read {
        a_read_file_is_exact(data, payload);
    }
    // The entries: the input as a payload (most inputs are no cache file), and the
    // payload of a file that is one.
    for payload in std::iter::once(data).chain(read.as_deref()) {
        entries(payload);
    }
});

fn a_read_file_is_exact(data: &[u8], payload: &[u8]) {
    assert_eq!(
        encode(payload),
        data,
        "a file read that the cache would not have written"
    );
    // Any single changed byte (its place picked from the input) is noticed.
    let i = data
        .iter()
        .fold(0usize, |a, &b| a.wrapping_mul(31).wrapping_add(b.into()))
        % data.len();
    for flip in [0x01, 0x20, 0x80] {
        let mut bent = data.to_vec();
        bent[i] ^= flip;
        assert_eq!(
            decode(&bent),
            None,
            "byte {i} changed ({flip:#x}), yet the file is read"
        );
    }
    let mut cut = data.to_vec();
    cut.pop();
    assert_eq!(decode(&cut), None, "a truncated file is read");
}

fn entries(payload: &[u8]) {
    for (id, sha) in lineage_lock(payload) {
        assert!(is_sha(&sha), "a lineage lock pins {id} to `{sha}`");
        assert_eq!(
            id,
            id.to_ascii_lowercase(),
            "a lineage lock key is not lower-cased"
        );
    }
}
