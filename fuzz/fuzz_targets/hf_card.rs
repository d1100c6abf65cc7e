//! The Hugging Face model card parser (Markdown with optional YAML front matter):
//! `Pack::parse_all` with `Format::HfCard` on arbitrary bytes. It never panics, it is
//! deterministic, and every record it returns has a non-blank id and survives the store's
//! and the native round trip (`modelgate_fuzz::check_parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::{Format, ParseOptions};

fuzz_target!(|data: &[u8]| {
    modelgate_fuzz::check_parse(data, Some(Format::HfCard), &ParseOptions::default(), false);
});
