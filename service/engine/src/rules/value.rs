//! The facts as values of the fast evaluator ([`super::fast`]), read in place.
//!
//! A [`V`] borrows from the facts structs (`facts.rs`) and from the compiled program:
//! nothing is converted or copied before a rule runs, and a rule reads only the fields
//! it names. A facts struct is an [`Object`]: a CEL map from its field names (the
//! struct's serde names) to its values, as `celval::to_val` would have built it.
//!
//! Field names are interned as [`Field`] when a rule is compiled; reading a field is a
//! `match` on that enum. The field lists below must follow `facts.rs`: a test checks
//! them against the serde form of every struct, and a field missing here only makes the
//! rules that read it run on the CEL interpreter (see [`super::fast`]).

use crate::facts::*;
use std::rc::Rc;

/// A value of the fast evaluator. Strings, lists and objects borrow the facts (`'a`).
#[derive(Clone, Debug)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    /// A borrowed string (a fact, a literal).
    Str(&'a str),
    /// A computed string (`+`, `string()`).
    String(Rc<str>),
    /// A facts struct: a map from its field names.
    Obj(&'a dyn Object),
    /// A list of strings of the facts.
    Strs(&'a [String]),
    /// A list of facts structs.
    Objs(&'a dyn Objects),
    /// A list literal of literals, as compiled.
    Lits(&'a [Lit]),
    /// A computed list (list literal, `map`, `filter`, `+`).
    List(Rc<[V<'a>]>),
}

/// A literal of a compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Box<str>),
}

impl Lit {
    #[inline]
    pub fn v(&self) -> V<'_> {
        match self {
            Lit::Null => V::Null,
            Lit::Bool(b) => V::Bool(*b),
            Lit::Int(i) => V::Int(*i),
            Lit::UInt(u) => V::UInt(*u),
            Lit::Double(d) => V::Double(*d),
            Lit::Str(s) => V::Str(s),
        }
    }

    /// CEL equality with a value.
    pub fn equals(&self, x: &V<'_>) -> bool {
        match (self, x.as_str()) {
            (Lit::Str(a), Some(b)) => **a == *b,
            (Lit::Str(_), None) => false,
            _ => self.v().equals(x),
        }
    }
}

/// A facts struct seen as a CEL map.
pub trait Object: std::fmt::Debug {
    /// The value of a field; `None` when the struct has no such field.
    fn get(&self, f: Field) -> Option<V<'_>>;
    /// Every field of the struct.
    fn fields(&self) -> &'static [Field];
    /// Every field of the struct, sorted by name (the order of JSON renderings).
    fn sorted_fields(&self) -> &'static [Field];
}

/// A list of facts structs.
pub trait Objects: std::fmt::Debug {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn at(&self, i: usize) -> Option<&dyn Object>;
}

impl<T: Object> Objects for Vec<T> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn at(&self, i: usize) -> Option<&dyn Object> {
        self.get(i).map(|o| o as &dyn Object)
    }
}

/// A field of a facts struct as a value.
pub trait AsV {
    fn as_v(&self) -> V<'_>;
}

impl AsV for String {
    fn as_v(&self) -> V<'_> {
        V::Str(self)
    }
}
impl AsV for i64 {
    fn as_v(&self) -> V<'_> {
        V::Int(*self)
    }
}
impl AsV for f64 {
    fn as_v(&self) -> V<'_> {
        V::Double(*self)
    }
}
impl AsV for bool {
    fn as_v(&self) -> V<'_> {
        V::Bool(*self)
    }
}
impl AsV for Vec<String> {
    fn as_v(&self) -> V<'_> {
        V::Strs(self)
    }
}
impl<T: Object + 'static> AsV for Vec<T> {
    fn as_v(&self) -> V<'_> {
        V::Objs(self)
    }
}
impl<T: Object + 'static> AsV for T {
    fn as_v(&self) -> V<'_> {
        V::Obj(self)
    }
}

macro_rules! fields {
    ($($f:ident),* $(,)?) => {
        /// Every field name of the facts structs, interned.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Field { $($f),* }

        impl Field {
            /// The whole vocabulary.
            pub const ALL: &'static [Field] = &[$(Field::$f),*];

            pub fn name(self) -> &'static str {
                match self { $(Field::$f => stringify!($f)),* }
            }
            pub fn from_name(s: &str) -> Option<Field> {
                match s { $(stringify!($f) => Some(Field::$f),)* _ => None }
            }
        }
    };
}

fields!(
    // model
    id,
    short_name,
    name,
    revision,
    publisher,
    source_format,
    task,
    modalities_in,
    modalities_out,
    multimodal,
    languages,
    library,
    architecture,
    parameter_count,
    training_compute_flops,
    gated,
    eu_disallowed,
    tags,
    sections,
    datasets,
    eval_results,
    eval_results_unverified,
    safety_risk_assessment,
    ai_act,
    files,
    declares_license,
    has_license_text,
    // sections
    intended_uses,
    out_of_scope_uses,
    limitations,
    bias_risks,
    evaluation,
    environmental_impact,
    training_data,
    // datasets
    license,
    sensitive_data,
    // ai_act
    general_purpose,
    training_summary_url,
    copyright_policy_url,
    provider_in_eu,
    provider_in_eu_known,
    // context
    purpose,
    deployment,
    monthly_active_users,
    annual_revenue_usd,
    regions,
    domicile,
    domains,
    modification,
    distribute_weights,
    train_on_outputs,
    eu_domiciled,
    deployed_in_eu,
    commercial,
    commercial_advantage,
    hosted,
    modifies,
    // geo
    region,
    scope,
    basis,
    // licence terms
    origin,
    via,
    category,
    restrictiveness,
    research_only,
    non_production,
    mau_threshold,
    mau_at_release,
    thresholds_commercial_only,
    revenue_threshold_usd,
    above_threshold,
    aup_url,
    aup_updatable,
    use_restrictions,
    conditional_uses,
    attribution,
    credit,
    notice,
    license_copy,
    mark_modifications,
    flow_down,
    name_prefix,
    outputs_training,
    share_alike,
    no_derivatives,
    hosting_restricted,
    geo,
    termination,
    remote_restriction,
    must_use_latest,
    export_control,
    governing_law,
    osi_approved,
    osaid_compatible,
    mof_open,
    verified,
    version_date,
    // declared
    raw,
    resolution,
    source,
    deprecated_spdx,
    evidence,
    // license
    status,
    declared,
    conflicting,
    chosen,
    alternatives,
    ids,
    inherited_ids,
    terms,
    // ancestors
    model,
    relation,
    depth,
    known,
    // more permissive
    ancestor,
    ancestor_license,
    // lineage
    derivative,
    inferred,
    ancestors,
    unresolved,
    self_known,
    relicensed,
    cycle,
    more_permissive,
    multimodal_licenses,
    catalog_licenses,
    // openness
    mof_class,
    mof_class_name,
    released,
    open,
    missing_for_next_class,
    osi_open,
    // now
    unix,
    date,
);

/// The variables rules read, borrowed: what one evaluation binds.
#[derive(Debug, Clone, Copy)]
pub struct FactRefs<'a> {
    pub model: &'a ModelFacts,
    pub context: &'a ContextFacts,
    pub license: &'a LicenseFacts,
    pub lineage: &'a LineageFacts,
    pub openness: &'a OpennessFacts,
    pub now: &'a NowFacts,
}

impl Facts {
    pub fn refs(&self) -> FactRefs<'_> {
        FactRefs {
            model: &self.model,
            context: &self.context,
            license: &self.license,
            lineage: &self.lineage,
            openness: &self.openness,
            now: &self.now,
        }
    }
}

/// A list value, whatever its representation.
#[derive(Clone, Copy)]
pub enum ListRef<'b, 'a> {
    Strs(&'a [String]),
    Objs(&'a dyn Objects),
    Lits(&'a [Lit]),
    Vals(&'b [V<'a>]),
}

impl<'b, 'a> ListRef<'b, 'a> {
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            ListRef::Strs(s) => s.len(),
            ListRef::Objs(o) => o.len(),
            ListRef::Lits(l) => l.len(),
            ListRef::Vals(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The elements, in order.
    pub fn iter(self) -> impl Iterator<Item = V<'a>> + 'b {
        (0..self.len()).filter_map(move |i| self.at(i))
    }
    #[inline]
    pub fn at(&self, i: usize) -> Option<V<'a>> {
        match self {
            ListRef::Strs(s) => s.get(i).map(|s| V::Str(s)),
            ListRef::Objs(o) => o.at(i).map(V::Obj),
            ListRef::Lits(l) => l.get(i).map(Lit::v),
            ListRef::Vals(v) => v.get(i).cloned(),
        }
    }
}

impl<'a> V<'a> {
    #[inline]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::String(s) => Some(s),
            _ => None,
        }
    }

    #[inline]
    pub fn as_list(&self) -> Option<ListRef<'_, 'a>> {
        match self {
            V::Strs(s) => Some(ListRef::Strs(s)),
            V::Objs(o) => Some(ListRef::Objs(*o)),
            V::Lits(l) => Some(ListRef::Lits(l)),
            V::List(v) => Some(ListRef::Vals(v)),
            _ => None,
        }
    }

    /// CEL equality as the `cel` crate computes it: numbers compare across int, uint
    /// and double; a NaN equals nothing; values of different kinds are unequal.
    pub fn equals(&self, other: &V<'_>) -> bool {
        use V::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(_) | UInt(_) | Double(_), Int(_) | UInt(_) | Double(_)) => {
                num_cmp(self, other) == Some(std::cmp::Ordering::Equal)
            }
            (Str(_) | String(_), Str(_) | String(_)) => self.as_str() == other.as_str(),
            (Obj(a), Obj(b)) => {
                let (fa, fb) = (a.fields(), b.fields());
                fa.len() == fb.len()
                    && fa.iter().all(|f| match (a.get(*f), b.get(*f)) {
                        (Some(x), Some(y)) => x.equals(&y),
                        _ => false,
                    })
            }
            _ => match (self.as_list(), other.as_list()) {
                (Some(a), Some(b)) => {
                    a.len() == b.len()
                        && (0..a.len()).all(|i| match (a.at(i), b.at(i)) {
                            (Some(x), Some(y)) => x.equals(&y),
                            _ => false,
                        })
                }
                _ => false,
            },
        }
    }

    /// The value as `eval::cel_to_json` renders the same CEL value (evidence).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            V::Null => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::UInt(u) => J::from(*u),
            V::Double(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            V::Str(s) => J::String((*s).to_string()),
            V::String(s) => J::String(s.to_string()),
            V::Obj(o) => J::Object(
                o.sorted_fields()
                    .iter()
                    .map(|&f| {
                        let v = o.get(f).map(|v| v.to_json()).unwrap_or(J::Null);
                        (f.name().to_string(), v)
                    })
                    .collect(),
            ),
            V::Strs(_) | V::Objs(_) | V::Lits(_) | V::List(_) => {
                let l = self.as_list();
                J::Array(
                    l.into_iter()
                        .flat_map(|l| l.iter())
                        .map(|v| v.to_json())
                        .collect(),
                )
            }
        }
    }

    /// The value as `template::render_value` renders the same CEL value.
    pub fn render(&self, out: &mut std::string::String) {
        use super::text::{format_float, group_thousands};
        match self {
            V::Str(s) => out.push_str(s),
            V::String(s) => out.push_str(s),
            V::Int(i) => out.push_str(&group_thousands(*i)),
            V::UInt(u) => out.push_str(&u.to_string()),
            V::Double(f) => out.push_str(&format_float(*f)),
            V::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
            V::Null => out.push_str("none"),
            V::Obj(_) => out.push_str(&self.to_json().to_string()),
            V::Strs(_) | V::Objs(_) | V::Lits(_) | V::List(_) => {
                if let Some(l) = self.as_list() {
                    if l.is_empty() {
                        out.push_str("none");
                    }
                    for i in 0..l.len() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        if let Some(x) = l.at(i) {
                            x.render(out);
                        }
                    }
                }
            }
        }
    }

    /// The same value as the `cel` crate's value (differential tests, diagnostics).
    pub fn to_cel(&self) -> cel::Value {
        use cel::Value as C;
        match self {
            V::Null => C::Null,
            V::Bool(b) => C::Bool(*b),
            V::Int(i) => C::Int(*i),
            V::UInt(u) => C::UInt(*u),
            V::Double(f) => C::Float(*f),
            V::Str(s) => C::String(std::sync::Arc::new((*s).to_string())),
            V::String(s) => C::String(std::sync::Arc::new(s.to_string())),
            V::Obj(o) => {
                let m: std::collections::HashMap<cel::objects::Key, cel::Value> = o
                    .fields()
                    .iter()
                    .filter_map(|f| {
                        let v = o.get(*f)?;
                        Some((
                            cel::objects::Key::String(std::sync::Arc::new(f.name().to_string())),
                            v.to_cel(),
                        ))
                    })
                    .collect();
                C::Map(cel::objects::Map { map: m.into() })
            }
            V::Strs(_) | V::Objs(_) | V::Lits(_) | V::List(_) => {
                let items: Vec<cel::Value> = self
                    .as_list()
                    .into_iter()
                    .flat_map(|l| l.iter())
                    .map(|v| v.to_cel())
                    .collect();
                C::List(items.into())
            }
        }
    }
}

/// Numeric comparison across int, uint and double, as `cel`'s comparers do; `None`
/// when either is not a number or a NaN is involved.
pub fn num_cmp(a: &V<'_>, b: &V<'_>) -> Option<std::cmp::Ordering> {
    use V::*;
    use std::cmp::Ordering;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (UInt(x), UInt(y)) => Some(x.cmp(y)),
        (Double(x), Double(y)) => x.partial_cmp(y),
        (Int(x), UInt(y)) => Some(u64::try_from(*x).map_or(Ordering::Less, |x| x.cmp(y))),
        (UInt(x), Int(y)) => Some(i64::try_from(*x).map_or(Ordering::Greater, |x| x.cmp(y))),
        (Int(x), Double(y)) => (*x as f64).partial_cmp(y),
        (Double(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (UInt(x), Double(y)) => (*x as f64).partial_cmp(y),
        (Double(x), UInt(y)) => x.partial_cmp(&(*y as f64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys<T: serde::Serialize>(v: &T) -> BTreeSet<String> {
        match serde_json::to_value(v) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    fn names(o: &dyn Object) -> BTreeSet<String> {
        o.fields().iter().map(|f| f.name().to_string()).collect()
    }

    /// The field lists of this file follow the facts structs exactly.
    #[test]
    fn objects_have_every_serialized_field() {
        let f = Facts {
            license: LicenseFacts {
                declared: vec![DeclaredFacts::default()],
                terms: vec![TermFacts {
                    geo: vec![GeoFacts::default()],
                    ..TermFacts::default()
                }],
                ..LicenseFacts::default()
            },
            ..Facts::default()
        };
        let cases: Vec<(BTreeSet<String>, BTreeSet<String>, &str)> = vec![
            (keys(&f.model), names(&f.model), "ModelFacts"),
            (
                keys(&f.model.sections),
                names(&f.model.sections),
                "SectionFacts",
            ),
            (
                keys(&DatasetFacts::default()),
                names(&DatasetFacts::default()),
                "DatasetFacts",
            ),
            (keys(&f.model.ai_act), names(&f.model.ai_act), "AiActFacts"),
            (keys(&f.context), names(&f.context), "ContextFacts"),
            (keys(&f.license), names(&f.license), "LicenseFacts"),
            (
                keys(&f.license.terms[0]),
                names(&f.license.terms[0]),
                "TermFacts",
            ),
            (
                keys(&f.license.terms[0].geo[0]),
                names(&f.license.terms[0].geo[0]),
                "GeoFacts",
            ),
            (
                keys(&f.license.declared[0]),
                names(&f.license.declared[0]),
                "DeclaredFacts",
            ),
            (keys(&f.lineage), names(&f.lineage), "LineageFacts"),
            (
                keys(&AncestorFacts::default()),
                names(&AncestorFacts::default()),
                "AncestorFacts",
            ),
            (
                keys(&PermissiveFacts::default()),
                names(&PermissiveFacts::default()),
                "PermissiveFacts",
            ),
            (keys(&f.openness), names(&f.openness), "OpennessFacts"),
            (keys(&f.now), names(&f.now), "NowFacts"),
        ];
        for (serialized, listed, what) in cases {
            assert_eq!(
                serialized, listed,
                "{what}: rules/value.rs lists other fields than facts.rs"
            );
        }
        // Every interned name belongs to some struct, and names round-trip.
        // The vocabulary is the field names of the facts structs, no more: a name a
        // struct needs and the vocabulary lacks does not compile (`facts!`).
        fn shape_names(s: &crate::facts::Shape, out: &mut BTreeSet<&'static str>) {
            match s {
                crate::facts::Shape::List(i) => shape_names(i, out),
                crate::facts::Shape::Object { fields, name } => {
                    for f in fields {
                        if *name != "Facts" {
                            out.insert(f.name);
                        }
                        shape_names(&f.shape, out);
                    }
                }
                _ => {}
            }
        }
        let mut used = BTreeSet::new();
        shape_names(&<Facts as crate::facts::Shaped>::shape(), &mut used);
        let vocabulary: BTreeSet<_> = Field::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            vocabulary, used,
            "fields!(…) and the facts structs disagree"
        );
        for f in [Field::id, Field::more_permissive, Field::date, Field::scope] {
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
        assert_eq!(Field::from_name("no_such_field"), None);
    }

    #[test]
    fn field_values_are_read_in_place() {
        let t = TermFacts {
            id: "mit".into(),
            mau_threshold: 7,
            attribution: vec!["a".into(), "b".into()],
            ..TermFacts::default()
        };
        assert!(matches!(t.get(Field::id), Some(V::Str("mit"))));
        assert!(matches!(t.get(Field::mau_threshold), Some(V::Int(7))));
        assert!(matches!(t.get(Field::attribution), Some(V::Strs(s)) if s.len() == 2));
        assert!(t.get(Field::date).is_none());
        assert_eq!(
            V::Obj(&t).to_json()["attribution"],
            serde_json::json!(["a", "b"])
        );
    }

    #[test]
    fn equality_follows_cel() {
        assert!(V::Int(1).equals(&V::Double(1.0)));
        assert!(V::UInt(1).equals(&V::Int(1)));
        assert!(!V::Int(-1).equals(&V::UInt(u64::MAX)));
        assert!(!V::Double(f64::NAN).equals(&V::Double(f64::NAN)));
        assert!(!V::Str("1").equals(&V::Int(1)));
        assert!(V::Str("a").equals(&V::String("a".into())));
        let s = vec!["a".to_string()];
        assert!(V::Strs(&s).equals(&V::List(vec![V::Str("a")].into())));
        assert!(!V::Strs(&s).equals(&V::List(Vec::new().into())));
        assert!(!V::Null.equals(&V::Bool(false)));
    }
}
