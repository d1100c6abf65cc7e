//! Licence resolution: catalog ids, aliases, SPDX ids and expressions.

use modelgate_engine::license::{Resolution, parse_expression, resolve_term};
use modelgate_engine::{ParseOptions, UseContext};
use modelgate_tests::{T0, pack};

#[test]
fn spellings_resolve_with_their_status() {
    let p = pack();
    let amb = &p.manifest.ambiguous_license_ids;
    let cases = [
        ("apache-2.0", Some("apache-2.0"), Resolution::Exact),
        ("Apache-2.0", Some("apache-2.0"), Resolution::Exact),
        ("APACHE-2.0", Some("apache-2.0"), Resolution::CaseFolded),
        ("Apache 2.0", Some("apache-2.0"), Resolution::Mapped),
        ("BSD-3", Some("bsd-3-clause"), Resolution::Mapped),
        ("MIT", Some("mit"), Resolution::Exact),
        ("Mit", Some("mit"), Resolution::CaseFolded),
        ("LLAMA3.1", Some("llama3.1"), Resolution::CaseFolded),
        ("llama3.1", Some("llama3.1"), Resolution::Exact),
        ("LicenseRef-llama2", Some("llama2"), Resolution::Exact),
        ("gemma-terms-of-use", Some("gemma"), Resolution::Mapped),
        ("CC-BY-NC-4.0", Some("cc-by-nc-4.0"), Resolution::Exact),
        ("bsd", None, Resolution::Ambiguous),
        ("openrail", None, Resolution::Ambiguous),
        ("other", None, Resolution::Ambiguous),
        ("unknown", None, Resolution::Unknown),
        ("???", None, Resolution::Unknown),
        ("", None, Resolution::Missing),
    ];
    for (raw, id, res) in cases {
        let t = resolve_term(raw, &p.catalog, amb);
        assert_eq!((t.id.as_deref(), t.resolution), (id, res), "{raw}");
    }
    assert!(resolve_term("GPL-3.0", &p.catalog, amb).deprecated_spdx);
}

#[test]
fn expressions_parse_and_expand() {
    let p = pack();
    let amb = &p.manifest.ambiguous_license_ids;
    let e = parse_expression("(apache-2.0 AND llama2) OR MIT", &p.catalog, amb).unwrap();
    let alts = e.alternatives().unwrap();
    assert_eq!(alts.len(), 2);
    assert_eq!(
        alts[0]
            .iter()
            .map(|t| t.id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["apache-2.0", "llama2"]
    );
    assert!(parse_expression("apache-2.0 AND", &p.catalog, amb).is_err());
    assert!(parse_expression("(mit OR apache-2.0", &p.catalog, amb).is_err());
    assert!(parse_expression("Apache-2.0 WITH LLVM-exception", &p.catalog, amb).is_ok());
}

fn eval(record: serde_json::Value, ctx: &UseContext) -> modelgate_engine::Decision {
    let p = pack();
    let rec = p
        .record_from_json(record, &ParseOptions::default())
        .unwrap();
    p.evaluate(&rec, ctx, T0, "x")
}

#[test]
fn or_picks_the_alternative_best_for_the_use() {
    let d = eval(
        serde_json::json!({"id": "a/b", "licenses": [{"value": "cc-by-nc-4.0 OR apache-2.0"}]}),
        &UseContext::default(),
    );
    assert_eq!(d.verdict.as_str(), "allow");
    assert_eq!(d.license.chosen.as_deref(), Some("apache-2.0"));
    assert_eq!(d.license.alternatives.len(), 2);
    assert_eq!(d.license.alternatives[0].verdict.as_str(), "deny");
    let d = eval(
        serde_json::json!({"id": "a/b", "licenses": [{"value": "cc-by-nc-4.0 AND apache-2.0"}]}),
        &UseContext::default(),
    );
    assert_eq!(d.verdict.as_str(), "deny");
}

#[test]
fn derivative_inherits_and_more_permissive_claim_is_flagged() {
    let d = eval(
        serde_json::json!({"id": "a/ft", "licenses": [{"value": "mit"}], "base_models": [{"id": "meta-llama/Llama-2-13b-hf", "relation": "finetune"}]}),
        &UseContext {
            monthly_active_users: 900_000_000,
            ..UseContext::default()
        },
    );
    let ids: Vec<&str> = d.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(
        ids.contains(&"lineage-more-permissive-than-base"),
        "{ids:?}"
    );
    assert!(ids.contains(&"license-mau-threshold"), "{ids:?}");
    assert_eq!(d.verdict.as_str(), "deny");
    assert!(
        d.license
            .effective
            .iter()
            .any(|e| e.id == "llama2" && e.origin == "inherited")
    );
}

#[test]
fn text_to_image_model_named_llama_is_not_a_llama_derivative() {
    let p = pack();
    let card = "---\nlicense: creativeml-openrail-m\npipeline_tag: text-to-image\ntags: [stable-diffusion, llama]\n---\n# Llama-2 style diffusion\nA Stable Diffusion model fine-tuned on pictures of llamas (Llama 2 edition).\n";
    let rec = p
        .parse(
            card.as_bytes(),
            None,
            &ParseOptions {
                model_ref: Some("hf:acme/llama-2-diffusion".into()),
                ..ParseOptions::default()
            },
        )
        .unwrap();
    let d = p.evaluate(&rec, &UseContext::default(), T0, "x");
    assert!(
        d.license.inherited.iter().all(|i| !i
            .license
            .as_deref()
            .unwrap_or("")
            .starts_with("llama")),
        "{:?}",
        d.license.inherited
    );
}
