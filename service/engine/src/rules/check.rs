//! Load-time checking of CEL programs: every variable path a rule reads must exist in
//! the facts schema (`rules/schemas/facts.schema.json`), so a typo fails the pack, not
//! a request.

use cel::common::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A node of the facts schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An object with known properties.
    Object(BTreeMap<String, Arc<Node>>),
    /// A map with arbitrary string keys and values of one shape.
    Map(Arc<Node>),
    List(Arc<Node>),
    Scalar(String),
}

impl Node {
    fn describe(&self) -> String {
        match self {
            Node::Object(_) => "an object".into(),
            Node::Map(_) => "a map".into(),
            Node::List(_) => "a list".into(),
            Node::Scalar(t) => format!("a {t}"),
        }
    }

    /// Builds the node tree from a JSON Schema (local `$ref`s into `$defs` supported).
    pub fn from_schema(schema: &Value) -> Result<Node, String> {
        Self::build(schema, schema, 0)
    }

    fn build(root: &Value, s: &Value, depth: usize) -> Result<Node, String> {
        if depth > 32 {
            return Err("schema nests too deeply (recursive $ref?)".into());
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix('#')
                .and_then(|p| root.pointer(p))
                .ok_or_else(|| format!("unresolvable $ref `{r}`"))?;
            return Self::build(root, target, depth + 1);
        }
        let ty = match s.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null")
                .to_string(),
            _ if s.get("properties").is_some() => "object".into(),
            _ => "any".into(),
        };
        match ty.as_str() {
            "object" => {
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    let mut m = BTreeMap::new();
                    for (k, v) in props {
                        m.insert(k.clone(), Arc::new(Self::build(root, v, depth + 1)?));
                    }
                    Ok(Node::Object(m))
                } else if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
                    Ok(Node::Map(Arc::new(Self::build(root, ap, depth + 1)?)))
                } else {
                    Ok(Node::Map(Arc::new(Node::Scalar("any".into()))))
                }
            }
            "array" => {
                let items = s
                    .get("items")
                    .map(|i| Self::build(root, i, depth + 1))
                    .transpose()?
                    .unwrap_or(Node::Scalar("any".into()));
                Ok(Node::List(Arc::new(items)))
            }
            t => Ok(Node::Scalar(t.to_string())),
        }
    }
}

/// Identifiers that are CEL type names, usable in `type(x) == string`.
const TYPE_IDENTS: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
];

/// Checks a compiled expression against the facts. Returns every problem found.
pub fn check_paths(expr: &IdedExpr, roots: &BTreeMap<String, Arc<Node>>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut scope: Scope = roots
        .iter()
        .map(|(k, v)| (k.clone(), Some(Arc::clone(v))))
        .collect();
    walk(expr, &mut scope, &mut problems);
    problems
}

/// Variables in scope with the shape of their value, when known.
type Scope = Vec<(String, Option<Arc<Node>>)>;

fn lookup<'a>(
    scope: &'a [(String, Option<Arc<Node>>)],
    name: &str,
) -> Option<&'a Option<Arc<Node>>> {
    scope.iter().rev().find(|(n, _)| n == name).map(|(_, t)| t)
}

/// Returns the schema node of the expression when it is a known path, `None` when
/// its shape is not tracked.
fn walk(e: &IdedExpr, scope: &mut Scope, problems: &mut Vec<String>) -> Option<Arc<Node>> {
    match &e.expr {
        Expr::Ident(name) => match lookup(scope, name) {
            Some(t) => t.clone(),
            None if TYPE_IDENTS.contains(&name.as_str()) => None,
            None => {
                let known: Vec<&str> = scope
                    .iter()
                    .filter(|(n, _)| !n.starts_with('@'))
                    .map(|(n, _)| n.as_str())
                    .collect();
                problems.push(format!(
                    "unknown variable `{name}` (known: {})",
                    known.join(", ")
                ));
                None
            }
        },
        Expr::Select(sel) => {
            let base = walk(&sel.operand, scope, problems)?;
            select(&base, &sel.field, &path_of(&sel.operand), problems)
        }
        Expr::Call(call) => walk_call(call, scope, problems),
        Expr::Comprehension(c) => walk_comprehension(c, scope, problems),
        Expr::List(l) => {
            let mut first = None;
            for (i, x) in l.elements.iter().enumerate() {
                let t = walk(x, scope, problems);
                if i == 0 {
                    first = t;
                }
            }
            first.map(|t| Arc::new(Node::List(t)))
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    walk(&me.key, scope, problems);
                    walk(&me.value, scope, problems);
                }
            }
            None
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    walk(&f.value, scope, problems);
                }
            }
            None
        }
        Expr::Literal(_) | Expr::Unspecified => None,
    }
}

fn select(base: &Node, field: &str, path: &str, problems: &mut Vec<String>) -> Option<Arc<Node>> {
    match base {
        Node::Object(props) => match props.get(field) {
            Some(n) => Some(Arc::clone(n)),
            None => {
                let known: Vec<&str> = props.keys().map(String::as_str).collect();
                problems.push(format!(
                    "`{path}` has no field `{field}` (fields: {})",
                    known.join(", ")
                ));
                None
            }
        },
        Node::Map(v) => Some(Arc::clone(v)),
        other => {
            problems.push(format!(
                "`{path}` is {}; it has no field `{field}`",
                other.describe()
            ));
            None
        }
    }
}

fn walk_call(call: &CallExpr, scope: &mut Scope, problems: &mut Vec<String>) -> Option<Arc<Node>> {
    let target = call.target.as_ref().map(|t| walk(t, scope, problems));
    let args: Vec<Option<Arc<Node>>> = call.args.iter().map(|a| walk(a, scope, problems)).collect();
    if call.func_name == "_[_]" {
        let (Some(Some(base)), Some(key)) = (args.first(), call.args.get(1)) else {
            return None;
        };
        return match (&**base, &key.expr) {
            (Node::List(items), _) => Some(Arc::clone(items)),
            (Node::Object(_), Expr::Literal(LiteralValue::String(k))) => {
                select(base, k.as_ref(), &path_of(&call.args[0]), problems)
            }
            (Node::Map(v), _) => Some(Arc::clone(v)),
            _ => None,
        };
    }
    let _ = target;
    None
}

fn walk_comprehension(
    c: &ComprehensionExpr,
    scope: &mut Scope,
    problems: &mut Vec<String>,
) -> Option<Arc<Node>> {
    let range = walk(&c.iter_range, scope, problems);
    let elem = match range.as_deref() {
        Some(Node::List(items)) => Some(Arc::clone(items)),
        Some(Node::Map(_)) | Some(Node::Object(_)) => Some(Arc::new(Node::Scalar("string".into()))),
        _ => None,
    };
    walk(&c.accu_init, scope, problems);
    let depth = scope.len();
    scope.push((c.accu_var.clone(), None));
    scope.push((c.iter_var.clone(), elem.clone()));
    if let Some(v2) = &c.iter_var2 {
        scope.push((v2.clone(), None));
    }
    walk(&c.loop_cond, scope, problems);
    let step = appended(&c.loop_step, &c.accu_var);
    let step_ty = step.map(|x| walk(x, scope, problems));
    walk(&c.loop_step, scope, problems);
    walk(&c.result, scope, problems);
    scope.truncate(depth);
    // filter: appends the iteration variable itself; map: appends an expression.
    match step_ty {
        Some(Some(t)) => Some(Arc::new(Node::List(t))),
        _ => None,
    }
}

/// For `accu + [x]` (possibly inside `cond ? accu + [x] : accu`), returns `x`.
fn appended<'a>(step: &'a IdedExpr, accu: &str) -> Option<&'a IdedExpr> {
    let Expr::Call(call) = &step.expr else {
        return None;
    };
    match call.func_name.as_str() {
        "_?_:_" => call.args.get(1).and_then(|x| appended(x, accu)),
        "_+_" => match (
            call.args.first().map(|a| &a.expr),
            call.args.get(1).map(|a| &a.expr),
        ) {
            (Some(Expr::Ident(a)), Some(Expr::List(l))) if a == accu && l.elements.len() == 1 => {
                l.elements.first()
            }
            _ => None,
        },
        _ => None,
    }
}

/// A readable rendering of a path expression for messages.
fn path_of(e: &IdedExpr) -> String {
    match &e.expr {
        Expr::Ident(n) => n.clone(),
        Expr::Select(s) => format!("{}.{}", path_of(&s.operand), s.field),
        Expr::Call(c) if c.func_name == "_[_]" => {
            format!("{}[…]", c.args.first().map(path_of).unwrap_or_default())
        }
        _ => "expression".into(),
    }
}
