//! The rule pack loader: `Pack::load` on a set of files (manifest, licence catalog,
//! base-model catalog, policies with CEL rules and message templates, tests, schema
//! copies), as a pack directory, `modelgate pack lint` and an upload give it.
//!
//! Input: files in the `=== <path>` container of `modelgate_fuzz::entries`.
//!
//! Invariants (`modelgate_fuzz::check_pack`): no panic; a pack that loads has the digest
//! of its files, licences and rules; its tests run; it evaluates a card; a pack that does
//! not load says why.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = modelgate_fuzz::files(&modelgate_fuzz::entries(data));
    modelgate_fuzz::check_pack(&files);
});
