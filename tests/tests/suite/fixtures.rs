//! Every real model card of the shared fixtures, evaluated under a commercial SaaS
//! context; the JSON decision is snapshotted with insta.

use modelgate_engine::{ParseOptions, UseContext};
use modelgate_tests::{T0, fixture_cards, model_ref_for, pack};

#[test]
fn fixture_cards_decisions_snapshot() {
    let Some(cards) = fixture_cards() else { return };
    assert!(
        cards.len() >= 20,
        "expected the shared fixture cards, found {}",
        cards.len()
    );
    let pack = pack();
    let ctx = UseContext::default();
    for card in cards {
        let bytes = std::fs::read(&card).unwrap();
        let opts = ParseOptions {
            model_ref: Some(model_ref_for(&card)),
            ..ParseOptions::default()
        };
        let rec = pack
            .parse(&bytes, None, &opts)
            .unwrap_or_else(|e| panic!("{}: {e}", card.display()));
        let digest = modelgate_engine::input_digest(&bytes, &ctx);
        let d = pack.evaluate(&rec, &ctx, T0, &digest);
        let name = card
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('@', "_at_");
        insta::assert_json_snapshot!(name, d, { ".pack.digest" => "[pack digest]", ".engine_version" => "[engine version]" });
    }
}

/// Known answers on real cards that a legal reviewer checked by hand.
#[test]
fn fixture_cards_known_verdicts() {
    let Some(cards) = fixture_cards() else { return };
    let pack = pack();
    let verdict = |name: &str, ctx: &UseContext| {
        let card = cards
            .iter()
            .find(|c| c.to_string_lossy().contains(name))
            .unwrap_or_else(|| panic!("no card {name}"));
        let bytes = std::fs::read(card).unwrap();
        let rec = pack
            .parse(
                &bytes,
                None,
                &ParseOptions {
                    model_ref: Some(model_ref_for(card)),
                    ..ParseOptions::default()
                },
            )
            .unwrap();
        pack.evaluate(&rec, ctx, T0, "t")
    };
    let saas = UseContext::default();
    // Apache-2.0 models are simply allowed.
    assert_eq!(
        verdict("EleutherAI--gpt-j-6B", &saas).verdict.as_str(),
        "allow"
    );
    // Llama 3: allowed with the "Built with Meta Llama 3" attribution when offered as SaaS.
    let d = verdict("Meta-Llama-3-8B-Instruct", &saas);
    assert_eq!(d.verdict.as_str(), "conditional");
    assert!(d.obligations.iter().any(
        |o| o.rule_id == "obligation-attribution" && o.text.contains("Built with Meta Llama 3")
    ));
    // ... but above 700M monthly active users a licence must be requested.
    let big = UseContext {
        monthly_active_users: 800_000_000,
        ..UseContext::default()
    };
    assert_eq!(
        verdict("Meta-Llama-3-8B-Instruct", &big).verdict.as_str(),
        "deny"
    );
    // A Llama 2 fine-tune card without a licence key: review, with Llama 2 inferred.
    let d = verdict("Code_Llama2_Finetune", &saas);
    assert_eq!(d.verdict.as_str(), "review");
    assert!(
        d.license
            .inherited
            .iter()
            .any(|i| i.license.as_deref() == Some("llama2") && i.source == "inferred")
    );
    // A Stable Diffusion card is not mistaken for anything else and carries RAIL flow-down.
    let d = verdict("stable-diffusion-v1-4", &saas);
    assert!(
        d.obligations
            .iter()
            .any(|o| o.rule_id == "obligation-flow-down")
    );
    // BLOOM RAIL forbids medical advice.
    let med = UseContext {
        domains: vec!["medical_advice".into()],
        ..UseContext::default()
    };
    assert_eq!(verdict("bigscience--bloom", &med).verdict.as_str(), "deny");
    // Phi-2 GGUF from when Phi-2 was under the Microsoft Research License: denied commercially.
    assert_eq!(verdict("phi-2-GGUF", &saas).verdict.as_str(), "deny");
}
