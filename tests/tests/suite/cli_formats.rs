//! `modelgate check` on CycloneDX, SPDX 3 and MOF documents: `--format`, detection
//! errors, several models in one document (one decision each, worst verdict), size limit.

use modelgate_tests::format_fixtures_dir;
use std::io::Write;

fn run(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["modelgate"];
    argv.extend_from_slice(args);
    let code = modelgate::cli::run(argv, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn fixture(name: &str) -> String {
    format_fixtures_dir()
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn doc(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(content)
        .unwrap();
    p.to_string_lossy().into_owned()
}

const FORMAT_NAMES: &[&str] = &["hf-card", "native", "cyclonedx", "spdx3", "mof"];

#[test]
fn single_model_documents_keep_the_decision_json_shape() {
    for (name, verdict, code) in [
        ("cyclonedx-1.5-acme-bert.json", "allow", 0),
        ("cyclonedx-1.6-llama-finetune.json", "review", 2),
        ("spdx3-ai-minimal-apache.json", "allow", 0),
        ("mof-acme-research.yml", "deny", 1),
    ] {
        let (c, out, err) = run(&["check", &fixture(name), "--output", "json"]);
        assert_eq!(c, code, "{name}: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["verdict"], verdict, "{name}");
        assert!(
            v.get("decisions").is_none(),
            "{name}: one model, one decision"
        );
        for k in [
            "model",
            "findings",
            "obligations",
            "license",
            "openness",
            "pack",
        ] {
            assert!(v.get(k).is_some(), "{name}: missing {k}");
        }
    }
}

#[test]
fn format_flag_accepts_every_format_and_refuses_the_wrong_one() {
    let bom = fixture("cyclonedx-1.5-acme-bert.json");
    let (code, out, _) = run(&["check", &bom, "--format", "cyclonedx", "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["model"]["source_format"], "cyclonedx");
    let (code, _, _) = run(&["check", &fixture("mof-acme-open.yml"), "--format", "mof"]);
    assert_eq!(code, 0);
    let (code, _, _) = run(&[
        "check",
        &fixture("spdx3-ai-minimal-apache.json"),
        "--format",
        "spdx3",
    ]);
    assert_eq!(code, 0);
    // The BOM read as SPDX 3 or as a card's metadata does not pass as something else.
    let (code, _, err) = run(&["check", &bom, "--format", "spdx3"]);
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("spdx3: at /: the document has no @context"),
        "{err}"
    );
    let (code, _, err) = run(&["check", &bom, "--format", "native"]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("native: at /"), "{err}");
    // Unknown format names are usage errors listing the choices.
    let (code, _, err) = run(&["check", &bom, "--format", "spdx2"]);
    assert_eq!(code, 64);
    for n in FORMAT_NAMES {
        assert!(err.contains(n), "{n}: {err}");
    }
}

#[test]
fn undetectable_input_exits_65_and_lists_the_formats() {
    let d = tempfile::tempdir().unwrap();
    for (name, content, what) in [
        ("a.json", &b"[{\"id\": \"x\"}]"[..], "a JSON array"),
        (
            "bom.xml",
            &b"<?xml version=\"1.0\"?>\n<bom xmlns=\"http://cyclonedx.org/schema/bom/1.6\"/>"[..],
            "XML CycloneDX BOM",
        ),
        (
            "sbom.spdx.json",
            &b"{\"spdxVersion\": \"SPDX-2.3\", \"SPDXID\": \"SPDXRef-DOCUMENT\"}"[..],
            "SPDX 2.x",
        ),
        (
            "sbom.spdx",
            &b"SPDXVersion: SPDX-2.3\n"[..],
            "SPDX 2.x tag-value",
        ),
        ("w.bin", &b"\x00\x01\x02GGUF"[..], "binary"),
    ] {
        let p = doc(&d, name, content);
        let (code, out, err) = run(&["check", &p]);
        assert_eq!(code, 65, "{name}: {out}{err}");
        assert!(out.is_empty());
        assert!(err.contains("auto: "), "{name}: {err}");
        assert!(err.contains(what), "{name}: {err}");
        for n in FORMAT_NAMES {
            assert!(
                err.contains(&format!("({n}")),
                "{name}: {n} not listed: {err}"
            );
        }
    }
}

#[test]
fn trailing_comma_in_a_bom_is_reported_by_line() {
    let (code, _, err) = run(&["check", &fixture("malformed-cyclonedx-trailing-comma.json")]);
    assert_eq!(code, 65);
    assert!(
        err.contains("cyclonedx: line 10, column 5: invalid JSON: trailing comma"),
        "{err}"
    );
    let (code, _, err) = run(&["check", &fixture("malformed-cyclonedx-1.2.json")]);
    assert_eq!(code, 65);
    assert!(err.contains("cyclonedx: at /specVersion"), "{err}");
}

#[test]
fn several_models_one_decision_each_and_the_worst_verdict() {
    let bom = fixture("cyclonedx-1.7-multi-model.json");
    let (code, out, err) = run(&["check", &bom, "--output", "json"]);
    assert_eq!(code, 2, "worst is review: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "review");
    let ds = v["decisions"].as_array().unwrap();
    let got: Vec<(&str, &str)> = ds
        .iter()
        .map(|d| {
            (
                d["model"]["id"].as_str().unwrap(),
                d["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("acme/helpdesk-llama-8b", "conditional"),
            ("acme/helpdesk-reranker", "allow"),
            ("acme/helpdesk-router", "review")
        ]
    );
    // Each decision is a full decision.
    for d in ds {
        assert!(d["pack"]["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(d.get("findings").is_some() && d.get("license").is_some());
    }
    // Above Llama 3.1's 700M monthly users the fine-tune is denied: deny is the worst.
    let (code, out, _) = run(&["check", &bom, "--mau", "800000000", "--output", "json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["decisions"][0]["verdict"], "deny");

    // Text: a header per model, then the overall verdict.
    let (code, out, _) = run(&["check", &bom]);
    assert_eq!(code, 2);
    let h1 = out
        .find("=== Model 1 of 3: acme/helpdesk-llama-8b @ 0.9.0 ===")
        .unwrap();
    let h3 = out
        .find("=== Model 3 of 3: acme/helpdesk-router @ 2.1.0 ===")
        .unwrap();
    let overall = out.find("Overall verdict: REVIEW").unwrap();
    assert!(h1 < h3 && h3 < overall, "{out}");
    assert_eq!(out.matches("Verdict: ").count(), 3, "{out}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("acme/helpdesk-router: review"),
        "{out}"
    );

    // SARIF: one run with the results of every decision, each naming its model.
    let (code, out, _) = run(&["check", &bom, "--output", "sarif"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["properties"]["verdict"], "review");
    assert_eq!(runs[0]["properties"]["models"].as_array().unwrap().len(), 3);
    let results = runs[0]["results"].as_array().unwrap();
    let models: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r["properties"]["model"].as_str().unwrap())
        .collect();
    assert!(models.contains("acme/helpdesk-router"), "{models:?}");
    assert!(models.contains("acme/helpdesk-llama-8b"), "{models:?}");
    // The router's base is another model of the same BOM: it inherits that model's
    // Llama 3.1 terms (not an unresolved base) and declares a more permissive licence.
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "lineage-more-permissive-than-base"
                && r["properties"]["model"] == "acme/helpdesk-router"),
        "{results:?}"
    );
    assert!(
        !results
            .iter()
            .any(|r| r["ruleId"] == "lineage-unresolved-base"),
        "{results:?}"
    );
}

#[test]
fn shared_spdx_example_gives_two_decisions() {
    let Some(files) = modelgate_tests::shared_format_files() else {
        return;
    };
    let f = files
        .iter()
        .find(|p| p.to_string_lossy().contains("spdx3-"))
        .unwrap();
    let (code, out, _) = run(&["check", f.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 2, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decisions"].as_array().unwrap().len(), 2);
    // Research purpose: the dataset's non-commercial licence no longer matters.
    let (code, out, _) = run(&[
        "check",
        f.to_str().unwrap(),
        "--purpose",
        "research",
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_ne!(v["verdict"], "review", "{out}");
    assert_eq!(code, 0);
}

#[test]
fn oversized_documents_are_refused_in_every_format() {
    let d = tempfile::tempdir().unwrap();
    let big = std::fs::read(fixture("cyclonedx-1.6-llama-finetune.json")).unwrap();
    let p = doc(&d, "bom.json", &big);
    let limit = (big.len() - 1).to_string();
    for format in ["auto", "cyclonedx"] {
        let (code, out, err) = run(&["check", &p, "--format", format, "--max-bytes", &limit]);
        assert_eq!(code, 65, "{out}{err}");
        assert!(err.contains("over the limit"), "{err}");
        assert!(err.contains(&format!("{} bytes", big.len())), "{err}");
    }
    let exact = big.len().to_string();
    let (code, _, err) = run(&["check", &p, "--max-bytes", &exact]);
    assert_eq!(code, 2, "at the limit it is read: {err}");
}

#[test]
fn detection_does_not_depend_on_the_file_name() {
    let d = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("mof-acme-open.yml")).unwrap();
    let p = doc(&d, "no-extension", &bytes);
    let (code, out, _) = run(&["check", &p, "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["model"]["source_format"], "mof");
    assert_eq!(v["openness"]["mof_class"], 2);
}
