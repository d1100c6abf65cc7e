//! Property tests: parsers and evaluation never panic, and evaluation is deterministic.

use modelgate_engine::context::{Modification, Purpose};
use modelgate_engine::{Format, ParseOptions, UseContext};
use modelgate_tests::T0;
use proptest::prelude::*;
use std::sync::OnceLock;

fn pack() -> &'static modelgate_engine::Pack {
    static P: OnceLock<modelgate_engine::Pack> = OnceLock::new();
    P.get_or_init(modelgate_tests::pack)
}

fn licence() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("apache-2.0".to_string()),
        Just("llama3.2".to_string()),
        Just("cc-by-nc-4.0".to_string()),
        Just("other".to_string()),
        Just("mit OR gpl-3.0".to_string()),
        Just("(apache-2.0 AND llama2) OR mrl".to_string()),
        Just("Apache 2.0".to_string()),
        Just("bsd".to_string()),
        "[ -~]{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hf_card_parser_never_panics(s in "\\PC{0,400}") {
        let _ = pack().parse(s.as_bytes(), Some(Format::HfCard), &ParseOptions::default());
    }

    #[test]
    fn hf_card_parser_never_panics_on_front_matter(body in "[ -~\\n]{0,300}", lic in licence()) {
        let doc = format!("\n---\nlicense: {lic}\n{body}\n---\n# t\n");
        let _ = pack().parse(doc.as_bytes(), None, &ParseOptions::default());
    }

    #[test]
    fn parsers_never_panic_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = pack().parse(&b, Some(Format::HfCard), &ParseOptions::default());
        let _ = pack().parse(&b, Some(Format::Native), &ParseOptions::default());
        let _ = pack().parse(&b, None, &ParseOptions { model_ref: Some(String::from_utf8_lossy(&b).into_owned()), ..ParseOptions::default() });
    }

    #[test]
    fn native_parser_never_panics_on_json(s in "\\{[ -~]{0,200}\\}") {
        let _ = pack().parse(s.as_bytes(), Some(Format::Native), &ParseOptions::default());
    }

    #[test]
    fn evaluation_never_panics_and_is_deterministic(
        lics in proptest::collection::vec(licence(), 0..3),
        base in prop_oneof![Just(None), Just(Some("meta-llama/Llama-2-7b-hf")), Just(Some("unknown/base")), Just(Some("meta-llama/Llama-3.2-11B-Vision"))],
        mau in 0i64..2_000_000_000,
        commercial in any::<bool>(),
        distill in any::<bool>(),
        flops in prop_oneof![Just(None), (0.0f64..1e27).prop_map(Some)],
    ) {
        let mut rec = serde_json::json!({"id": "acme/model", "licenses": lics.iter().map(|l| serde_json::json!({"value": l})).collect::<Vec<_>>()});
        if let Some(b) = base { rec["base_models"] = serde_json::json!([{"id": b, "relation": "finetune"}]); }
        if let Some(f) = flops { rec["training_compute_flops"] = serde_json::json!(f); }
        let rec = pack().record_from_json(rec, &ParseOptions::default()).unwrap();
        let ctx = UseContext {
            purpose: if commercial { Purpose::Commercial } else { Purpose::Research },
            monthly_active_users: mau,
            modification: if distill { Modification::Distill } else { Modification::None },
            regions: vec!["EU".into()],
            ..UseContext::default()
        };
        let a = modelgate_tests::evaluate(pack(), &rec, &[], &ctx, T0, "x");
        let b = modelgate_tests::evaluate(pack(), &rec, &[], &ctx, T0, "x");
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        // Fail closed: nothing unresolved is ever allowed.
        if rec.licenses.is_empty() { prop_assert!(a.verdict.as_str() == "review" || a.verdict.as_str() == "deny"); }
        prop_assert!(a.findings.iter().all(|f| f.result != modelgate_engine::rules::RuleResult::Error), "rule errors: {:?}", a.findings);
    }
}
