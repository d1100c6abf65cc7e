//! Rule expressions: CEL source as rule packs carry it (`fails_if`, `applies_if`, evidence,
//! `{{ }}` parts of messages), compiled with the facts' paths checked
//! (`Pack::compile_expression`, as the pack loader does) and unchecked
//! (`compile_expression_unchecked`), then run over the facts of a few fixed evaluations.
//!
//! Differential: wherever the fast evaluator (`rules::fast`) gives a value, it is the value
//! the `cel` interpreter gives, of the same type, with the same evidence JSON and the same
//! rendering in messages (as `service/engine/tests/fastpath.rs` checks for the pack's own
//! expressions). Input containing `{{` is also read as a message template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::context::{Deployment, Modification, Purpose};
use modelgate_engine::facts::Facts;
use modelgate_engine::rules::celval::cel_to_json;
use modelgate_engine::rules::pack::Compiled;
use modelgate_engine::rules::template::Template;
use modelgate_engine::rules::text::render_value;
use modelgate_engine::{ParseOptions, UseContext};
use std::sync::OnceLock;

/// Longest expression tried: rule conditions are short, and CEL's parser recurses.
const MAX_LEN: usize = 2048;

/// Facts of a fine-tune of a catalog model with two licence alternatives, under two
/// contexts (one with numbers near the limits).
fn facts() -> &'static [Facts] {
    static F: OnceLock<Vec<Facts>> = OnceLock::new();
    F.get_or_init(|| {
        let p = modelgate_fuzz::pack();
        let rec = p
            .record_from_json(
                serde_json::json!({
                    "id": "acme/chat-8b", "name": "Chat 8B", "publisher": "acme",
                    "licenses": [{"value": "llama3.1 OR apache-2.0"}],
                    "base_models": [{"id": "meta-llama/Llama-3.1-8B", "relation": "finetune"}],
                    "datasets": [{"id": "acme/corpus", "license": "cc-by-nc-4.0"}],
                    "task": "text-generation", "modalities_in": ["text", "image"],
                    "modalities_out": ["text"], "languages": ["en", "fr"],
                    "parameter_count": 8000000000_i64, "training_compute_flops": 2.5e24,
                    "tags": ["chat", "llama"], "files": ["LICENSE", "USE_POLICY.md"],
                    "sections": {"intended_uses": true, "limitations": false},
                    "ai_act": {"general_purpose": true}
                }),
                &ParseOptions::default(),
            )
            .expect("the fixed record is valid");
        let contexts = [
            UseContext {
                regions: vec!["DE".into(), "US".into()],
                domains: vec!["medical_advice".into()],
                modification: Modification::Finetune,
                distribute_weights: true,
                ..UseContext::default()
            },
            UseContext {
                purpose: Purpose::Research,
                deployment: Deployment::Edge,
                monthly_active_users: i64::MAX / 2,
                annual_revenue_usd: i64::MAX,
                ..UseContext::default()
            },
        ];
        let now = modelgate_engine::time::from_unix(modelgate_fuzz::T0);
        contexts
            .iter()
            .flat_map(|c| p.facts(&rec, c, now))
            .collect()
    })
}

/// Strict equality of CEL values: same types (an int is not a double), same contents.
fn same(a: &cel::Value, b: &cel::Value) -> bool {
    use cel::Value as C;
    match (a, b) {
        (C::Null, C::Null) => true,
        (C::Bool(x), C::Bool(y)) => x == y,
        (C::Int(x), C::Int(y)) => x == y,
        (C::UInt(x), C::UInt(y)) => x == y,
        (C::Float(x), C::Float(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (C::String(x), C::String(y)) => x == y,
        (C::List(x), C::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        (C::Map(x), C::Map(y)) => {
            x.map.len() == y.map.len()
                && x.map
                    .iter()
                    .all(|(k, v)| y.map.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

/// Runs `c` over every fixed set of facts, both ways, and through every use the
/// evaluation makes of an expression.
fn run(c: &Compiled) {
    let p = modelgate_fuzz::pack();
    for facts in facts() {
        let scope = p.scope(facts.refs());
        let reference = c.run_cel(&scope);
        if let Ok(fast) = &c.fast
            && let Ok(v) = fast.eval(scope.facts())
        {
            let r = match &reference {
                Ok(r) if same(r, &v.to_cel()) => r,
                other => panic!("`{}`: fast gives {v:?}, cel gives {other:?}", c.source),
            };
            assert_eq!(
                cel_to_json(r),
                v.to_json(),
                "`{}`: the evidence differs",
                c.source
            );
            let (mut a, mut b) = (String::new(), String::new());
            render_value(r, &mut a);
            v.render(&mut b);
            assert_eq!(a, b, "`{}`: the rendering differs", c.source);
        }
        let _ = c.truth(&scope);
        let _ = c.json(&scope);
        let _ = c.strings(&scope);
        let mut out = String::new();
        c.render_into(&scope, &mut out);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_LEN {
        return;
    }
    let src = modelgate_fuzz::text(data);
    let p = modelgate_fuzz::pack();
    let checked = p.compile_expression(&src);
    if let Ok(c) = &checked {
        run(c);
    }
    if let Ok(c) = p.compile_expression_unchecked(&src) {
        run(&c);
    } else {
        assert!(
            checked.is_err(),
            "`{src}` compiles checked but not unchecked"
        );
    }
    if src.contains("{{")
        && let Some(t) = Template::parse(&src, |s| p.compile_expression(s).ok())
    {
        for facts in facts() {
            let _ = t.render_with(&p.scope(facts.refs()));
        }
    }
});
