//! A fast evaluator for the CEL the rule packs use.
//!
//! Each expression of a pack is compiled twice at load: by the `cel` crate (the
//! reference) and, when it stays within the subset below, into a [`Program`]: a small
//! tree evaluated directly over the facts structs ([`super::value`]), with field names
//! interned, literal lists precomputed and no per-evaluation conversion of the facts.
//!
//! Correctness never depends on this module covering anything:
//! - an expression outside the subset has no [`Program`] and always runs on `cel`;
//! - a [`Program`] gives up ([`Bail`]) on anything that is an error in CEL (type
//!   mismatch, overflow, missing key, a non-bool condition...), and the caller then runs
//!   the same expression on `cel`, whose value or error is the answer. `&&`, `||` and
//!   the `exists`/`all` macros absorb errors in CEL; here any error gives up the whole
//!   expression, so absorption is always decided by `cel` itself.
//!
//! So wherever a [`Program`] returns a value, it is the value `cel` computes; the
//! differential tests (`tests/tests/suite/fastpath.rs`) check exactly that.
//!
//! The subset: literals (null, bool, int, uint, double, string), list literals,
//! variables and field selection, `has()`, indexing lists and objects, `!`, unary `-`,
//! `&&`, `||`, `?:`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, `/`, `%`, `in`,
//! `size()`, `string()`, `startsWith`, `endsWith`, `contains`, and the macros `exists`,
//! `all`, `exists_one`, `map` (2 and 3 arguments) and `filter`.

use super::value::{FactRefs, Field, ListRef, Lit, Object, V, num_cmp};
use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, LiteralValue};
use std::cmp::Ordering;
use std::rc::Rc;

/// The evaluation cannot give CEL's value here: run the expression on `cel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

/// How deeply comprehensions may nest in a [`Program`].
const MAX_DEPTH: usize = 4;

/// A compiled expression of the subset.
#[derive(Debug)]
pub struct Program {
    root: Node,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Model,
    Context,
    License,
    Lineage,
    Openness,
    Now,
}

impl Root {
    fn of(name: &str) -> Option<Root> {
        Some(match name {
            "model" => Root::Model,
            "context" => Root::Context,
            "license" => Root::License,
            "lineage" => Root::Lineage,
            "openness" => Root::Openness,
            "now" => Root::Now,
            _ => return None,
        })
    }

    fn get<'a>(self, f: &FactRefs<'a>) -> &'a dyn Object {
        match self {
            Root::Model => f.model,
            Root::Context => f.context,
            Root::License => f.license,
            Root::Lineage => f.lineage,
            Root::Openness => f.openness,
            Root::Now => f.now,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrFn {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Exists,
    All,
    ExistsOne,
}

#[derive(Debug)]
enum Node {
    Const(Lit),
    /// A list literal of literals.
    ConstList(Box<[Lit]>),
    List(Vec<Node>),
    Root(Root),
    Local(usize),
    /// `x.f`; `None` is a field no facts struct has (always a missing key).
    Select(Box<Node>, Option<Field>),
    /// `root.f`.
    RootField(Root, Field),
    /// `variable.f`.
    LocalField(usize, Field),
    /// `x == 'literal'` (either way round), `!=` when the flag is set.
    EqStr(Box<Node>, Box<str>, bool),
    /// `x + y + ...` (left-associated): one allocation when all are strings.
    Concat(Vec<Node>),
    /// `has(x.f)`; `None` is a field no facts struct has.
    Has(Box<Node>, Option<Field>),
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Eq(Box<Node>, Box<Node>),
    Ne(Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    /// `x in [literals]`.
    InConst(Box<Node>, Box<[Lit]>),
    Size(Box<Node>),
    String(Box<Node>),
    Str(StrFn, Box<Node>, Box<Node>),
    /// `exists`, `all`, `exists_one`: the range, the slot of the variable, the predicate.
    Fold(Fold, Box<Node>, usize, Box<Node>),
    /// `map` and `filter`: range, slot, optional predicate, the mapped expression
    /// (`None` for `filter`: the element itself).
    Map(Box<Node>, usize, Option<Box<Node>>, Option<Box<Node>>),
}

impl Program {
    /// Compiles a parsed expression; `Err` says why it is outside the subset.
    pub fn compile(e: &IdedExpr) -> Result<Program, String> {
        let mut c = Compiler { scope: Vec::new() };
        Ok(Program { root: c.node(e)? })
    }

    /// Evaluates over the facts; `Err(Bail)` when only `cel` can tell the answer.
    pub fn eval<'a>(&'a self, facts: &FactRefs<'a>) -> Result<V<'a>, Bail> {
        let mut cx = Cx {
            facts: *facts,
            locals: [V::Null, V::Null, V::Null, V::Null],
        };
        eval(&self.root, &mut cx)
    }
}

struct Compiler {
    /// Comprehension variables in scope, innermost last; the index is the slot.
    scope: Vec<String>,
}

fn lit(l: &LiteralValue) -> Result<Lit, String> {
    Ok(match l {
        LiteralValue::Null => Lit::Null,
        LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
        LiteralValue::Int(i) => Lit::Int(*i.inner()),
        LiteralValue::UInt(u) => Lit::UInt(*u.inner()),
        LiteralValue::Double(d) => Lit::Double(*d.inner()),
        LiteralValue::String(s) => Lit::Str(s.inner().into()),
        LiteralValue::Bytes(_) => return Err("bytes literals".into()),
    })
}

fn is_ident(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == name)
}

fn is_bool(e: &IdedExpr, b: bool) -> bool {
    matches!(&e.expr, Expr::Literal(LiteralValue::Boolean(x)) if *x.inner() == b)
}

fn is_int(e: &IdedExpr, i: i64) -> bool {
    matches!(&e.expr, Expr::Literal(LiteralValue::Int(x)) if *x.inner() == i)
}

/// `f(args...)` without a target.
fn call<'e>(e: &'e IdedExpr, f: &str) -> Option<&'e [IdedExpr]> {
    match &e.expr {
        Expr::Call(c) if c.target.is_none() && c.func_name == f => Some(&c.args),
        _ => None,
    }
}

/// `accu + [x]`: returns `x`.
fn appended<'e>(e: &'e IdedExpr, accu: &str) -> Option<&'e IdedExpr> {
    match call(e, "_+_")? {
        [a, l] if is_ident(a, accu) => match &l.expr {
            Expr::List(l) if l.elements.len() == 1 && l.optional_indices.is_empty() => {
                l.elements.first()
            }
            _ => None,
        },
        _ => None,
    }
}

/// A comprehension as written by one of the standard macros.
enum Shape<'e> {
    Fold(Fold, &'e IdedExpr),
    Map(Option<&'e IdedExpr>, &'e IdedExpr),
}

fn shape(c: &ComprehensionExpr) -> Option<Shape<'_>> {
    let accu = c.accu_var.as_str();
    if c.iter_var2.is_some() || !accu.starts_with('@') {
        return None;
    }
    let result_is_accu = is_ident(&c.result, accu);
    // exists: false, !@not_strictly_false(!@result), @result || p
    if result_is_accu
        && is_bool(&c.accu_init, false)
        && call(&c.loop_cond, "@not_strictly_false")
            .and_then(|a| a.first())
            .and_then(|x| call(x, "!_"))
            .is_some_and(|a| a.len() == 1 && is_ident(&a[0], accu))
        && let Some([a, p]) = call(&c.loop_step, "_||_")
        && is_ident(a, accu)
    {
        return Some(Shape::Fold(Fold::Exists, p));
    }
    // all: true, @not_strictly_false(@result), @result && p
    if result_is_accu
        && is_bool(&c.accu_init, true)
        && call(&c.loop_cond, "@not_strictly_false")
            .is_some_and(|a| a.len() == 1 && is_ident(&a[0], accu))
        && let Some([a, p]) = call(&c.loop_step, "_&&_")
        && is_ident(a, accu)
    {
        return Some(Shape::Fold(Fold::All, p));
    }
    // exists_one: 0, true, p ? @result + 1 : @result, @result == 1
    if is_int(&c.accu_init, 0)
        && is_bool(&c.loop_cond, true)
        && let Some([a, one]) = call(&c.result, "_==_")
        && is_ident(a, accu)
        && is_int(one, 1)
        && let Some([p, inc, same]) = call(&c.loop_step, "_?_:_")
        && is_ident(same, accu)
        && let Some([a2, one2]) = call(inc, "_+_")
        && is_ident(a2, accu)
        && is_int(one2, 1)
    {
        return Some(Shape::Fold(Fold::ExistsOne, p));
    }
    // map / filter: [], true, [p ?] @result + [x] [: @result], @result
    let empty_list = matches!(&c.accu_init.expr, Expr::List(l) if l.elements.is_empty());
    if result_is_accu && empty_list && is_bool(&c.loop_cond, true) {
        if let Some([p, step, same]) = call(&c.loop_step, "_?_:_")
            && is_ident(same, accu)
        {
            return appended(step, accu).map(|x| Shape::Map(Some(p), x));
        }
        return appended(&c.loop_step, accu).map(|x| Shape::Map(None, x));
    }
    None
}

impl Compiler {
    fn boxed(&mut self, e: &IdedExpr) -> Result<Box<Node>, String> {
        self.node(e).map(Box::new)
    }

    fn node(&mut self, e: &IdedExpr) -> Result<Node, String> {
        match &e.expr {
            Expr::Literal(l) => Ok(Node::Const(lit(l)?)),
            Expr::Ident(name) => self.ident(name),
            Expr::Select(s) => {
                let operand = self.boxed(&s.operand)?;
                if s.test {
                    Ok(Node::Has(operand, Field::from_name(&s.field)))
                } else {
                    let f = Field::from_name(&s.field);
                    Ok(match (*operand, f) {
                        (Node::Root(r), Some(f)) => Node::RootField(r, f),
                        (Node::Local(slot), Some(f)) => Node::LocalField(slot, f),
                        (operand, f) => Node::Select(Box::new(operand), f),
                    })
                }
            }
            Expr::List(l) => {
                if !l.optional_indices.is_empty() {
                    return Err("optional list elements".into());
                }
                let consts: Option<Vec<Lit>> = l
                    .elements
                    .iter()
                    .map(|x| match &x.expr {
                        Expr::Literal(v) => lit(v).ok(),
                        _ => None,
                    })
                    .collect();
                match consts {
                    Some(c) => Ok(Node::ConstList(c.into())),
                    None => Ok(Node::List(
                        l.elements
                            .iter()
                            .map(|x| self.node(x))
                            .collect::<Result<_, _>>()?,
                    )),
                }
            }
            Expr::Call(c) => self.call(c),
            Expr::Comprehension(c) => self.comprehension(c),
            Expr::Map(_) => Err("map literals".into()),
            Expr::Struct(_) => Err("message literals".into()),
            Expr::Unspecified => Err("an unspecified expression".into()),
        }
    }

    fn ident(&self, name: &str) -> Result<Node, String> {
        if let Some(slot) = self.scope.iter().rposition(|n| n == name) {
            return Ok(Node::Local(slot));
        }
        Root::of(name)
            .map(Node::Root)
            .ok_or_else(|| format!("identifier `{name}`"))
    }

    fn comprehension(&mut self, c: &ComprehensionExpr) -> Result<Node, String> {
        let shape = shape(c).ok_or("a comprehension that no standard macro writes")?;
        // `optional.of(...)` on a variable named `optional` would call a function.
        if c.iter_var.starts_with('@') || c.iter_var == "optional" {
            return Err(format!("iteration variable `{}`", c.iter_var));
        }
        if self.scope.len() >= MAX_DEPTH {
            return Err("comprehensions nested too deeply".into());
        }
        let range = self.boxed(&c.iter_range)?;
        let slot = self.scope.len();
        self.scope.push(c.iter_var.clone());
        let body = match shape {
            Shape::Fold(f, p) => self.boxed(p).map(|p| Node::Fold(f, range, slot, p)),
            Shape::Map(p, x) => {
                let p = p.map(|p| self.boxed(p)).transpose();
                let x = if is_ident(x, &c.iter_var) {
                    Ok(None)
                } else {
                    self.boxed(x).map(Some)
                };
                p.and_then(|p| x.map(|x| Node::Map(range, slot, p, x)))
            }
        };
        self.scope.pop();
        body
    }

    fn call(&mut self, c: &CallExpr) -> Result<Node, String> {
        let f = c.func_name.as_str();
        let args = c.args.as_slice();
        if let Some(t) = &c.target {
            if let Expr::Ident(n) = &t.expr
                && n == "optional"
            {
                return Err("the optional library".into());
            }
            let target = self.boxed(t)?;
            return match (f, args) {
                ("size", []) => Ok(Node::Size(target)),
                ("startsWith", [a]) => Ok(Node::Str(StrFn::StartsWith, target, self.boxed(a)?)),
                ("endsWith", [a]) => Ok(Node::Str(StrFn::EndsWith, target, self.boxed(a)?)),
                ("contains", [a]) => Ok(Node::Str(StrFn::Contains, target, self.boxed(a)?)),
                _ => Err(format!("method `{f}` with {} argument(s)", args.len())),
            };
        }
        match (f, args) {
            ("!_", [a]) => Ok(Node::Not(self.boxed(a)?)),
            ("-_", [a]) => Ok(Node::Neg(self.boxed(a)?)),
            ("size", [a]) => Ok(Node::Size(self.boxed(a)?)),
            ("string", [a]) => Ok(Node::String(self.boxed(a)?)),
            ("_?_:_", [c, a, b]) => Ok(Node::Cond(self.boxed(c)?, self.boxed(a)?, self.boxed(b)?)),
            ("_==_" | "_!=_", [a, b]) => {
                let ne = f == "_!=_";
                let (l, r) = (self.node(a)?, self.node(b)?);
                Ok(match (l, r) {
                    (x, Node::Const(Lit::Str(s))) | (Node::Const(Lit::Str(s)), x) => {
                        Node::EqStr(Box::new(x), s, ne)
                    }
                    (l, r) if ne => Node::Ne(Box::new(l), Box::new(r)),
                    (l, r) => Node::Eq(Box::new(l), Box::new(r)),
                })
            }
            ("_+_", [a, b]) => {
                let mut parts = match self.node(a)? {
                    Node::Concat(p) => p,
                    l => vec![l],
                };
                parts.push(self.node(b)?);
                Ok(Node::Concat(parts))
            }
            (_, [a, b]) => {
                let (l, r) = (self.boxed(a)?, self.boxed(b)?);
                Ok(match f {
                    "_&&_" => Node::And(l, r),
                    "_||_" => Node::Or(l, r),
                    "_==_" => Node::Eq(l, r),
                    "_!=_" => Node::Ne(l, r),
                    "_<_" => Node::Cmp(Cmp::Lt, l, r),
                    "_<=_" => Node::Cmp(Cmp::Le, l, r),
                    "_>_" => Node::Cmp(Cmp::Gt, l, r),
                    "_>=_" => Node::Cmp(Cmp::Ge, l, r),
                    "_-_" => Node::Arith(Arith::Sub, l, r),
                    "_*_" => Node::Arith(Arith::Mul, l, r),
                    "_/_" => Node::Arith(Arith::Div, l, r),
                    "_%_" => Node::Arith(Arith::Rem, l, r),
                    "_[_]" => Node::Index(l, r),
                    "@in" => match *r {
                        Node::ConstList(c) => Node::InConst(l, c),
                        r => Node::In(l, Box::new(r)),
                    },
                    _ => return Err(format!("function `{f}`")),
                })
            }
            _ => Err(format!("function `{f}` with {} argument(s)", args.len())),
        }
    }
}

struct Cx<'a> {
    facts: FactRefs<'a>,
    locals: [V<'a>; MAX_DEPTH],
}

#[inline]
fn boolean(v: V<'_>) -> Result<bool, Bail> {
    match v {
        V::Bool(b) => Ok(b),
        _ => Err(Bail),
    }
}

fn eval<'a>(n: &'a Node, cx: &mut Cx<'a>) -> Result<V<'a>, Bail> {
    match n {
        Node::Const(c) => Ok(c.v()),
        Node::ConstList(c) => Ok(V::Lits(c)),
        Node::List(items) => Ok(V::List(
            items
                .iter()
                .map(|x| eval(x, cx))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        )),
        Node::Root(r) => Ok(V::Obj(r.get(&cx.facts))),
        Node::RootField(r, f) => r.get(&cx.facts).get(*f).ok_or(Bail),
        Node::LocalField(slot, f) => match cx.locals.get(*slot) {
            Some(V::Obj(o)) => o.get(*f).ok_or(Bail),
            _ => Err(Bail),
        },
        Node::EqStr(x, s, ne) => {
            let x = eval(x, cx)?;
            let eq = x.as_str().is_some_and(|x| x == &**s);
            Ok(V::Bool(eq != *ne))
        }
        Node::Concat(parts) => concat(parts, cx),
        Node::Local(slot) => cx.locals.get(*slot).cloned().ok_or(Bail),
        Node::Select(o, f) => match eval(o, cx)? {
            V::Obj(o) => f.and_then(|f| o.get(f)).ok_or(Bail),
            _ => Err(Bail),
        },
        Node::Has(o, f) => match eval(o, cx)? {
            V::Obj(o) => Ok(V::Bool(f.is_some_and(|f| o.get(f).is_some()))),
            _ => Err(Bail),
        },
        Node::Index(o, i) => {
            let o = eval(o, cx)?;
            let i = eval(i, cx)?;
            match (&o, &i) {
                (V::Obj(o), key) => {
                    let f = key.as_str().and_then(Field::from_name).ok_or(Bail)?;
                    o.get(f).ok_or(Bail)
                }
                (list, V::Int(_) | V::UInt(_)) => {
                    let l = list.as_list().ok_or(Bail)?;
                    let i = match i {
                        V::Int(i) => usize::try_from(i).map_err(|_| Bail)?,
                        V::UInt(u) => usize::try_from(u).map_err(|_| Bail)?,
                        _ => return Err(Bail),
                    };
                    l.at(i).ok_or(Bail)
                }
                _ => Err(Bail),
            }
        }
        Node::Not(a) => Ok(V::Bool(!boolean(eval(a, cx)?)?)),
        Node::Neg(a) => match eval(a, cx)? {
            V::Int(i) => i.checked_neg().map(V::Int).ok_or(Bail),
            V::Double(d) => Ok(V::Double(-d)),
            _ => Err(Bail),
        },
        Node::And(a, b) => {
            if boolean(eval(a, cx)?)? {
                Ok(V::Bool(boolean(eval(b, cx)?)?))
            } else {
                Ok(V::Bool(false))
            }
        }
        Node::Or(a, b) => {
            if boolean(eval(a, cx)?)? {
                Ok(V::Bool(true))
            } else {
                Ok(V::Bool(boolean(eval(b, cx)?)?))
            }
        }
        Node::Cond(c, a, b) => {
            if boolean(eval(c, cx)?)? {
                eval(a, cx)
            } else {
                eval(b, cx)
            }
        }
        Node::Eq(a, b) => {
            let a = eval(a, cx)?;
            Ok(V::Bool(a.equals(&eval(b, cx)?)))
        }
        Node::Ne(a, b) => {
            let a = eval(a, cx)?;
            Ok(V::Bool(!a.equals(&eval(b, cx)?)))
        }
        Node::Cmp(op, a, b) => {
            let a = eval(a, cx)?;
            let b = eval(b, cx)?;
            let ord = compare(&a, &b)?;
            Ok(V::Bool(match op {
                Cmp::Lt => ord == Ordering::Less,
                Cmp::Le => ord != Ordering::Greater,
                Cmp::Gt => ord == Ordering::Greater,
                Cmp::Ge => ord != Ordering::Less,
            }))
        }
        Node::Arith(op, a, b) => {
            let a = eval(a, cx)?;
            let b = eval(b, cx)?;
            arith(*op, a, b)
        }
        Node::In(x, l) => {
            let x = eval(x, cx)?;
            let l = eval(l, cx)?;
            match &l {
                V::Obj(o) => match &x {
                    V::Str(_) | V::String(_) => Ok(V::Bool(
                        x.as_str()
                            .and_then(Field::from_name)
                            .is_some_and(|f| o.get(f).is_some()),
                    )),
                    V::Int(_) | V::UInt(_) | V::Bool(_) => Ok(V::Bool(false)),
                    _ => Err(Bail),
                },
                other => {
                    let l = other.as_list().ok_or(Bail)?;
                    Ok(V::Bool(contains(l, &x)))
                }
            }
        }
        Node::InConst(x, consts) => {
            let x = eval(x, cx)?;
            Ok(V::Bool(consts.iter().any(|c| c.equals(&x))))
        }
        Node::Size(a) => match eval(a, cx)? {
            V::Str(s) => Ok(V::Int(s.chars().count() as i64)),
            V::String(s) => Ok(V::Int(s.chars().count() as i64)),
            V::Obj(o) => Ok(V::Int(o.fields().len() as i64)),
            l => l.as_list().map(|l| V::Int(l.len() as i64)).ok_or(Bail),
        },
        Node::String(a) => match eval(a, cx)? {
            s @ (V::Str(_) | V::String(_)) => Ok(s),
            V::Int(i) => Ok(V::String(i.to_string().into())),
            V::UInt(u) => Ok(V::String(u.to_string().into())),
            V::Double(d) => Ok(V::String(d.to_string().into())),
            V::Bool(b) => Ok(V::String(b.to_string().into())),
            _ => Err(Bail),
        },
        Node::Str(f, a, b) => {
            let a = eval(a, cx)?;
            let b = eval(b, cx)?;
            let (Some(a), Some(b)) = (a.as_str(), b.as_str()) else {
                return Err(Bail);
            };
            Ok(V::Bool(match f {
                StrFn::StartsWith => a.starts_with(b),
                StrFn::EndsWith => a.ends_with(b),
                StrFn::Contains => a.contains(b),
            }))
        }
        Node::Fold(fold, range, slot, p) => {
            let range = eval(range, cx)?;
            let l = range.as_list().ok_or(Bail)?;
            let mut count = 0usize;
            for i in 0..l.len() {
                let item = l.at(i).ok_or(Bail)?;
                *cx.locals.get_mut(*slot).ok_or(Bail)? = item;
                let b = boolean(eval(p, cx)?)?;
                match fold {
                    Fold::Exists if b => return Ok(V::Bool(true)),
                    Fold::All if !b => return Ok(V::Bool(false)),
                    Fold::ExistsOne if b => count += 1,
                    _ => {}
                }
            }
            Ok(V::Bool(match fold {
                Fold::Exists => false,
                Fold::All => true,
                Fold::ExistsOne => count == 1,
            }))
        }
        Node::Map(range, slot, p, x) => {
            let range = eval(range, cx)?;
            let l = range.as_list().ok_or(Bail)?;
            let mut out = Vec::with_capacity(l.len());
            for i in 0..l.len() {
                let item = l.at(i).ok_or(Bail)?;
                *cx.locals.get_mut(*slot).ok_or(Bail)? = item.clone();
                if let Some(p) = p
                    && !boolean(eval(p, cx)?)?
                {
                    continue;
                }
                out.push(match x {
                    Some(x) => eval(x, cx)?,
                    None => item,
                });
            }
            Ok(V::List(out.into()))
        }
    }
}

fn concat<'a>(parts: &'a [Node], cx: &mut Cx<'a>) -> Result<V<'a>, Bail> {
    let (first, rest) = parts.split_first().ok_or(Bail)?;
    let first = eval(first, cx)?;
    if let Some(s0) = first.as_str() {
        // Strings: one buffer. Anything else added to a string is an error.
        let mut buf = String::with_capacity(s0.len() + 32);
        buf.push_str(s0);
        for p in rest {
            match eval(p, cx)? {
                V::Str(s) => buf.push_str(s),
                V::String(s) => buf.push_str(&s),
                _ => return Err(Bail),
            }
        }
        return Ok(V::String(buf.into()));
    }
    // Numbers and lists: add pairwise, left to right, as the tree reads.
    let mut acc = first;
    for p in rest {
        let v = eval(p, cx)?;
        acc = arith(Arith::Add, acc, v)?;
    }
    Ok(acc)
}

fn contains(l: ListRef<'_, '_>, x: &V<'_>) -> bool {
    match (l, x.as_str()) {
        (ListRef::Strs(items), Some(s)) => items.iter().any(|i| i == s),
        _ => (0..l.len()).any(|i| l.at(i).is_some_and(|v| v.equals(x))),
    }
}

fn compare(a: &V<'_>, b: &V<'_>) -> Result<Ordering, Bail> {
    match (a, b) {
        (V::Bool(x), V::Bool(y)) => Ok(x.cmp(y)),
        (V::Str(_) | V::String(_), V::Str(_) | V::String(_)) => Ok(a.as_str().cmp(&b.as_str())),
        _ => num_cmp(a, b).ok_or(Bail),
    }
}

fn arith<'a>(op: Arith, a: V<'a>, b: V<'a>) -> Result<V<'a>, Bail> {
    use Arith::*;
    match (a, b) {
        (V::Int(x), V::Int(y)) => match op {
            Add => x.checked_add(y),
            Sub => x.checked_sub(y),
            Mul => x.checked_mul(y),
            Div => x.checked_div(y),
            Rem => x.checked_rem(y),
        }
        .map(V::Int)
        .ok_or(Bail),
        (V::UInt(x), V::UInt(y)) => match op {
            Add => x.checked_add(y),
            Sub => x.checked_sub(y),
            Mul => x.checked_mul(y),
            Div => x.checked_div(y),
            Rem => x.checked_rem(y),
        }
        .map(V::UInt)
        .ok_or(Bail),
        (V::Double(x), V::Double(y)) => match op {
            Add => Ok(V::Double(x + y)),
            Sub => Ok(V::Double(x - y)),
            Mul => Ok(V::Double(x * y)),
            Div => Ok(V::Double(x / y)),
            Rem => Err(Bail),
        },
        (a, b) if op == Add => {
            if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                return Ok(V::String(s.into()));
            }
            match (a.as_list(), b.as_list()) {
                (Some(x), Some(y)) => {
                    let mut out: Vec<V<'a>> = Vec::with_capacity(x.len() + y.len());
                    for l in [x, y] {
                        for i in 0..l.len() {
                            out.push(l.at(i).ok_or(Bail)?);
                        }
                    }
                    Ok(V::List(Rc::from(out)))
                }
                _ => Err(Bail),
            }
        }
        _ => Err(Bail),
    }
}
