//! Licence resolution: catalog ids, aliases, SPDX ids and expressions.

use modelgate_engine::license::{Resolution, parse_expression, resolve_term};
use modelgate_engine::rules::RuleResult;
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
    modelgate_tests::evaluate(&p, &rec, &[], ctx, T0, "x")
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
    let d = modelgate_tests::evaluate(&p, &rec, &[], &UseContext::default(), T0, "x");
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

fn card(content: &str, model_ref: Option<&str>) -> modelgate_engine::ModelRecord {
    pack()
        .parse(
            content.as_bytes(),
            None,
            &ParseOptions {
                model_ref: model_ref.map(str::to_string),
                ..ParseOptions::default()
            },
        )
        .unwrap()
}

fn failing(d: &modelgate_engine::Decision) -> Vec<&str> {
    d.findings
        .iter()
        .filter(|f| !matches!(f.result, RuleResult::Pass | RuleResult::Skip))
        .map(|f| f.rule_id.as_str())
        .collect()
}

/// A licence named in the card's licence section beside a different declared one is a
/// declaration of its own: the sentence is kept as evidence in the decision and in the
/// finding, and its terms apply.
#[test]
fn licence_section_names_a_conflicting_licence_with_the_sentence_as_evidence() {
    let p = pack();
    let rec = card(
        "---\nlicense: apache-2.0\n---\n# Writer\n\n## License\n\nThe inference code is Apache 2.0.\nThe model weights are released under [CC BY-NC 4.0](https://creativecommons.org/licenses/by-nc/4.0/).\n",
        Some("hf:acme/writer"),
    );
    assert!(
        rec.license_text
            .as_deref()
            .is_some_and(|t| t.contains("CC BY-NC 4.0") && !t.contains("## License")),
        "{:?}",
        rec.license_text
    );
    let d = modelgate_tests::evaluate(&p, &rec, &[], &UseContext::default(), T0, "x");
    let extra: Vec<_> = d
        .license
        .declared
        .iter()
        .filter(|x| x.evidence.is_some())
        .collect();
    assert_eq!(extra.len(), 1, "{:?}", d.license.declared);
    assert_eq!(extra[0].id.as_deref(), Some("cc-by-nc-4.0"));
    assert_eq!(extra[0].source.as_deref(), Some("card section `License`"));
    assert!(
        extra[0]
            .evidence
            .as_deref()
            .is_some_and(|e| e.starts_with("The model weights are released under CC BY-NC 4.0")),
        "{:?}",
        extra[0].evidence
    );
    assert!(d.license.conflicting);
    let f = d
        .findings
        .iter()
        .find(|f| f.rule_id == "license-conflicting-declarations")
        .unwrap();
    assert_eq!(f.result, RuleResult::Fail);
    assert!(
        f.message.contains(
            "at card section `License`: “The model weights are released under CC BY-NC 4.0"
        ),
        "{}",
        f.message
    );
    let ev = serde_json::to_string(&f.evidence).unwrap();
    assert!(
        ev.contains("The model weights are released under CC BY-NC 4.0"),
        "{ev}"
    );
    assert_eq!(d.verdict.as_str(), "deny");
    assert!(failing(&d).contains(&"license-non-commercial"));
}

/// What is and is not read as a licence in prose and links.
#[test]
fn licence_mentions_are_licence_names_not_model_names() {
    let p = pack();
    let m = p.catalog.mentions();
    let ids = |t: &str| m.in_prose(t).into_iter().map(|x| x.id).collect::<Vec<_>>();
    assert_eq!(ids("The weights are under the MIT License."), ["mit"]);
    assert_eq!(
        ids("Use is governed by the Llama 3.2 Community License Agreement."),
        ["llama3.2"]
    );
    assert_eq!(
        ids("Licensed CC-BY-NC-SA 4.0 for the model."),
        ["cc-by-nc-sa-4.0"]
    );
    // Model names, bare ids of model licences and code-only sentences are not mentions.
    assert!(ids("This model is a fine-tune of Llama 3.1 8B (llama3.1).").is_empty());
    assert!(ids("The training scripts are released under the Apache 2.0 license.").is_empty());
    assert!(ids("Gemma is great; Qwen too.").is_empty());
    assert_eq!(
        m.link("https://www.llama.com/llama3_1/license/"),
        Some("llama3.1")
    );
    assert_eq!(
        m.link("https://creativecommons.org/licenses/by-sa/4.0/legalcode.en"),
        Some("cc-by-sa-4.0")
    );
    assert_eq!(m.link("https://ai.google.dev/gemma/terms"), Some("gemma"));
    assert_eq!(
        m.link("https://creativecommons.org/licenses/by-sa/4.0x"),
        None
    );
    assert_eq!(m.link("https://example.com/LICENSE"), None);
}

/// A license_link to the LICENSE file of a relicensed catalog model (Phi-2, once under
/// the Microsoft Research License, now MIT) names no licence: the file changed.
#[test]
fn licence_file_of_a_relicensed_model_is_not_read_as_a_licence() {
    let p = pack();
    let rec = card(
        "---\nlicense: other\nlicense_name: microsoft-research-license\nlicense_link: https://huggingface.co/microsoft/phi-2/resolve/main/LICENSE\n---\n# Phi-2 GGUF\n",
        Some("hf:acme/phi-2-gguf"),
    );
    let d = modelgate_tests::evaluate(&p, &rec, &[], &UseContext::default(), T0, "x");
    assert!(!d.license.conflicting, "{:?}", d.license.declared);
    let rec = card(
        "---\nlicense: mit\nlicense_link: https://huggingface.co/meta-llama/Llama-3.1-8B/resolve/main/LICENSE\n---\n# X\n",
        Some("hf:acme/x"),
    );
    let d = modelgate_tests::evaluate(&p, &rec, &[], &UseContext::default(), T0, "x");
    assert!(d.license.conflicting);
    assert!(d.license.declared.iter().any(
        |x| x.id.as_deref() == Some("llama3.1") && x.source.as_deref() == Some("/license_link")
    ));
}

/// The `license-mau-threshold` finding for a model under `license` with `mau` users.
fn mau_finding(license: &str, mau: i64) -> modelgate_engine::decision::Finding {
    let d = eval(
        serde_json::json!({"id": "a/m", "licenses": [{"value": license}]}),
        &UseContext {
            monthly_active_users: mau,
            ..UseContext::default()
        },
    );
    let f = d
        .findings
        .into_iter()
        .find(|f| f.rule_id == "license-mau-threshold")
        .unwrap();
    assert_eq!(f.result, RuleResult::Fail, "{license}");
    f
}

/// Llama 2 §2 counts users in the month before the release date of the version: the
/// finding says so, with the date; Tongyi Qianwen counts them as they come.
#[test]
fn mau_finding_says_users_are_counted_at_the_release_date() {
    let m = mau_finding("llama2", 900_000_000).message;
    assert!(
        m.contains("release date of this licence version, 2023-07-18"),
        "{m}"
    );
    let m = mau_finding("tongyi-qianwen", 150_000_000).message;
    assert!(!m.contains("release date"), "{m}");
}

/// Commercial use under the TII Falcon LLM licence is denied until TII's permission is
/// recorded as a waiver (license_acquired); then the royalty duty remains.
#[test]
fn falcon_permission_waived_leaves_the_royalty_obligation() {
    let p = pack();
    let rec = p
        .record_from_json(
            serde_json::json!({"id": "acme/falcon-ft", "licenses": [{"value": "tii-falcon-llm"}], "sections": {"training_data": true}}),
            &ParseOptions::default(),
        )
        .unwrap();
    let ctx = UseContext {
        deployment: modelgate_engine::context::Deployment::Internal,
        ..UseContext::default()
    };
    let d = modelgate_tests::evaluate(&p, &rec, &[], &ctx, T0, "x");
    assert_eq!(d.verdict.as_str(), "deny");
    assert!(failing(&d).contains(&"license-commercial-permission"));
    let w = modelgate_engine::waiver::Waiver {
        id: "w1".into(),
        model_ref: "acme/falcon-ft".into(),
        rule_id: "license-commercial-permission".into(),
        profile: None,
        created_at: None,
        expires_at: modelgate_engine::time::from_unix(T0 + 86_400),
        revoked_at: None,
    };
    let d = modelgate_engine::evaluate(&modelgate_engine::Evaluation {
        ancestors: &[],
        waivers: &[&w],
        ..modelgate_engine::Evaluation::new(
            &p,
            &rec,
            &ctx,
            modelgate_engine::time::from_unix(T0),
            "x",
        )
    });
    assert_eq!(d.verdict.as_str(), "conditional", "{:?}", failing(&d));
    assert!(
        d.obligations
            .iter()
            .any(|o| o.rule_id == "obligation-royalty" && o.text.contains("1000000 USD"))
    );
}

/// `verified: true` only where the terms were read from a primary text: an SPDX-listed
/// licence (the SPDX License List text), or a model licence whose text is in the
/// reference corpus (`../shared/reference/licenses/`). The table names that text; an
/// entry marked verified that is not in it, or whose text is absent, fails.
#[test]
fn verified_terms_have_their_text_in_the_reference_corpus() {
    const TEXTS: &[(&str, &[&str])] = &[
        ("bigcode-openrail-m", &["license-bigcode-openrail-m.txt"]),
        (
            "bigscience-bloom-rail-1.0",
            &["license-bigscience-bloom-rail-1.0.txt"],
        ),
        (
            "bigscience-openrail-m",
            &["license-bigscience-openrail-m.txt"],
        ),
        (
            "creativeml-openrail-m",
            &["license-creativeml-openrail-m.txt"],
        ),
        ("openrail++", &["license-creativeml-openrail++-m.txt"]),
        ("deepfloyd-if-license", &["license-deepfloyd-if.txt"]),
        ("deepseek", &["license-deepseek-model-1.0.txt"]),
        ("falcon-2-11b", &["license-falcon-2-11b-tii-1.0.txt"]),
        (
            "gemma",
            &[
                "license-gemma.txt",
                "license-gemma-prohibited-use-policy.txt",
            ],
        ),
        (
            "gemma-2025-03-24",
            &[
                "license-gemma-2025-03-24.txt",
                "license-gemma-prohibited-use-policy.txt",
            ],
        ),
        ("grok2-community", &["license-grok2-community.txt"]),
        (
            "llama2",
            &[
                "license-llama2.txt",
                "license-llama2-acceptable-use-policy.md",
            ],
        ),
        (
            "llama3",
            &[
                "license-llama3.txt",
                "license-llama3-acceptable-use-policy.md",
            ],
        ),
        (
            "llama3.1",
            &[
                "license-llama3.1.txt",
                "license-llama3.1-acceptable-use-policy.md",
            ],
        ),
        (
            "llama3.2",
            &[
                "license-llama3.2.txt",
                "license-llama3.2-acceptable-use-policy.md",
            ],
        ),
        (
            "llama3.3",
            &[
                "license-llama3.3.txt",
                "license-llama3.3-acceptable-use-policy.md",
            ],
        ),
        (
            "llama4",
            &[
                "license-llama4.txt",
                "license-llama4-acceptable-use-policy.md",
            ],
        ),
        ("mnpl", &["license-mistral-mnpl-0.1.md"]),
        ("mrl", &["license-mistral-mrl-0.1.md"]),
        (
            "nvidia-open-model",
            &["license-nvidia-open-model-agreement.txt"],
        ),
        ("openmdw-1.1", &["license-openmdw-1.1.txt"]),
        ("qwen-research", &["license-qwen-research.txt"]),
        (
            "stabilityai-nc-research-community",
            &["license-stabilityai-nc-research-community.txt"],
        ),
        (
            "tii-falcon-3",
            &[
                "license-tii-falcon-license-2.0-falcon3.txt",
                "license-tii-falcon3-acceptable-use-policy.txt",
            ],
        ),
        ("tii-falcon-llm", &["license-tii-falcon-llm-1.0.txt"]),
        ("tongyi-qianwen", &["license-tongyi-qianwen.txt"]),
        (
            "tongyi-qianwen-research",
            &["license-tongyi-qianwen-research.txt"],
        ),
    ];
    let p = pack();
    for t in p.catalog.entries() {
        if !t.verified || t.spdx.is_some() {
            continue;
        }
        assert!(
            TEXTS.iter().any(|(id, _)| *id == t.id),
            "licence `{}` is marked verified, but no reference text is known for it",
            t.id
        );
    }
    for (id, _) in TEXTS {
        assert!(
            p.catalog.get(id).is_some_and(|t| t.verified),
            "`{id}` is not verified"
        );
    }
    let Some(dir) = modelgate_tests::shared_dir().map(|d| d.join("reference/licenses")) else {
        eprintln!("SKIP: ../shared/reference/licenses is absent; reference texts not checked");
        return;
    };
    for (id, files) in TEXTS {
        for f in *files {
            assert!(
                dir.join(f).is_file(),
                "`{id}`: reference text {f} is missing"
            );
        }
    }
}
