//! The metadata formats besides model cards: CycloneDX ML-BOM 1.5–1.7, SPDX 3.0 AI,
//! Model Openness Framework YAML. Every shared reference document and every fixture of
//! `tests/fixtures/formats/` is detected, parsed, round-tripped through the native record
//! and evaluated under a commercial SaaS context (decisions snapshotted with insta);
//! the fields each parser reads are checked on our own fixtures; malformed and
//! unsupported documents are refused with the format and the place.

use modelgate_engine::record::{LicenseScope, ModelRecord, Relation};
use modelgate_engine::{Decision, Format, IngestError, ParseOptions, UseContext};
use modelgate_tests::{T0, format_fixture, format_fixtures, pack, shared_format_files};
use std::path::Path;
use std::sync::OnceLock;

fn the_pack() -> &'static modelgate_engine::Pack {
    static P: OnceLock<modelgate_engine::Pack> = OnceLock::new();
    P.get_or_init(pack)
}

fn parse_all(bytes: &[u8]) -> Result<Vec<ModelRecord>, IngestError> {
    the_pack().parse_all(bytes, None, &ParseOptions::default())
}

fn records(name: &str) -> Vec<ModelRecord> {
    parse_all(&format_fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn one(name: &str) -> ModelRecord {
    let mut v = records(name);
    assert_eq!(v.len(), 1, "{name}: {} records", v.len());
    v.remove(0)
}

fn decide(rec: &ModelRecord, bytes: &[u8]) -> Decision {
    let ctx = UseContext::default();
    let digest = modelgate_engine::input_digest(bytes, &ctx);
    modelgate_tests::evaluate(the_pack(), rec, &[], &ctx, T0, digest.as_str())
}

fn failing(d: &Decision) -> Vec<&str> {
    d.findings.iter().map(|f| f.rule_id.as_str()).collect()
}

/// The format a file's name says it is in.
fn expected_format(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with("malformed-") {
        return None;
    }
    Some(if name.starts_with("cyclonedx-") {
        Format::Cyclonedx
    } else if name.starts_with("spdx3-") {
        Format::Spdx3
    } else if name.starts_with("mof-") {
        Format::Mof
    } else {
        panic!("unexpected fixture {name}")
    })
}

/// Native round trip: the record serialized as modelgate JSON validates against
/// model.schema.json and reads back as the same record.
fn assert_round_trip(rec: &ModelRecord, what: &str) {
    let json = serde_json::to_value(rec).unwrap();
    let back = the_pack()
        .record_from_json(json, &ParseOptions::default())
        .unwrap_or_else(|e| panic!("{what}: native round trip of {}: {e}", rec.id));
    let mut expected = rec.clone();
    expected.prose.clear();
    expected.source_format = back.source_format.clone();
    assert_eq!(back, expected, "{what}: {} does not round-trip", rec.id);
}

/// Detects, parses, round-trips and evaluates a document; snapshots its decisions.
fn check_document(path: &Path, snapshot: &str) -> Vec<Decision> {
    let bytes = std::fs::read(path).unwrap();
    let what = path.display().to_string();
    let format = expected_format(path).unwrap();
    assert_eq!(
        Format::detect(&bytes).unwrap_or_else(|e| panic!("{what}: {e}")),
        format,
        "{what}"
    );
    let recs = parse_all(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    // Forcing the right format gives the same records.
    let forced = the_pack()
        .parse_all(&bytes, Some(format), &ParseOptions::default())
        .unwrap();
    assert_eq!(recs, forced, "{what}");
    assert!(!recs.is_empty());
    for r in &recs {
        assert_eq!(r.source_format, format.as_str(), "{what}");
        assert!(!r.id.trim().is_empty(), "{what}: empty id");
        assert_round_trip(r, &what);
    }
    // As `check` does: every model, the others of the document as known ancestors.
    let ctx = UseContext::default();
    let digest = modelgate_engine::input_digest(&bytes, &ctx);
    let decisions: Vec<Decision> =
        modelgate_tests::evaluate_document(the_pack(), &recs, &ctx, T0, digest.as_str());
    for d in &decisions {
        // Fail closed: no licence, no allow.
        if d.license.declared.is_empty() {
            assert!(
                matches!(d.verdict.as_str(), "review" | "deny"),
                "{what}: {} has no licence but got {}",
                d.model.id,
                d.verdict.as_str()
            );
            assert!(failing(d).contains(&"license-missing"), "{what}");
        }
        assert!(
            d.findings
                .iter()
                .all(|f| f.result != modelgate_engine::rules::RuleResult::Error),
            "{what}: rule errors {:?}",
            d.findings
        );
    }
    insta::assert_json_snapshot!(snapshot, decisions, {
        "[].pack.digest" => "[pack digest]",
        "[].engine_version" => "[engine version]"
    });
    decisions
}

#[test]
fn every_shared_reference_document_parses_round_trips_and_is_decided() {
    let Some(files) = shared_format_files() else {
        return;
    };
    assert!(
        files.len() >= 15,
        "expected the shared format documents, found {}",
        files.len()
    );
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        check_document(f, &format!("shared-{stem}"));
    }
}

#[test]
fn every_fixture_parses_round_trips_and_is_decided() {
    let files: Vec<_> = format_fixtures()
        .into_iter()
        .filter(|p| expected_format(p).is_some())
        .collect();
    assert!(files.len() >= 7, "fixtures: {files:?}");
    for f in &files {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        check_document(f, &format!("fixture-{stem}"));
    }
}

// ---------------------------------------------------------------- CycloneDX

#[test]
fn cyclonedx_1_5_metadata_component_with_a_full_model_card() {
    let r = one("cyclonedx-1.5-acme-bert.json");
    assert_eq!(r.id, "acme/bert-tiny-support");
    assert_eq!(r.revision.as_deref(), Some("5f0c2e1"), "purl version wins");
    assert_eq!(r.name.as_deref(), Some("bert-tiny-support"));
    assert_eq!(r.publisher.as_deref(), Some("Acme Labs"));
    assert_eq!(r.licenses.len(), 1);
    let l = &r.licenses[0];
    assert_eq!(l.value, "Apache-2.0");
    assert_eq!(
        l.source.as_deref(),
        Some("/metadata/component/licenses/0/license/id")
    );
    assert_eq!(
        l.license_link.as_deref(),
        Some("https://www.apache.org/licenses/LICENSE-2.0")
    );
    assert_eq!(r.task.as_deref(), Some("text-classification"));
    assert_eq!(r.architecture.as_deref(), Some("bert"));
    assert_eq!(r.training_approach.as_deref(), Some("self-supervised"));
    assert_eq!(r.modalities_in, ["text"]);
    assert_eq!(r.modalities_out, ["text"]);
    let ds: Vec<&str> = r.datasets.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ds, ["acme/support-routing-2024"]);
    assert_eq!(r.eval_results.len(), 2);
    assert_eq!(r.eval_results[0].metric.as_deref(), Some("accuracy"));
    assert_eq!(r.eval_results[0].value, Some(0.912));
    assert_eq!(
        r.eval_results[0].dataset.as_deref(),
        Some("support-routing-2024 test")
    );
    assert!(r.eval_results.iter().all(|e| !e.verified));
    let s = &r.sections;
    assert!(s.intended_uses && s.limitations && s.bias_risks && s.evaluation);
    assert!(s.environmental_impact && s.training_data && !s.out_of_scope_uses);
    assert_eq!(r.energy.len(), 1);
    assert_eq!(r.energy[0].activity, "training");
    assert_eq!(r.energy[0].kwh, Some(42.5));
    assert_eq!(r.energy[0].co2_tonnes, Some(0.015));
    assert!(r.base_models.is_empty(), "a library dependency is no base");
    assert_eq!(
        r.provenance["licenses"].pointer,
        "/metadata/component/licenses"
    );
    assert_eq!(r.provenance["licenses"].format, "cyclonedx");
    let d = decide(&r, b"x");
    assert_eq!(d.verdict.as_str(), "allow", "{:?}", failing(&d));
}

#[test]
fn cyclonedx_1_6_licence_name_pedigree_and_restricted_dataset() {
    let bytes = format_fixture("cyclonedx-1.6-llama-finetune.json");
    let r = one("cyclonedx-1.6-llama-finetune.json");
    assert_eq!(r.id, "acme/support-llama-8b");
    assert_eq!(r.revision.as_deref(), Some("9c1d7e2"));
    assert_eq!(r.publisher.as_deref(), Some("Acme Labs"), "manufacturer");
    assert_eq!(r.tags, ["llama", "support", "chat"]);
    assert_eq!(r.licenses[0].value, "Llama 3.1 Community License Agreement");
    assert_eq!(
        r.licenses[0].source.as_deref(),
        Some("/components/0/licenses/0/license/name")
    );
    assert_eq!(r.base_models.len(), 1);
    assert_eq!(r.base_models[0].id, "meta-llama/Llama-3.1-8B");
    assert_eq!(r.base_models[0].relation, Relation::Unknown);
    assert_eq!(
        r.provenance["base_models"].pointer,
        "/components/0/pedigree/ancestors/0"
    );
    assert_eq!(r.datasets.len(), 1, "{:?}", r.datasets);
    assert_eq!(r.datasets[0].id, "acme-support-conversations");
    assert_eq!(r.datasets[0].license.as_deref(), Some("CC-BY-NC-4.0"));
    assert!(r.datasets[0].sensitive_data);
    assert_eq!(r.modalities_in, ["text"]);
    let d = decide(&r, &bytes);
    assert_eq!(d.verdict.as_str(), "review");
    let f = failing(&d);
    assert!(f.contains(&"license-dataset-restricted"), "{f:?}");
    assert!(f.contains(&"safety-sensitive-training-data"), "{f:?}");
    assert_eq!(d.license.declared[0].id.as_deref(), Some("llama3.1"));
    assert_eq!(d.license.inherited[0].model, "meta-llama/Llama-3.1-8B");
    assert_eq!(d.license.inherited[0].license.as_deref(), Some("llama3.1"));
    assert!(
        d.obligations
            .iter()
            .any(|o| o.rule_id == "obligation-attribution")
    );
}

#[test]
fn cyclonedx_1_7_several_models_with_lineage_from_pedigree_and_dependencies() {
    let bytes = format_fixture("cyclonedx-1.7-multi-model.json");
    let recs = records("cyclonedx-1.7-multi-model.json");
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "acme/helpdesk-llama-8b",
            "acme/helpdesk-reranker",
            "acme/helpdesk-router"
        ],
        "top-level and nested model components, in document order; the application is not a model"
    );
    let (llama, reranker, router) = (&recs[0], &recs[1], &recs[2]);
    // Pedigree ancestors are lineage (Hub URL of the ancestor); variants are not.
    let bases: Vec<&str> = llama.base_models.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(bases, ["meta-llama/Llama-3.1-8B"]);
    assert_eq!(llama.licenses[0].value, "LicenseRef-llama3.1");
    assert_eq!(
        llama.licenses[0].source.as_deref(),
        Some("/components/0/licenses/0/expression")
    );
    // A nested component's dataset `ref` resolves to the data component and its licence.
    assert_eq!(reranker.datasets.len(), 1);
    assert_eq!(reranker.datasets[0].id, "acme-faq");
    assert_eq!(reranker.datasets[0].license.as_deref(), Some("CC-BY-4.0"));
    assert_eq!(
        reranker.licenses[0].source.as_deref(),
        Some("/components/0/components/0/licenses/0/license/id")
    );
    // A model depending on another model component derives from it.
    let bases: Vec<&str> = router.base_models.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(bases, ["acme/helpdesk-llama-8b"]);
    assert_eq!(
        router.provenance["base_models"].pointer,
        "/dependencies/1/dependsOn"
    );
    // Declared and concluded MIT: one declaration.
    assert_eq!(router.licenses.len(), 1);
    assert!(
        router.datasets.is_empty(),
        "unlinked data belongs to no model of a multi-model BOM"
    );

    let verdicts: Vec<&str> = recs
        .iter()
        .map(|r| decide(r, &bytes).verdict.as_str())
        .collect();
    assert_eq!(verdicts, ["conditional", "allow", "review"]);
    // The router's base is only in this BOM, not in the catalog: fail closed.
    assert!(failing(&decide(router, &bytes)).contains(&"lineage-unresolved-base"));

    // `parse` reads one model and says why it cannot here.
    let e = the_pack()
        .parse(&bytes, None, &ParseOptions::default())
        .unwrap_err();
    assert_eq!(e.format, Format::Cyclonedx);
    assert!(e.message.contains("describes 3 models"), "{e}");
    assert!(e.message.contains("parse_all"), "{e}");
}

#[test]
fn cyclonedx_expression_with_a_choice_and_image_input() {
    let r = one("cyclonedx-1.6-expression-choice.json");
    assert_eq!(r.id, "acme/dual-licensed-3b");
    assert_eq!(r.publisher.as_deref(), Some("Acme Labs"), "supplier");
    assert_eq!(r.licenses[0].value, "Apache-2.0 OR LicenseRef-mrl");
    assert_eq!(r.modalities_in, ["image", "text"]);
    assert_eq!(r.eval_results[0].value, Some(1.12));
    let d = decide(&r, b"x");
    assert_eq!(d.license.chosen.as_deref(), Some("apache-2.0"));
    assert_eq!(d.license.alternatives.len(), 2);
    assert_eq!(d.verdict.as_str(), "allow", "{:?}", failing(&d));
}

#[test]
fn cyclonedx_licence_acknowledgement_and_identity_fallbacks() {
    let bom = |component: &str| {
        format!(
            r#"{{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{component}]}}"#
        )
    };
    // Only a concluded licence: it counts. No licence at all: missing, never allow.
    let r = parse_all(
        bom(
            r#"{"type": "machine-learning-model", "name": "m", "group": "g", "version": "3",
                "licenses": [{"license": {"id": "MIT", "acknowledgement": "concluded"}}]}"#,
        )
        .as_bytes(),
    )
    .unwrap()
    .remove(0);
    assert_eq!(r.id, "g/m");
    assert_eq!(r.revision.as_deref(), Some("3"));
    assert_eq!(r.publisher.as_deref(), Some("g"));
    assert_eq!(r.licenses[0].value, "MIT");
    let doc = bom(r#"{"type": "machine-learning-model", "name": "bare"}"#);
    let r = parse_all(doc.as_bytes()).unwrap().remove(0);
    assert!(r.licenses.is_empty());
    let d = decide(&r, doc.as_bytes());
    assert_eq!(d.verdict.as_str(), "review");
    assert!(failing(&d).contains(&"license-missing"));
    // A licence name the catalog does not know is unknown: review.
    let doc = bom(
        r#"{"type": "machine-learning-model", "name": "x", "licenses": [{"license": {"name": "Acme Secret Licence"}}]}"#,
    );
    let r = parse_all(doc.as_bytes()).unwrap().remove(0);
    assert!(failing(&decide(&r, doc.as_bytes())).contains(&"license-unknown"));
    // A non-Hugging Face purl names the model too.
    let r = parse_all(
        bom(r#"{"type": "machine-learning-model", "name": "x", "purl": "pkg:generic/acme/vision%20model@2.0?arch=x86"}"#)
            .as_bytes(),
    )
    .unwrap()
    .remove(0);
    assert_eq!(r.id, "acme/vision model");
    assert_eq!(r.revision.as_deref(), Some("2.0"));
    // A licence entry with neither id nor name is refused where it is.
    let e = parse_all(
        bom(r#"{"type": "machine-learning-model", "name": "x", "licenses": [{"license": {"url": "https://x"}}]}"#)
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(e.format, Format::Cyclonedx);
    assert_eq!(
        e.location,
        Some(modelgate_engine::ingest::Location::Pointer {
            pointer: "/components/0/licenses/0/license".into()
        })
    );
}

// ---------------------------------------------------------------- SPDX 3

#[test]
fn spdx3_ai_package_properties_licences_datasets_and_lineage() {
    let bytes = format_fixture("spdx3-ai-support-adapter.json");
    let r = one("spdx3-ai-support-adapter.json");
    assert_eq!(r.id, "acme/support-adapter-8b");
    assert_eq!(r.revision.as_deref(), Some("77aa01c"));
    assert_eq!(r.name.as_deref(), Some("support-adapter-8b"));
    assert_eq!(r.publisher.as_deref(), Some("Acme Labs"));
    // hasDeclaredLicense and hasConcludedLicense name the same expression: one declaration.
    assert_eq!(r.licenses.len(), 1, "{:?}", r.licenses);
    assert_eq!(r.licenses[0].value, "LicenseRef-llama3.1");
    let src = r.licenses[0].source.as_deref().unwrap();
    let graph: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let rel = graph
        .pointer(src.trim_end_matches("/to/0"))
        .expect("the source points at the relationship");
    assert_eq!(rel["relationshipType"], "hasDeclaredLicense");
    // descendantOf a model package: lineage.
    assert_eq!(r.base_models.len(), 1);
    assert_eq!(r.base_models[0].id, "meta-llama/Llama-3.1-8B");
    // trainedOn / testedOn datasets, with their licences and sensitive-data flags.
    let ds: Vec<(&str, Option<&str>, bool)> = r
        .datasets
        .iter()
        .map(|d| (d.id.as_str(), d.license.as_deref(), d.sensitive_data))
        .collect();
    assert_eq!(
        ds,
        [
            ("acme-support-tickets-2025", Some("other"), true),
            ("acme-support-eval", Some("CC-BY-4.0"), false)
        ]
    );
    assert_eq!(r.autonomy_type.as_deref(), Some("no"));
    assert_eq!(
        r.application_domains,
        ["customer support", "text generation"]
    );
    assert_eq!(r.standard_compliance, ["ISO/IEC 42001:2023"]);
    assert_eq!(r.uses_sensitive_personal_information, Some(true));
    assert_eq!(r.safety_risk_assessment.as_deref(), Some("medium"));
    assert_eq!(
        r.architecture.as_deref(),
        Some("LoRA adapter; decoder-only transformer")
    );
    assert_eq!(
        r.hyperparameters.get("lora_rank").map(String::as_str),
        Some("16")
    );
    let energy: Vec<(&str, Option<f64>)> = r
        .energy
        .iter()
        .map(|e| (e.activity.as_str(), e.kwh))
        .collect();
    assert_eq!(
        energy,
        [("training", Some(100.0)), ("inference", Some(0.002))]
    );
    let metrics: Vec<(Option<&str>, Option<f64>)> = r
        .eval_results
        .iter()
        .map(|e| (e.metric.as_deref(), e.value))
        .collect();
    assert_eq!(
        metrics,
        [
            (Some("rougeL"), Some(0.41)),
            (Some("humanPreference"), None)
        ]
    );
    let s = &r.sections;
    assert!(s.intended_uses && s.limitations && s.training_data && s.evaluation);
    assert!(s.environmental_impact && s.bias_risks);

    let d = decide(&r, &bytes);
    assert_eq!(d.verdict.as_str(), "review");
    let f = failing(&d);
    assert!(f.contains(&"license-dataset-restricted"), "{f:?}");
    assert!(f.contains(&"safety-sensitive-training-data"), "{f:?}");
    assert_eq!(d.license.inherited[0].license.as_deref(), Some("llama3.1"));
}

#[test]
fn spdx3_listed_licence_by_iri_and_a_plain_package() {
    let r = one("spdx3-ai-minimal-apache.json");
    assert_eq!(r.id, "tiny-classifier", "no purl or Hub URL: the name");
    assert_eq!(r.revision.as_deref(), Some("0.1.0"));
    assert_eq!(r.publisher.as_deref(), Some("Ada Example"));
    assert_eq!(r.licenses.len(), 1);
    assert_eq!(r.licenses[0].value, "Apache-2.0");
    assert_eq!(r.safety_risk_assessment.as_deref(), Some("low"));
    let d = decide(&r, b"x");
    assert_eq!(d.verdict.as_str(), "allow", "{:?}", failing(&d));
}

#[test]
fn spdx3_shared_example_has_two_ai_packages() {
    let Some(files) = shared_format_files() else {
        return;
    };
    let f = files
        .iter()
        .find(|p| p.to_string_lossy().contains("spdx3-"))
        .expect("the shared SPDX 3 example");
    let recs = parse_all(&std::fs::read(f).unwrap()).unwrap();
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["word-model", "line-model"]);
    for r in &recs {
        assert_eq!(r.licenses[0].value, "MIT");
        assert_eq!(r.publisher.as_deref(), Some("Harald Scheidl"));
        assert_eq!(r.datasets.len(), 1);
        assert_eq!(r.datasets[0].id, "IAMdataset");
        // The dataset's CustomLicense (non-commercial research only) is `other`.
        assert_eq!(r.datasets[0].license.as_deref(), Some("other"));
        assert_eq!(r.autonomy_type.as_deref(), Some("no"));
        assert_eq!(r.safety_risk_assessment.as_deref(), Some("low"));
        assert!(r.hyperparameters.len() >= 10);
        assert!(
            r.application_domains
                .contains(&"handwriting recognition".to_string())
        );
    }
}

// ---------------------------------------------------------------- MOF

fn openness(r: &ModelRecord) -> Vec<(&str, Option<&str>)> {
    r.openness
        .iter()
        .map(|c| (c.name.as_str(), c.license.as_deref()))
        .collect()
}

#[test]
fn mof_components_licences_by_content_type_and_sentinels() {
    let bytes = format_fixture("mof-acme-open.yml");
    let r = one("mof-acme-open.yml");
    assert_eq!(r.id, "acme/open-1b");
    assert_eq!(r.name.as_deref(), Some("acme-open-1b"));
    assert_eq!(r.revision.as_deref(), Some("1.2B"));
    assert_eq!(r.parameter_count, Some(1_200_000_000));
    assert_eq!(r.publisher.as_deref(), Some("Acme Labs"));
    let o = openness(&r);
    for expected in [
        ("model_architecture", Some("Apache-2.0")), // code: distribution licence
        ("model_parameters_final", Some("Apache-2.0")), // its own
        ("model_card", Some("CC-BY-4.0")),          // document licence
        ("evaluation_data", Some("CDLA-Permissive-2.0")), // data licence
        ("supporting_libraries", None),             // pending
        ("research_paper", None),                   // unlicensed
        ("datasets", Some("ODC-By-1.0")),
    ] {
        assert!(o.contains(&expected), "{expected:?} not in {o:?}");
    }
    assert_eq!(o.len(), 13);
    assert_eq!(r.licenses.len(), 1);
    assert_eq!(r.licenses[0].value, "Apache-2.0");
    assert_eq!(r.licenses[0].scope, LicenseScope::Weights);
    assert_eq!(
        r.licenses[0].source.as_deref(),
        Some("/release/components/1/license")
    );
    assert_eq!(
        r.licenses[0].license_link.as_deref(),
        Some("https://github.com/acme/open-1b/blob/main/LICENSE")
    );
    assert_eq!(r.datasets[0].id, "acme/open-corpus");
    assert_eq!(r.datasets[0].license.as_deref(), Some("ODC-By-1.0"));
    let d = decide(&r, &bytes);
    assert_eq!(d.verdict.as_str(), "allow", "{:?}", failing(&d));
    // Research paper unlicensed: not Class I; everything Class II needs is open.
    assert_eq!(d.openness.mof_class, 2);
    assert_eq!(d.openness.missing_for_next_class.len(), 3);
    let paper = d
        .openness
        .components
        .iter()
        .find(|c| c.name == "research_paper")
        .unwrap();
    assert!(paper.released && !paper.open);
}

#[test]
fn mof_shared_documents_map_release_licences() {
    let Some(files) = shared_format_files() else {
        return;
    };
    let rec = |name: &str| {
        let f = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(name))
            .unwrap_or_else(|| panic!("no {name}"));
        let bytes = std::fs::read(f).unwrap();
        let r = the_pack()
            .parse(&bytes, None, &ParseOptions::default())
            .unwrap();
        let d = decide(&r, &bytes);
        (r, d)
    };
    let (r, d) = rec("mof-Llama-3.1-8B.yml");
    assert_eq!(r.id, "meta-llama/Llama-3.1-8B");
    assert_eq!(r.publisher.as_deref(), Some("Meta"));
    assert_eq!(r.parameter_count, Some(8_000_000_000));
    assert_eq!(r.licenses[0].value, "Llama 3.1 Community License Agreement");
    assert_eq!(
        r.licenses[0].source.as_deref(),
        Some("/release/license/distribution")
    );
    assert_eq!(d.license.declared[0].id.as_deref(), Some("llama3.1"));
    let o = openness(&r);
    assert!(o.contains(&(
        "model_parameters_final",
        Some("Llama 3.1 Community License Agreement")
    )));
    assert!(o.contains(&("evaluation_data", None)), "unlicensed: {o:?}");
    assert_eq!(d.verdict.as_str(), "conditional");

    let (r, d) = rec("mof-Falcon-180B.yml");
    assert_eq!(r.licenses[0].value, "Falcon-180B TII License", "trimmed");
    assert_eq!(d.license.declared[0].id.as_deref(), Some("falcon-180b"));
    assert_eq!(r.datasets[0].id, "tiiuae/falcon-refinedweb");
    assert_eq!(r.datasets[0].license.as_deref(), Some("ODC-By-1.0"));

    // `license: {}`: the weights component's own licence; a bare `org/name` id.
    let (r, d) = rec("mof-Mistral-7B-v0.1.yml");
    assert_eq!(r.id, "mistralai/Mistral-7B-v0.1");
    assert_eq!(r.licenses[0].value, "Apache-2.0");
    assert_eq!(d.verdict.as_str(), "allow", "{:?}", failing(&d));

    // Weights `unlicensed` and no distribution licence: missing, review.
    let (r, d) = rec("mof-gemma-7b.yml");
    assert!(r.licenses.is_empty());
    assert!(o_has(&r, "model_parameters_final", None));
    assert_eq!(d.verdict.as_str(), "review");
    assert!(failing(&d).contains(&"license-missing"));

    let (r, _) = rec("mof-Qwen2.5-72B-Instruct.yml");
    assert_eq!(r.licenses[0].value, "Qwen License Agreement");
    assert_eq!(
        r.licenses[0].source.as_deref(),
        Some("/release/components/3/license")
    );
}

fn o_has(r: &ModelRecord, name: &str, license: Option<&str>) -> bool {
    openness(r).contains(&(name, license))
}

#[test]
fn mof_non_commercial_release_is_denied_commercially() {
    let r = one("mof-acme-research.yml");
    assert_eq!(r.licenses[0].value, "CC-BY-NC-4.0");
    assert_eq!(r.licenses[0].license_link, None, "an empty path is no link");
    assert!(o_has(&r, "model_architecture", Some("MIT")));
    assert!(o_has(&r, "model_card", Some("CC-BY-NC-4.0")));
    let d = decide(&r, b"x");
    assert_eq!(d.verdict.as_str(), "deny");
    assert!(failing(&d).contains(&"license-non-commercial"));
}

#[test]
fn mof_without_a_name_takes_the_model_ref() {
    let doc = b"framework:\n  name: MOF\nrelease:\n  name: ''\n  license:\n    distribution:\n      name: MIT\n  components:\n    - name: Model card\n";
    let opts = ParseOptions::with_model_ref("hf:acme/unnamed@v2");
    let r = the_pack().parse(doc, None, &opts).unwrap();
    assert_eq!(r.id, "acme/unnamed");
    assert_eq!(r.revision.as_deref(), Some("v2"));
    assert!(o_has(&r, "model_card", Some("MIT")));
}

// ---------------------------------------------------------------- detection

#[test]
fn detection_of_every_format_and_near_misses() {
    let ok = |doc: &str, f: Format| {
        assert_eq!(
            Format::detect(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc:?}: {e}")),
            f,
            "{doc:?}"
        )
    };
    ok("---\nlicense: mit\n---\n# Card\n", Format::HfCard);
    ok("# Just Markdown\n", Format::HfCard);
    ok(
        "<div align=\"center\"><img src=\"logo.png\"></div>\n\n# Model\n",
        Format::HfCard,
    );
    ok(
        "[![badge](https://x/b.svg)](https://x)\n# Model\n",
        Format::HfCard,
    );
    ok("{\"id\": \"acme/m\"}", Format::Native);
    ok("\u{feff}  {\"id\": \"acme/m\",}", Format::Native);
    ok(
        "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.6\"}",
        Format::Cyclonedx,
    );
    ok(
        "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.6\",}",
        Format::Cyclonedx,
    );
    ok(
        "{\"@context\": \"https://spdx.org/rdf/3.0.1/spdx-context.jsonld\", \"@graph\": []}",
        Format::Spdx3,
    );
    ok(
        "framework:\n  name: MOF\nrelease:\n  name: x\n",
        Format::Mof,
    );
    ok(
        "---\nframework:\n  name: MOF\nrelease:\n  name: x\n",
        Format::Mof,
    );
    // Front matter that happens to have such keys is a card.
    ok(
        "---\nframework: pytorch\nrelease: v1\n---\n# Card\n",
        Format::HfCard,
    );

    let refused = |doc: &[u8], what: &str| {
        let e = Format::detect(doc).unwrap_err();
        assert_eq!(e.format, Format::Auto);
        let text = e.to_string();
        assert!(text.contains(what), "{text}");
        for name in Format::NAMES {
            assert!(
                text.contains(&format!("({name}")),
                "{name} not listed: {text}"
            );
        }
    };
    refused(b"[1, 2]", "a JSON array");
    refused(b"[{\"id\": \"a\"},", "a JSON array");
    refused(b"\"just a string\"", "a JSON scalar");
    refused(b"{\"spdxVersion\": \"SPDX-2.3\"}", "SPDX 2.x JSON");
    refused(
        b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n",
        "SPDX 2.x tag-value",
    );
    refused(
        b"{\"@context\": \"https://schema.org\", \"@type\": \"Dataset\"}",
        "JSON-LD",
    );
    refused(b"<?xml version=\"1.0\"?><note/>", "an XML document");
    refused(
        b"<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:spdx=\"http://spdx.org/rdf/terms#\"/>",
        "SPDX RDF/XML",
    );
    refused(b"# card\n\0\0binary", "a NUL byte");
    refused(b"\xff\xfe# card", "binary data");
}

#[test]
fn detection_of_the_fixtures() {
    for f in format_fixtures() {
        let bytes = std::fs::read(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let got = Format::detect(&bytes);
        match name.as_str() {
            "malformed-cyclonedx-trailing-comma.json"
            | "malformed-cyclonedx-1.2.json"
            | "malformed-cyclonedx-no-model.json"
            | "malformed-cyclonedx-license-type.json" => {
                assert_eq!(got.unwrap(), Format::Cyclonedx, "{name}")
            }
            "malformed-spdx3-no-ai-package.json" | "malformed-spdx3-bad-domain.json" => {
                assert_eq!(got.unwrap(), Format::Spdx3, "{name}")
            }
            "malformed-mof-unknown-component.yml" | "malformed-mof-invalid-yaml.yml" => {
                assert_eq!(got.unwrap(), Format::Mof, "{name}")
            }
            "malformed-cyclonedx.xml"
            | "malformed-spdx2.json"
            | "malformed-spdx2.spdx"
            | "malformed-json-array.json"
            | "malformed-binary.png" => {
                assert_eq!(got.unwrap_err().format, Format::Auto, "{name}")
            }
            _ => assert_eq!(Some(got.unwrap()), expected_format(&f), "{name}"),
        }
    }
}

// ---------------------------------------------------------------- malformed

fn error_of(name: &str) -> IngestError {
    parse_all(&format_fixture(name))
        .err()
        .unwrap_or_else(|| panic!("{name} parsed"))
}

fn line_of(e: &IngestError) -> usize {
    match &e.location {
        Some(modelgate_engine::ingest::Location::LineColumn { line, .. }) => *line,
        other => panic!("{e}: no line, {other:?}"),
    }
}

fn pointer_of(e: &IngestError) -> &str {
    match &e.location {
        Some(modelgate_engine::ingest::Location::Pointer { pointer }) => pointer,
        other => panic!("{e}: no pointer, {other:?}"),
    }
}

#[test]
fn malformed_documents_say_what_and_where() {
    // The real-world case: a trailing comma in a BOM.
    let e = error_of("malformed-cyclonedx-trailing-comma.json");
    assert_eq!(e.format, Format::Cyclonedx);
    assert!(e.message.contains("trailing comma"), "{e}");
    assert_eq!(line_of(&e), 10);

    let e = error_of("malformed-cyclonedx-1.2.json");
    assert_eq!(e.format, Format::Cyclonedx);
    assert_eq!(pointer_of(&e), "/specVersion");
    assert!(
        e.message.contains("1.2") && e.message.contains("not supported"),
        "{e}"
    );
    assert!(e.to_string().contains("1.5"), "{e}");

    let e = error_of("malformed-cyclonedx-no-model.json");
    assert!(e.message.contains("no machine-learning model"), "{e}");
    assert!(e.message.contains("data, library"), "{e}");

    let e = error_of("malformed-cyclonedx-license-type.json");
    assert_eq!(pointer_of(&e), "/components/1/licenses/0/license/id");

    let e = error_of("malformed-spdx3-no-ai-package.json");
    assert_eq!(e.format, Format::Spdx3);
    assert_eq!(pointer_of(&e), "/@graph");
    assert!(e.message.contains("ai_AIPackage"), "{e}");

    let e = error_of("malformed-spdx3-bad-domain.json");
    assert_eq!(pointer_of(&e), "/@graph/0/ai_domain/0");

    let e = error_of("malformed-mof-unknown-component.yml");
    assert_eq!(e.format, Format::Mof);
    assert_eq!(pointer_of(&e), "/release/components/0/name");
    assert!(e.message.contains("Model paramters (Final)"), "{e}");

    let e = error_of("malformed-mof-invalid-yaml.yml");
    assert_eq!(e.format, Format::Mof);
    assert_eq!(line_of(&e), 7);

    for name in [
        "malformed-cyclonedx.xml",
        "malformed-spdx2.json",
        "malformed-spdx2.spdx",
        "malformed-json-array.json",
        "malformed-binary.png",
    ] {
        let e = error_of(name);
        assert_eq!(e.format, Format::Auto, "{name}");
        assert!(
            e.expected.as_deref().unwrap_or("").contains("cyclonedx"),
            "{name}: {e}"
        );
    }
}

#[test]
fn forcing_a_format_on_the_wrong_content_is_an_error_of_that_format() {
    let p = the_pack();
    let o = ParseOptions::default();
    let e = p
        .parse_all(
            &format_fixture("malformed-cyclonedx.xml"),
            Some(Format::Cyclonedx),
            &o,
        )
        .unwrap_err();
    assert_eq!(e.format, Format::Cyclonedx);
    assert!(e.message.contains("XML"), "{e}");
    let e = p
        .parse_all(b"{\"id\": \"acme/m\"}", Some(Format::Cyclonedx), &o)
        .unwrap_err();
    assert!(e.message.contains("no bomFormat"), "{e}");
    let e = p
        .parse_all(
            &format_fixture("cyclonedx-1.5-acme-bert.json"),
            Some(Format::Spdx3),
            &o,
        )
        .unwrap_err();
    assert_eq!(e.format, Format::Spdx3);
    assert!(e.message.contains("no @context"), "{e}");
    let e = p
        .parse_all(
            b"{\"@context\": \"https://spdx.org/rdf/2.3/ctx\", \"@graph\": []}",
            Some(Format::Spdx3),
            &o,
        )
        .unwrap_err();
    assert_eq!(pointer_of(&e), "/@context");
    let e = p
        .parse_all(b"- a\n- b\n", Some(Format::Mof), &o)
        .unwrap_err();
    assert_eq!(e.format, Format::Mof);
    let e = p
        .parse_all(
            b"framework: {}\nrelease: {name: x, components: 3}\n",
            Some(Format::Mof),
            &o,
        )
        .unwrap_err();
    assert_eq!(pointer_of(&e), "/release/components");
    // `auto` as a format is detection.
    let recs = p
        .parse_all(&format_fixture("mof-acme-open.yml"), Some(Format::Auto), &o)
        .unwrap();
    assert_eq!(recs[0].source_format, "mof");
}

#[test]
fn documents_over_the_size_limit_are_refused_before_parsing() {
    // Not even valid JSON: the size is what is reported, so nothing was parsed.
    let doc = format!("{{\"bomFormat\": \"CycloneDX\", {}", "x".repeat(4096));
    let opts = ParseOptions {
        max_bytes: 1024,
        ..ParseOptions::default()
    };
    for format in [None, Some(Format::Cyclonedx), Some(Format::Mof)] {
        let e = the_pack()
            .parse_all(doc.as_bytes(), format, &opts)
            .unwrap_err();
        assert!(e.message.contains(&format!("{} bytes", doc.len())), "{e}");
        assert!(e.message.contains("limit of 1024 bytes"), "{e}");
        assert_eq!(e.location, None);
    }
    // At the limit it is parsed (and here fails as JSON, with a line).
    let opts = ParseOptions {
        max_bytes: doc.len() as u64,
        ..ParseOptions::default()
    };
    let e = the_pack()
        .parse_all(doc.as_bytes(), None, &opts)
        .unwrap_err();
    assert!(e.message.contains("invalid JSON"), "{e}");
    assert_eq!(ParseOptions::default().max_bytes, 10 * 1024 * 1024);
}

/// A hostile SPDX document: an or-later operator that names itself, and licence sets
/// whose members fan out (each set lists the next one 50 times, 8 levels deep). Reading it
/// must end quickly, without overflowing the stack, and never allow: the unreadable
/// licence is kept as an unresolvable custom licence, so the model goes to review.
#[test]
fn spdx3_cyclic_and_exploding_licence_sets_fail_closed() {
    let mut graph = vec![
        serde_json::json!({"type": "CreationInfo", "@id": "_:c", "specVersion": "3.0.1", "created": "2025-01-10T00:00:00Z", "createdBy": ["urn:a"]}),
        serde_json::json!({"type": "ai_AIPackage", "spdxId": "urn:model", "creationInfo": "_:c", "name": "org/hostile"}),
        serde_json::json!({"type": "expandedlicensing_OrLaterOperator", "spdxId": "urn:loop", "creationInfo": "_:c", "expandedlicensing_subjectLicense": "urn:loop"}),
        serde_json::json!({"type": "Relationship", "spdxId": "urn:r1", "creationInfo": "_:c", "relationshipType": "hasDeclaredLicense", "from": "urn:model", "to": ["urn:loop", "urn:set0"]}),
    ];
    for level in 0..10 {
        let next = format!("urn:set{}", level + 1);
        graph.push(serde_json::json!({
            "type": "expandedlicensing_ConjunctiveLicenseSet",
            "spdxId": format!("urn:set{level}"),
            "creationInfo": "_:c",
            "expandedlicensing_member": vec![next; 50],
        }));
    }
    graph.push(serde_json::json!({"type": "expandedlicensing_ListedLicense", "spdxId": "urn:set10", "creationInfo": "_:c", "name": "MIT"}));
    let doc = serde_json::json!({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph});
    let bytes = serde_json::to_vec(&doc).unwrap();
    let recs = parse_all(&bytes).expect("parsed");
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert!(
        rec.licenses.iter().any(|l| l.value == "other"
            && l.license_name
                .as_deref()
                .is_some_and(|n| n.contains("cyclic"))),
        "{:?}",
        rec.licenses
    );
    assert!(rec.licenses.iter().all(|l| l.value.len() < 100_000));
    let d = decide(rec, &bytes);
    assert_ne!(
        d.verdict,
        modelgate_engine::Verdict::Allow,
        "{:?}",
        failing(&d)
    );
}

/// A schema violation that quotes a long value is reported short, with what is wrong
/// still at its end.
#[test]
fn native_schema_error_on_a_long_value_is_short_and_says_why() {
    let doc = serde_json::json!({
        "id": "a/b",
        "licenses": [{"value": "mit"}],
        "license_text": "x".repeat(5000),
    });
    let e = parse_all(doc.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("/license_text"), "{e}");
    assert!(e.contains("is longer than 4096 characters"), "{e}");
    assert!(e.len() < 600, "{} bytes: {e}", e.len());
}

/// Found by fuzzing (`fuzz/`): each parser's record must read back as a valid native
/// record. A native record with a blank id was accepted (every other format names such a
/// model `unnamed-model`); an SPDX 3 safety risk level outside the standard's four made a
/// record the native schema refuses.
#[test]
fn fuzz_findings_blank_native_id_and_unknown_spdx_risk_level() {
    let e = parse_all(br#"{"id": "   ", "licenses": []}"#).unwrap_err();
    assert!(e.to_string().contains("blank"), "{e}");
    let spdx = String::from_utf8(format_fixture("spdx3-ai-minimal-apache.json"))
        .unwrap()
        .replace("\"low\"", "\"catastrophic\"");
    assert_ne!(
        spdx,
        String::from_utf8(format_fixture("spdx3-ai-minimal-apache.json")).unwrap()
    );
    let r = parse_all(spdx.as_bytes()).unwrap().remove(0);
    assert_eq!(r.safety_risk_assessment, None);
    assert_round_trip(&r, "spdx3 with an unknown risk level");
}

/// Fuzz finding 5 (fuzz/README.md): an id over 512 characters, from a card's title or
/// `model_name`, a BOM's component name or a model reference, made a record that
/// `model.schema.json` refuses. Such a document is now refused, saying why; a reference
/// that names the model makes it fine, and 512 characters (of any width) are.
#[test]
fn fuzz_finding_ids_over_512_characters() {
    let long = "x".repeat(513);
    let title = format!("---\nlicense: mit\n---\n# {long}\n");
    let named = format!("---\nlicense: mit\nmodel_name: {long}\n---\n# Short\n");
    let bom = format!(
        r#"{{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{{"type": "machine-learning-model", "name": "{long}"}}]}}"#
    );
    for doc in [&title, &named, &bom] {
        let e = parse_all(doc.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("513 characters long"), "{e}");
    }
    let by_ref = ParseOptions::with_model_ref("acme/short");
    let r = the_pack()
        .parse_all(title.as_bytes(), Some(Format::HfCard), &by_ref)
        .unwrap()
        .remove(0);
    assert_eq!(r.id, "acme/short");
    assert_round_trip(&r, "a long title named by a reference");
    let e = the_pack()
        .parse_all(
            b"---\nlicense: mit\n---\n",
            Some(Format::HfCard),
            &ParseOptions::with_model_ref(long.as_str()),
        )
        .unwrap_err();
    assert!(e.to_string().contains("at most 512"), "{e}");
    let widest = "\u{1F600}".repeat(512);
    let card = format!("---\nlicense: mit\n---\n# {widest}\n");
    let r = parse_all(card.as_bytes()).unwrap().remove(0);
    assert_eq!(r.id.chars().count(), 512);
    assert_round_trip(&r, "a 512-character title");
}

/// Fuzz finding 9 (fuzz/README.md, found by a 10-second CI run): a `---` under a licence
/// heading line (not under licence text) cut the licence text by that heading's length,
/// which panicked when the cut fell inside a multi-byte character, and otherwise dropped
/// licence text. Only a line that was added to the licence text is taken back out when
/// it turns out to be a setext heading; a line after a code fence is never one.
#[test]
fn fuzz_finding_setext_underline_of_a_licence_heading() {
    for pad in 0..4 {
        let heading = format!("## Licence terms{}", "x".repeat(pad));
        let card = format!(
            "---\nlicense: other\n---\n# Model\n\n## License\nTerms: éééééé apply.\n{heading}\n---\n"
        );
        let r = parse_all(card.as_bytes()).unwrap().remove(0);
        assert_eq!(
            r.license_text.as_deref(),
            Some("Terms: éééééé apply."),
            "pad {pad}"
        );
    }
    let setext = "---\nlicense: other\n---\n# Model\n\nLicense\n=======\nTerms é.\nOther\n-----\nNot terms.\n";
    let r = parse_all(setext.as_bytes()).unwrap().remove(0);
    assert_eq!(r.license_text.as_deref(), Some("Terms é."));
    let fenced = "---\nlicense: other\n---\n# Model\n\n## License\nTerms.\n```\ncode\n```\n---\nMore terms.\n";
    let r = parse_all(fenced.as_bytes()).unwrap().remove(0);
    assert_eq!(r.license_text.as_deref(), Some("Terms.\nMore terms."));
}
