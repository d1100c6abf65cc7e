//! Rendering a decision: text for people, JSON for machines, SARIF 2.1.0 for CI.

use modelgate_engine::Decision;
use modelgate_engine::Pack;
use modelgate_engine::decision::{Citation, Verdict};
use modelgate_engine::facts::build::serde_plain;
use modelgate_engine::rules::{Effect, RuleResult};
use serde_json::json;

pub fn json(d: &Decision) -> String {
    serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")) + "\n"
}

/// The overall verdict of several decisions: the worst (deny > review > conditional >
/// allow). No decision at all is not an allow: it counts as review.
pub fn worst(ds: &[Decision]) -> Verdict {
    ds.iter()
        .map(|d| d.verdict)
        .max()
        .unwrap_or(Verdict::Review)
}

/// Several decisions (a document describing several models):
/// `{"verdict": <worst>, "decisions": [<decision>...]}`.
pub fn json_many(ds: &[Decision]) -> String {
    let doc = json!({"verdict": worst(ds), "decisions": ds});
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")) + "\n"
}

fn model_label(d: &Decision) -> String {
    format!(
        "{}{}",
        d.model.id,
        d.model
            .revision
            .as_deref()
            .map(|r| format!(" @ {r}"))
            .unwrap_or_default()
    )
}

/// Several decisions as text: each one under a header naming its model, then the
/// overall verdict.
pub fn text_many(ds: &[Decision]) -> String {
    let mut s = String::new();
    for (i, d) in ds.iter().enumerate() {
        s.push_str(&format!(
            "=== Model {} of {}: {} ===\n",
            i + 1,
            ds.len(),
            model_label(d)
        ));
        s.push_str(&text(d));
        s.push('\n');
    }
    let overall = worst(ds);
    s.push_str(&format!(
        "Overall verdict: {} — the worst of {} decisions ({})\n",
        overall.as_str().to_ascii_uppercase(),
        ds.len(),
        ds.iter()
            .map(|d| format!("{}: {}", d.model.id, d.verdict.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s
}

fn cite(c: &Citation) -> String {
    let mut s = format!("{}, {}", c.source, c.section);
    if let Some(sum) = &c.summary {
        s.push_str(&format!(": {sum}"));
    }
    if let Some(u) = &c.url {
        s.push_str(&format!(" <{u}>"));
    }
    s
}

/// Plain text a lawyer can read: verdict first, then findings with clause and fix,
/// then obligations.
pub fn text(d: &Decision) -> String {
    let mut s = String::new();
    let verdict = match d.verdict {
        Verdict::Allow => "ALLOW — the intended use is permitted",
        Verdict::Conditional => "CONDITIONAL — permitted, with the obligations below",
        Verdict::Review => "REVIEW — a person must decide before use",
        Verdict::Deny => "DENY — the intended use is not permitted",
    };
    s.push_str(&format!("Verdict: {verdict}\n"));
    s.push_str(&format!("Model:   {}\n", model_label(d)));
    let declared: Vec<String> = d
        .license
        .declared
        .iter()
        .map(|l| match &l.id {
            Some(id) if id != &l.raw => format!("{} → {id} ({})", l.raw, l.resolution),
            _ => format!("{} ({})", l.raw, l.resolution),
        })
        .collect();
    s.push_str(&format!(
        "Licence: {}\n",
        if declared.is_empty() {
            "none declared".to_string()
        } else {
            declared.join("; ")
        }
    ));
    if let Some(c) = &d.license.chosen
        && !d.license.alternatives.is_empty()
    {
        s.push_str(&format!("         chosen alternative: {c}\n"));
    }
    for i in &d.license.inherited {
        s.push_str(&format!(
            "         inherits {} from {} ({}{})\n",
            i.license.as_deref().unwrap_or("unknown terms"),
            i.model,
            i.relation,
            if i.source == "inferred" {
                ", inferred"
            } else {
                ""
            }
        ));
    }
    let c = &d.context;
    s.push_str(&format!(
        "Use:     {} / {}, {} monthly users, revenue {} USD{}{}{}\n",
        c.purpose.as_str(),
        c.deployment.as_str(),
        c.monthly_active_users,
        c.annual_revenue_usd,
        c.domicile
            .as_deref()
            .map(|x| format!(", based in {x}"))
            .unwrap_or_default(),
        if c.regions.is_empty() {
            String::new()
        } else {
            format!(", deployed in {}", c.regions.join(" "))
        },
        if c.domains.is_empty() {
            String::new()
        } else {
            format!(", domains {}", c.domains.join(" "))
        },
    ));
    s.push('\n');
    if d.findings.is_empty() {
        s.push_str("Findings: none\n");
    } else {
        s.push_str(&format!("Findings ({}):\n", d.findings.len()));
        for (n, f) in d.findings.iter().enumerate() {
            let label = match (f.result, f.effect) {
                (RuleResult::Error, _) => "ERROR",
                (_, Effect::Deny) => "DENY",
                (_, Effect::Review) => "REVIEW",
                _ => "WARN",
            };
            s.push_str(&format!(
                "{:>3}. [{label}, {}] {} ({})\n",
                n + 1,
                serde_plain(&f.severity),
                f.title,
                f.rule_id
            ));
            s.push_str(&format!("     {}\n", f.message));
            if let Some(c) = &f.citation {
                s.push_str(&format!("     Clause: {}\n", cite(c)));
            }
            s.push_str(&format!("     How to fix: {}\n", f.how_to_fix));
        }
    }
    if !d.obligations.is_empty() {
        s.push_str(&format!("\nObligations ({}):\n", d.obligations.len()));
        for o in &d.obligations {
            s.push_str(&format!(
                "   - {} ({})\n     {}\n",
                o.title, o.rule_id, o.text
            ));
            if let Some(c) = &o.citation {
                s.push_str(&format!("     Clause: {}\n", cite(c)));
            }
        }
    }
    s.push_str(&format!(
        "\nOpenness: {}\nRule pack {} {} ({}), engine {}; input {}; evaluated {}\n",
        d.openness.mof_class_name,
        d.pack.name,
        d.pack.version,
        d.pack.digest,
        d.engine_version,
        d.input_digest,
        d.evaluated_at
    ));
    s
}

/// SARIF 2.1.0: one run; one result per finding of every decision; every rule of the
/// pack is described. With several decisions each result names its model.
pub fn sarif(ds: &[Decision], pack: &Pack, input: &str) -> String {
    let rules: Vec<serde_json::Value> = pack
        .rules
        .iter()
        .map(|r| {
            json!({
                "id": r.def.id,
                "name": r.def.id,
                "shortDescription": {"text": r.def.title},
                "fullDescription": {"text": r.def.description.clone().unwrap_or_else(|| r.def.title.clone())},
                "defaultConfiguration": {"level": level(r.def.effect, RuleResult::Fail)},
                "properties": {"category": serde_plain(&r.def.category), "effect": serde_plain(&r.def.effect), "severity": serde_plain(&r.def.severity)}
            })
        })
        .collect();
    let uri = if input == "-" {
        "stdin".to_string()
    } else {
        input.to_string()
    };
    let many = ds.len() > 1;
    let results: Vec<serde_json::Value> = ds
        .iter()
        .flat_map(|d| d.findings.iter().map(move |f| (d, f)))
        .map(|(d, f)| {
            let idx = pack.rules.iter().position(|r| r.def.id == f.rule_id).unwrap_or(0);
            let mut text = f.message.clone();
            if many {
                text = format!("{}: {text}", d.model.id);
            }
            if let Some(c) = &f.citation {
                text.push_str(&format!(" Clause: {}.", cite(c)));
            }
            text.push_str(&format!(" How to fix: {}", f.how_to_fix));
            let mut props = json!({"verdict": d.verdict, "severity": serde_plain(&f.severity), "result": serde_plain(&f.result)});
            if many {
                props["model"] = json!(d.model.id);
            }
            json!({
                "ruleId": f.rule_id,
                "ruleIndex": idx,
                "level": level(f.effect, f.result),
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                "properties": props
            })
        })
        .collect();
    let version = ds
        .first()
        .map(|d| d.engine_version.clone())
        .unwrap_or_else(|| modelgate_engine::ENGINE_VERSION.to_string());
    let mut props = json!({
        "verdict": worst(ds),
        "model": ds.first().map(|d| d.model.id.clone()).unwrap_or_default(),
        "pack": ds.first().map(|d| json!(d.pack)).unwrap_or(json!({"name": pack.manifest.name, "version": pack.manifest.version, "digest": pack.digest})),
        "input_digest": ds.first().map(|d| d.input_digest.clone()).unwrap_or_default()
    });
    if many {
        props["models"] = json!(ds
            .iter()
            .map(|d| json!({"id": d.model.id, "revision": d.model.revision, "verdict": d.verdict}))
            .collect::<Vec<_>>());
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "modelgate",
                "version": version,
                "semanticVersion": version,
                "informationUri": "https://github.com/modelgate/modelgate",
                "rules": rules
            }},
            "artifacts": [{"location": {"uri": uri}}],
            "results": results,
            "properties": props
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn level(effect: Effect, result: RuleResult) -> &'static str {
    match (result, effect) {
        (RuleResult::Error, _) => "error",
        (_, Effect::Deny) => "error",
        (_, Effect::Review) => "warning",
        (_, Effect::Warn) => "note",
        (_, Effect::Obligation) => "note",
    }
}
