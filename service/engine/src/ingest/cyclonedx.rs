//! CycloneDX ML-BOMs (specification 1.5, 1.6 and 1.7, JSON).
//!
//! Every component of type `machine-learning-model` (top level, nested, or the BOM's
//! `metadata.component`) becomes one record, with its `modelCard`. The document is read
//! as a `serde_json::Value`, checked against our own small schema of the parts read
//! (`rules/schemas/cyclonedx.schema.json`; every other field is allowed, so 1.6 and 1.7
//! documents with fields older tooling does not know still parse).

use super::{
    Format, IngestError, ParseAllResult, ParseOptions, add_prose, fill_from_model_ref, hf_id,
    modality_of_format, parse_json, purl, text_of, validate,
};
use crate::record::{
    BaseModelRef, DatasetRef, DeclaredLicense, EnergyUse, EvalResult, LicenseScope, ModelRecord,
    Relation,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

const F: Format = Format::Cyclonedx;
/// The specification versions read: ML-BOMs (`modelCard`) exist since 1.5.
pub const SPEC_VERSIONS: &[&str] = &["1.5", "1.6", "1.7"];
const ML: &str = "machine-learning-model";
/// Deepest nesting of `components` followed.
const MAX_NESTING: usize = 32;

const WHAT: &str =
    "a CycloneDX 1.5–1.7 BOM in JSON, as described by rules/schemas/cyclonedx.schema.json";

pub fn parse(bytes: &[u8], opts: &ParseOptions, schema: &jsonschema::Validator) -> ParseAllResult {
    if let Some(b'<') = bytes
        .iter()
        .copied()
        .find(|b| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF))
    {
        return Err(
            IngestError::new(F, "this is an XML BOM; modelgate reads CycloneDX JSON only")
                .at_line(1, 1)
                .expected(
                    "a CycloneDX BOM in JSON (convert with `cyclonedx convert --output-format json`)",
                ),
        );
    }
    let value = parse_json(F, bytes, "a CycloneDX BOM in JSON")?;
    from_value(value, opts, schema)
}

/// One component of the BOM, with its JSON pointer.
struct Comp<'a> {
    ptr: String,
    v: &'a Map<String, Value>,
}

impl Comp<'_> {
    fn ty(&self) -> &str {
        self.v.get("type").and_then(Value::as_str).unwrap_or("")
    }
    fn bom_ref(&self) -> Option<&str> {
        self.v.get("bom-ref").and_then(Value::as_str)
    }
}

/// The BOM's components, indexed by `bom-ref`, and its dependency graph.
struct Bom<'a> {
    comps: Vec<Comp<'a>>,
    by_ref: HashMap<&'a str, usize>,
    /// Inline datasets (`data[]` of data components) by `bom-ref`: (component, entry).
    data_by_ref: HashMap<&'a str, (usize, &'a Map<String, Value>)>,
    /// `ref` -> (pointer of its `dependsOn`, the refs it depends on).
    deps: HashMap<&'a str, (String, Vec<&'a str>)>,
}

impl<'a> Bom<'a> {
    fn index(root: &'a Map<String, Value>) -> Bom<'a> {
        let mut bom = Bom {
            comps: Vec::new(),
            by_ref: HashMap::new(),
            data_by_ref: HashMap::new(),
            deps: HashMap::new(),
        };
        if let Some(c) = root
            .get("metadata")
            .and_then(|m| m.get("component"))
            .and_then(Value::as_object)
        {
            bom.add(c, "/metadata/component".to_string(), 0);
        }
        if let Some(cs) = root.get("components").and_then(Value::as_array) {
            for (i, c) in cs.iter().enumerate() {
                if let Some(c) = c.as_object() {
                    bom.add(c, format!("/components/{i}"), 0);
                }
            }
        }
        if let Some(ds) = root.get("dependencies").and_then(Value::as_array) {
            for (i, d) in ds.iter().enumerate() {
                let Some(r) = d.get("ref").and_then(Value::as_str) else {
                    continue;
                };
                let on: Vec<&str> = d
                    .get("dependsOn")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let entry = bom
                    .deps
                    .entry(r)
                    .or_insert_with(|| (format!("/dependencies/{i}/dependsOn"), Vec::new()));
                entry.1.extend(on);
            }
        }
        bom
    }

    fn add(&mut self, c: &'a Map<String, Value>, ptr: String, depth: usize) {
        if depth > MAX_NESTING {
            return;
        }
        let r = c.get("bom-ref").and_then(Value::as_str);
        // The BOM's subject is often repeated among its components: keep it once.
        if let Some(r) = r {
            if self.by_ref.contains_key(r) {
                return;
            }
            self.by_ref.insert(r, self.comps.len());
        }
        let idx = self.comps.len();
        if let Some(data) = c.get("data").and_then(Value::as_array) {
            for d in data.iter().filter_map(Value::as_object) {
                if let Some(dr) = d.get("bom-ref").and_then(Value::as_str) {
                    self.data_by_ref.insert(dr, (idx, d));
                }
            }
        }
        self.comps.push(Comp {
            ptr: ptr.clone(),
            v: c,
        });
        if let Some(cs) = c.get("components").and_then(Value::as_array) {
            for (i, sub) in cs.iter().enumerate() {
                if let Some(sub) = sub.as_object() {
                    self.add(sub, format!("{ptr}/components/{i}"), depth + 1);
                }
            }
        }
    }

    fn get(&self, r: &str) -> Option<&Comp<'a>> {
        self.by_ref.get(r).and_then(|&i| self.comps.get(i))
    }
}

/// Checks the header and the schema, then reads every model component.
pub fn from_value(
    value: Value,
    opts: &ParseOptions,
    schema: &jsonschema::Validator,
) -> ParseAllResult {
    let Some(root) = value.as_object() else {
        return Err(IngestError::new(F, "the BOM is not a JSON object")
            .at_pointer("/")
            .expected(WHAT));
    };
    match root.get("bomFormat") {
        Some(Value::String(s)) if s == "CycloneDX" => {}
        Some(v) => {
            return Err(
                IngestError::new(F, format!("bomFormat is {v}, not \"CycloneDX\""))
                    .at_pointer("/bomFormat")
                    .expected("\"bomFormat\": \"CycloneDX\""),
            );
        }
        None => {
            return Err(IngestError::new(F, "the BOM has no bomFormat")
                .at_pointer("/")
                .expected("\"bomFormat\": \"CycloneDX\""));
        }
    }
    match root.get("specVersion") {
        Some(Value::String(v)) if SPEC_VERSIONS.contains(&v.as_str()) => {}
        Some(v) => {
            return Err(IngestError::new(
                F,
                format!("CycloneDX specVersion {v} is not supported"),
            )
            .at_pointer("/specVersion")
            .expected(
                "specVersion \"1.5\", \"1.6\" or \"1.7\" (machine-learning components and modelCard exist since 1.5)",
            ));
        }
        None => {
            return Err(IngestError::new(F, "the BOM has no specVersion")
                .at_pointer("/")
                .expected("specVersion \"1.5\", \"1.6\" or \"1.7\""));
        }
    }
    validate(F, &value, schema, WHAT)?;
    let bom = Bom::index(root);
    let models: Vec<&Comp> = bom.comps.iter().filter(|c| c.ty() == ML).collect();
    if models.is_empty() {
        let others: Vec<String> = bom.comps.iter().map(|c| c.ty().to_string()).collect();
        return Err(IngestError::new(
            F,
            format!(
                "the BOM has no machine-learning model: none of its {} component(s) has type `{ML}`{}",
                others.len(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (types: {})", dedup(others).join(", "))
                }
            ),
        )
        .at_pointer(if root.contains_key("components") {
            "/components"
        } else {
            "/"
        })
        .expected(format!("a component with \"type\": \"{ML}\" and its modelCard")));
    }
    let single = models.len() == 1;
    Ok(models
        .into_iter()
        .map(|c| record(c, &bom, single, opts))
        .collect())
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Id and revision of a component: a Hugging Face purl or Hub URL, another purl,
/// `group/name`, or the name; `version` is the revision when nothing else gives one.
fn identity(v: &Map<String, Value>) -> (String, Option<String>, &'static str) {
    let version = text_of(v.get("version"));
    if let Some(p) = v.get("purl").and_then(Value::as_str) {
        if let Some((id, rev)) = hf_id(p) {
            return (id, rev.or(version), "/purl");
        }
        if let Some(p) = purl(p) {
            let id = match p.namespace {
                Some(ns) => format!("{ns}/{}", p.name),
                None => p.name,
            };
            return (id, p.version.or(version), "/purl");
        }
    }
    let hub = v
        .get("externalReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("url").and_then(Value::as_str))
        .find_map(hf_id);
    if let Some((id, rev)) = hub {
        return (id, rev.or(version), "/externalReferences");
    }
    let name = text_of(v.get("name")).unwrap_or_default();
    match text_of(v.get("group")) {
        Some(g) if !name.is_empty() => (format!("{g}/{name}"), version, "/name"),
        _ => (name, version, "/name"),
    }
}

fn publisher(v: &Map<String, Value>) -> Option<(String, &'static str)> {
    let name_of = |k: &str| v.get(k).and_then(|e| text_of(e.get("name")));
    if let Some(p) = text_of(v.get("publisher")) {
        return Some((p, "/publisher"));
    }
    if let Some(p) = name_of("supplier") {
        return Some((p, "/supplier/name"));
    }
    if let Some(p) = name_of("manufacturer") {
        return Some((p, "/manufacturer/name"));
    }
    if let Some(p) = v
        .get("authors")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|a| text_of(a.get("name")))
    {
        return Some((p, "/authors/0/name"));
    }
    text_of(v.get("author")).map(|a| (a, "/author"))
}

/// The licences of a component (`licenses[]`: `license.id`, `license.name` or
/// `expression`). Declarations acknowledged as `concluded` count only when there is
/// nothing else.
fn licenses(v: &Map<String, Value>, ptr: &str) -> Vec<DeclaredLicense> {
    let mut declared = Vec::new();
    let mut concluded = Vec::new();
    for (i, item) in v
        .get("licenses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let base = format!("{ptr}/licenses/{i}");
        let (d, ack) = if let Some(e) = text_of(item.get("expression")) {
            (
                DeclaredLicense {
                    value: e,
                    license_name: None,
                    license_link: None,
                    scope: LicenseScope::Whole,
                    source: Some(format!("{base}/expression")),
                },
                item.get("acknowledgement"),
            )
        } else if let Some(l) = item.get("license") {
            let (value, key) = match (text_of(l.get("id")), text_of(l.get("name"))) {
                (Some(id), _) => (id, "id"),
                (None, Some(name)) => (name, "name"),
                (None, None) => continue,
            };
            (
                DeclaredLicense {
                    value,
                    license_name: None,
                    license_link: text_of(l.get("url")),
                    scope: LicenseScope::Whole,
                    source: Some(format!("{base}/license/{key}")),
                },
                l.get("acknowledgement").or(item.get("acknowledgement")),
            )
        } else {
            continue;
        };
        if ack.and_then(Value::as_str) == Some("concluded") {
            concluded.push(d);
        } else {
            declared.push(d);
        }
    }
    let mut out = if declared.is_empty() {
        concluded
    } else {
        declared
    };
    let mut seen = Vec::new();
    out.retain(|d| {
        let key = d.value.to_ascii_lowercase();
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    out
}

/// A data component as a dataset: its name, first licence and sensitive-data flag.
fn dataset_of_component(c: &Comp) -> DatasetRef {
    let (id, _, _) = identity(c.v);
    let sensitive =
        c.v.get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(has_sensitive_data);
    DatasetRef {
        id: if id.is_empty() {
            c.bom_ref().unwrap_or("unnamed-dataset").to_string()
        } else {
            id
        },
        license: licenses(c.v, &c.ptr).into_iter().next().map(|d| d.value),
        sensitive_data: sensitive,
    }
}

fn has_sensitive_data(d: &Value) -> bool {
    d.get("sensitiveData")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| text_of(Some(s)).is_some()))
}

/// An inline dataset (`componentData`) of a model card.
fn inline_dataset(d: &Map<String, Value>, i: usize) -> DatasetRef {
    let id = text_of(d.get("name"))
        .or_else(|| d.get("contents").and_then(|c| text_of(c.get("url"))))
        .or_else(|| text_of(d.get("bom-ref")))
        .unwrap_or_else(|| format!("dataset {}", i + 1));
    DatasetRef {
        id,
        license: None,
        sensitive_data: has_sensitive_data(&Value::Object(d.clone())),
    }
}

fn push_dataset(rec: &mut ModelRecord, d: DatasetRef) {
    if !rec
        .datasets
        .iter()
        .any(|x| x.id.eq_ignore_ascii_case(&d.id))
    {
        rec.datasets.push(d);
    }
}

fn push_base(rec: &mut ModelRecord, id: String) {
    if !id.is_empty()
        && !id.eq_ignore_ascii_case(&rec.id)
        && !rec
            .base_models
            .iter()
            .any(|b| b.id.eq_ignore_ascii_case(&id))
    {
        rec.base_models.push(BaseModelRef {
            id,
            relation: Relation::Unknown,
        });
    }
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn non_empty(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::String(s)) => !s.trim().is_empty(),
        _ => false,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

fn record(c: &Comp, bom: &Bom, single: bool, opts: &ParseOptions) -> ModelRecord {
    let fmt = F.as_str();
    let p = &c.ptr;
    let v = c.v;
    let mut rec = ModelRecord {
        source_format: fmt.to_string(),
        ..ModelRecord::default()
    };
    let (id, rev, id_ptr) = identity(v);
    rec.id = id;
    rec.revision = rev;
    if !rec.id.is_empty() {
        rec.note("id", fmt, &format!("{p}{id_ptr}"));
    }
    rec.name = text_of(v.get("name"));
    if let Some((publisher, at)) = publisher(v) {
        rec.publisher = Some(publisher);
        rec.note("publisher", fmt, &format!("{p}{at}"));
    } else if let Some((org, _)) = rec.id.split_once('/') {
        rec.publisher = Some(org.to_string());
    }
    if let Some(d) = text_of(v.get("description")) {
        add_prose(&mut rec, &d);
    }

    rec.licenses = licenses(v, p);
    if !rec.licenses.is_empty() {
        rec.note("licenses", fmt, &format!("{p}/licenses"));
    }
    rec.tags = strings(v.get("tags")).map(str::to_string).collect();
    if !rec.tags.is_empty() {
        rec.note("tags", fmt, &format!("{p}/tags"));
    }

    // Lineage: pedigree ancestors, then model components this one depends on.
    for (i, a) in v
        .get("pedigree")
        .and_then(|x| x.get("ancestors"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(a) = a.as_object() else { continue };
        if a.get("type").and_then(Value::as_str) == Some(ML) {
            let had = rec.base_models.len();
            push_base(&mut rec, identity(a).0);
            if had == 0 && rec.base_models.len() == 1 {
                rec.note("base_models", fmt, &format!("{p}/pedigree/ancestors/{i}"));
            }
        }
    }
    let deps = c.bom_ref().and_then(|r| bom.deps.get(r));
    if let Some((dep_ptr, on)) = deps {
        for r in on {
            let Some(dep) = bom.get(r) else { continue };
            match dep.ty() {
                ML => {
                    let had = rec.base_models.len();
                    push_base(&mut rec, identity(dep.v).0);
                    if had == 0 && rec.base_models.len() == 1 {
                        rec.note("base_models", fmt, dep_ptr);
                    }
                }
                "data" => push_dataset(&mut rec, dataset_of_component(dep)),
                _ => {}
            }
        }
    }

    if let Some(mc) = v.get("modelCard").and_then(Value::as_object) {
        model_card(mc, &format!("{p}/modelCard"), bom, &mut rec);
    }
    if !rec.datasets.is_empty() && !rec.provenance.contains_key("datasets") {
        rec.note(
            "datasets",
            fmt,
            &deps.map(|d| d.0.clone()).unwrap_or_else(|| p.clone()),
        );
    }
    // A BOM about one model lists its data: data components nothing links are its data.
    if single {
        let linked: Vec<String> = rec.datasets.iter().map(|d| d.id.clone()).collect();
        for d in bom.comps.iter().filter(|d| d.ty() == "data") {
            let ds = dataset_of_component(d);
            if !linked.contains(&ds.id) {
                if rec.datasets.is_empty() {
                    rec.note("datasets", fmt, &d.ptr);
                }
                push_dataset(&mut rec, ds);
            }
        }
    }
    if !rec.datasets.is_empty() {
        rec.sections.training_data = true;
    }
    if rec.modalities_in.is_empty()
        && let Some((i, o)) = rec
            .task
            .as_deref()
            .and_then(|t| super::hf_card::modality_of(&t.to_ascii_lowercase()))
    {
        rec.modalities_in = i.iter().map(|s| s.to_string()).collect();
        rec.modalities_out = o.iter().map(|s| s.to_string()).collect();
    }
    fill_from_model_ref(&mut rec, opts);
    rec
}

fn model_card(mc: &Map<String, Value>, p: &str, bom: &Bom, rec: &mut ModelRecord) {
    let fmt = F.as_str();
    if let Some(mp) = mc.get("modelParameters") {
        let mpp = format!("{p}/modelParameters");
        rec.training_approach = mp.get("approach").and_then(|a| text_of(a.get("type")));
        if let Some(t) = text_of(mp.get("task")) {
            rec.task = Some(t);
            rec.note("task", fmt, &format!("{mpp}/task"));
        }
        rec.architecture =
            text_of(mp.get("architectureFamily")).or_else(|| text_of(mp.get("modelArchitecture")));
        for (i, d) in mp
            .get("datasets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(d) = d.as_object() else { continue };
            let ds = match d.get("ref").and_then(Value::as_str) {
                Some(r) => match (bom.get(r), bom.data_by_ref.get(r)) {
                    (Some(comp), _) => dataset_of_component(comp),
                    (None, Some((ci, entry))) => {
                        let mut ds = inline_dataset(entry, i);
                        if let Some(comp) = bom.comps.get(*ci) {
                            ds.license = licenses(comp.v, &comp.ptr)
                                .into_iter()
                                .next()
                                .map(|l| l.value);
                        }
                        ds
                    }
                    (None, None) => DatasetRef {
                        id: r.to_string(),
                        license: None,
                        sensitive_data: false,
                    },
                },
                None => inline_dataset(d, i),
            };
            if rec.datasets.is_empty() {
                rec.note("datasets", fmt, &format!("{mpp}/datasets"));
            }
            push_dataset(rec, ds);
        }
        for (key, out) in [("inputs", false), ("outputs", true)] {
            let mut mods: Vec<String> = Vec::new();
            for f in mp
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("format").and_then(Value::as_str))
            {
                if let Some(m) = modality_of_format(f)
                    && !mods.iter().any(|x| x == m)
                {
                    mods.push(m.to_string());
                }
            }
            if out {
                rec.modalities_out = mods;
            } else {
                rec.modalities_in = mods;
            }
        }
    }
    if let Some(qa) = mc.get("quantitativeAnalysis") {
        for m in qa
            .get("performanceMetrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rec.eval_results.push(EvalResult {
                task: rec.task.clone(),
                dataset: text_of(m.get("slice")),
                metric: text_of(m.get("type")),
                value: number(m.get("value")),
                verified: false,
            });
        }
        if !rec.eval_results.is_empty() {
            rec.note(
                "eval_results",
                fmt,
                &format!("{p}/quantitativeAnalysis/performanceMetrics"),
            );
        }
        rec.sections.evaluation = !rec.eval_results.is_empty() || non_empty(qa.get("graphics"));
    }
    if let Some(cons) = mc.get("considerations") {
        let s = &mut rec.sections;
        s.intended_uses = non_empty(cons.get("useCases")) || non_empty(cons.get("users"));
        s.limitations = non_empty(cons.get("technicalLimitations"))
            || non_empty(cons.get("performanceTradeoffs"));
        s.bias_risks = non_empty(cons.get("ethicalConsiderations"))
            || non_empty(cons.get("fairnessAssessments"));
        s.environmental_impact = non_empty(cons.get("environmentalConsiderations"));
        for text in ["useCases", "technicalLimitations"]
            .iter()
            .flat_map(|k| strings(cons.get(*k)))
        {
            add_prose(rec, text);
        }
        for e in cons
            .get("environmentalConsiderations")
            .and_then(|e| e.get("energyConsumptions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let q = |k: &str, unit: &str| {
                e.get(k).and_then(|c| {
                    let u = c.get("unit").and_then(Value::as_str).unwrap_or(unit);
                    // A negative amount is no energy or emission (model.schema.json: minimum 0).
                    number(c.get("value")).filter(|x| *x >= 0.0 && u.eq_ignore_ascii_case(unit))
                })
            };
            rec.energy.push(EnergyUse {
                activity: text_of(e.get("activity")).unwrap_or_else(|| "other".into()),
                kwh: q("activityEnergyCost", "kWh"),
                co2_tonnes: q("co2CostEquivalent", "tCO2eq"),
            });
        }
    }
}
