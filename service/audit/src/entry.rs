//! Log entries: their canonical bytes ("leaves") and hashes.
//!
//! A leaf is `"<kind>/v1\n"` followed by the RFC 8785 (JSON Canonicalization Scheme) form of
//! the entry's JSON, produced by [`crate::canonical`] (checked against `serde_jcs`).
//! Because the JSON is canonical, the same entry
//! always gives the same bytes and therefore the same RFC 6962 leaf hash
//! `SHA-256(0x00 || leaf)`.

use crate::{AuditError, Hash};
use serde_json::Value;

/// Version suffix of the header line of every leaf.
const HEADER_SUFFIX: &str = "/v1";

/// Largest integer magnitude an IEEE 754 double (and thus RFC 8785 JSON) represents exactly.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Reports whether `kind` matches `[a-z][a-z0-9_]*`.
pub fn is_valid_kind(kind: &str) -> bool {
    let mut chars = kind.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Returns the leaf bytes of an entry: `"<kind>/v1\n"` followed by the RFC 8785 canonical JSON
/// of `entry`.
///
/// # Errors
///
/// [`AuditError::InvalidKind`] if `kind` does not match `[a-z][a-z0-9_]*`;
/// [`AuditError::UnsafeInteger`] if the entry holds an integer beyond ±2^53 (RFC 8785 writes
/// numbers as IEEE doubles, so such an integer would silently change);
/// [`AuditError::Canonicalize`] for a number that is not finite.
pub fn leaf_bytes(kind: &str, entry: &Value) -> Result<Vec<u8>, AuditError> {
    if !is_valid_kind(kind) {
        return Err(AuditError::InvalidKind {
            kind: kind.to_owned(),
        });
    }
    if let Some(path) = unsafe_integer(entry) {
        return Err(AuditError::UnsafeInteger { path });
    }
    let mut leaf = Vec::with_capacity(kind.len() + HEADER_SUFFIX.len() + 1 + 1024);
    leaf.extend_from_slice(kind.as_bytes());
    leaf.extend_from_slice(HEADER_SUFFIX.as_bytes());
    leaf.push(b'\n');
    crate::canonical::write(entry, &mut leaf)?;
    Ok(leaf)
}

/// The JSON pointer of the first integer in `value` whose magnitude exceeds 2^53, if any.
/// The path is only built when one is found.
fn unsafe_integer(value: &Value) -> Option<String> {
    fn find(value: &Value, path: &mut Vec<String>) -> bool {
        match value {
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u > MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                (None, None) => false,
            },
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let found = find(item, path);
                if found {
                    path.push(i.to_string());
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(key, item)| {
                let found = find(item, path);
                if found {
                    path.push(key.replace('~', "~0").replace('/', "~1"));
                }
                found
            }),
            Value::Null | Value::Bool(_) | Value::String(_) => false,
        }
    }
    let mut rev = Vec::new();
    if !find(value, &mut rev) {
        return None;
    }
    if rev.is_empty() {
        return Some("/".to_owned());
    }
    Some(rev.iter().rev().fold(String::new(), |mut p, seg| {
        p.push('/');
        p.push_str(seg);
        p
    }))
}

/// Returns the RFC 6962 leaf hash of `leaf`: `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    tlog_tiles::tlog::record_hash(leaf)
}

/// Splits a leaf into its kind and JSON value, checking the `"<kind>/v1\n"` header and that the
/// JSON part is exactly RFC 8785 canonical (it is re-canonicalised and compared byte for byte),
/// so that one entry has exactly one leaf encoding.
///
/// # Errors
///
/// [`AuditError::LeafHeader`], [`AuditError::InvalidKind`], [`AuditError::LeafJson`] or
/// [`AuditError::LeafNotCanonical`].
pub fn parse_leaf(leaf: &[u8]) -> Result<(String, Value), AuditError> {
    let Some(newline) = leaf.iter().position(|&b| b == b'\n') else {
        return Err(AuditError::LeafHeader {
            detail: "no newline ends the header line".into(),
        });
    };
    let header = std::str::from_utf8(&leaf[..newline]).map_err(|_| AuditError::LeafHeader {
        detail: "header line is not UTF-8".into(),
    })?;
    let Some(kind) = header.strip_suffix(HEADER_SUFFIX) else {
        return Err(AuditError::LeafHeader {
            detail: format!(
                "header line {:?} does not end in \"/v1\"",
                truncate(header, 80)
            ),
        });
    };
    if !is_valid_kind(kind) {
        return Err(AuditError::InvalidKind {
            kind: truncate(kind, 80),
        });
    }
    let json = &leaf[newline + 1..];
    let value: Value =
        serde_json::from_slice(json).map_err(|e| AuditError::LeafJson(e.to_string()))?;
    let canonical = crate::canonical::to_vec(&value).map_err(|_| AuditError::LeafNotCanonical)?;
    if canonical != json {
        return Err(AuditError::LeafNotCanonical);
    }
    Ok((kind.to_owned(), value))
}

/// Returns `h` as 64 lowercase hexadecimal characters.
pub fn hex_hash(h: &Hash) -> String {
    hex::encode(h.0)
}

/// Parses 64 lowercase hexadecimal characters into a [`struct@Hash`].
///
/// # Errors
///
/// [`AuditError::InvalidHexHash`] for any other input (wrong length, upper case, non-hex).
pub fn parse_hex_hash(s: &str) -> Result<Hash, AuditError> {
    let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut out = [0u8; 32];
    if !ok || hex::decode_to_slice(s, &mut out).is_err() {
        return Err(AuditError::InvalidHexHash {
            value: truncate(s, 80),
        });
    }
    Ok(Hash(out))
}

/// Returns at most `max` characters of `s`, marking truncation with `…`.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_bytes_are_header_plus_jcs() {
        // RFC 8785 sorts keys and writes numbers in ECMAScript form.
        let entry = json!({"b": 1.0, "a": "x", "c": [true, null, 1e21]});
        let leaf = leaf_bytes("decision", &entry).unwrap();
        assert_eq!(
            String::from_utf8(leaf.clone()).unwrap(),
            "decision/v1\n{\"a\":\"x\",\"b\":1,\"c\":[true,null,1e+21]}"
        );
        let (kind, value) = parse_leaf(&leaf).unwrap();
        assert_eq!(kind, "decision");
        assert_eq!(value["a"], "x");
    }

    #[test]
    fn leaf_hash_known_answers() {
        // From transparency-dev/merkle rfc6962/rfc6962_test.go (TestRFC6962Hasher).
        assert_eq!(
            hex_hash(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            hex_hash(&leaf_hash(b"L123456")),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        );
    }

    #[test]
    fn kinds() {
        for good in ["a", "decision", "pack_event", "w2"] {
            assert!(is_valid_kind(good), "{good}");
            assert!(leaf_bytes(good, &json!({})).is_ok());
        }
        for bad in ["", "A", "2a", "_a", "a-b", "a/b", "a b", "dé", "a\n"] {
            assert!(!is_valid_kind(bad), "{bad:?}");
            assert!(matches!(
                leaf_bytes(bad, &json!({})),
                Err(AuditError::InvalidKind { .. })
            ));
        }
    }

    #[test]
    fn unsafe_integers_rejected_with_path() {
        let err = leaf_bytes("x", &json!({"a": [1, 9007199254740993u64]})).unwrap_err();
        assert_eq!(
            err,
            AuditError::UnsafeInteger {
                path: "/a/1".into()
            }
        );
        assert!(leaf_bytes("x", &json!({"a": 9007199254740992u64})).is_ok());
        assert!(leaf_bytes("x", &json!({"a": -9007199254740993i64})).is_err());
    }

    #[test]
    fn parse_leaf_rejects_non_canonical_and_bad_headers() {
        let cases: [(&[u8], &str); 9] = [
            (b"decision/v1\n{\"b\":1,\"a\":2}", "order"),
            (b"decision/v1\n{\"a\": 2}", "space"),
            (b"decision/v1\n{\"a\":1.0}", "number form"),
            (b"decision/v1\n{\"a\":1,\"a\":1}", "duplicate key"),
            (b"decision/v1\n{\"a\":\"\\u0041\"}", "escape"),
            (b"decision/v1\n{\"a\":1}\n", "trailing newline"),
            (b"decision/v2\n{}", "version"),
            (b"Decision/v1\n{}", "kind"),
            (b"decision/v1{}", "no newline"),
        ];
        for (leaf, what) in cases {
            assert!(parse_leaf(leaf).is_err(), "{what} accepted");
        }
        assert!(matches!(
            parse_leaf(b"decision/v1\n{\"a\":"),
            Err(AuditError::LeafJson(_))
        ));
        assert!(parse_leaf(b"decision/v1\n{\"a\":1}").is_ok());
    }

    #[test]
    fn hex_hashes() {
        let h = leaf_hash(b"x");
        assert_eq!(parse_hex_hash(&hex_hash(&h)).unwrap(), h);
        let upper = hex_hash(&h).to_uppercase();
        assert!(parse_hex_hash(&upper).is_err());
        assert!(parse_hex_hash(&hex_hash(&h)[..62]).is_err());
        assert!(parse_hex_hash(&format!("{}0", hex_hash(&h))).is_err());
        assert!(parse_hex_hash(&"g".repeat(64)).is_err());
        assert!(parse_hex_hash("é").is_err());
    }
}
