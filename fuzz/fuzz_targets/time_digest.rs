//! Timestamps and digests as people, files and the API give them: `time::parse` (RFC 3339
//! or a bare date: waiver expiry, `?since=`, waiver files), `time::parse_date`, the
//! service's `time::parse_micros`, and `Digest` (`sha256:<hex>`: pack and input digests in
//! URLs and bodies).
//!
//! Invariants: no panic; what parses is printed by the formats modelgate writes in a form
//! that parses back to the same instant (to the microsecond: the store keeps microseconds); a
//! date prints as itself; a digest prints as itself and survives JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::Digest;
use modelgate_engine::time;

fuzz_target!(|data: &[u8]| {
    let s = modelgate_fuzz::text(data);
    if let Ok(t) = time::parse(&s) {
        // The engine writes microseconds (rounded down): they read back to within 1 µs.
        let written = time::micros(t);
        match time::parse(&written) {
            Ok(back) => {
                let lost = t.as_nanosecond() - back.as_nanosecond();
                assert!(
                    (0..1000).contains(&lost),
                    "{s:?} -> {written}: {lost} ns lost"
                );
            }
            Err(e) => panic!("{s:?} parses, its written form {written} does not: {e}"),
        }
        let _ = time::seconds(t);
        let _ = time::date(t);
        // The service keeps Unix microseconds and writes them back exactly.
        let micros =
            modelgate::time::parse_micros(&s).expect("parse_micros reads what parse reads");
        let api = modelgate::time::rfc3339_micros(micros);
        assert_eq!(
            modelgate::time::parse_micros(&api),
            Ok(micros),
            "{s:?} -> {api}"
        );
    }
    if let Ok(t) = time::parse_date(&s) {
        assert_eq!(time::date(t), s, "a date does not print as itself");
        assert_eq!(
            time::parse(&s),
            Ok(t),
            "parse and parse_date disagree on {s:?}"
        );
    }
    match s.parse::<Digest>() {
        Ok(d) => {
            assert_eq!(d.as_str(), s);
            assert_eq!(d.hex().len(), 64);
            let json = serde_json::to_string(&d).expect("a digest serializes");
            assert_eq!(serde_json::from_str::<Digest>(&json).ok(), Some(d));
        }
        Err(e) => {
            let _ = e.to_string();
            let json = serde_json::to_string(&s).expect("a string serializes");
            assert!(serde_json::from_str::<Digest>(&json).is_err());
        }
    }
});
