//! Message templates: literal text with `{{ CEL expression }}` parts, compiled at load.

use super::compiled::Compiled;
use super::text::render_value;

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
