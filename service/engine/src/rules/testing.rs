//! Running a pack's own test cases (`rules/tests/*.yaml`).

use super::def::{RuleResult, TestCase};
use super::pack::Pack;
use crate::ingest::{Format, ParseOptions};
use crate::record::others;
use crate::rules::run::{Evaluation, evaluate};
use crate::time::{self, Timestamp};
use serde::Serialize;
use std::collections::BTreeSet;

/// Default evaluation time of a test case: 2026-01-01T00:00:00Z.
pub const DEFAULT_TEST_TIME: Timestamp = Timestamp::constant(1_767_225_600, 0);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    pub passed: bool,
    /// What differed from the expectation.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
    pub cases: Vec<CaseResult>,
}

impl Pack {
    /// Runs every test case of the pack.
    pub fn run_tests(&self) -> TestReport {
        let cases: Vec<CaseResult> = self
            .tests
            .iter()
            .map(|(f, t)| self.run_case(f, t))
            .collect();
        let passed = cases.iter().filter(|c| c.passed).count();
        TestReport {
            passed,
            failed: cases.len() - passed,
            cases,
        }
    }

    pub fn run_case(&self, file: &str, t: &TestCase) -> CaseResult {
        let mut failures = Vec::new();
        let format = match t.input.format.as_str() {
            "auto" => None,
            f => match Format::parse(f) {
                Some(f) => Some(f),
                None => {
                    failures.push(format!("unknown input format `{f}`"));
                    None
                }
            },
        };
        let now = match &t.now {
            Some(s) => time::parse_date(s).unwrap_or_else(|_| {
                failures.push(format!("`now` is not a YYYY-MM-DD date: {s}"));
                DEFAULT_TEST_TIME
            }),
            None => DEFAULT_TEST_TIME,
        };
        let mut ctx = t.context.clone();
        ctx.normalize();
        if let Err(e) = ctx.validate(self.use_categories()) {
            failures.push(e.to_string());
        }
        let opts = ParseOptions {
            model_ref: t.input.model_ref.clone(),
            ..ParseOptions::default()
        };
        match self.parse_all(t.input.content.as_bytes(), format, &opts) {
            Err(e) => {
                if t.expect.verdict != "malformed" {
                    failures.push(format!("input does not parse: {e}"));
                }
            }
            Ok(_) if t.expect.verdict == "malformed" => {
                failures.push("expected malformed input, but it parsed".into())
            }
            Ok(recs) => {
                // A document with several models: the worst verdict, and the rules and
                // obligations of every decision.
                let ds: Vec<_> = (0..recs.len())
                    .map(|i| {
                        let ancestors = others(&recs, i);
                        evaluate(&Evaluation {
                            ancestors: &ancestors,
                            ..Evaluation::new(self, &recs[i], &ctx, now, "test")
                        })
                    })
                    .collect();
                let verdict = ds.iter().map(|d| d.verdict).max();
                if verdict.map(|v| v.as_str()) != Some(t.expect.verdict.as_str()) {
                    failures.push(format!(
                        "verdict: expected {}, got {}",
                        t.expect.verdict,
                        verdict.map(|v| v.as_str()).unwrap_or("none")
                    ));
                }
                let failing: BTreeSet<&str> = ds
                    .iter()
                    .flat_map(|d| &d.findings)
                    .filter(|f| {
                        matches!(
                            f.result,
                            RuleResult::Fail | RuleResult::Warn | RuleResult::Error
                        )
                    })
                    .map(|f| f.rule_id.as_str())
                    .collect();
                if let Some(exp) = &t.expect.failing {
                    let exp: BTreeSet<&str> = exp.iter().map(String::as_str).collect();
                    compare_sets("failing rules", &exp, &failing, &mut failures);
                }
                for id in &t.expect.includes {
                    if !failing.contains(id.as_str()) {
                        failures.push(format!(
                            "expected `{id}` to fail; failing: {}",
                            join(&failing)
                        ));
                    }
                }
                let obligations: BTreeSet<&str> = ds
                    .iter()
                    .flat_map(|d| &d.obligations)
                    .map(|o| o.rule_id.as_str())
                    .collect();
                for id in &t.expect.excludes {
                    if failing.contains(id.as_str()) {
                        failures.push(format!("expected `{id}` not to fail, but it did"));
                    }
                    if obligations.contains(id.as_str()) {
                        failures.push(format!("expected no obligation `{id}`, but it applies"));
                    }
                }
                if let Some(exp) = &t.expect.obligations {
                    let exp: BTreeSet<&str> = exp.iter().map(String::as_str).collect();
                    compare_sets("obligations", &exp, &obligations, &mut failures);
                }
                if let Some(c) = &t.expect.chosen
                    && !ds
                        .iter()
                        .any(|d| d.license.chosen.as_deref() == Some(c.as_str()))
                {
                    failures.push(format!(
                        "chosen licence: expected `{c}`, got `{}`",
                        ds.iter()
                            .filter_map(|d| d.license.chosen.as_deref())
                            .collect::<Vec<_>>()
                            .join("`, `")
                    ));
                }
            }
        }
        CaseResult {
            file: file.to_string(),
            name: t.name.clone(),
            passed: failures.is_empty(),
            failures,
        }
    }
}

fn join(s: &BTreeSet<&str>) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

fn compare_sets(
    what: &str,
    exp: &BTreeSet<&str>,
    got: &BTreeSet<&str>,
    failures: &mut Vec<String>,
) {
    let missing: BTreeSet<&str> = exp.difference(got).copied().collect();
    let extra: BTreeSet<&str> = got.difference(exp).copied().collect();
    if !missing.is_empty() {
        failures.push(format!("{what}: expected but absent: {}", join(&missing)));
    }
    if !extra.is_empty() {
        failures.push(format!(
            "{what}: present but not expected: {}",
            join(&extra)
        ));
    }
}
