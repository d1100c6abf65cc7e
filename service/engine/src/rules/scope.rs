//! Running compiled expressions over the facts of one evaluation: the fast evaluator
//! first, the `cel` interpreter when the expression is outside its subset or when it
//! gives up (see [`super::fast`]).
//!
//! The `cel` context (the facts converted to CEL values, `celval`) is only built the
//! first time an expression needs it, once per [`Scope`]; with the default pack it is
//! normally never built.

use super::celval::cel_to_json;
use super::celval::to_val;
use super::compiled::Compiled;
use super::template::{Part, Template};
use super::text::render_value;
use super::value::{FactRefs, V};
use std::cell::OnceCell;
use std::sync::Arc;

/// The facts of one evaluation (one licence alternative) and, lazily, their CEL form.
pub struct Scope<'a> {
    facts: FactRefs<'a>,
    env: &'a Arc<cel::Env>,
    /// Whether the fast evaluator is used (off: everything runs on `cel`).
    fast: bool,
    cel: OnceCell<cel::Context<'static, 'static>>,
}

/// The result of an expression: from the fast evaluator, or from `cel`.
pub enum Outcome<'s> {
    Fast(V<'s>),
    Cel(Result<cel::Value, cel::ExecutionError>),
}

impl<'a> Scope<'a> {
    /// `fast: false` runs every expression on `cel` (the reference behaviour).
    pub fn new(facts: FactRefs<'a>, env: &'a Arc<cel::Env>, fast: bool) -> Scope<'a> {
        Scope {
            facts,
            env,
            fast,
            cel: OnceCell::new(),
        }
    }

    pub fn facts(&self) -> &FactRefs<'a> {
        &self.facts
    }

    /// Whether the CEL context was needed (and so built) so far.
    pub fn used_cel(&self) -> bool {
        self.cel.get().is_some()
    }

    /// The facts bound as CEL variables, built on first use.
    pub fn cel(&self) -> &cel::Context<'static, 'static> {
        self.cel.get_or_init(|| {
            let mut ctx = cel::Context::with_env(Arc::clone(self.env));
            let f = &self.facts;
            let vars = [
                ("model", to_val(f.model)),
                ("context", to_val(f.context)),
                ("now", to_val(f.now)),
                ("license", to_val(f.license)),
                ("lineage", to_val(f.lineage)),
                ("openness", to_val(f.openness)),
            ];
            for (name, v) in vars {
                // A value that cannot be converted is bound as null: every rule reading
                // it then errors, and errors mean review (fail closed).
                let v: Box<dyn cel::common::value::Val> = match v {
                    Ok(v) => v,
                    Err(_) => Box::new(cel::common::types::CelNull),
                };
                ctx.add_variable_as_val(name, v);
            }
            ctx
        })
    }
}

impl Compiled {
    /// Runs the expression: fast when it can, else on `cel`.
    pub fn outcome<'s>(&'s self, s: &'s Scope<'_>) -> Outcome<'s> {
        if s.fast
            && let Ok(p) = &self.fast
            && let Ok(v) = p.eval(s.facts())
        {
            return Outcome::Fast(v);
        }
        Outcome::Cel(self.program.execute(s.cel()))
    }

    /// The `cel` interpreter's result, whatever the fast evaluator could do.
    pub fn run_cel(&self, s: &Scope<'_>) -> Result<cel::Value, cel::ExecutionError> {
        self.program.execute(s.cel())
    }

    /// A condition: `Ok(b)` for a bool, else what `cel` returned (another value or an
    /// error), for the caller to report.
    pub fn truth(&self, s: &Scope<'_>) -> Result<bool, Result<cel::Value, cel::ExecutionError>> {
        match self.outcome(s) {
            Outcome::Fast(V::Bool(b)) | Outcome::Cel(Ok(cel::Value::Bool(b))) => Ok(b),
            // Not a bool: let `cel` say what it is, in its own words.
            Outcome::Fast(_) => Err(self.run_cel(s)),
            Outcome::Cel(other) => Err(other),
        }
    }

    /// The value as JSON (evidence); `null` when it cannot be evaluated.
    pub fn json(&self, s: &Scope<'_>) -> serde_json::Value {
        match self.outcome(s) {
            Outcome::Fast(v) => v.to_json(),
            Outcome::Cel(r) => r
                .map(|v| cel_to_json(&v))
                .unwrap_or(serde_json::Value::Null),
        }
    }

    /// The strings of a list value (culprit licence ids); empty for anything else.
    pub fn strings(&self, s: &Scope<'_>) -> Vec<String> {
        match self.outcome(s) {
            Outcome::Fast(v) => match v.as_list() {
                Some(l) => (0..l.len())
                    .filter_map(|i| l.at(i))
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                None => Vec::new(),
            },
            Outcome::Cel(Ok(cel::Value::List(items))) => items
                .iter()
                .filter_map(|v| match v {
                    cel::Value::String(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            Outcome::Cel(_) => Vec::new(),
        }
    }

    /// Renders the value into a message; an error renders as `<error: ...>`.
    pub fn render_into(&self, s: &Scope<'_>, out: &mut String) {
        match self.outcome(s) {
            Outcome::Fast(v) => v.render(out),
            Outcome::Cel(Ok(v)) => render_value(&v, out),
            Outcome::Cel(Err(e)) => out.push_str(&format!("<error: {e}>")),
        }
    }
}

impl Template {
    /// Renders over the facts of a scope (fast evaluator first, see [`super::scope`]);
    /// an expression that fails renders as `<error: ...>`.
    pub fn render_with(&self, s: &Scope<'_>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Expr(c) => c.render_into(s, &mut out),
            }
        }
        out
    }
}
