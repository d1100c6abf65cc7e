//! Resolving declared licence values against the catalog, and licence expressions.

use super::catalog::Catalog;
use serde::Serialize;

/// How a declared value was matched (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Exact,
    CaseFolded,
    Mapped,
    Ambiguous,
    Custom,
    Unknown,
    Missing,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Exact => "exact",
            Resolution::CaseFolded => "case_folded",
            Resolution::Mapped => "mapped",
            Resolution::Ambiguous => "ambiguous",
            Resolution::Custom => "custom",
            Resolution::Unknown => "unknown",
            Resolution::Missing => "missing",
        }
    }

    /// Whether the terms are known from the catalog.
    pub fn is_resolved(self) -> bool {
        matches!(
            self,
            Resolution::Exact | Resolution::CaseFolded | Resolution::Mapped
        )
    }
}

/// One licence term after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub raw: String,
    /// Catalog id, when resolved.
    pub id: Option<String>,
    /// SPDX id, when the term is (or maps to) one.
    pub spdx: Option<String>,
    pub resolution: Resolution,
    /// The value is a deprecated SPDX id (`GPL-3.0` rather than `GPL-3.0-only`).
    pub deprecated_spdx: bool,
}

/// A licence expression over resolved terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Term(Term),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Most alternatives an expression may expand to; beyond this the expression is refused.
pub const MAX_ALTERNATIVES: usize = 64;

impl Expr {
    /// Disjunctive normal form: the alternatives a licensee may choose from, each a
    /// conjunction of terms. `None` when there would be more than [`MAX_ALTERNATIVES`].
    pub fn alternatives(&self) -> Option<Vec<Vec<Term>>> {
        match self {
            Expr::Term(t) => Some(vec![vec![t.clone()]]),
            Expr::Or(xs) => {
                let mut out = Vec::new();
                for x in xs {
                    out.extend(x.alternatives()?);
                    if out.len() > MAX_ALTERNATIVES {
                        return None;
                    }
                }
                Some(out)
            }
            Expr::And(xs) => {
                let mut acc: Vec<Vec<Term>> = vec![Vec::new()];
                for x in xs {
                    let alts = x.alternatives()?;
                    if acc.len().saturating_mul(alts.len()) > MAX_ALTERNATIVES {
                        return None;
                    }
                    let mut next = Vec::with_capacity(acc.len() * alts.len());
                    for a in &acc {
                        for b in &alts {
                            let mut c = a.clone();
                            c.extend(b.iter().cloned());
                            next.push(c);
                        }
                    }
                    acc = next;
                }
                Some(acc)
            }
        }
    }

    pub fn terms(&self) -> Vec<&Term> {
        match self {
            Expr::Term(t) => vec![t],
            Expr::And(xs) | Expr::Or(xs) => xs.iter().flat_map(|x| x.terms()).collect(),
        }
    }
}

/// Resolves one term (no operators).
pub fn resolve_term(raw: &str, catalog: &Catalog, ambiguous: &[String]) -> Term {
    let s = raw.trim();
    let spdx_known = spdx::license_id(s);
    let deprecated_spdx = spdx_known.is_some_and(|l| l.is_deprecated());
    let mk = |id: Option<&str>, spdx: Option<String>, resolution| Term {
        raw: raw.to_string(),
        id: id.map(str::to_string),
        spdx,
        resolution,
        deprecated_spdx,
    };
    if s.is_empty() {
        return mk(None, None, Resolution::Missing);
    }
    let lower = s.to_ascii_lowercase();
    if lower == "unknown" {
        return mk(None, None, Resolution::Unknown);
    }
    if lower == "other" || ambiguous.iter().any(|a| a.eq_ignore_ascii_case(s)) {
        return mk(None, None, Resolution::Ambiguous);
    }
    if let Some(e) = catalog.by_exact_id(s).or_else(|| {
        spdx_known
            .filter(|l| !l.is_deprecated())
            .and_then(|l| catalog.by_spdx(l.name))
    }) {
        return mk(Some(&e.id), e.spdx.clone(), Resolution::Exact);
    }
    if let Some(rest) = s.strip_prefix("LicenseRef-")
        && let Some(e) = catalog.by_exact_id(rest)
    {
        return mk(Some(&e.id), e.spdx.clone(), Resolution::Exact);
    }
    if let Some(e) = catalog.by_folded_id(s) {
        return mk(Some(&e.id), e.spdx.clone(), Resolution::CaseFolded);
    }
    if let Some(e) = catalog.by_alias(s) {
        return mk(Some(&e.id), e.spdx.clone(), Resolution::Mapped);
    }
    // A valid SPDX id the catalog does not describe: its terms are unknown to us.
    mk(
        None,
        spdx_known.map(|l| l.name.to_string()),
        Resolution::Unknown,
    )
}

/// Resolves a declared value: `other` with its `license_name` (custom when the name is
/// not in the catalog), an expression, or a single term. An expression that does not
/// parse becomes one unknown term that carries the parse error.
pub fn resolve_declared_value(
    value: &str,
    license_name: Option<&str>,
    catalog: &Catalog,
    ambiguous: &[String],
) -> Expr {
    let value = value.trim();
    if value.eq_ignore_ascii_case("other") {
        let Some(name) = license_name else {
            return Expr::Term(resolve_term("other", catalog, ambiguous));
        };
        let mut t = resolve_term(name, catalog, ambiguous);
        t.raw = value.to_string();
        t.resolution = match t.resolution {
            Resolution::Unknown => Resolution::Custom,
            r if r.is_resolved() => Resolution::Mapped,
            r => r,
        };
        return Expr::Term(t);
    }
    if looks_like_expression(value) {
        return parse_expression(value, catalog, ambiguous).unwrap_or_else(|e| {
            Expr::Term(Term {
                raw: format!("{value} ({e})"),
                id: None,
                spdx: None,
                resolution: Resolution::Unknown,
                deprecated_spdx: false,
            })
        });
    }
    Expr::Term(resolve_term(value, catalog, ambiguous))
}

/// Whether a value reads as a licence expression rather than a single term.
pub fn looks_like_expression(s: &str) -> bool {
    s.contains('(')
        || s.split_whitespace()
            .any(|w| matches!(w.to_ascii_uppercase().as_str(), "AND" | "OR" | "WITH"))
}

/// An expression that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("licence expression `{expression}`: {message} (at character {offset})")]
pub struct ExprError {
    pub expression: String,
    pub offset: usize,
    pub message: String,
}

/// Parses an SPDX-style licence expression whose terms may be catalog ids, aliases,
/// HF ids or SPDX ids. The structure is checked by the `spdx` crate; each term is
/// resolved with [`resolve_term`]. `WITH` exceptions only add permissions and are dropped.
pub fn parse_expression(
    text: &str,
    catalog: &Catalog,
    ambiguous: &[String],
) -> Result<Expr, ExprError> {
    // Tokenize, keeping each term's text, and build a canonical expression over
    // placeholder refs that the spdx crate can check.
    let mut terms: Vec<Term> = Vec::new();
    let mut canonical = String::new();
    let mut offsets: Vec<usize> = Vec::new();
    let mut skip_exception = false;
    let mut pos = 0usize;
    for token in tokenize(text) {
        let (start, tok) = token;
        pos = start;
        let upper = tok.to_ascii_uppercase();
        match upper.as_str() {
            "(" | ")" => {
                canonical.push_str(tok);
                canonical.push(' ');
            }
            "AND" | "OR" => {
                canonical.push_str(&upper);
                canonical.push(' ');
            }
            "WITH" => skip_exception = true,
            _ if skip_exception => skip_exception = false,
            _ => {
                let t = tok.trim_end_matches('+');
                canonical.push_str(&format!("LicenseRef-t{} ", terms.len()));
                terms.push(resolve_term(t, catalog, ambiguous));
                offsets.push(start);
            }
        }
    }
    if skip_exception {
        return Err(ExprError {
            expression: text.to_string(),
            offset: pos,
            message: "`WITH` must be followed by an exception id".into(),
        });
    }
    let parsed = spdx::Expression::parse(canonical.trim()).map_err(|e| ExprError {
        expression: text.to_string(),
        offset: map_offset(&canonical, e.span.start, &offsets),
        message: e.reason.to_string(),
    })?;
    let mut stack: Vec<Expr> = Vec::new();
    for node in parsed.iter() {
        match node {
            spdx::expression::ExprNode::Req(req) => {
                let idx = match &req.req.license {
                    spdx::LicenseItem::Other(r) => r
                        .lic_ref
                        .strip_prefix('t')
                        .and_then(|n| n.parse::<usize>().ok()),
                    spdx::LicenseItem::Spdx { .. } => None,
                };
                let term = idx
                    .and_then(|i| terms.get(i).cloned())
                    .ok_or_else(|| ExprError {
                        expression: text.to_string(),
                        offset: 0,
                        message: "internal: unmapped term".into(),
                    })?;
                stack.push(Expr::Term(term));
            }
            spdx::expression::ExprNode::Op(op) => {
                let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                    return Err(ExprError {
                        expression: text.to_string(),
                        offset: 0,
                        message: "operator without two operands".into(),
                    });
                };
                let is_and = matches!(op, spdx::expression::Operator::And);
                let mut items = Vec::new();
                for x in [a, b] {
                    match (x, is_and) {
                        (Expr::And(v), true) | (Expr::Or(v), false) => items.extend(v),
                        (other, _) => items.push(other),
                    }
                }
                stack.push(if is_and {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                });
            }
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(e), true) => Ok(e),
        _ => Err(ExprError {
            expression: text.to_string(),
            offset: 0,
            message: "expected exactly one expression".into(),
        }),
    }
}

fn tokenize(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, ch) in text.char_indices() {
        if ch == '(' || ch == ')' || ch.is_whitespace() {
            if let Some(s) = start.take() {
                out.push((s, &text[s..i]));
            }
            if !ch.is_whitespace() {
                out.push((i, &text[i..i + 1]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Maps an offset in the canonical string back to the nearest term in the original.
fn map_offset(canonical: &str, off: usize, offsets: &[usize]) -> usize {
    let before = canonical.get(..off).unwrap_or(canonical);
    let n = before.matches("LicenseRef-t").count();
    offsets
        .get(n.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}
