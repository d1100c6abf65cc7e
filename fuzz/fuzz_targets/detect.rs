//! Format detection and the whole ingest path as the API and `modelgate check` run it:
//! `Format::detect` and `Pack::parse_all` with no format on arbitrary bytes, then an
//! evaluation of every record with the built-in pack.
//!
//! Invariants: detection and parsing never panic and are deterministic; auto-detected
//! parsing gives the records forcing the detected format gives; `Pack::parse` (one model)
//! succeeds exactly when `parse_all` gives one record; every record survives the round
//! trips; a record without a licence is never allowed (fail closed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::ParseOptions;

fuzz_target!(|data: &[u8]| {
    let p = modelgate_fuzz::pack();
    let opts = ParseOptions::default();
    let detected = modelgate_engine::Format::detect(data);
    let auto = modelgate_fuzz::check_parse(data, None, &opts, true);
    if let Ok(format) = detected {
        let forced = p.parse_all(data, Some(format), &opts);
        match (&auto, &forced) {
            (Some(a), Ok(f)) => assert_eq!(
                format!("{a:?}"),
                format!("{f:?}"),
                "detected {format}: forcing it gives other records"
            ),
            (None, Err(_)) => {}
            (Some(_), Err(e)) => panic!("detected {format}: forcing it fails: {e}"),
            (None, Ok(_)) => panic!("detected {format}: forcing it parses, auto does not"),
        }
    } else {
        assert!(auto.is_none(), "detection fails but parsing succeeds");
    }
    let one = p.parse(data, None, &opts);
    match (&auto, &one) {
        (Some(recs), Ok(rec)) => {
            assert_eq!(
                recs.len(),
                1,
                "parse accepts a document of {} models",
                recs.len()
            );
            assert_eq!(format!("{:?}", recs[0]), format!("{rec:?}"));
        }
        (Some(recs), Err(_)) => assert!(recs.len() > 1, "parse refuses a one-model document"),
        (None, Ok(_)) => panic!("parse succeeds where parse_all fails"),
        (None, Err(_)) => {}
    }
});
