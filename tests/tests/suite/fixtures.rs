//! Every real model card of the shared fixtures, evaluated under a commercial SaaS
//! context; the JSON decision is snapshotted with insta.

use modelgate_engine::rules::RuleResult;
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
        let d = modelgate_tests::evaluate(&pack, &rec, &[], &ctx, T0, digest.as_str());
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
        modelgate_tests::evaluate(&pack, &rec, &[], ctx, T0, "t")
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

/// Meta's own Llama 3.2 1B Instruct card, checked without a model reference, is not a
/// derivative of Llama 3: it declares the Llama 3.2 licence, Meta's own, so the Llama 3
/// ban on training other models on outputs (§1.b.v) must not be inherited.
#[test]
fn llama_3_2_card_without_model_ref_is_not_a_llama_3_derivative() {
    let Some(cards) = fixture_cards() else { return };
    let card = cards
        .iter()
        .find(|c| c.to_string_lossy().contains("Llama-3.2-1B-Instruct"))
        .expect("the Llama 3.2 1B Instruct card");
    let pack = pack();
    let bytes = std::fs::read(card).unwrap();
    let rec = pack.parse(&bytes, None, &ParseOptions::default()).unwrap();
    // The trap: names, tags and prose alone point to Llama 3 ...
    let naive = modelgate_engine::lineage::resolve_with(&rec, &pack.models, &[]);
    assert!(
        naive
            .ancestors
            .iter()
            .any(|a| a.model == "meta-llama/Meta-Llama-3-8B"),
        "{naive:?}"
    );
    // ... but the evaluation knows the declared licence.
    let ctx = UseContext {
        train_on_outputs: true,
        ..UseContext::default()
    };
    let d = modelgate_tests::evaluate(&pack, &rec, &[], &ctx, T0, "t");
    assert!(d.license.inherited.is_empty(), "{:?}", d.license.inherited);
    assert_ne!(d.verdict.as_str(), "deny");
    assert!(
        d.findings
            .iter()
            .all(|f| f.rule_id != "use-train-on-outputs" || f.result != RuleResult::Fail)
    );
}

/// Names come from `model_name`, the card's title (a level-1 heading outside code, ATX,
/// setext or HTML) or the first `model-index` entry; a `#` comment in a code block is
/// not a title.
#[test]
fn card_names_come_from_title_or_model_index() {
    let pack = pack();
    let name = |card: &str| {
        let r = pack
            .parse(card.as_bytes(), None, &ParseOptions::default())
            .unwrap();
        (r.id, r.name)
    };
    assert_eq!(
        name(
            "---\nlicense: mit\nmodel-index:\n- name: acme-tiny\n  results: []\n---\n## Usage\n```sh\n# install\n```\n"
        ),
        ("acme-tiny".to_string(), Some("acme-tiny".to_string()))
    );
    assert_eq!(
        name("---\nlicense: mit\n---\nAcme Tiny\n=========\n\ntext\n")
            .1
            .as_deref(),
        Some("Acme Tiny")
    );
    assert_eq!(
        name("---\nlicense: mit\n---\n<h1 align=\"center\">Acme <b>Tiny</b></h1>\n")
            .1
            .as_deref(),
        Some("Acme Tiny")
    );
    assert_eq!(
        name("---\nlicense: mit\n---\n```py\n# remove input tokens\n```\n").0,
        "unnamed-model"
    );
    let Some(cards) = fixture_cards() else { return };
    let phi3 = cards
        .iter()
        .find(|c| c.to_string_lossy().contains("Phi-3-vision"))
        .unwrap();
    let r = pack
        .parse(
            &std::fs::read(phi3).unwrap(),
            None,
            &ParseOptions::default(),
        )
        .unwrap();
    assert_ne!(r.name.as_deref(), Some("remove input tokens"));
}
