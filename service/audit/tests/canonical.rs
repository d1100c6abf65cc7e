//! The canonical JSON writer is byte-identical to `serde_jcs` (the reference RFC 8785
//! implementation this crate used before) on arbitrary JSON: any Unicode in strings and
//! member names (control characters, astral characters, which sort by UTF-16 code units),
//! integers within ±2^53, finite doubles, nesting.

use modelgate_audit::canonical;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{e9}\u{1f600}\u{ffff}]{0,8}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-z]{0,4}",
                        any::<String>(),
                        "[\u{e000}\u{1f600}a\\x01]{1,3}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn same_bytes_as_serde_jcs(v in json_value()) {
        let ours = canonical::to_vec(&v).unwrap();
        let reference = serde_jcs::to_vec(&v).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&reference));
    }
}

#[test]
fn known_answers() {
    // RFC 8785 §3.2.2 ordering (UTF-16 code units) and §3.2.2.3 numbers.
    let v = json!({"\u{20ac}": "Euro", "\r": "CR", "\u{fb33}": "Hebrew", "1": "One",
                   "\u{1f600}": "Smiley", "\u{80}": "Ctrl", "\u{f6}": "o-umlaut"});
    assert_eq!(
        String::from_utf8(canonical::to_vec(&v).unwrap()).unwrap(),
        "{\"\\r\":\"CR\",\"1\":\"One\",\"\u{80}\":\"Ctrl\",\"\u{f6}\":\"o-umlaut\",\"\u{20ac}\":\"Euro\",\"\u{1f600}\":\"Smiley\",\"\u{fb33}\":\"Hebrew\"}"
    );
    let n = json!([
        1e21,
        1e-7,
        0.000001,
        -0.0,
        9007199254740992i64,
        333333333.3333333,
        5.0
    ]);
    assert_eq!(
        String::from_utf8(canonical::to_vec(&n).unwrap()).unwrap(),
        "[1e+21,1e-7,0.000001,0,9007199254740992,333333333.3333333,5]"
    );
}
