//! The `modelgate` command line: exit codes, output formats, errors.

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

fn doc(dir: &tempfile::TempDir, name: &str, content: &str) -> String {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    p.to_string_lossy().into_owned()
}

const APACHE: &str = "---\nlicense: apache-2.0\npipeline_tag: text-generation\n---\n# Acme 7B\n## Intended uses\n## Limitations\n## Evaluation\n## Training data\n";

#[test]
fn allow_exits_zero_and_text_starts_with_the_verdict() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(&d, "README.md", APACHE);
    let (code, out, _) = run(&["check", &p, "--model-ref", "hf:acme/acme-7b"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("Verdict: ALLOW"), "{out}");
    assert!(out.contains("acme/acme-7b"));
}

#[test]
fn deny_exits_one_review_exits_two() {
    let d = tempfile::tempdir().unwrap();
    let nc = doc(&d, "nc.md", "---\nlicense: cc-by-nc-4.0\n---\n# x\n");
    let (code, out, _) = run(&["check", &nc, "--output", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["findings"][0]["rule_id"], "license-non-commercial");
    assert_eq!(v["findings"][0]["citation"]["license"], "cc-by-nc-4.0");
    // Same licence, research purpose: not denied.
    let (code, _, _) = run(&["check", &nc, "--purpose", "research"]);
    assert_ne!(code, 1);
    let none = doc(&d, "none.md", "# no front matter at all\n");
    let (code, out, _) = run(&["check", &none]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("license-missing"));
}

#[test]
fn json_output_has_the_documented_fields() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(
        &d,
        "l.md",
        "---\nlicense: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\n---\n# acme\n",
    );
    let (code, out, _) = run(&[
        "check",
        &p,
        "--model-ref",
        "hf:acme/llama-ft",
        "--output",
        "json",
        "--distribute-weights",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in [
        "verdict",
        "findings",
        "obligations",
        "license",
        "openness",
        "pack",
        "engine_version",
        "input_digest",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["verdict"], "conditional");
    assert_eq!(v["license"]["declared"][0]["raw"], "llama3.1");
    assert_eq!(v["license"]["declared"][0]["id"], "llama3.1");
    assert_eq!(v["license"]["declared"][0]["resolution"], "exact");
    assert_eq!(v["license"]["chosen"], "llama3.1");
    assert_eq!(
        v["license"]["inherited"][0]["model"],
        "meta-llama/Llama-3.1-8B"
    );
    assert_eq!(v["license"]["inherited"][0]["license"], "llama3.1");
    assert_eq!(v["license"]["inherited"][0]["source"], "declared");
    let obligations: Vec<&str> = v["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        obligations.contains(&"obligation-notice"),
        "{obligations:?}"
    );
    assert!(obligations.contains(&"obligation-license-copy"));
    assert!(v["pack"]["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["input_digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn sarif_output_is_sarif_2_1_0() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(&d, "nc.md", "---\nlicense: cc-by-nc-4.0\n---\n# x\n");
    let (code, out, _) = run(&["check", &p, "--output", "sarif"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "modelgate");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
    }
    assert!(
        run["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "license-non-commercial" && r["level"] == "error")
    );
}

#[test]
fn malformed_input_exits_65_with_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(&d, "bad.md", "---\nlicense: [mit\ntags: x\n---\n");
    let (code, _, err) = run(&["check", &p]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("hf-card: line "), "{err}");
    let p = doc(&d, "open.md", "---\nlicense: mit\n# never closed\n");
    let (code, _, err) = run(&["check", &p]);
    assert_eq!(code, 65);
    assert!(err.contains("never closed"), "{err}");
    let p = doc(
        &d,
        "bad.json",
        "{\"id\": \"x\", \"licenses\": [{\"value\": 3}]}",
    );
    let (code, _, err) = run(&["check", &p]);
    assert_eq!(code, 65);
    assert!(err.contains("native: at /licenses/0/value"), "{err}");
    let p = doc(&d, "empty.md", " \n\n");
    let (code, _, err) = run(&["check", &p]);
    assert_eq!(code, 65);
    assert!(err.contains("the document is empty"), "{err}");
    let p = doc(&d, "trail.json", "{\"id\": \"x\",}");
    let (code, _, err) = run(&["check", &p]);
    assert_eq!(code, 65);
    assert!(err.contains("line 1, column"), "{err}");
}

#[test]
fn usage_errors_exit_64() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(&d, "ok.md", APACHE);
    assert_eq!(run(&["check", &p, "--purpose", "profit"]).0, 64);
    assert_eq!(run(&["check", &p, "--region", "XX"]).0, 64);
    assert_eq!(run(&["check", &p, "--domain", "knitting"]).0, 64);
    assert_eq!(run(&["check", &p, "--mau", "-5"]).0, 64);
    assert_eq!(run(&["frobnicate"]).0, 64);
    let ctx = doc(&d, "ctx.yaml", "purpose: commercial\nmonthly_users: 5\n");
    let (code, _, err) = run(&["check", &p, "--context", &ctx]);
    assert_eq!(code, 64);
    assert!(err.contains("monthly_users"), "{err}");
    assert_eq!(run(&["check", "/nonexistent/card.md"]).0, 66);
}

#[test]
fn context_file_and_flags_combine() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(
        &d,
        "m.json",
        r#"{"id": "acme/vision", "licenses": [{"value": "llama3.2"}], "modalities_in": ["text", "image"],
            "base_models": [{"id": "meta-llama/Llama-3.2-11B-Vision-Instruct", "relation": "finetune"}]}"#,
    );
    let ctx = doc(
        &d,
        "ctx.yaml",
        "purpose: commercial\ndomicile: de\nregions: [EU]\n",
    );
    let (code, out, _) = run(&["check", &p, "--context", &ctx, "--output", "json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("use-geo-eu-multimodal"));
    // A flag overrides the file: a US-domiciled company is not excluded.
    let (code, out, _) = run(&["check", &p, "--context", &ctx, "--domicile", "US"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let d = tempfile::tempdir().unwrap();
    let p = doc(&d, "big.md", &"x".repeat(2048));
    let (code, _, err) = run(&["check", &p, "--max-bytes", "1024"]);
    assert_eq!(code, 65);
    assert!(err.contains("over the limit"), "{err}");
}

#[test]
fn pack_lint_and_test_on_the_builtin_pack() {
    let (code, out, _) = run(&["pack", "lint"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("is valid"));
    let (code, out, _) = run(&["pack", "test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
}

/// The README's first command, on the example shipped in the repository.
#[test]
fn readme_example_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let card = root.join("examples/acme-chat-8b.md");
    let (code, out, err) = run(&["check", card.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("Verdict: CONDITIONAL"), "{out}");
    assert!(out.contains("Built with Llama"), "{out}");
    let ctx = root.join("examples/context-eu-saas.yaml");
    let (code, out, _) = run(&[
        "check",
        card.to_str().unwrap(),
        "--context",
        ctx.to_str().unwrap(),
        "--domain",
        "medical_advice",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("safety-high-risk-domain"), "{out}");
}

#[test]
fn pack_lint_lists_each_problem_of_a_broken_pack() {
    let d = tempfile::tempdir().unwrap();
    for f in modelgate::packdir::builtin_files() {
        let p = d.path().join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut bytes = f.bytes.clone();
        if f.path == "policies/license.yaml" {
            bytes = String::from_utf8(bytes)
                .unwrap()
                .replacen(
                    "license.status == 'missing'",
                    "license.stauts == 'missing'",
                    1,
                )
                .into_bytes();
        }
        std::fs::write(p, bytes).unwrap();
    }
    let (code, _, err) = run(&["pack", "lint", d.path().to_str().unwrap()]);
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("\n  policies/license.yaml: rule `license-missing`, fails_if"),
        "{err}"
    );
    assert_eq!(run(&["pack", "lint", "/nonexistent/pack"]).0, 66);
}

/// Every flag that has an environment variable, as `--help` shows it (clap's `env`), is in
/// the README's settings tables on the row of that variable, and every row of those tables
/// names a flag with that variable, or (`—`) a variable the service reads without a flag.
#[test]
fn flags_and_variables_match_the_readme() {
    use clap::CommandFactory;
    type Flags = std::collections::BTreeSet<(String, Option<String>)>;
    fn walk(cmd: &clap::Command, out: &mut Flags) {
        for a in cmd.get_arguments() {
            if let Some(long) = a.get_long() {
                let env = a.get_env().map(|e| e.to_string_lossy().into_owned());
                out.insert((format!("--{long}"), env));
            }
        }
        for s in cmd.get_subcommands() {
            walk(s, out);
        }
    }
    let mut all = Flags::new();
    walk(&modelgate::cli::Cli::command(), &mut all);
    let declared: std::collections::BTreeSet<(String, String)> = all
        .iter()
        .filter_map(|(f, e)| Some((f.clone(), e.clone()?)))
        .collect();
    assert!(declared.len() >= 9, "{declared:?}");

    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let is_var = |c: &str| {
        let c = c.trim();
        c.len() > 2
            && c.starts_with('`')
            && c.ends_with('`')
            && c[1..c.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_')
    };
    let mut documented = std::collections::BTreeSet::new();
    let mut without_flag = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with('|')) {
        let line = line.replace("\\|", "/");
        let cells: Vec<&str> = line.split('|').collect();
        let Some(i) = cells.iter().position(|c| is_var(c)) else {
            continue;
        };
        let var = cells[i].trim().trim_matches('`').to_string();
        let flags: Vec<String> = cells[i - 1]
            .split('`')
            .filter_map(|f| f.strip_prefix("--"))
            .map(|f| format!("--{}", f.split(' ').next().unwrap_or_default()))
            .collect();
        if flags.is_empty() {
            assert_eq!(cells[i - 1].trim(), "—", "{line}");
            without_flag.push(var);
        } else {
            for f in flags {
                documented.insert((f, var.clone()));
            }
        }
    }
    for (flag, var) in &declared {
        assert!(
            documented.contains(&(flag.clone(), var.clone())),
            "`{flag}` [env: {var}] is not on a README row with that variable"
        );
    }
    for (flag, var) in &documented {
        // A row may also name a flag without a variable (`--no-cache` by `--cache-dir`).
        assert!(
            declared.contains(&(flag.clone(), var.clone())) || all.contains(&(flag.clone(), None)),
            "the README pairs `{flag}` with {var}, the CLI does not"
        );
    }
    let sources: String = ["service/src/serve.rs", "service/src/hub.rs"]
        .iter()
        .map(|p| std::fs::read_to_string(format!("{}/../{p}", env!("CARGO_MANIFEST_DIR"))).unwrap())
        .collect();
    for var in &without_flag {
        assert!(
            !declared.iter().any(|(_, v)| v == var),
            "the README says {var} has no flag, but the CLI has one"
        );
        assert!(
            sources.contains(&format!("\"{var}\"")),
            "the README documents {var}, which the service does not read"
        );
    }
}
