//! The SPDX 3.0 JSON-LD parser (AI and dataset profiles):
//! `Pack::parse_all` with `Format::Spdx3` on arbitrary bytes. It never panics, it is
//! deterministic, and every record it returns has a non-blank id and survives the store's
//! and the native round trip (`modelgate_fuzz::check_parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::{Format, ParseOptions};

fuzz_target!(|data: &[u8]| {
    modelgate_fuzz::check_parse(data, Some(Format::Spdx3), &ParseOptions::default(), false);
});
