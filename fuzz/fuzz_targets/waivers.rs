//! The `--waivers` file of `modelgate check` (`cli::parse_waivers`: YAML or JSON), and the
//! waivers it gives applied by `app::evaluate::decide`, the one function every evaluation
//! (CLI, API, replay) goes through.
//!
//! Input: the waivers file.
//!
//! Invariants: no panic; parsing is deterministic; a parsed waiver could apply (its scope
//! passes `waiver::check_scope`) and its times are whole seconds. Applied to fixed cards
//! (one denied for its non-commercial licence, one without a licence) under no profile and
//! under a profile, at a fixed time: the findings are those of the evaluation without
//! waivers, in the same order and with the same results; a finding is waived exactly when a
//! waiver of the file is in force for it (started, not expired, not revoked, its model
//! pattern and profile matching: recomputed here, not with the engine's own function), by
//! the first such waiver; waiving never makes the verdict worse, and the decision
//! serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate::app::evaluate::{Decide, decide};
use modelgate_engine::waiver::{Waiver, check_scope};
use modelgate_engine::{Format, ModelRecord, ParseOptions, Timestamp, UseContext};
use std::sync::OnceLock;

const CARDS: [&str; 2] = [
    "---\nlicense: cc-by-nc-4.0\n---\n# NC Model\n\nA model.\n",
    "---\npipeline_tag: text-generation\n---\n# Bare Model\n\nA model.\n",
];

fn records() -> &'static [ModelRecord] {
    static R: OnceLock<Vec<ModelRecord>> = OnceLock::new();
    R.get_or_init(|| {
        CARDS
            .iter()
            .map(|c| {
                modelgate_fuzz::pack()
                    .parse(c.as_bytes(), Some(Format::HfCard), &ParseOptions::default())
                    .expect("the fixed cards parse")
            })
            .collect()
    })
}

/// In force for `model_ref` under `profile` at `now`, from the waiver's fields.
fn in_force(w: &Waiver, model_ref: &str, profile: Option<&str>, now: Timestamp) -> bool {
    let started = w.created_at.is_none_or(|c| c <= now);
    let expired = w.expires_at <= now;
    let revoked = w.revoked_at.is_some_and(|r| r <= now);
    let scoped = match w.model_ref.strip_suffix('*') {
        Some(prefix) => model_ref.starts_with(prefix),
        None => w.model_ref == model_ref,
    };
    let profiled = w.profile.is_none() || w.profile.as_deref() == profile;
    started && !expired && !revoked && scoped && profiled
}

fuzz_target!(|data: &[u8]| {
    let parsed = modelgate::cli::parse_waivers(data);
    let again = modelgate::cli::parse_waivers(data);
    assert_eq!(parsed, again, "parsing is not deterministic");
    let waivers = match parsed {
        Ok(w) => w,
        Err(e) => {
            assert!(!e.is_empty(), "an error without a message");
            return;
        }
    };
    for w in &waivers {
        assert_eq!(
            check_scope(w),
            Ok(()),
            "a waiver that can never apply: {w:?}"
        );
        for t in [Some(w.expires_at), w.created_at, w.revoked_at]
            .into_iter()
            .flatten()
        {
            assert_eq!(t.subsec_nanosecond(), 0, "a time within a second: {w:?}");
        }
    }
    let now = modelgate_engine::time::from_unix(modelgate_fuzz::T0);
    let ctx = UseContext::default();
    for rec in records() {
        for profile in [None, Some("production")] {
            let run = |waivers: &[Waiver]| {
                decide(&Decide {
                    pack: modelgate_fuzz::pack(),
                    record: rec,
                    ancestors: &[],
                    model_ref: &rec.id,
                    profile,
                    context: &ctx,
                    input_digest: "sha256:fuzz",
                    waivers,
                    now,
                })
            };
            let base = run(&[]);
            let d = run(&waivers);
            assert_eq!(
                d.findings.len(),
                base.findings.len(),
                "findings added or lost"
            );
            for (f, b) in d.findings.iter().zip(&base.findings) {
                assert_eq!((&f.rule_id, f.result), (&b.rule_id, b.result));
                assert!(!b.waived, "a finding waived without waivers");
                let by = waivers
                    .iter()
                    .find(|w| w.rule_id == f.rule_id && in_force(w, &rec.id, profile, now))
                    .map(|w| w.id.clone());
                assert_eq!(f.waived, by.is_some(), "{} under {profile:?}", f.rule_id);
                assert_eq!(f.waiver, by, "{} under {profile:?}", f.rule_id);
            }
            assert!(
                d.verdict <= base.verdict,
                "waivers made {} {} (was {})",
                rec.id,
                d.verdict.as_str(),
                base.verdict.as_str()
            );
            if let Err(e) = serde_json::to_string(&d) {
                panic!("the decision does not serialize: {e}");
            }
        }
    }
});
