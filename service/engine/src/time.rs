//! Time: the one timestamp type ([`Timestamp`], from `jiff`), the one parser of the
//! timestamps people and files give, and the fixed formats modelgate writes. Everything is
//! UTC. Pure: the caller passes `now` in.

pub use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;

/// A timestamp or date that is not valid: what was given and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not {expected}")]
pub struct TimeError {
    pub given: String,
    pub expected: &'static str,
}

/// What [`parse`] reads, for error messages.
pub const EXPECTED: &str = "an RFC 3339 timestamp (2026-11-27T10:20:30Z, \
    2026-11-27T12:20:30.5+02:00) or a date (2026-11-27, midnight UTC)";

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, or a bare `YYYY-MM-DD` meaning
/// midnight UTC. The calendar is checked: `2026-02-31` is an error, not 3 March.
pub fn parse(s: &str) -> Result<Timestamp, TimeError> {
    let err = || TimeError {
        given: shorten(s),
        expected: EXPECTED,
    };
    let b = s.as_bytes();
    if b.len() == 10 {
        return parse_date(s).map_err(|_| err());
    }
    // RFC 3339's shape: jiff's parser also reads Temporal's extensions (minutes without
    // seconds, `[zone]` annotations), which the API does not accept.
    let shaped = b.len() >= 20
        && b.get(4) == Some(&b'-')
        && b.get(7) == Some(&b'-')
        && matches!(b.get(10), Some(b'T' | b't' | b' '))
        && b.get(13) == Some(&b':')
        && b.get(16) == Some(&b':')
        && !s.contains('[');
    if !shaped {
        return Err(err());
    }
    // An offset can move a time of year 0000 out of the years this module writes
    // (`0000-01-01T00:00:00+01:00` is in year -1): refused, so that every time read can
    // be written and read back.
    s.parse::<Timestamp>()
        .ok()
        .filter(|t| (0..=9999).contains(&utc(*t).year()))
        .ok_or_else(err)
}

/// Parses a bare `YYYY-MM-DD` (a real calendar date) to midnight UTC.
pub fn parse_date(s: &str) -> Result<Timestamp, TimeError> {
    let err = || TimeError {
        given: shorten(s),
        expected: "a date YYYY-MM-DD",
    };
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(err());
    }
    let d: Date = s.parse().map_err(|_| err())?;
    d.to_datetime(jiff::civil::Time::midnight())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| err())
}

/// A timestamp from Unix seconds (clamped to jiff's range, years -9999 to 9999).
pub fn from_unix(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A timestamp from Unix microseconds (clamped like [`from_unix`]).
pub fn from_micros(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(if micros < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn utc(t: Timestamp) -> DateTime {
    Offset::UTC.to_datetime(t)
}

/// Two decimal digits.
fn push2(out: &mut String, n: i64) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

fn push_date(out: &mut String, d: Date) {
    let y = i64::from(d.year());
    if (0..=9999).contains(&y) {
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        out.push_str(&format!("{y:05}"));
    }
    out.push('-');
    push2(out, i64::from(d.month()));
    out.push('-');
    push2(out, i64::from(d.day()));
}

fn push_time(out: &mut String, t: DateTime) {
    out.push('T');
    push2(out, i64::from(t.hour()));
    out.push(':');
    push2(out, i64::from(t.minute()));
    out.push(':');
    push2(out, i64::from(t.second()));
}

/// `2026-11-27` (UTC).
pub fn date(t: Timestamp) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, utc(t).date());
    out
}

/// `2026-11-27T10:20:30Z`: whole seconds, as decisions show their time.
pub fn seconds(t: Timestamp) -> String {
    let dt = utc(t);
    let mut out = String::with_capacity(20);
    push_date(&mut out, dt.date());
    push_time(&mut out, dt);
    out.push('Z');
    out
}

/// `2026-11-27T10:20:30.123456Z`: microseconds, as the API and the audit log show times.
pub fn micros(t: Timestamp) -> String {
    let dt = utc(t);
    let mut out = String::with_capacity(27);
    push_date(&mut out, dt.date());
    push_time(&mut out, dt);
    out.push('.');
    let us = dt.subsec_nanosecond() / 1_000;
    out.push_str(&format!("{us:06}"));
    out.push('Z');
    out
}

/// The given text for an error message: at most 64 characters.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(60).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc3339_and_dates() {
        let t = parse("2026-11-27T10:20:30.5Z").unwrap();
        assert_eq!(micros(t), "2026-11-27T10:20:30.500000Z");
        assert_eq!(seconds(t), "2026-11-27T10:20:30Z");
        assert_eq!(date(t), "2026-11-27");
        assert_eq!(parse("2026-11-27T12:20:30.5+02:00"), Ok(t));
        assert_eq!(parse("2026-11-27t10:20:30.5z"), Ok(t));
        assert_eq!(parse("2026-11-27"), parse("2026-11-27T00:00:00Z"));
        assert_eq!(parse("2026-01-01").unwrap().as_second(), 1_767_225_600);
    }

    #[test]
    fn refuses_what_is_not_a_real_time() {
        for bad in [
            "",
            "2026-13-01",
            "2026-02-31",
            "2026-02-29",
            "2026-04-31T00:00:00Z",
            "2026-02-30T10:00:00+01:00",
            "2026-11-27T25:00:00Z",
            "2026-11-27T10:20:30",
            "2026-11-27T10:20Z",
            "2026-11-27T10:20:30Z[Europe/Paris]",
            "yesterday",
            "2026-11-27T10:20:30.Z",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("2028-02-29").is_ok(), "a leap day");
        let e = parse("2026-02-31").unwrap_err();
        assert!(
            e.to_string().contains("`2026-02-31` is not an RFC 3339"),
            "{e}"
        );
    }

    #[test]
    fn formats_across_the_range() {
        let mut t: i64 = -62_167_219_200; // 0000-01-01
        while t < 253_402_300_800 {
            let ts = from_unix(t);
            let d = utc(ts);
            let date_s = format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
            assert_eq!(date(ts), date_s);
            assert_eq!(
                seconds(ts),
                format!(
                    "{date_s}T{:02}:{:02}:{:02}Z",
                    d.hour(),
                    d.minute(),
                    d.second()
                )
            );
            assert_eq!(parse(&seconds(ts)), Ok(ts));
            t += 86_400 * 37 + 3_671;
        }
        assert_eq!(seconds(from_unix(1_767_225_600)), "2026-01-01T00:00:00Z");
        assert_eq!(micros(from_micros(-1)), "1969-12-31T23:59:59.999999Z");
    }
}
