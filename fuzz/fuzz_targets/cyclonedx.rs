//! The CycloneDX ML-BOM parser (JSON, specVersion 1.5 to 1.7):
//! `Pack::parse_all` with `Format::Cyclonedx` on arbitrary bytes. It never panics, it is
//! deterministic, and every record it returns has a non-blank id and survives the store's
//! and the native round trip (`modelgate_fuzz::check_parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::{Format, ParseOptions};

fuzz_target!(|data: &[u8]| {
    modelgate_fuzz::check_parse(
        data,
        Some(Format::Cyclonedx),
        &ParseOptions::default(),
        false,
    );
});
