//! SPDX 3.0 JSON-LD documents with the AI profile.
//!
//! Every `ai_AIPackage` element of the `@graph` becomes one record: its AI properties,
//! the licences its `hasDeclaredLicense` / `hasConcludedLicense` relationships point to,
//! the `dataset_DatasetPackage` elements it was trained or tested on (or depends on), and
//! the AI packages it descends from. The document is checked against our own small
//! schema of the parts read (`rules/schemas/spdx3.schema.json`).

use super::{
    Format, IngestError, ParseAllResult, ParseOptions, add_prose, fill_from_model_ref, hf_id,
    parse_json, purl, text_of, validate,
};
use crate::record::{
    BaseModelRef, DatasetRef, DeclaredLicense, EnergyUse, EvalResult, LicenseScope, ModelRecord,
    Relation,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

const F: Format = Format::Spdx3;
const WHAT: &str = "an SPDX 3.0 JSON-LD document (@context and @graph), as described by rules/schemas/spdx3.schema.json";
/// Deepest licence set nesting followed.
const MAX_LICENSE_DEPTH: usize = 8;
/// Elements visited to read one licence declaration.
const LICENSE_BUDGET: usize = 256;

pub fn parse(bytes: &[u8], opts: &ParseOptions, schema: &jsonschema::Validator) -> ParseAllResult {
    let value = parse_json(F, bytes, "an SPDX 3.0 document in JSON-LD")?;
    from_value(value, opts, schema)
}

/// The short name of a type or property IRI: `ai_AIPackage` -> `AIPackage`,
/// `https://spdx.org/rdf/3.0.1/terms/AI/AIPackage` -> `AIPackage`.
fn short(t: &str) -> &str {
    let t = t.rsplit(['/', ':', '#']).next().unwrap_or(t);
    match t.split_once('_') {
        Some((profile, rest)) if profile.chars().all(|c| c.is_ascii_lowercase()) => rest,
        _ => t,
    }
}

struct Element<'a> {
    idx: usize,
    v: &'a Map<String, Value>,
}

impl<'a> Element<'a> {
    fn ty(&self) -> &'a str {
        self.v
            .get("type")
            .or_else(|| self.v.get("@type"))
            .and_then(Value::as_str)
            .map(short)
            .unwrap_or("")
    }
    fn id(&self) -> Option<&'a str> {
        self.v
            .get("spdxId")
            .or_else(|| self.v.get("@id"))
            .and_then(Value::as_str)
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.v.get(key)
    }
    fn ptr(&self, key: &str) -> String {
        format!("/@graph/{}/{key}", self.idx)
    }
}

struct Rel<'a> {
    idx: usize,
    ty: &'a str,
    from: &'a str,
    to: Vec<&'a str>,
}

struct Graph<'a> {
    elements: Vec<Element<'a>>,
    by_id: HashMap<&'a str, usize>,
    rels: Vec<Rel<'a>>,
}

impl<'a> Graph<'a> {
    fn get(&self, id: &str) -> Option<&Element<'a>> {
        self.by_id.get(id).and_then(|&i| self.elements.get(i))
    }
    fn rels_from<'s>(&'s self, id: &'s str) -> impl Iterator<Item = &'s Rel<'a>> + 's {
        self.rels.iter().filter(move |r| r.from == id)
    }
}

/// References (`to`, `originatedBy`) are arrays of IRIs; a single IRI is accepted too.
fn refs(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

pub fn from_value(
    value: Value,
    opts: &ParseOptions,
    schema: &jsonschema::Validator,
) -> ParseAllResult {
    let Some(root) = value.as_object() else {
        return Err(IngestError::new(F, "the document is not a JSON object")
            .at_pointer("/")
            .expected(WHAT));
    };
    let ctx = root
        .get("@context")
        .map(|c| c.to_string())
        .unwrap_or_default();
    if !ctx.contains("spdx.org/rdf/3.") {
        return Err(IngestError::new(
            F,
            if ctx.is_empty() {
                "the document has no @context".to_string()
            } else {
                format!("@context {ctx} is not an SPDX 3 context")
            },
        )
        .at_pointer(if ctx.is_empty() { "/" } else { "/@context" })
        .expected("\"@context\": \"https://spdx.org/rdf/3.0.1/spdx-context.jsonld\""));
    }
    validate(F, &value, schema, WHAT)?;
    let mut g = Graph {
        elements: Vec::new(),
        by_id: HashMap::new(),
        rels: Vec::new(),
    };
    for (idx, e) in root
        .get("@graph")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(v) = e.as_object() else { continue };
        let el = Element { idx, v };
        if let Some(id) = el.id() {
            g.by_id.entry(id).or_insert(g.elements.len());
        }
        if el.ty() == "Relationship"
            && let (Some(ty), Some(from)) = (
                el.get("relationshipType").and_then(Value::as_str),
                el.get("from").and_then(Value::as_str),
            )
        {
            g.rels.push(Rel {
                idx,
                ty: short(ty),
                from,
                to: refs(el.get("to")),
            });
        }
        g.elements.push(el);
    }
    let packages: Vec<&Element> = g
        .elements
        .iter()
        .filter(|e| e.ty() == "AIPackage")
        .collect();
    if packages.is_empty() {
        return Err(IngestError::new(
            F,
            format!(
                "the document has no AI package: none of its {} @graph element(s) is an ai_AIPackage",
                g.elements.len()
            ),
        )
        .at_pointer("/@graph")
        .expected("an element with \"type\": \"ai_AIPackage\" (the SPDX 3 AI profile)"));
    }
    Ok(packages.into_iter().map(|p| record(p, &g, opts)).collect())
}

/// Id and revision of a package: a Hugging Face purl or Hub download location, another
/// purl, or the name; `packageVersion` is the revision when nothing else gives one.
fn identity(e: &Element) -> (String, Option<String>, String) {
    let version = text_of(e.get("software_packageVersion"));
    let mut purls: Vec<(String, String)> = Vec::new();
    if let Some(p) = text_of(e.get("software_packageUrl")) {
        purls.push((p, e.ptr("software_packageUrl")));
    }
    for (i, x) in e
        .get("externalIdentifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if x.get("externalIdentifierType").and_then(Value::as_str) == Some("packageUrl")
            && let Some(p) = text_of(x.get("identifier"))
        {
            purls.push((p, e.ptr(&format!("externalIdentifier/{i}/identifier"))));
        }
    }
    for (p, at) in &purls {
        if let Some((id, rev)) = hf_id(p) {
            return (id, rev.or(version), at.clone());
        }
    }
    if let Some(loc) = text_of(e.get("software_downloadLocation"))
        && let Some((id, rev)) = hf_id(&loc)
    {
        return (id, rev.or(version), e.ptr("software_downloadLocation"));
    }
    for (p, at) in &purls {
        if let Some(p) = purl(p) {
            let id = match p.namespace {
                Some(ns) => format!("{ns}/{}", p.name),
                None => p.name,
            };
            return (id, p.version.or(version), at.clone());
        }
    }
    match text_of(e.get("name")) {
        Some(n) => (n, version, e.ptr("name")),
        None => (
            e.id()
                .map(|i| {
                    i.rsplit('/')
                        .find(|s| !s.is_empty())
                        .unwrap_or(i)
                        .to_string()
                })
                .unwrap_or_default(),
            version,
            e.ptr("spdxId"),
        ),
    }
}

/// The name of an agent (`suppliedBy`, `originatedBy`): the element's name, or the IRI.
fn agent_name(g: &Graph, v: Option<&Value>) -> Option<String> {
    let r = match v? {
        Value::Object(o) => return text_of(o.get("name")),
        other => refs(Some(other)).into_iter().next()?,
    };
    Some(
        g.get(r)
            .and_then(|a| text_of(a.get("name")))
            .unwrap_or_else(|| r.to_string()),
    )
}

/// A licence as the document states it: (value, licence name, link). `None` for
/// NoAssertion and None licences (nothing is granted by them).
///
/// Licence sets and operators can nest and, in a hostile document, refer to themselves:
/// past [`MAX_LICENSE_DEPTH`] levels or [`LICENSE_BUDGET`] elements visited for one
/// declaration the licence is an unresolvable custom one (reviewed, never dropped: a
/// dropped term of an AND could otherwise turn into an allow). Running out sets `budget`
/// to 0, which the caller checks.
fn license_value(
    g: &Graph,
    id: &str,
    depth: usize,
    budget: &mut usize,
) -> Option<(String, Option<String>, Option<String>)> {
    if depth > MAX_LICENSE_DEPTH || *budget == 0 {
        *budget = 0;
        return None;
    }
    *budget -= 1;
    let tail = short(id);
    if matches!(
        tail,
        "NoAssertionLicense" | "NoneLicense" | "NoAssertion" | "NONE" | "NOASSERTION"
    ) {
        return None;
    }
    let Some(e) = g.get(id) else {
        // Listed licences are often referenced by their IRI alone.
        return Some(match id.split_once("spdx.org/licenses/") {
            Some((_, rest)) if !rest.is_empty() => {
                (rest.trim_end_matches('/').to_string(), None, None)
            }
            _ => (id.to_string(), None, None),
        });
    };
    let see_also = e
        .get("expandedlicensing_seeAlso")
        .and_then(|s| refs(Some(s)).into_iter().next().map(str::to_string));
    match e.ty() {
        "LicenseExpression" => {
            text_of(e.get("simplelicensing_licenseExpression")).map(|x| (x, None, None))
        }
        "ListedLicense" => {
            let listed = id
                .split_once("spdx.org/licenses/")
                .map(|(_, r)| r.trim_end_matches('/').to_string())
                .filter(|r| !r.is_empty());
            Some((
                listed
                    .or_else(|| text_of(e.get("name")))
                    .unwrap_or_else(|| id.to_string()),
                None,
                see_also,
            ))
        }
        "CustomLicense" => Some((
            "other".to_string(),
            Some(text_of(e.get("name")).unwrap_or_else(|| format!("custom licence {id}"))),
            see_also,
        )),
        "NoAssertionLicense" | "NoneLicense" => None,
        "ConjunctiveLicenseSet" | "DisjunctiveLicenseSet" => {
            let op = if e.ty() == "ConjunctiveLicenseSet" {
                " AND "
            } else {
                " OR "
            };
            let members: Vec<String> = refs(e.get("expandedlicensing_member"))
                .into_iter()
                .filter_map(|m| license_value(g, m, depth + 1, budget))
                .map(|(v, name, _)| match (v.as_str(), name) {
                    ("other", Some(n)) => format!("LicenseRef-{}", sanitize(&n)),
                    _ if v.contains(' ') => format!("({v})"),
                    _ => v,
                })
                .collect();
            (!members.is_empty()).then(|| (members.join(op), None, None))
        }
        "OrLaterOperator" => refs(e.get("expandedlicensing_subjectLicense"))
            .first()
            .and_then(|s| license_value(g, s, depth + 1, budget))
            .map(|(v, n, l)| (format!("{v}+"), n, l)),
        "WithAdditionOperator" => refs(e.get("expandedlicensing_subjectExtendableLicense"))
            .first()
            .and_then(|s| license_value(g, s, depth + 1, budget)),
        _ => Some((
            text_of(e.get("name")).unwrap_or_else(|| id.to_string()),
            None,
            None,
        )),
    }
}

/// A licence declaration too deep, cyclic or large to read: an unresolvable custom licence.
fn unreadable(id: &str) -> (String, Option<String>, Option<String>) {
    (
        "other".to_string(),
        Some(format!(
            "licence {id}: nested deeper than {MAX_LICENSE_DEPTH} levels, cyclic or too large to read"
        )),
        None,
    )
}

/// A licence-ref-safe form of a name.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn licenses_of(g: &Graph, id: &str) -> Vec<DeclaredLicense> {
    let mut out: Vec<DeclaredLicense> = Vec::new();
    for kind in ["hasDeclaredLicense", "hasConcludedLicense"] {
        for r in g.rels_from(id).filter(|r| r.ty == kind) {
            for (j, to) in r.to.iter().enumerate() {
                let mut budget = LICENSE_BUDGET;
                let read = license_value(g, to, 0, &mut budget);
                let Some((value, license_name, license_link)) = (if budget == 0 {
                    Some(unreadable(to))
                } else {
                    read
                }) else {
                    continue;
                };
                if out
                    .iter()
                    .any(|d| d.value.eq_ignore_ascii_case(&value) && d.license_name == license_name)
                {
                    continue;
                }
                out.push(DeclaredLicense {
                    value,
                    license_name,
                    license_link,
                    scope: LicenseScope::Whole,
                    source: Some(format!("/@graph/{}/to/{j}", r.idx)),
                });
            }
        }
    }
    out
}

fn is_model_package(e: &Element) -> bool {
    e.ty() == "AIPackage"
        || (e.ty() == "Package"
            && e.get("software_primaryPurpose").and_then(Value::as_str) == Some("model"))
}

fn dataset(g: &Graph, e: &Element) -> DatasetRef {
    let (id, _, _) = identity(e);
    let license = e
        .id()
        .map(|i| licenses_of(g, i))
        .and_then(|l| l.into_iter().next())
        .map(|d| d.value);
    DatasetRef {
        id,
        license,
        sensitive_data: presence(e.get("dataset_hasSensitivePersonalInformation")) == Some(true),
    }
}

/// A PresenceType: `yes` -> true, `no` -> false, `noAssertion` (or absent) -> None.
fn presence(v: Option<&Value>) -> Option<bool> {
    match v.and_then(Value::as_str).map(short) {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| text_of(Some(x))).collect(),
        _ => Vec::new(),
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// `DictionaryEntry` lists (hyperparameters, metrics) as (key, value) pairs.
fn entries(v: Option<&Value>) -> Vec<(String, Option<String>)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((text_of(e.get("key"))?, text_of(e.get("value")))))
        .collect()
}

fn record(e: &Element, g: &Graph, opts: &ParseOptions) -> ModelRecord {
    let fmt = F.as_str();
    let mut rec = ModelRecord {
        source_format: fmt.to_string(),
        ..ModelRecord::default()
    };
    let (id, rev, id_ptr) = identity(e);
    rec.id = id;
    rec.revision = rev;
    if !rec.id.is_empty() {
        rec.note("id", fmt, &id_ptr);
    }
    rec.name = text_of(e.get("name"));
    if let Some(p) = agent_name(g, e.get("suppliedBy")) {
        rec.publisher = Some(p);
        rec.note("publisher", fmt, &e.ptr("suppliedBy"));
    } else if let Some(p) = agent_name(g, e.get("originatedBy")) {
        rec.publisher = Some(p);
        rec.note("publisher", fmt, &e.ptr("originatedBy"));
    }
    for k in [
        "summary",
        "description",
        "comment",
        "ai_informationAboutApplication",
        "ai_informationAboutTraining",
        "ai_limitation",
    ] {
        if let Some(t) = text_of(e.get(k)) {
            add_prose(&mut rec, &t);
        }
    }

    let Some(me) = e.id() else {
        fill_from_model_ref(&mut rec, opts);
        return rec;
    };
    rec.licenses = licenses_of(g, me);
    if let Some(first) = rec.licenses.first().and_then(|d| d.source.clone()) {
        rec.note("licenses", fmt, &first);
    }

    // Datasets and lineage from relationships.
    for r in g.rels_from(me) {
        for to in &r.to {
            let Some(target) = g.get(to) else { continue };
            match (r.ty, target.ty()) {
                ("trainedOn" | "testedOn" | "dependsOn" | "hasInput", "DatasetPackage") => {
                    let d = dataset(g, target);
                    if !rec.datasets.iter().any(|x| x.id == d.id) {
                        if rec.datasets.is_empty() {
                            rec.note("datasets", fmt, &format!("/@graph/{}", r.idx));
                        }
                        rec.datasets.push(d);
                    }
                }
                ("descendantOf" | "dependsOn", _) if is_model_package(target) => {
                    push_base(&mut rec, identity(target).0, r.idx);
                }
                _ => {}
            }
        }
    }
    // `X ancestorOf me`: X is a base.
    for r in g
        .rels
        .iter()
        .filter(|r| r.ty == "ancestorOf" && r.to.contains(&me))
    {
        if let Some(anc) = g.get(r.from).filter(|a| is_model_package(a)) {
            push_base(&mut rec, identity(anc).0, r.idx);
        }
    }

    // AI profile properties.
    rec.autonomy_type = e
        .get("ai_autonomyType")
        .and_then(Value::as_str)
        .map(|s| short(s).to_string());
    rec.application_domains = strings(e.get("ai_domain"));
    rec.standard_compliance = strings(e.get("ai_standardCompliance"));
    rec.uses_sensitive_personal_information = presence(e.get("ai_useSensitivePersonalInformation"));
    let types = strings(e.get("ai_typeOfModel"));
    if !types.is_empty() {
        rec.architecture = Some(types.join("; "));
    }
    rec.hyperparameters = entries(e.get("ai_hyperparameter"))
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    for (k, v) in entries(e.get("ai_metric")) {
        rec.eval_results.push(EvalResult {
            task: None,
            dataset: None,
            metric: Some(k),
            value: v
                .as_deref()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|x| x.is_finite()),
            verified: false,
        });
    }
    if !rec.eval_results.is_empty() {
        rec.note("eval_results", fmt, &e.ptr("ai_metric"));
    }
    // The levels of SPDX 3's SafetyRiskAssessmentType (model.schema.json's enum); any other
    // value is no assessment.
    if let Some(risk) = e
        .get("ai_safetyRiskAssessment")
        .and_then(Value::as_str)
        .map(|r| short(r).to_ascii_lowercase())
        .filter(|r| matches!(r.as_str(), "serious" | "high" | "medium" | "low"))
    {
        rec.safety_risk_assessment = Some(risk);
        rec.note(
            "safety_risk_assessment",
            fmt,
            &e.ptr("ai_safetyRiskAssessment"),
        );
    }
    if let Some(ec) = e.get("ai_energyConsumption") {
        for (key, activity) in [
            ("ai_trainingEnergyConsumption", "training"),
            ("ai_finetuningEnergyConsumption", "finetuning"),
            ("ai_inferenceEnergyConsumption", "inference"),
        ] {
            for d in ec.get(key).and_then(Value::as_array).into_iter().flatten() {
                // A negative quantity is no energy (model.schema.json: minimum 0).
                let q = number(d.get("ai_energyQuantity")).filter(|x| *x >= 0.0);
                let unit = d.get("ai_energyUnit").and_then(Value::as_str).map(short);
                rec.energy.push(EnergyUse {
                    activity: activity.to_string(),
                    kwh: match unit {
                        Some("kilowattHour") => q,
                        Some("megajoule") => q.map(|x| x / 3.6),
                        _ => None,
                    },
                    co2_tonnes: None,
                });
            }
        }
    }

    let s = &mut rec.sections;
    s.intended_uses = text_of(e.get("ai_informationAboutApplication")).is_some();
    s.limitations = text_of(e.get("ai_limitation")).is_some();
    s.training_data =
        text_of(e.get("ai_informationAboutTraining")).is_some() || !rec.datasets.is_empty();
    s.evaluation = !rec.eval_results.is_empty();
    s.environmental_impact = e.get("ai_energyConsumption").is_some_and(|v| !v.is_null());
    s.bias_risks = rec.safety_risk_assessment.is_some();
    fill_from_model_ref(&mut rec, opts);
    if rec.publisher.is_none()
        && let Some((org, _)) = rec.id.split_once('/')
    {
        rec.publisher = Some(org.to_string());
    }
    rec
}

fn push_base(rec: &mut ModelRecord, id: String, rel_idx: usize) {
    if id.is_empty()
        || id.eq_ignore_ascii_case(&rec.id)
        || rec
            .base_models
            .iter()
            .any(|b| b.id.eq_ignore_ascii_case(&id))
    {
        return;
    }
    if rec.base_models.is_empty() {
        rec.note("base_models", F.as_str(), &format!("/@graph/{rel_idx}"));
    }
    rec.base_models.push(BaseModelRef {
        id,
        relation: Relation::Unknown,
    });
}
