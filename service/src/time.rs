//! Time in the service: the clock, and the RFC 3339 form of the API and the audit log
//! (UTC, microseconds). Parsing and formatting are the engine's ([`modelgate_engine::time`],
//! on `jiff`); the store keeps Unix microseconds.

pub use modelgate_engine::time::{TimeError, Timestamp, from_micros, parse};

/// Now.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// Now in Unix microseconds, as the store keeps times.
pub fn now_micros() -> i64 {
    now().as_microsecond()
}

/// The whole second of a time in Unix microseconds: evaluations run at whole seconds (the
/// decision's `evaluated_at`, and the time waivers are checked at).
pub fn second_of(micros: i64) -> Timestamp {
    modelgate_engine::time::from_unix(micros.div_euclid(1_000_000))
}

/// `2026-11-27T10:20:30.123456Z` for Unix microseconds.
pub fn rfc3339_micros(micros: i64) -> String {
    modelgate_engine::time::micros(from_micros(micros))
}

/// A time in Unix microseconds that serialises in the API's RFC 3339 form
/// ([`rfc3339_micros`]): the type of every time in a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rfc3339(pub i64);

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339_micros(self.0))
    }
}

/// An RFC 3339 time or a bare date (midnight UTC) as Unix microseconds; the calendar is
/// checked (`2026-02-31` is an error).
pub fn parse_micros(s: &str) -> Result<i64, TimeError> {
    parse(s).map(|t| t.as_microsecond())
}

/// [`parse_micros`], `None` for what is not a time.
pub fn parse_rfc3339_micros(s: &str) -> Option<i64> {
    parse_micros(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let t = parse_micros("2026-11-27T10:20:30.5Z").unwrap();
        assert_eq!(rfc3339_micros(t), "2026-11-27T10:20:30.500000Z");
        assert_eq!(parse_micros("2026-11-27T12:20:30.5+02:00"), Ok(t));
        assert_eq!(
            parse_micros("2026-11-27"),
            parse_micros("2026-11-27T00:00:00Z")
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-02-31",
            "2026-11-27T25:00:00Z",
            "2026-11-27T10:20:30",
            "yesterday",
            "2026-11-27T10:20:30.Z",
        ] {
            assert!(parse_micros(bad).is_err(), "{bad}");
        }
    }
}
