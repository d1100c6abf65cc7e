//! Property tests of the CycloneDX, SPDX 3 and MOF parsers and of format detection:
//! they never panic on arbitrary bytes or on arbitrary JSON-ish / YAML-ish documents,
//! and a model they read without a licence is never allowed.

use modelgate_engine::{Format, ParseOptions, UseContext};
use modelgate_tests::T0;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

fn pack() -> &'static modelgate_engine::Pack {
    static P: OnceLock<modelgate_engine::Pack> = OnceLock::new();
    P.get_or_init(modelgate_tests::pack)
}

const FORMATS: [Option<Format>; 6] = [
    None,
    Some(Format::Cyclonedx),
    Some(Format::Spdx3),
    Some(Format::Mof),
    Some(Format::Native),
    Some(Format::HfCard),
];

/// Keys the parsers look at, so that random documents reach the code that reads them.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "type", "name", "group", "version", "purl", "bom-ref", "licenses", "license", "id",
            "expression", "acknowledgement", "url", "modelCard", "modelParameters", "datasets",
            "ref", "components", "pedigree", "ancestors", "variants", "dependencies", "dependsOn",
            "considerations", "useCases", "technicalLimitations", "environmentalConsiderations",
            "energyConsumptions", "activityEnergyCost", "value", "unit", "quantitativeAnalysis",
            "performanceMetrics", "inputs", "outputs", "format", "data", "sensitiveData",
            "publisher", "supplier", "authors", "externalReferences", "task", "approach",
            "spdxId", "@id", "relationshipType", "from", "to", "suppliedBy", "originatedBy",
            "software_packageUrl", "software_downloadLocation", "software_packageVersion",
            "software_primaryPurpose", "ai_domain", "ai_metric", "ai_hyperparameter", "key",
            "ai_energyConsumption", "ai_trainingEnergyConsumption", "ai_energyQuantity",
            "ai_energyUnit", "ai_safetyRiskAssessment", "ai_autonomyType", "ai_typeOfModel",
            "simplelicensing_licenseExpression", "expandedlicensing_member",
            "dataset_hasSensitivePersonalInformation", "externalIdentifier", "identifier",
            "externalIdentifierType",
        ]).prop_map(str::to_string),
        1 => "[a-z@_]{1,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e30f64..1e30).prop_map(|f| json!(f)),
        "[ -~]{0,16}".prop_map(Value::String),
        prop::sample::select(vec![
            "machine-learning-model",
            "data",
            "library",
            "MIT",
            "Apache-2.0 OR LicenseRef-mrl",
            "llama3.1",
            "other",
            "concluded",
            "declared",
            "pkg:huggingface/a/b@c",
            "pkg:x",
            "pkg:huggingface/%zz/%",
            "https://huggingface.co/meta-llama/Llama-3.1-8B",
            "https://huggingface.co/datasets/x/y",
            "ai_AIPackage",
            "dataset_DatasetPackage",
            "Relationship",
            "hasDeclaredLicense",
            "hasConcludedLicense",
            "trainedOn",
            "descendantOf",
            "ancestorOf",
            "dependsOn",
            "urn:m",
            "urn:d",
            "urn:l",
            "yes",
            "no",
            "kilowattHour",
            "megajoule",
            "high",
            "serious",
            "simplelicensing_LicenseExpression",
            "expandedlicensing_CustomLicense",
            "expandedlicensing_ConjunctiveLicenseSet",
            "https://spdx.org/licenses/MIT",
        ])
        .prop_map(|s| json!(s)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

fn refs() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(str::to_string)
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

/// A CycloneDX licence entry: id, name or expression, maybe acknowledged.
fn cdx_license() -> impl Strategy<Value = Value> {
    let value = prop::sample::select(vec![
        "MIT",
        "Apache-2.0",
        "CC-BY-NC-4.0",
        "Llama 3.1 Community License Agreement",
        "LicenseRef-llama3.1",
        "Apache-2.0 OR LicenseRef-mrl",
        "MIT AND (",
        "",
        "other",
    ]);
    (
        0u8..3,
        value,
        opt(prop::sample::select(vec!["declared", "concluded", "x"])),
    )
        .prop_map(|(kind, v, ack)| {
            let mut e = match kind {
                0 => json!({"license": {"id": v}}),
                1 => json!({"license": {"name": v, "url": "https://l"}}),
                _ => json!({"expression": v}),
            };
            if let Some(a) = ack {
                e["acknowledgement"] = json!(a);
            }
            e
        })
}

/// A CycloneDX component with the fields the parser reads, nested up to two levels.
fn cdx_component() -> impl Strategy<Value = Value> {
    let leaf = (
        prop::sample::select(vec!["machine-learning-model", "data", "library"]),
        "[a-z]{1,6}",
        opt("[a-z]{1,4}"),
        opt(prop::sample::select(vec![
            "pkg:huggingface/acme/m@1", "pkg:huggingface/m", "pkg:generic/x/y@2", "pkg:", "pkg:a/%",
        ])),
        opt(refs()),
        opt(prop::collection::vec(cdx_license(), 0..3)),
        opt((
            opt(prop::sample::select(vec!["text-generation", "image-text-to-text", "x"])),
            prop::collection::vec(prop_oneof![refs().prop_map(|r| json!({"ref": r})), "[a-z]{0,5}".prop_map(|n| json!({"name": n, "sensitiveData": ["pii"]}))], 0..3),
            prop::collection::vec(prop::sample::select(vec!["string", "image/png", "audio", "byte[]"]), 0..3),
            any::<bool>(),
        )),
        prop::collection::vec(("[a-z]{1,4}", opt(refs())), 0..2),
        prop::collection::vec((opt(refs()), "[a-z]{0,4}", any::<bool>()), 0..2),
    )
        .prop_map(|(ty, name, group, purl, bref, licenses, card, ancestors, data)| {
            let mut c = json!({"type": ty, "name": name});
            if let Some(g) = group { c["group"] = json!(g); }
            if let Some(p) = purl { c["purl"] = json!(p); }
            if let Some(r) = bref { c["bom-ref"] = json!(r); }
            if let Some(l) = licenses { c["licenses"] = json!(l); }
            if let Some((task, datasets, formats, considerations)) = card {
                let mut mp = json!({"datasets": datasets, "inputs": formats.iter().map(|f| json!({"format": f})).collect::<Vec<_>>()});
                if let Some(t) = task { mp["task"] = json!(t); }
                let mut mc = json!({"modelParameters": mp, "quantitativeAnalysis": {"performanceMetrics": [{"type": "acc", "value": "0.5"}, {"type": "x", "value": 3}]}});
                if considerations {
                    mc["considerations"] = json!({"useCases": ["u"], "environmentalConsiderations": {"energyConsumptions": [{"activity": "training", "activityEnergyCost": {"value": 1.5, "unit": "kWh"}}]}});
                }
                c["modelCard"] = mc;
            }
            if !ancestors.is_empty() {
                c["pedigree"] = json!({"ancestors": ancestors.iter().map(|(n, r)| {
                    let mut a = json!({"type": "machine-learning-model", "name": n});
                    if let Some(r) = r { a["bom-ref"] = json!(r); }
                    a
                }).collect::<Vec<_>>()});
            }
            if !data.is_empty() {
                c["data"] = json!(data.iter().map(|(r, n, s)| {
                    let mut d = json!({"type": "dataset", "name": n});
                    if let Some(r) = r { d["bom-ref"] = json!(format!("{r}-data")); }
                    if *s { d["sensitiveData"] = json!(["x"]); }
                    d
                }).collect::<Vec<_>>());
            }
            c
        });
    leaf.prop_recursive(2, 12, 3, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut c, subs)| {
            c["components"] = json!(subs);
            c
        })
    })
}

/// An SPDX 3 element: a package, a licence or a relationship over a few shared ids.
fn spdx_element() -> impl Strategy<Value = Value> {
    let id = || {
        prop::sample::select(vec![
            "urn:a",
            "urn:b",
            "urn:c",
            "urn:d",
            "https://spdx.org/licenses/MIT",
            "urn:x:NoAssertionLicense",
        ])
    };
    prop_oneof![
        (id(), prop::sample::select(vec!["ai_AIPackage", "dataset_DatasetPackage", "software_Package"]), opt("[a-z]{0,5}"),
         opt(prop::sample::select(vec!["pkg:huggingface/o/n@r", "https://huggingface.co/o/n/tree/main", "NOASSERTION"])),
         opt(prop::sample::select(vec!["yes", "no", "noAssertion"])), opt(prop::sample::select(vec!["model", "data"])))
            .prop_map(|(id, ty, name, loc, presence, purpose)| {
                let mut e = json!({"type": ty, "spdxId": id, "ai_metric": [{"key": "k", "value": "1.5"}], "ai_energyConsumption": {"ai_trainingEnergyConsumption": [{"ai_energyQuantity": "3.6", "ai_energyUnit": "megajoule"}]}});
                if let Some(n) = name { e["name"] = json!(n); }
                if let Some(l) = loc { e["software_downloadLocation"] = json!(l); }
                if let Some(p) = presence {
                    e["ai_useSensitivePersonalInformation"] = json!(p);
                    e["dataset_hasSensitivePersonalInformation"] = json!(p);
                }
                if let Some(p) = purpose { e["software_primaryPurpose"] = json!(p); }
                e
            }),
        (id(), prop::sample::select(vec![
            "simplelicensing_LicenseExpression", "expandedlicensing_CustomLicense", "expandedlicensing_ListedLicense",
            "expandedlicensing_ConjunctiveLicenseSet", "expandedlicensing_DisjunctiveLicenseSet",
            "expandedlicensing_OrLaterOperator", "expandedlicensing_WithAdditionOperator", "expandedlicensing_NoneLicense",
         ]), prop::collection::vec(id(), 0..3), prop::sample::select(vec!["MIT", "LicenseRef-llama3.1", "(", ""]))
            .prop_map(|(id, ty, members, expr)| json!({
                "type": ty, "spdxId": id, "simplelicensing_licenseExpression": expr,
                "expandedlicensing_member": members, "expandedlicensing_subjectLicense": members,
                "expandedlicensing_subjectExtendableLicense": members,
            })),
        (prop::sample::select(vec!["hasDeclaredLicense", "hasConcludedLicense", "trainedOn", "testedOn", "descendantOf", "ancestorOf", "dependsOn"]),
         id(), prop::collection::vec(id(), 0..3))
            .prop_map(|(ty, from, to)| json!({"type": "Relationship", "relationshipType": ty, "from": from, "to": to})),
    ]
}

/// A record without any licence must not be allowed.
fn assert_fail_closed(bytes: &[u8], format: Option<Format>) -> Result<(), TestCaseError> {
    let Ok(recs) = pack().parse_all(bytes, format, &ParseOptions::default()) else {
        return Ok(());
    };
    prop_assert!(!recs.is_empty());
    for rec in &recs {
        prop_assert!(!rec.id.trim().is_empty());
        let d = modelgate_tests::evaluate(pack(), rec, &[], &UseContext::default(), T0, "p");
        if rec.licenses.is_empty() && rec.license_expression.is_none() {
            prop_assert!(
                matches!(d.verdict.as_str(), "review" | "deny"),
                "{} without a licence got {}",
                rec.id,
                d.verdict.as_str()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn detection_and_every_parser_never_panic_on_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Format::detect(&b);
        for f in FORMATS {
            let _ = pack().parse_all(&b, f, &ParseOptions::default());
        }
    }

    #[test]
    fn detection_never_panics_on_text(s in "[\\[\\]{}<>\"':,#\\-@ a-zA-Z0-9\\n\\t.?/]{0,200}") {
        let _ = Format::detect(s.as_bytes());
        let _ = pack().parse_all(s.as_bytes(), None, &ParseOptions::default());
    }

    #[test]
    fn cyclonedx_never_panics_and_fails_closed(
        spec in prop::sample::select(vec!["1.5", "1.6", "1.7", "1.2", "2.0"]),
        model in object(),
        others in prop::collection::vec(json_value(), 0..4),
        deps in json_value(),
        metadata in json_value(),
    ) {
        let mut m = Map::new();
        m.insert("type".into(), json!("machine-learning-model"));
        m.insert("name".into(), json!("m"));
        m.extend(model);
        let mut components = vec![Value::Object(m)];
        components.extend(others);
        let doc = json!({
            "bomFormat": "CycloneDX",
            "specVersion": spec,
            "metadata": metadata,
            "components": components,
            "dependencies": deps,
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_fail_closed(&bytes, None)?;
        assert_fail_closed(&bytes, Some(Format::Cyclonedx))?;
    }

    #[test]
    fn cyclonedx_models_without_licences_are_never_allowed(
        card in object(),
        n in 1usize..4,
    ) {
        let components: Vec<Value> = (0..n)
            .map(|i| json!({"type": "machine-learning-model", "name": format!("m{i}"), "modelCard": card.clone()}))
            .collect();
        let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components});
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Ok(recs) = pack().parse_all(&bytes, None, &ParseOptions::default()) {
            prop_assert_eq!(recs.len(), n);
            for r in &recs {
                prop_assert!(r.licenses.is_empty());
                let d = modelgate_tests::evaluate(pack(), r, &[], &UseContext::default(), T0, "p");
                prop_assert!(d.findings.iter().any(|f| f.rule_id == "license-missing"));
                prop_assert_ne!(d.verdict.as_str(), "allow");
            }
        }
    }

    #[test]
    fn cyclonedx_structured_boms_never_panic_and_fail_closed(
        spec in prop::sample::select(vec!["1.5", "1.6", "1.7"]),
        components in prop::collection::vec(cdx_component(), 0..5),
        subject in opt(cdx_component()),
        deps in prop::collection::vec((refs(), prop::collection::vec(refs(), 0..4)), 0..5),
    ) {
        let mut doc = json!({
            "bomFormat": "CycloneDX",
            "specVersion": spec,
            "components": components,
            "dependencies": deps.iter().map(|(r, on)| json!({"ref": r, "dependsOn": on})).collect::<Vec<_>>(),
        });
        if let Some(s) = subject {
            doc["metadata"] = json!({"component": s});
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_fail_closed(&bytes, None)?;
    }

    #[test]
    fn spdx3_structured_graphs_never_panic_and_fail_closed(
        elements in prop::collection::vec(spdx_element(), 0..12),
    ) {
        let mut graph = vec![json!({"type": "ai_AIPackage", "spdxId": "urn:a", "name": "m"})];
        graph.extend(elements);
        let doc = json!({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph});
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_fail_closed(&bytes, None)?;
    }

    #[test]
    fn spdx3_never_panics_and_fails_closed(
        package in object(),
        elements in prop::collection::vec(object(), 0..6),
        rels in prop::collection::vec(
            (prop::sample::select(vec!["hasDeclaredLicense", "hasConcludedLicense", "trainedOn", "descendantOf", "ancestorOf", "dependsOn", "testedOn"]),
             prop::sample::select(vec!["urn:m", "urn:d", "urn:l", "urn:x"]),
             prop::collection::vec(prop::sample::select(vec!["urn:m", "urn:d", "urn:l", "urn:x", "https://spdx.org/licenses/MIT", "NoAssertionLicense"]), 0..3)),
            0..6),
    ) {
        let mut p = Map::new();
        p.insert("type".into(), json!("ai_AIPackage"));
        p.insert("spdxId".into(), json!("urn:m"));
        p.extend(package);
        let mut graph = vec![Value::Object(p)];
        graph.extend(elements.into_iter().map(Value::Object));
        for (i, (ty, from, to)) in rels.into_iter().enumerate() {
            graph.push(json!({"type": "Relationship", "spdxId": format!("urn:r{i}"), "relationshipType": ty, "from": from, "to": to}));
        }
        let doc = json!({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph});
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_fail_closed(&bytes, None)?;
    }

    #[test]
    fn mof_never_panics_on_yaml_ish_text(
        lines in prop::collection::vec(
            (0usize..4,
             prop::sample::select(vec!["framework:", "release:", "name:", "license:", "components:", "- name:", "distribution:", "huggingface:", "version:", "producer:", "data:", "code:", "document:", "-", "  ", "license_path:", "component_path:"]),
             prop_oneof![Just(String::new()), "[ -~]{0,20}", prop::sample::select(vec!["'Model card'", "Datasets", "unlicensed", "pending", "''", "MIT", "{ }", "[]", "'Model parameters (Final)'", "https://huggingface.co/a/b", "&a", "*a", "|", ">"]).prop_map(str::to_string)]),
            0..24),
    ) {
        let mut doc = String::from("framework:\n  name: MOF\nrelease:\n");
        for (indent, k, v) in lines {
            doc.push_str(&" ".repeat(indent * 2));
            doc.push_str(k);
            doc.push(' ');
            doc.push_str(&v);
            doc.push('\n');
        }
        assert_fail_closed(doc.as_bytes(), None)?;
        assert_fail_closed(doc.as_bytes(), Some(Format::Mof))?;
    }

    #[test]
    fn mof_structured_releases_fail_closed(
        distribution in prop::option::of(prop::sample::select(vec!["MIT", "unlicensed", "", "pending", "Llama 3.1 Community License Agreement", "Some Licence"])),
        components in prop::collection::vec(
            (prop::sample::select(vec!["Model architecture", "Model parameters (Final)", "Model card", "Datasets", "Research paper", "Training code", "Evaluation data"]),
             prop::option::of(prop::sample::select(vec!["MIT", "unlicensed", "", "pending", "CC-BY-NC-4.0", "Apache-2.0"]))),
            0..8),
    ) {
        let comps: Vec<Value> = components
            .iter()
            .map(|(n, l)| match l {
                Some(l) => json!({"name": n, "license": l}),
                None => json!({"name": n}),
            })
            .collect();
        let mut release = json!({"name": "r", "huggingface": "https://huggingface.co/acme/r", "components": comps});
        if let Some(d) = distribution {
            release["license"] = json!({"distribution": {"name": d}});
        }
        let doc = json!({"framework": {"name": "MOF"}, "release": release});
        // JSON is YAML: the same document through the YAML parser.
        let bytes = serde_json::to_vec(&doc).unwrap();
        let rec = pack().parse(&bytes, Some(Format::Mof), &ParseOptions::default()).unwrap();
        let weights = components.iter().find(|(n, _)| *n == "Model parameters (Final)");
        let open_value = |l: &str| !(l.is_empty() || l == "unlicensed" || l == "pending");
        let expect_licence = match weights {
            Some((_, Some(l))) => open_value(l),
            _ => distribution.is_some_and(open_value),
        };
        prop_assert_eq!(!rec.licenses.is_empty(), expect_licence, "{:?}", rec.licenses);
        assert_fail_closed(&bytes, Some(Format::Mof))?;
    }
}
