//! The rule pack: the built-in one is complete and its tests pass; broken packs are
//! refused with the problem named.

use modelgate_engine::PackFile;
use modelgate_engine::facts::*;
use std::collections::BTreeSet;

fn builtin_files() -> Vec<PackFile> {
    modelgate::packdir::builtin_files()
}

fn with_replaced(path: &str, from: &str, to: &str) -> Vec<PackFile> {
    let mut files = builtin_files();
    let f = files
        .iter_mut()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"));
    let s = String::from_utf8(f.bytes.clone()).unwrap();
    assert!(s.contains(from), "{path} does not contain {from}");
    f.bytes = s.replacen(from, to, 1).into_bytes();
    files
}

#[test]
fn builtin_pack_is_complete() {
    let p = modelgate_tests::pack();
    assert!(p.catalog.len() >= 40, "{} licences", p.catalog.len());
    assert!(p.rules.len() >= 35, "{} rules", p.rules.len());
    assert!(p.tests.len() >= 60, "{} tests", p.tests.len());
    let cats: BTreeSet<String> = p
        .rules
        .iter()
        .map(|r| {
            serde_json::to_value(r.def.category)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for c in [
        "license",
        "use",
        "lineage",
        "safety",
        "openness",
        "regulatory",
        "metadata",
    ] {
        assert!(cats.contains(c), "no rule in category {c}");
    }
    for id in [
        "apache-2.0",
        "mit",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "gemma",
        "bigscience-bloom-rail-1.0",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "openrail++",
        "bigcode-openrail-m",
        "cc-by-nc-4.0",
        "deepseek",
        "mrl",
        "mnpl",
        "tongyi-qianwen",
        "falcon-180b",
    ] {
        assert!(p.catalog.get(id).is_some(), "catalog lacks {id}");
    }
    for m in [
        "meta-llama/Llama-2-7b-hf",
        "codellama/CodeLlama-7b-hf",
        "mistralai/Mistral-7B-v0.1",
        "tiiuae/falcon-7b",
        "bigscience/bloom",
        "CompVis/stable-diffusion-v1-4",
        "google/gemma-2b",
        "Qwen/Qwen2.5-7B",
        "microsoft/phi-2",
        "deepseek-ai/deepseek-llm-7b-base",
        "01-ai/Yi-34B",
        "bert-base-uncased",
        "gpt2",
        "EleutherAI/gpt-j-6b",
        "EleutherAI/pythia-6.9b",
        "t5-base",
    ] {
        assert!(p.models.get(m).is_some(), "base-model catalog lacks {m}");
    }
}

#[test]
fn builtin_pack_tests_pass() {
    let p = modelgate_tests::pack();
    let r = p.run_tests();
    let failed: Vec<String> = r
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} ({}): {}", c.name, c.file, c.failures.join("; ")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} pack test(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(r.passed >= 60);
}

#[test]
fn digest_is_stable_and_content_addressed() {
    let a = modelgate_engine::rules::pack::digest(&builtin_files());
    assert_eq!(a, modelgate_engine::rules::pack::digest(&builtin_files()));
    let changed = with_replaced("pack.yaml", "version: 0.3.0", "version: 0.3.1");
    assert_ne!(a, modelgate_engine::rules::pack::digest(&changed));
}

fn problems(files: &[PackFile]) -> String {
    match modelgate_engine::Pack::load(files) {
        Ok(_) => panic!("the broken pack loaded"),
        Err(e) => e
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.file, p.message))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn a_typo_in_a_rule_path_fails_the_pack_at_load() {
    let files = with_replaced(
        "policies/license.yaml",
        "license.status == 'missing'",
        "license.stauts == 'missing'",
    );
    let p = problems(&files);
    assert!(p.contains("policies/license.yaml"), "{p}");
    assert!(p.contains("`license` has no field `stauts`"), "{p}");
    // Inside a comprehension the element type is known too.
    let files = with_replaced(
        "policies/license.yaml",
        "t.commercial == 'prohibited' && !t.research_only)\n",
        "t.comercial == 'prohibited' && !t.research_only)\n",
    );
    let p = problems(&files);
    assert!(p.contains("no field `comercial`"), "{p}");
    // In a message template as well.
    let files = with_replaced(
        "policies/use.yaml",
        "{{ context.domicile }}",
        "{{ context.domicil }}",
    );
    assert!(problems(&files).contains("no field `domicil`"));
    // An unknown root variable.
    let files = with_replaced(
        "policies/safety.yaml",
        "model.safety_risk_assessment in",
        "modle.safety_risk_assessment in",
    );
    assert!(problems(&files).contains("unknown variable `modle`"));
}

#[test]
fn broken_packs_are_refused_with_the_problem_named() {
    let p = problems(&with_replaced(
        "policies/license.yaml",
        "fails_if: license.status == 'missing'",
        "fails_if: license.status == (",
    ));
    assert!(p.contains("does not compile"), "{p}");
    let p = problems(&with_replaced(
        "policies/license.yaml",
        "effect: review",
        "effect: maybe",
    ));
    assert!(p.contains("policies/license.yaml"), "{p}");
    let p = problems(&with_replaced(
        "pack.yaml",
        "version: 0.3.0",
        "version: one",
    ));
    assert!(p.contains("not a semantic version"), "{p}");
    let p = problems(&with_replaced("licenses/mit.yaml", "id: mit", "id: mit-x"));
    assert!(p.contains("does not match the file name"), "{p}");
    let p = problems(&with_replaced(
        "policies/license.yaml",
        "cite: commercial",
        "cite: no_such_clause",
    ));
    assert!(p.contains("no_such_clause"), "{p}");
    let p = problems(&with_replaced(
        "models/gpt2.yaml",
        "name_patterns: ['",
        "name_patterns: ['gpt-2[', '",
    ));
    assert!(
        p.contains("models/gpt2.yaml") && p.contains("does not compile"),
        "{p}"
    );
    // The engine owns the schemas: a pack may leave them out (policy data only), and it
    // compiles to the same rules; it may not change them.
    let mut files = builtin_files();
    files.retain(|f| !f.path.starts_with("schemas/"));
    let policy_only = modelgate_engine::Pack::load(&files).expect("a pack without schemas/");
    assert_eq!(policy_only.rules.len(), modelgate_tests::pack().rules.len());
    let p = problems(&with_replaced(
        "schemas/policy.schema.json",
        "\"additionalProperties\": false",
        "\"additionalProperties\": true",
    ));
    assert!(p.contains("schemas/policy.schema.json"), "{p}");
    let p = problems(&with_replaced(
        "schemas/facts.schema.json",
        "\"training_data\"\n",
        "\"training_data\", \"made_up\"\n",
    ));
    assert!(p.contains("schemas/facts.schema.json"), "{p}");
    let mut files = builtin_files();
    files.push(PackFile {
        path: "tests/zz-bad.yaml".into(),
        bytes:
            b"name: x\ninput: {content: '{}'}\nexpect: {verdict: allow, failing: [no-such-rule]}\n"
                .to_vec(),
    });
    assert!(problems(&files).contains("no-such-rule"));
}

/// A facts value with every list non-empty, to compare with the facts schema.
fn full_facts() -> Facts {
    let term = TermFacts {
        geo: vec![GeoFacts::default()],
        use_restrictions: vec![String::new()],
        attribution: vec![String::new()],
        termination: vec![String::new()],
        ..TermFacts::default()
    };
    Facts {
        model: ModelFacts {
            datasets: vec![DatasetFacts::default()],
            modalities_in: vec![String::new()],
            modalities_out: vec![String::new()],
            languages: vec![String::new()],
            tags: vec![String::new()],
            files: vec![String::new()],
            ..ModelFacts::default()
        },
        context: ContextFacts {
            regions: vec![String::new()],
            domains: vec![String::new()],
            ..ContextFacts::default()
        },
        license: LicenseFacts {
            declared: vec![DeclaredFacts::default()],
            ids: vec![String::new()],
            inherited_ids: vec![String::new()],
            terms: vec![term],
            ..LicenseFacts::default()
        },
        lineage: LineageFacts {
            ancestors: vec![AncestorFacts::default()],
            unresolved: vec![String::new()],
            more_permissive: vec![PermissiveFacts::default()],
            ..LineageFacts::default()
        },
        openness: OpennessFacts {
            released: vec![String::new()],
            open: vec![String::new()],
            missing_for_next_class: vec![String::new()],
            ..OpennessFacts::default()
        },
        now: NowFacts::default(),
    }
}

fn paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                paths(x, &p, out);
            }
        }
        serde_json::Value::Array(a) => {
            if let Some(x) = a.first() {
                paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn schema_paths(
    root: &serde_json::Value,
    s: &serde_json::Value,
    prefix: &str,
    out: &mut BTreeSet<String>,
) {
    let s = match s.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => root.pointer(r.trim_start_matches('#')).unwrap(),
        None => s,
    };
    if let Some(props) = s.get("properties").and_then(|p| p.as_object()) {
        for (k, x) in props {
            let p = format!("{prefix}.{k}");
            out.insert(p.clone());
            schema_paths(root, x, &p, out);
        }
    }
    if let Some(items) = s.get("items") {
        schema_paths(root, items, &format!("{prefix}[]"), out);
    }
}

#[test]
fn facts_schema_matches_the_facts_the_engine_produces() {
    let files = builtin_files();
    let schema: serde_json::Value = serde_json::from_slice(
        &files
            .iter()
            .find(|f| f.path == "schemas/facts.schema.json")
            .unwrap()
            .bytes,
    )
    .unwrap();
    let value = serde_json::to_value(full_facts()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "facts do not validate: {errors:?}");
    let (mut produced, mut described) = (BTreeSet::new(), BTreeSet::new());
    paths(&value, "", &mut produced);
    schema_paths(&schema, &schema, "", &mut described);
    assert_eq!(
        produced, described,
        "facts.schema.json and facts.rs disagree"
    );
}
