//! Message templates: literal text with `{{ CEL expression }}` parts, compiled at load.

use super::pack::Compiled;

#[derive(Debug)]
pub enum Part {
    Text(String),
    Expr(Compiled),
}

#[derive(Debug)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses a template; `compile` compiles (and checks) each expression part and
    /// records its own problems. Returns `None` when any part failed.
    pub fn parse(src: &str, mut compile: impl FnMut(&str) -> Option<Compiled>) -> Option<Template> {
        let mut parts = Vec::new();
        let mut rest = src;
        let mut ok = true;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                compile("{{ without a closing }}");
                return None;
            };
            match compile(after[..end].trim()) {
                Some(c) => parts.push(Part::Expr(c)),
                None => ok = false,
            }
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        ok.then_some(Template { parts })
    }

    /// Renders over the facts of a scope (fast evaluator first, see [`super::scope`]);
    /// an expression that fails renders as `<error: ...>`.
    pub fn render_with(&self, s: &super::scope::Scope<'_>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Expr(c) => c.render_into(s, &mut out),
            }
        }
        out
    }

    /// Renders with a CEL context; an expression that fails renders as `<error: ...>`.
    pub fn render(&self, ctx: &cel::Context) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Expr(c) => match c.program.execute(ctx) {
                    Ok(v) => render_value(&v, &mut out),
                    Err(e) => out.push_str(&format!("<error: {e}>")),
                },
            }
        }
        out
    }
}

/// Human rendering: strings as is, lists joined with ", ".
pub fn render_value(v: &cel::Value, out: &mut String) {
    use cel::Value as V;
    match v {
        V::String(s) => out.push_str(s),
        V::Int(i) => out.push_str(&group_thousands(*i)),
        V::UInt(u) => out.push_str(&u.to_string()),
        V::Float(f) => out.push_str(&format_float(*f)),
        V::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        V::Null => out.push_str("none"),
        V::List(items) => {
            if items.is_empty() {
                out.push_str("none");
            }
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_value(x, out);
            }
        }
        other => out.push_str(&crate::rules::eval::cel_to_json(other).to_string()),
    }
}

pub(crate) fn group_thousands(i: i64) -> String {
    let s = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (n, ch) in s.chars().enumerate() {
        if n > 0 && (s.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if i < 0 { format!("-{out}") } else { out }
}

pub(crate) fn format_float(f: f64) -> String {
    if f != 0.0 && (f.abs() >= 1e9 || f.abs() < 1e-3) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}
