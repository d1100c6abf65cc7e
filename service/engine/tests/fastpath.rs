//! Differential tests: the fast evaluator (`rules::fast`) against the `cel` interpreter.
//!
//! Wherever the fast evaluator returns a value, it must be the value `cel` returns, of
//! the same type, and it must render the same way in evidence (JSON) and in messages.
//! Checked for every expression of every rule of the default pack over the facts of
//! every pack test case and every shared fixture card, under several use contexts; over
//! randomly generated facts; and for randomly generated expressions. Whole decisions
//! are also compared with the fast evaluator on and off.

use modelgate_engine::context::{Deployment, Modification, Purpose};
use modelgate_engine::facts::*;
use modelgate_engine::rules::celval::cel_to_json;
use modelgate_engine::rules::pack::{Compiled, Rule};
use modelgate_engine::rules::scope::Scope;
use modelgate_engine::rules::template::Part;
use modelgate_engine::rules::text::render_value;
use modelgate_engine::{Format, ModelRecord, Pack, ParseOptions, UseContext};
#[path = "support/corpus.rs"]
mod corpus;

use corpus::{T0, fixture_cards, model_ref_for};
use proptest::prelude::*;
use std::sync::OnceLock;

fn pack() -> &'static Pack {
    static P: OnceLock<Pack> = OnceLock::new();
    P.get_or_init(corpus::rules_pack)
}

/// The same pack with the fast evaluator off: everything on `cel`.
fn reference_pack() -> &'static Pack {
    static P: OnceLock<Pack> = OnceLock::new();
    P.get_or_init(|| {
        let mut p = corpus::rules_pack();
        p.set_fast_path(false);
        p
    })
}

/// Every compiled expression of a rule, labelled.
fn expressions(r: &Rule) -> Vec<(String, &Compiled)> {
    let id = &r.def.id;
    let mut v: Vec<(String, &Compiled)> = Vec::new();
    if let Some(c) = &r.applies_if {
        v.push((format!("{id}.applies_if"), c));
    }
    v.push((format!("{id}.fails_if"), &r.fails_if));
    if let Some(c) = &r.culprits {
        v.push((format!("{id}.culprits"), c));
    }
    for c in &r.evidence {
        v.push((format!("{id}.evidence"), c));
    }
    for (what, t) in [("message", &r.message), ("how_to_fix", &r.how_to_fix)] {
        for p in &t.parts {
            if let Part::Expr(c) = p {
                v.push((format!("{id}.{what}"), c));
            }
        }
    }
    v
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

#[derive(Debug, Default)]
struct Tally {
    /// The fast evaluator gave the value.
    fast: usize,
    /// It gave up, and `cel` answered.
    bailed: usize,
    /// The expression is outside the subset.
    unsupported: usize,
}

/// Runs `c` both ways over the scope's facts; `Err` describes a difference.
fn check(c: &Compiled, s: &Scope<'_>, label: &str, tally: &mut Tally) -> Result<(), String> {
    let reference = c.run_cel(s);
    let Ok(p) = &c.fast else {
        tally.unsupported += 1;
        return Ok(());
    };
    let Ok(v) = p.eval(s.facts()) else {
        tally.bailed += 1;
        return Ok(());
    };
    tally.fast += 1;
    let r = match &reference {
        Ok(r) if same(r, &v.to_cel()) => r,
        other => {
            return Err(format!(
                "{label}: `{}`: fast gives {v:?}, cel gives {other:?}",
                c.source
            ));
        }
    };
    if cel_to_json(r) != v.to_json() {
        return Err(format!(
            "{label}: `{}`: evidence differs: fast {} cel {}",
            c.source,
            v.to_json(),
            cel_to_json(r)
        ));
    }
    let (mut a, mut b) = (String::new(), String::new());
    render_value(r, &mut a);
    v.render(&mut b);
    if a != b {
        return Err(format!(
            "{label}: `{}`: rendering differs: fast {b:?} cel {a:?}",
            c.source
        ));
    }
    Ok(())
}

/// Checks every expression of the pack over `facts`.
fn check_pack(facts: &Facts, what: &str, tally: &mut Tally) -> Vec<String> {
    let p = pack();
    let scope = p.scope(facts.refs());
    let mut problems = Vec::new();
    for r in &p.rules {
        for (label, c) in expressions(r) {
            if let Err(e) = check(c, &scope, &label, tally) {
                problems.push(format!("{what}: {e}"));
            }
        }
    }
    problems
}

fn contexts() -> Vec<(&'static str, UseContext)> {
    vec![
        ("commercial saas", UseContext::default()),
        (
            "research on-prem, EU, fine-tuned and distributed",
            UseContext {
                purpose: Purpose::Research,
                deployment: Deployment::OnPrem,
                regions: vec!["DE".into(), "US".into()],
                domicile: Some("FR".into()),
                modification: Modification::Finetune,
                distribute_weights: true,
                ..UseContext::default()
            },
        ),
        (
            "internal edge, distilled, restricted domains",
            UseContext {
                purpose: Purpose::Internal,
                deployment: Deployment::Edge,
                monthly_active_users: 650_000_000,
                annual_revenue_usd: 2_000_000,
                domains: vec!["medical_advice".into(), "military_warfare".into()],
                modification: Modification::Distill,
                train_on_outputs: true,
                ..UseContext::default()
            },
        ),
        (
            "large commercial saas in the EU",
            UseContext {
                monthly_active_users: 900_000_000,
                annual_revenue_usd: 5_000_000_000,
                regions: vec!["EU".into()],
                domicile: Some("EU".into()),
                modification: Modification::Merge,
                distribute_weights: true,
                ..UseContext::default()
            },
        ),
    ]
}

/// A context with numbers at the limits.
fn extreme() -> UseContext {
    UseContext {
        monthly_active_users: i64::MAX / 2,
        annual_revenue_usd: i64::MAX,
        ..UseContext::default()
    }
}

fn parse_case(p: &Pack, t: &modelgate_engine::rules::def::TestCase) -> Option<ModelRecord> {
    let format = match t.input.format.as_str() {
        "auto" => None,
        f => Format::parse(f),
    };
    let opts = ParseOptions {
        model_ref: t.input.model_ref.clone(),
        ..ParseOptions::default()
    };
    p.parse(t.input.content.as_bytes(), format, &opts).ok()
}

fn card_records() -> Vec<(String, ModelRecord)> {
    let Some(cards) = fixture_cards() else {
        return Vec::new();
    };
    cards
        .iter()
        .map(|card| {
            let bytes = std::fs::read(card).unwrap();
            let opts = ParseOptions::with_model_ref(model_ref_for(card));
            let rec = pack()
                .parse(&bytes, None, &opts)
                .unwrap_or_else(|e| panic!("{}: {e}", card.display()));
            (card.display().to_string(), rec)
        })
        .collect()
}

/// Every expression the default pack compiles is within the fast subset, so no rule
/// of the default pack pays for the interpreter.
#[test]
fn every_expression_of_the_default_pack_is_in_the_fast_subset() {
    let mut outside = Vec::new();
    let mut n = 0;
    for r in &pack().rules {
        for (label, c) in expressions(r) {
            n += 1;
            if let Err(why) = &c.fast {
                outside.push(format!("{label}: `{}`: {why}", c.source));
            }
        }
    }
    assert!(n > 100, "only {n} expressions in the default pack?");
    assert!(
        outside.is_empty(),
        "outside the fast subset:\n{}",
        outside.join("\n")
    );
}

/// Expressions outside the subset are compiled for `cel` only, and still evaluate.
#[test]
fn expressions_outside_the_subset_fall_back_to_cel() {
    let p = pack();
    let facts = Facts {
        model: ModelFacts {
            id: "acme/m".into(),
            tags: vec!["a".into()],
            ..ModelFacts::default()
        },
        ..Facts::default()
    };
    let scope = p.scope(facts.refs());
    for (src, expected) in [
        ("{'a': model.id}['a'] == 'acme/m'", true),
        ("int('7') == 7", true),
        ("type(model.id) == string", true),
        ("model.tags.exists_one(t, t == 'a') && dyn(1) == 1", true),
    ] {
        let c = p.compile_expression(src).unwrap();
        assert!(c.fast.is_err(), "`{src}` was expected outside the subset");
        assert_eq!(c.truth(&scope), Ok(expected), "{src}");
    }
    assert!(scope.used_cel());
}

/// Real facts: the pack's own test cases and the shared fixture cards, several contexts.
#[test]
fn fast_path_matches_cel_over_pack_cases_and_fixture_cards() {
    let p = pack();
    let mut records: Vec<(String, ModelRecord, Option<UseContext>)> = p
        .tests
        .iter()
        .filter_map(|(file, t)| {
            parse_case(p, t).map(|r| (file.clone(), r, Some(t.context.clone())))
        })
        .collect();
    assert!(
        records.len() > 100,
        "only {} pack cases parsed",
        records.len()
    );
    records.extend(card_records().into_iter().map(|(n, r)| (n, r, None)));
    let mut tally = Tally::default();
    let mut problems = Vec::new();
    for (name, rec, own) in &records {
        let mut ctxs = contexts();
        if let Some(c) = own {
            ctxs.push(("the case's own context", c.clone()));
        }
        for (cname, ctx) in ctxs {
            for (i, facts) in p
                .facts(rec, &ctx, modelgate_engine::time::from_unix(T0))
                .iter()
                .enumerate()
            {
                problems.extend(check_pack(
                    facts,
                    &format!("{name} [{cname}, alternative {i}]"),
                    &mut tally,
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
    // On ordinary facts nothing errors, so the fast evaluator answers every time.
    assert_eq!(
        tally.bailed, 0,
        "the fast evaluator gave up on ordinary facts: {tally:?}"
    );
    assert_eq!(tally.unsupported, 0, "{tally:?}");
    assert!(tally.fast > 10_000, "{tally:?}");
}

/// A pack whose near-threshold rule always multiplies, so that a huge audience
/// overflows: CEL errors, the fast evaluator must give up and the interpreter's error
/// stand (the rule errors, so the model needs review), identically with the fast
/// evaluator on and off.
#[test]
fn overflow_falls_back_to_cel_errors() {
    let mut files = corpus::rules_files();
    let f = files
        .iter_mut()
        .find(|f| f.path == "policies/license.yaml")
        .unwrap();
    let s = String::from_utf8(f.bytes.clone()).unwrap();
    let from = "context.monthly_active_users <= t.mau_threshold && ";
    assert!(s.contains(from));
    f.bytes = s.replacen(from, "", 1).into_bytes();
    let fast = Pack::load(&files).unwrap();
    let mut slow = Pack::load(&files).unwrap();
    slow.set_fast_path(false);
    let rec = fast
        .record_from_json(
            serde_json::json!({"id": "acme/m", "licenses": [{"value": "llama3.2"}]}),
            &ParseOptions::default(),
        )
        .unwrap();
    let huge = UseContext {
        monthly_active_users: i64::MAX / 2,
        ..UseContext::default()
    };
    let mut tally = Tally::default();
    for facts in fast.facts(&rec, &huge, modelgate_engine::time::from_unix(T0)) {
        let scope = fast.scope(facts.refs());
        for r in &fast.rules {
            for (label, c) in expressions(r) {
                check(c, &scope, &label, &mut tally).unwrap();
            }
        }
    }
    assert!(
        tally.bailed > 0,
        "overflow never made the fast evaluator give up: {tally:?}"
    );
    let d = corpus::evaluate(&fast, &rec, &[], &huge, T0, "x");
    let f = d
        .findings
        .iter()
        .find(|f| f.rule_id == "license-mau-threshold-near")
        .expect("the near-threshold rule errors");
    assert_eq!(f.result, modelgate_engine::rules::RuleResult::Error);
    assert!(
        f.message.to_lowercase().contains("overflow"),
        "{}",
        f.message
    );
    assert_ne!(d.verdict.as_str(), "allow", "an error never allows");
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        serde_json::to_value(modelgate_engine::evaluate(
            &modelgate_engine::Evaluation::new(
                &slow,
                &rec,
                &huge,
                modelgate_engine::time::from_unix(T0),
                "x"
            )
        ))
        .unwrap()
    );
}

/// Whole decisions, fast evaluator on and off, are identical.
#[test]
fn decisions_are_identical_with_and_without_the_fast_path() {
    let (fast, slow) = (pack(), reference_pack());
    let mut inputs: Vec<(String, ModelRecord, Vec<UseContext>)> = fast
        .tests
        .iter()
        .filter_map(|(file, t)| {
            parse_case(fast, t).map(|r| (file.clone(), r, vec![t.context.clone(), extreme()]))
        })
        .collect();
    let ctxs: Vec<UseContext> = contexts()
        .into_iter()
        .map(|(_, c)| c)
        .chain([extreme()])
        .collect();
    inputs.extend(
        card_records()
            .into_iter()
            .map(|(n, r)| (n, r, ctxs.clone())),
    );
    let mut n = 0;
    for (name, rec, ctxs) in &inputs {
        for ctx in ctxs {
            let a = serde_json::to_value(modelgate_engine::evaluate(
                &modelgate_engine::Evaluation::new(
                    fast,
                    rec,
                    ctx,
                    modelgate_engine::time::from_unix(T0),
                    "d",
                ),
            ))
            .unwrap();
            let b = serde_json::to_value(modelgate_engine::evaluate(
                &modelgate_engine::Evaluation::new(
                    slow,
                    rec,
                    ctx,
                    modelgate_engine::time::from_unix(T0),
                    "d",
                ),
            ))
            .unwrap();
            assert_eq!(a, b, "{name} under {ctx:?}");
            n += 1;
        }
    }
    assert!(n > 200, "{n}");
}

// ---------------------------------------------------------------------------------
// Generated facts and generated expressions.

/// A small deterministic generator (splitmix64), seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn b(&mut self) -> bool {
        self.chance(50)
    }
    fn i(&mut self) -> i64 {
        match self.below(8) {
            0 => 0,
            1 => 1,
            2 => -1,
            3 => i64::MAX,
            4 => i64::MIN,
            5 => 700_000_000,
            6 => (self.next() % 2_000_000_000) as i64,
            _ => self.next() as i64,
        }
    }
    fn f(&mut self) -> f64 {
        match self.below(8) {
            0 => 0.0,
            1 => -0.0,
            2 => 1e25,
            3 => 2.5e25,
            4 => f64::NAN,
            5 => f64::INFINITY,
            6 => 12345.678,
            _ => f64::from_bits(self.next()),
        }
    }
    fn s(&mut self) -> String {
        self.pick(WORDS).to_string()
    }
    fn strs(&mut self) -> Vec<String> {
        (0..self.below(4)).map(|_| self.s()).collect()
    }
    fn vec<T>(&mut self, max: usize, mut f: impl FnMut(&mut Rng) -> T) -> Vec<T> {
        (0..self.below(max + 1)).map(|_| f(self)).collect()
    }
}

/// Values the rules compare against, and a few others (unicode, empty).
const WORDS: &[&str] = &[
    "",
    "EU",
    "US",
    "US-CA",
    "DE",
    "all",
    "multimodal",
    "domicile",
    "prohibited",
    "allowed",
    "conditional",
    "permission",
    "research_only",
    "no_other_llm",
    "derivative_if_distilled",
    "at_will",
    "release_date",
    "royalty",
    "terminates",
    "surveillance",
    "medical_advice",
    "military_warfare",
    "cc-by-nc-4.0",
    "apache-2.0",
    "llama3.2",
    "unknown",
    "other",
    "resolved",
    "custom",
    "missing",
    "hf-card",
    "open-source",
    "not-for-all-audiences",
    "serious",
    "inferred",
    "commercial",
    "research",
    "saas",
    "distill",
    "none",
    "model_parameters_final",
    "responsible-ai",
    "Llama 3.2 Community License",
    "Grüße ✓",
];

fn gen_term(r: &mut Rng) -> TermFacts {
    TermFacts {
        id: r.s(),
        name: r.s(),
        origin: r.pick(&["declared", "inherited"]).into(),
        via: r.s(),
        category: r.s(),
        restrictiveness: r.i(),
        commercial: r.s(),
        research_only: r.b(),
        non_production: r.b(),
        mau_threshold: r.i(),
        mau_at_release: r.b(),
        thresholds_commercial_only: r.b(),
        revenue_threshold_usd: r.i(),
        above_threshold: r.s(),
        aup_url: r.s(),
        aup_updatable: r.b(),
        use_restrictions: r.strs(),
        conditional_uses: r.strs(),
        attribution: r.strs(),
        credit: r.b(),
        notice: r.s(),
        license_copy: r.b(),
        mark_modifications: r.b(),
        flow_down: r.b(),
        name_prefix: r.s(),
        outputs_training: r.s(),
        share_alike: r.b(),
        no_derivatives: r.b(),
        hosting_restricted: r.b(),
        geo: r.vec(2, |r| GeoFacts {
            region: r.s(),
            scope: r.s(),
            basis: r.s(),
        }),
        termination: r.strs(),
        remote_restriction: r.b(),
        must_use_latest: r.b(),
        export_control: r.b(),
        governing_law: r.s(),
        osi_approved: r.b(),
        osaid_compatible: r.b(),
        mof_open: r.b(),
        verified: r.b(),
        version_date: r.s(),
    }
}

fn gen_facts(r: &mut Rng) -> Facts {
    Facts {
        model: ModelFacts {
            id: r.s(),
            short_name: r.s(),
            name: r.s(),
            revision: r.s(),
            publisher: r.s(),
            source_format: r.s(),
            task: r.s(),
            modalities_in: r.strs(),
            modalities_out: r.strs(),
            multimodal: r.b(),
            languages: r.strs(),
            library: r.s(),
            architecture: r.s(),
            parameter_count: r.i(),
            training_compute_flops: r.f(),
            gated: r.b(),
            eu_disallowed: r.b(),
            tags: r.strs(),
            sections: SectionFacts {
                intended_uses: r.b(),
                out_of_scope_uses: r.b(),
                limitations: r.b(),
                bias_risks: r.b(),
                evaluation: r.b(),
                environmental_impact: r.b(),
                training_data: r.b(),
            },
            datasets: r.vec(3, |r| DatasetFacts {
                id: r.s(),
                license: r.s(),
                sensitive_data: r.b(),
            }),
            eval_results: r.i(),
            eval_results_unverified: r.i(),
            safety_risk_assessment: r.s(),
            ai_act: AiActFacts {
                general_purpose: r.b(),
                training_summary_url: r.s(),
                copyright_policy_url: r.s(),
                provider_in_eu: r.b(),
                provider_in_eu_known: r.b(),
            },
            files: r.strs(),
            declares_license: r.b(),
            has_license_text: r.b(),
        },
        context: ContextFacts {
            purpose: r.s(),
            deployment: r.s(),
            monthly_active_users: r.i(),
            annual_revenue_usd: r.i(),
            regions: r.strs(),
            domicile: r.s(),
            domains: r.strs(),
            modification: r.s(),
            distribute_weights: r.b(),
            train_on_outputs: r.b(),
            eu_domiciled: r.b(),
            deployed_in_eu: r.b(),
            commercial: r.b(),
            commercial_advantage: r.b(),
            hosted: r.b(),
            modifies: r.b(),
        },
        license: LicenseFacts {
            status: r.s(),
            declared: r.vec(2, |r| DeclaredFacts {
                raw: r.s(),
                id: r.s(),
                resolution: r.s(),
                source: r.s(),
                deprecated_spdx: r.b(),
                evidence: r.s(),
            }),
            conflicting: r.b(),
            chosen: r.s(),
            alternatives: r.i(),
            ids: r.strs(),
            inherited_ids: r.strs(),
            terms: r.vec(3, gen_term),
        },
        lineage: LineageFacts {
            derivative: r.b(),
            inferred: r.b(),
            ancestors: r.vec(2, |r| AncestorFacts {
                model: r.s(),
                license: r.s(),
                relation: r.s(),
                source: r.s(),
                depth: r.i(),
                known: r.b(),
                multimodal: r.b(),
            }),
            unresolved: r.strs(),
            self_known: r.b(),
            relicensed: r.b(),
            cycle: r.b(),
            more_permissive: r.vec(2, |r| PermissiveFacts {
                ancestor: r.s(),
                ancestor_license: r.s(),
                declared: r.s(),
            }),
            multimodal_licenses: r.strs(),
            catalog_licenses: r.strs(),
        },
        openness: OpennessFacts {
            mof_class: r.i(),
            mof_class_name: r.s(),
            released: r.strs(),
            open: r.strs(),
            missing_for_next_class: r.strs(),
            osi_open: r.b(),
            osaid_compatible: r.b(),
        },
        now: NowFacts {
            unix: r.i(),
            date: r.s(),
        },
    }
}

/// The kinds of values expressions are generated for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum K {
    S,
    I,
    D,
    B,
    SL,
    OL(&'static str),
    O(&'static str),
}

/// The fields of each facts struct (by its Rust name), by kind: from the declarations
/// of the facts (`facts::Shaped`), so that every field is reached and none is listed twice.
fn fields(ty: &str) -> &'static [(&'static str, K)] {
    static TABLE: OnceLock<std::collections::HashMap<&'static str, Vec<(&'static str, K)>>> =
        OnceLock::new();
    fn kind(s: &Shape) -> Option<K> {
        Some(match s {
            Shape::Str => K::S,
            Shape::Int => K::I,
            Shape::Float => K::D,
            Shape::Bool => K::B,
            Shape::List(item) => match &**item {
                Shape::Str => K::SL,
                Shape::Object { name, .. } => K::OL(name),
                _ => return None,
            },
            Shape::Object { name, .. } => K::O(name),
        })
    }
    fn add(s: &Shape, table: &mut std::collections::HashMap<&'static str, Vec<(&'static str, K)>>) {
        match s {
            Shape::List(item) => add(item, table),
            Shape::Object { name, fields } => {
                if table.contains_key(name) {
                    return;
                }
                let own = fields
                    .iter()
                    .filter_map(|f| Some((f.name, kind(&f.shape)?)))
                    .collect();
                table.insert(name, own);
                for f in fields {
                    add(&f.shape, table);
                }
            }
            _ => {}
        }
    }
    TABLE
        .get_or_init(|| {
            let mut t = std::collections::HashMap::new();
            add(&Facts::shape(), &mut t);
            t
        })
        .get(ty)
        .map_or(&[], Vec::as_slice)
}

/// The variables: the fields of the facts root.
fn roots() -> &'static [(&'static str, K)] {
    fields("Facts")
}

/// Generates CEL source of (mostly) the wanted kind; now and then a wrong kind, so that
/// type errors are exercised too.
struct Gen<'r> {
    r: &'r mut Rng,
    /// Comprehension variables in scope: name and kind of element.
    vars: Vec<(String, K)>,
}

impl Gen<'_> {
    /// Every path of kind `k` from roots and variables, up to two selections deep.
    fn paths(&self, k: K) -> Vec<String> {
        let mut out = Vec::new();
        let mut starts: Vec<(String, K)> =
            roots().iter().map(|(r, k)| (r.to_string(), *k)).collect();
        starts.extend(self.vars.iter().cloned());
        for (base, bk) in starts {
            if bk == k {
                out.push(base.clone());
            }
            if let K::O(t) = bk {
                for (f, fk) in fields(t) {
                    if *fk == k {
                        out.push(format!("{base}.{f}"));
                    }
                    if let K::O(t2) = fk {
                        for (f2, fk2) in fields(t2) {
                            if *fk2 == k {
                                out.push(format!("{base}.{f}.{f2}"));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn path_or(&mut self, k: K, lit: impl FnOnce(&mut Rng) -> String) -> String {
        let ps = self.paths(k);
        if ps.is_empty() || self.r.chance(25) {
            lit(self.r)
        } else {
            ps[self.r.below(ps.len())].clone()
        }
    }

    fn any_kind(&mut self) -> K {
        [K::S, K::I, K::D, K::B, K::SL][self.r.below(5)]
    }

    fn str_lit(r: &mut Rng) -> String {
        format!("'{}'", r.pick(WORDS))
    }

    fn int_lit(r: &mut Rng) -> String {
        match r.below(5) {
            0 => "9223372036854775807".into(),
            1 => "0".into(),
            2 => "3u".into(),
            _ => (r.next() % 1000).to_string(),
        }
    }

    /// A list-valued expression whose elements have kind `elem`, with a variable name
    /// for iterating it.
    fn list_of(&mut self, depth: u32) -> (String, K) {
        let mut options: Vec<(String, K)> = Vec::new();
        // Lists of facts structs under the variables (license.terms, model.datasets, …).
        for (root, rk) in roots() {
            if let K::O(t) = rk {
                for (f, fk) in fields(t) {
                    if let K::OL(item) = fk {
                        options.push((format!("{root}.{f}"), K::O(item)));
                    }
                }
            }
        }
        for p in self.paths(K::SL) {
            options.push((p, K::S));
        }
        for (v, k) in self.vars.clone() {
            if let K::O(t) = k {
                for (f, fk) in fields(t) {
                    match fk {
                        K::OL(t2) => options.push((format!("{v}.{f}"), K::O(t2))),
                        K::SL => options.push((format!("{v}.{f}"), K::S)),
                        _ => {}
                    }
                }
            }
        }
        options.push(("['EU', 'US', 'DE']".into(), K::S));
        options.push(("[1, 2, 3]".into(), K::I));
        let (src, k) = options[self.r.below(options.len())].clone();
        if depth > 0 && self.r.chance(20) {
            let v = format!("x{}", self.vars.len());
            self.vars.push((v.clone(), k));
            let p = self.expr(K::B, depth - 1);
            self.vars.pop();
            return (format!("{src}.filter({v}, {p})"), k);
        }
        (src, k)
    }

    fn expr(&mut self, k: K, depth: u32) -> String {
        // Occasionally the wrong kind: errors must make the fast evaluator give up.
        let k = if self.r.chance(4) { self.any_kind() } else { k };
        if depth == 0 || self.r.chance(25) {
            return match k {
                K::S => self.path_or(K::S, Self::str_lit),
                K::I => self.path_or(K::I, Self::int_lit),
                K::D => self.path_or(K::D, |r| r.pick(&["1e25", "0.5", "-0.0", "1.0"]).into()),
                K::B => self.path_or(K::B, |r| r.pick(&["true", "false"]).into()),
                K::SL => self.path_or(K::SL, |r| {
                    r.pick(&["['EU', 'US']", "[]", "['a', 1]"]).into()
                }),
                _ => "null".into(),
            };
        }
        let d = depth - 1;
        match k {
            K::B => match self.r.below(14) {
                0 => format!("{} && {}", self.expr(K::B, d), self.expr(K::B, d)),
                1 => format!("({} || {})", self.expr(K::B, d), self.expr(K::B, d)),
                2 => format!("!({})", self.expr(K::B, d)),
                3 => {
                    let kk = self.any_kind();
                    let op = self.r.pick(&["==", "!="]);
                    format!("{} {op} {}", self.expr(kk, d), self.expr(kk, d))
                }
                4 => {
                    let kk = [K::I, K::D, K::S][self.r.below(3)];
                    let op = self.r.pick(&["<", "<=", ">", ">="]);
                    format!("{} {op} {}", self.expr(kk, d), self.expr(kk, d))
                }
                5 => format!("{} in {}", self.expr(K::S, d), self.expr(K::SL, d)),
                6 => format!("{} in ['EU', 'US', 'all', 1]", self.expr(K::S, d)),
                7 | 8 => {
                    let (src, ek) = self.list_of(d);
                    let v = format!("x{}", self.vars.len());
                    self.vars.push((v.clone(), ek));
                    let p = self.expr(K::B, d);
                    self.vars.pop();
                    let m = self.r.pick(&["exists", "all", "exists_one"]);
                    format!("{src}.{m}({v}, {p})")
                }
                9 => {
                    let f = self.r.pick(&["startsWith", "endsWith", "contains"]);
                    format!("{}.{f}({})", self.expr(K::S, d), self.expr(K::S, d))
                }
                10 => format!(
                    "({} ? {} : {})",
                    self.expr(K::B, d),
                    self.expr(K::B, d),
                    self.expr(K::B, d)
                ),
                11 => {
                    let f = self.r.pick(&[
                        "has(model.id)",
                        "has(license.terms)",
                        "has(context.nope)",
                        "'purpose' in context",
                        "1 in context",
                    ]);
                    f.to_string()
                }
                12 => format!("{} > {}", self.expr(K::D, d), self.expr(K::I, d)),
                _ => format!(
                    "size({}) {} {}",
                    self.expr(K::SL, d),
                    self.r.pick(&["==", ">"]),
                    self.r.below(3)
                ),
            },
            K::I => match self.r.below(6) {
                0 => {
                    let op = self.r.pick(&["+", "-", "*", "/", "%"]);
                    format!("({} {op} {})", self.expr(K::I, d), self.expr(K::I, d))
                }
                1 => format!("size({})", self.expr(K::S, d)),
                2 => format!("{}.size()", self.expr(K::SL, d)),
                3 => format!("-({})", self.expr(K::I, d)),
                4 => format!(
                    "({} ? {} : {})",
                    self.expr(K::B, d),
                    self.expr(K::I, d),
                    self.expr(K::I, d)
                ),
                _ => format!("[{}, 2][0]", self.expr(K::I, d)),
            },
            K::D => match self.r.below(3) {
                0 => {
                    let op = self.r.pick(&["+", "-", "*", "/"]);
                    format!("({} {op} {})", self.expr(K::D, d), self.expr(K::D, d))
                }
                1 => format!("-({})", self.expr(K::D, d)),
                _ => self.path_or(K::D, |_| "2.5".into()),
            },
            K::S => match self.r.below(5) {
                0 => format!("{} + {}", self.expr(K::S, d), self.expr(K::S, d)),
                1 => {
                    let kk = self.any_kind();
                    format!("string({})", self.expr(kk, d))
                }
                2 => format!(
                    "({} ? {} : {})",
                    self.expr(K::B, d),
                    self.expr(K::S, d),
                    self.expr(K::S, d)
                ),
                3 => format!("{}[{}]", self.expr(K::SL, d), self.r.below(3)),
                _ => format!(
                    "context['{}']",
                    self.r.pick(&["purpose", "domicile", "nope"])
                ),
            },
            K::SL => match self.r.below(5) {
                0 => format!("{} + {}", self.expr(K::SL, d), self.expr(K::SL, d)),
                1 | 2 => {
                    let (src, ek) = self.list_of(d);
                    let v = format!("x{}", self.vars.len());
                    self.vars.push((v.clone(), ek));
                    let body = match ek {
                        K::O(t) => {
                            let strs: Vec<&str> = fields(t)
                                .iter()
                                .filter(|(_, k)| *k == K::S)
                                .map(|(f, _)| *f)
                                .collect();
                            if strs.is_empty() {
                                format!("string({v})")
                            } else {
                                format!(
                                    "{v}.{} + ' (' + {v}.{} + ')'",
                                    strs[self.r.below(strs.len())],
                                    strs[self.r.below(strs.len())]
                                )
                            }
                        }
                        _ => format!("string({v})"),
                    };
                    let out = if self.r.b() {
                        let p = self.expr(K::B, d);
                        format!("{src}.map({v}, {p}, {body})")
                    } else {
                        format!("{src}.map({v}, {body})")
                    };
                    self.vars.pop();
                    out
                }
                3 => format!("[{}, {}]", self.expr(K::S, d), self.expr(K::S, d)),
                _ => self.path_or(K::SL, |_| "['x']".into()),
            },
            _ => "null".into(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Every expression of the pack over random facts: wherever the fast evaluator
    /// answers, `cel` gives the same value.
    #[test]
    fn fast_path_matches_cel_over_generated_facts(seed in any::<u64>()) {
        let facts = gen_facts(&mut Rng(seed));
        let mut tally = Tally::default();
        let problems = check_pack(&facts, &format!("seed {seed}"), &mut tally);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
        prop_assert!(tally.fast > 0);
    }

    /// Random expressions (including ill-typed ones) over random facts.
    #[test]
    fn fast_path_matches_cel_on_generated_expressions(seed in any::<u64>()) {
        let mut r = Rng(seed);
        let facts = gen_facts(&mut r);
        let p = pack();
        let scope = p.scope(facts.refs());
        let mut tally = Tally::default();
        for _ in 0..20 {
            let k = [K::B, K::B, K::S, K::I, K::SL, K::D][r.below(6)];
            let src = Gen { r: &mut r, vars: Vec::new() }.expr(k, 4);
            let c = match p.compile_expression_unchecked(&src) {
                Ok(c) => c,
                Err(e) => panic!("generated expression does not compile: {e}"),
            };
            prop_assert!(c.fast.is_ok(), "`{}` is outside the subset: {:?}", src, c.fast.err());
            if let Err(e) = check(&c, &scope, "generated", &mut tally) {
                prop_assert!(false, "seed {}: {}", seed, e);
            }
        }
    }
}

/// The generated expressions reach both outcomes: answered fast, and given up.
#[test]
fn generated_expressions_exercise_both_paths() {
    let p = pack();
    let mut tally = Tally::default();
    for seed in 0..200u64 {
        let mut r = Rng(seed);
        let facts = gen_facts(&mut r);
        let scope = p.scope(facts.refs());
        for _ in 0..10 {
            let src = Gen {
                r: &mut r,
                vars: Vec::new(),
            }
            .expr(K::B, 4);
            let c = p.compile_expression_unchecked(&src).unwrap();
            check(&c, &scope, &src, &mut tally).unwrap();
        }
    }
    assert!(tally.fast > 1000, "{tally:?}");
    assert!(tally.bailed > 50, "{tally:?}");
}

/// Edge cases of CEL semantics, each compared with `cel` over one set of facts.
#[test]
fn cel_semantics_edge_cases() {
    let p = pack();
    let mut facts = gen_facts(&mut Rng(7));
    facts.context.monthly_active_users = i64::MAX;
    facts.model.training_compute_flops = f64::NAN;
    facts.model.tags = vec!["open-source".into(), "b".into()];
    facts.license.terms = vec![gen_term(&mut Rng(1)), gen_term(&mut Rng(2))];
    let scope = p.scope(facts.refs());
    let mut tally = Tally::default();
    let cases = [
        // overflow and division are errors
        "context.monthly_active_users + 1 > 0",
        "context.monthly_active_users * 2 > 0",
        "-(context.monthly_active_users - context.monthly_active_users - 1 - context.monthly_active_users) > 0",
        "1 / 0 == 0",
        "1 % 0 == 0",
        "7 / 2 == 3 && -7 % 3 == -1",
        // numbers compare across types; NaN is unordered
        "1 == 1.0 && 1u == 1 && 2.0 > 1 && 1u < 2.0",
        "model.training_compute_flops == model.training_compute_flops",
        "model.training_compute_flops > 1e25",
        "model.training_compute_flops != 1.0",
        // mixed types: equality is false, ordering and arithmetic are errors
        "'1' == 1",
        "'a' < 1",
        "'a' + 1 == 'a1'",
        "1 + 1u == 2",
        "[1, 'a'] == [1, 'a']",
        "model.tags == ['open-source', 'b']",
        "model.tags == ['open-source']",
        "license.terms[0] == license.terms[0]",
        "license.terms[0] == license.terms[1]",
        "model.sections == model.sections",
        // && and || absorb errors in CEL
        "false && 1 / 0 == 0",
        "1 / 0 == 0 && false",
        "true || 1 / 0 == 0",
        "1 / 0 == 0 || true",
        "'x' || true",
        "true && 'x'",
        // macros, including errors inside them
        "model.tags.exists(t, t == 'b')",
        "model.tags.exists(t, 1 / 0 == 0 || t == 'b')",
        "model.tags.all(t, size(t) > 0)",
        "model.tags.exists_one(t, t.startsWith('o'))",
        "[1, 2, 3].exists(x, x / (x - 2) > 0)",
        "[1, 2, 3].all(x, x / (x - 1) > 0)",
        "license.terms.map(t, t.mau_threshold > 0 ? t.id : 'none')",
        "license.terms.filter(t, t.geo.exists(g, g.region == 'EU')).map(t, t.name)",
        "license.terms.map(t, t.attribution.map(a, '\"' + a + '\"'))",
        "model.tags.map(t, t, t + '!')",
        "context.domains.filter(d, license.terms.exists(t, d in t.use_restrictions))",
        // strings
        "size('Grüße ✓') == 7",
        "string(1e25) + string(2.5) + string(-0.0) + string(true) + string(18446744073709551615u)",
        "string(model.training_compute_flops)",
        "'abc'.contains('') && 'abc'.startsWith('ab') && 'abc'.endsWith('bc')",
        // has, in on objects, indexing
        "has(model.id) && !has(model.nope) && has(license.terms)",
        "'purpose' in context && !('nope' in context)",
        "1 in context",
        "1.0 in context",
        "context['purpose'] == context.purpose",
        "context['nope'] == ''",
        "model.tags[1] == 'b'",
        "model.tags[5] == 'b'",
        "model.tags[-1] == 'b'",
        "model.tags[1u] == 'b'",
        "model.tags['x'] == 'b'",
        "size(model) > 3 && size(license.terms) == 2",
        "model.id.nope == ''",
        "has(model.id.nope)",
        "license.terms.exists(t, t.id.id == 'x')",
        "model.exists(k, k == 'id')",
        "!model.id",
        "-model.id == ''",
        "(model.gated ? 1 : 'a') == 1",
        "(1 ? 1 : 2) == 1",
        "[model.tags, [1]] + [[2.0]] == [model.tags, [1], [2]]",
        "null == null && model.id != null",
    ];
    let mut problems = Vec::new();
    for src in cases {
        let c = p
            .compile_expression_unchecked(src)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.fast.is_ok(), "`{src}`: {:?}", c.fast.err());
        if let Err(e) = check(&c, &scope, src, &mut tally) {
            problems.push(e);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(tally.bailed >= 15 && tally.fast >= 30, "{tally:?}");
}
