//! Rendering a decision: text for people, JSON for machines, SARIF 2.1.0 for CI.

use modelgate_engine::Decision;
use modelgate_engine::Pack;
use modelgate_engine::decision::{Citation, Verdict};
use modelgate_engine::rules::eval::serde_plain;
use modelgate_engine::rules::{Effect, RuleResult};
use serde_json::json;

pub fn json(d: &Decision) -> String {
    serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")) + "\n"
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
    s.push_str(&format!(
        "Model:   {}{}\n",
        d.model.id,
        d.model
            .revision
            .as_deref()
            .map(|r| format!(" @ {r}"))
            .unwrap_or_default()
    ));
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

/// SARIF 2.1.0: one result per finding; every rule of the pack is described.
pub fn sarif(d: &Decision, pack: &Pack, input: &str) -> String {
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
    let results: Vec<serde_json::Value> = d
        .findings
        .iter()
        .map(|f| {
            let idx = pack.rules.iter().position(|r| r.def.id == f.rule_id).unwrap_or(0);
            let mut text = f.message.clone();
            if let Some(c) = &f.citation {
                text.push_str(&format!(" Clause: {}.", cite(c)));
            }
            text.push_str(&format!(" How to fix: {}", f.how_to_fix));
            json!({
                "ruleId": f.rule_id,
                "ruleIndex": idx,
                "level": level(f.effect, f.result),
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                "properties": {"verdict": d.verdict, "severity": serde_plain(&f.severity), "result": serde_plain(&f.result)}
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "modelgate",
                "version": d.engine_version,
                "semanticVersion": d.engine_version,
                "informationUri": "https://github.com/modelgate/modelgate",
                "rules": rules
            }},
            "artifacts": [{"location": {"uri": uri}}],
            "results": results,
            "properties": {"verdict": d.verdict, "model": d.model.id, "pack": d.pack, "input_digest": d.input_digest}
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
