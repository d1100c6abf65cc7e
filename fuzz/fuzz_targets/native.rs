//! The native record parser: `Pack::parse_all` with `Format::Native` on arbitrary bytes,
//! and `Pack::record_from_json` (the API's JSON record) on whatever JSON value they hold.
//! Both agree, never panic, and what they accept survives the round trips
//! (`modelgate_fuzz::check_parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::{Format, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ParseOptions::default();
    let parsed = modelgate_fuzz::check_parse(data, Some(Format::Native), &opts, false);
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let from_json = modelgate_fuzz::pack().record_from_json(value, &opts);
    match (&parsed, &from_json) {
        (Some(recs), Ok(rec)) => assert_eq!(
            format!("{:?}", recs[0]),
            format!("{rec:?}"),
            "the bytes and the JSON value give different records"
        ),
        (None, Err(_)) => {}
        (Some(_), Err(e)) => panic!("the bytes parse, the same JSON value does not: {e}"),
        (None, Ok(rec)) => panic!("the JSON value parses ({}), the bytes do not", rec.id),
    }
});
