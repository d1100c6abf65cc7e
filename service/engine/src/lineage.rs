//! Lineage: the base models a model derives from, declared or inferred, resolved
//! through the catalog of well-known base models (`rules/models/*.yaml`).

use crate::license::Catalog;
use crate::license::Expr;
use crate::license::resolve::resolve_declared_value;
use crate::record::{ModelRecord, Relation};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionLicense {
    pub until: String,
    pub license: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownModel {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub name: String,
    pub license: String,
    pub task: Option<String>,
    #[serde(default)]
    pub modalities_in: Vec<String>,
    #[serde(default)]
    pub modalities_out: Vec<String>,
    pub parameter_count: Option<i64>,
    #[serde(default)]
    pub base_model: Option<String>,
    #[serde(default)]
    pub relation: Option<Relation>,
    #[serde(default)]
    pub training_compute_flops: Option<f64>,
    #[serde(default)]
    pub revision_licenses: Vec<RevisionLicense>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceRule {
    pub model: String,
    #[serde(default)]
    pub name_patterns: Vec<String>,
    #[serde(default)]
    pub tag_patterns: Vec<String>,
    #[serde(default)]
    pub text_patterns: Vec<String>,
    #[serde(default)]
    pub modalities_out: Vec<String>,
}

/// One `rules/models/<family>.yaml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyFile {
    pub family: String,
    pub publisher: Option<String>,
    pub models: Vec<KnownModel>,
    #[serde(default)]
    pub inference: Vec<InferenceRule>,
}

struct CompiledInference {
    model: String,
    modalities_out: Vec<String>,
}

/// The catalog of well-known base models.
#[derive(Default)]
pub struct ModelCatalog {
    models: Vec<(String, KnownModel)>,
    /// Family -> its publisher (`Meta`, `Google`...), when the family file names one.
    publishers: rustc_hash::FxHashMap<String, String>,
    index: rustc_hash::FxHashMap<String, usize>,
    inference: Vec<CompiledInference>,
    names: PatternSet,
    tags: PatternSet,
    texts: PatternSet,
}

impl std::fmt::Debug for ModelCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelCatalog({} models)", self.models.len())
    }
}

/// Most ancestors followed from one model.
pub const MAX_DEPTH: usize = 16;

/// Compiles a case-insensitive pattern over bytes with ASCII semantics where the pattern
/// allows it: model names and the phrases matched are ASCII, and ASCII word boundaries
/// keep the fast DFA engines usable (Unicode `\b` forces the slow one).
fn regex(p: &str) -> Option<Regex> {
    let build = |unicode: bool| {
        RegexBuilder::new(p)
            .case_insensitive(true)
            .unicode(unicode)
            .size_limit(1 << 20)
            .build()
    };
    build(false).or_else(|_| build(true)).ok()
}

/// Checks a pattern's syntax without building an automaton.
fn check_syntax(p: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(p)
        .map(|_| ())
        .map_err(|e| format!("pattern `{p}` does not compile: {e}"))
}

/// All patterns of one kind (name, tag or text) of every inference rule, matched in one
/// pass by a `RegexSet`. The individual regex of a pattern, needed only to report the
/// text it matched, is compiled on first use.
#[derive(Default)]
struct PatternSet {
    set: Option<RegexSet>,
    /// Pattern index -> inference rule index.
    owners: Vec<usize>,
    sources: Vec<String>,
    single: Vec<OnceLock<Option<Regex>>>,
}

impl PatternSet {
    /// The patterns of one kind. Prose patterns are only ever searched one rule at a time
    /// ([`PatternSet::first_match`]), so they get no set; like every pattern, each is
    /// compiled on first use (its syntax was checked when the pack loaded).
    fn build(patterns: Vec<(String, usize)>, prose: bool) -> Result<PatternSet, String> {
        if patterns.is_empty() {
            return Ok(PatternSet::default());
        }
        let sources: Vec<String> = patterns.iter().map(|(p, _)| p.clone()).collect();
        if prose {
            return Ok(PatternSet {
                set: None,
                owners: patterns.iter().map(|(_, o)| *o).collect(),
                single: sources.iter().map(|_| OnceLock::new()).collect(),
                sources,
            });
        }
        let build = |unicode: bool| {
            RegexSetBuilder::new(&sources)
                .case_insensitive(true)
                .unicode(unicode)
                .size_limit(16 << 20)
                // Room for the lazy DFA's states of every pattern at once, so that its
                // cache is not cleared and rebuilt while scanning a long card.
                .dfa_size_limit(32 << 20)
                .build()
        };
        let set = build(false)
            .or_else(|_| build(true))
            .map_err(|e| format!("inference patterns do not compile together: {e}"))?;
        Ok(PatternSet {
            set: Some(set),
            owners: patterns.iter().map(|(_, o)| *o).collect(),
            single: sources.iter().map(|_| OnceLock::new()).collect(),
            sources,
        })
    }

    /// Indices of the patterns that match `hay`.
    fn matches(&self, hay: &str) -> Vec<usize> {
        self.set
            .as_ref()
            .map(|s| s.matches(hay.as_bytes()).into_iter().collect())
            .unwrap_or_default()
    }

    /// The text pattern `i` matches first in `hay` (its regex compiled on first use).
    fn find(&self, i: usize, hay: &str) -> Option<String> {
        let re = self
            .single
            .get(i)?
            .get_or_init(|| regex(self.sources.get(i)?));
        re.as_ref()?
            .find(hay.as_bytes())
            .map(|m| String::from_utf8_lossy(m.as_bytes()).trim().to_string())
    }

    /// The text matched in `hay` by the first pattern of rule `rule` that matches, found
    /// with that rule's own patterns: cheaper than the whole set on long prose, where only
    /// the one or two rules that a name or tag already points to are asked.
    fn first_match(&self, rule: usize, hay: &str) -> Option<String> {
        self.owners
            .iter()
            .enumerate()
            .filter(|(_, o)| **o == rule)
            .find_map(|(i, _)| self.find(i, hay))
    }

    /// The text matched in `hay` by the first pattern of rule `rule` among `hits`.
    fn matched(&self, rule: usize, hits: &[usize], hay: &str) -> Option<String> {
        hits.iter()
            .filter(|&&i| self.owners.get(i) == Some(&rule))
            .find_map(|&i| self.find(i, hay))
    }
}

impl ModelCatalog {
    pub fn build(files: Vec<(String, FamilyFile)>) -> Result<ModelCatalog, Vec<String>> {
        let mut cat = ModelCatalog::default();
        let mut problems = Vec::new();
        let mut patterns: [Vec<(String, usize)>; 3] = Default::default();
        for (path, file) in files {
            if let Some(p) = &file.publisher {
                cat.publishers.insert(file.family.clone(), p.clone());
            }
            for m in file.models {
                let i = cat.models.len();
                for key in std::iter::once(&m.id).chain(m.aliases.iter()) {
                    if cat.index.insert(key.to_ascii_lowercase(), i).is_some() {
                        problems.push(format!(
                            "{path}: model id or alias `{key}` is defined twice"
                        ));
                    }
                }
                cat.models.push((file.family.clone(), m));
            }
            for r in file.inference {
                let idx = cat.inference.len();
                for (kind, ps) in [
                    (0, &r.name_patterns),
                    (1, &r.tag_patterns),
                    (2, &r.text_patterns),
                ] {
                    for p in ps {
                        match check_syntax(p) {
                            Ok(()) => patterns[kind].push((p.clone(), idx)),
                            Err(e) => problems.push(format!("{path}: {e}")),
                        }
                    }
                }
                cat.inference.push(CompiledInference {
                    model: r.model,
                    modalities_out: r.modalities_out,
                });
            }
        }
        let [names, tags, texts] = patterns;
        for (slot, ps, prose) in [
            (&mut cat.names, names, false),
            (&mut cat.tags, tags, false),
            (&mut cat.texts, texts, true),
        ] {
            match PatternSet::build(ps, prose) {
                Ok(set) => *slot = set,
                Err(e) => problems.push(e),
            }
        }
        for (_, m) in &cat.models {
            if let Some(b) = &m.base_model
                && cat.get(b).is_none()
            {
                problems.push(format!(
                    "model `{}`: base_model `{b}` is not in the catalog",
                    m.id
                ));
            }
        }
        for r in &cat.inference {
            if cat.get(&r.model).is_none() {
                problems.push(format!("inference rule names unknown model `{}`", r.model));
            }
        }
        if problems.is_empty() {
            Ok(cat)
        } else {
            Err(problems)
        }
    }

    /// The index of a model id or alias, matched case-insensitively. Ids are short: they
    /// are lower-cased on the stack, without allocating, when they fit.
    fn position(&self, id: &str) -> Option<usize> {
        let id = id.trim();
        let mut buf = [0u8; 160];
        match buf.get_mut(..id.len()) {
            Some(b) => {
                b.copy_from_slice(id.as_bytes());
                b.make_ascii_lowercase();
                std::str::from_utf8(b).ok().and_then(|k| self.index.get(k))
            }
            None => self.index.get(&id.to_ascii_lowercase()),
        }
        .copied()
    }

    pub fn get(&self, id: &str) -> Option<&KnownModel> {
        self.position(id)
            .and_then(|i| self.models.get(i))
            .map(|(_, m)| m)
    }

    pub fn family_of(&self, id: &str) -> Option<&str> {
        self.position(id)
            .and_then(|i| self.models.get(i))
            .map(|(f, _)| f.as_str())
    }

    /// The publisher of a catalog model's family.
    pub fn publisher_of(&self, id: &str) -> Option<&str> {
        self.family_of(id)
            .and_then(|f| self.publishers.get(f))
            .map(String::as_str)
    }

    /// Whether `license` is the licence of some catalog model of `publisher`: one of the
    /// publisher's own licences (every Llama licence is Meta's).
    pub fn is_publisher_license(&self, publisher: &str, license: &str) -> bool {
        self.models.iter().any(|(f, m)| {
            m.license == license && self.publishers.get(f).is_some_and(|p| p == publisher)
        })
    }

    pub fn models(&self) -> impl Iterator<Item = &KnownModel> {
        self.models.iter().map(|(_, m)| m)
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// How an ancestor became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Declared,
    Inferred,
    Catalog,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ancestor {
    pub model: String,
    /// Catalog licence id of the ancestor, when known.
    pub license: Option<String>,
    pub relation: Relation,
    pub source: Source,
    pub depth: i64,
    pub known: bool,
    pub multimodal: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub kind: String,
    pub matched: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lineage {
    pub ancestors: Vec<Ancestor>,
    pub inferred: bool,
    pub evidence: Vec<Evidence>,
    /// Declared base models not found in the catalog (terms unknown).
    pub unresolved: Vec<String>,
    /// The model itself is a catalog entry.
    pub self_known: Option<String>,
    /// The model's licence changed across revisions (catalog `revision_licenses`).
    pub relicensed: bool,
    /// A cycle in `base_model` links was cut.
    pub cycle: bool,
    /// The chain was deeper than [`MAX_DEPTH`] and was cut (the cut model is unresolved).
    pub depth_exceeded: bool,
    /// Ancestors whose terms came from fetched records (not the catalog), nearest first.
    pub fetched: Vec<String>,
    /// Licences of the catalog's multimodal models in the lineage (the model itself
    /// included when it is a catalog entry), sorted and without repeats.
    pub multimodal_licenses: Vec<String>,
    /// Licences of every catalog model in the lineage (the model itself included when it
    /// is a catalog entry), sorted and without repeats.
    pub catalog_licenses: Vec<String>,
    pub training_compute_flops: Option<f64>,
}

/// A base model's record fetched from a registry (the Hugging Face Hub) by the service,
/// with its declared licence already resolved to a catalog id ([`declared_license_id`]).
#[derive(Debug, Clone)]
pub struct FetchedAncestor<'a> {
    pub record: &'a ModelRecord,
    /// Catalog licence id of the record's declared licence; `None` when it declares none
    /// or one the catalog does not know.
    pub license: Option<String>,
}

/// The catalog licence id a record's declaration resolves to, resolved the way evaluation
/// resolves declared licences (`resolve_declared_value`; a `license_expression` counts
/// when no licence is declared otherwise). Several declarations or an `AND` apply
/// together: the most restrictive term stands for them. An `OR` lets the licensee
/// choose: the least restrictive alternative stands for it. `None` when any term of the
/// chosen alternative is not in the catalog (its terms are unknown).
pub fn declared_license_id(
    rec: &ModelRecord,
    catalog: &Catalog,
    ambiguous: &[String],
) -> Option<String> {
    let mut declared: Vec<(&str, Option<&str>)> = rec
        .licenses
        .iter()
        .map(|d| (d.value.as_str(), d.license_name.as_deref()))
        .collect();
    if declared.is_empty()
        && let Some(e) = rec.license_expression.as_deref()
        && !e.trim().is_empty()
    {
        declared.push((e, None));
    }
    let exprs: Vec<Expr> = declared
        .into_iter()
        .map(|(v, n)| resolve_declared_value(v, n, catalog, ambiguous))
        .collect();
    let expr = match exprs.len() {
        0 => return None,
        1 => exprs.into_iter().next()?,
        _ => Expr::And(exprs),
    };
    let restrictiveness = |id: &str| {
        catalog
            .get(id)
            .map_or(u8::MAX, |t| t.category.restrictiveness())
    };
    // Each alternative: its most restrictive term, or `None` when a term is unknown.
    let per_alternative = expr.alternatives()?.into_iter().map(|alt| {
        let ids: Option<Vec<String>> = alt.iter().map(|t| t.id.clone()).collect();
        ids?.into_iter().max_by_key(|id| restrictiveness(id))
    });
    per_alternative
        .collect::<Option<Vec<String>>>()?
        .into_iter()
        .min_by_key(|id| restrictiveness(id))
}

/// Resolves the lineage of a record from the catalog alone. Pure: only the catalog and
/// the record are read.
pub fn resolve(rec: &ModelRecord, cat: &ModelCatalog) -> Lineage {
    resolve_with(rec, cat, &[])
}

/// Resolves the lineage of a record, consulting the catalog of well-known base models
/// first and then the `fetched` ancestor records: a fetched ancestor supplies its licence
/// and its own `base_models` continue the chain. Pure.
///
/// A link back to a model already on the same chain is a cycle (`cycle`); a model reached
/// twice by different paths (a merge of two fine-tunes of one base) is listed once. A chain
/// deeper than [`MAX_DEPTH`] is cut: the first model not followed is reported in
/// `unresolved` and `depth_exceeded` is set.
pub fn resolve_with(
    rec: &ModelRecord,
    cat: &ModelCatalog,
    fetched: &[FetchedAncestor<'_>],
) -> Lineage {
    resolve_declaring(rec, cat, fetched, &[])
}

/// [`resolve_with`] knowing the catalog ids of the licences the record declares: a base
/// is not inferred for a model that declares another licence of the inferred base's own
/// publisher, or that the publisher itself releases (see [`inference_applies`]).
pub fn resolve_declaring(
    rec: &ModelRecord,
    cat: &ModelCatalog,
    fetched: &[FetchedAncestor<'_>],
    declared: &[String],
) -> Lineage {
    let by_id: HashMap<String, &FetchedAncestor<'_>> = fetched
        .iter()
        .map(|f| (f.record.id.trim().to_ascii_lowercase(), f))
        .collect();
    let mut lin = Lineage::default();
    let root = rec.id.trim().to_ascii_lowercase();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    seen.insert(root.clone());
    // Every link followed or seen: model -> its base models (lower-cased ids).
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Breadth first: nearer ancestors come first in the output. Each entry: model id,
    // relation, source, depth, the model that named it.
    let mut queue: VecDeque<(String, Relation, Source, i64, String)> = VecDeque::new();
    let mut named_by = root.clone();

    // Licences of catalog models (multimodal ones flagged), borrowed until the end.
    let mut catalog_licenses: Vec<(&str, bool)> = Vec::new();
    if let Some(me) = cat.get(&rec.id) {
        lin.self_known = Some(me.id.clone());
        catalog_licenses.push((&me.license, me.modalities_in.len() > 1));
        lin.relicensed = !me.revision_licenses.is_empty();
        lin.training_compute_flops = me.training_compute_flops;
        let key = me.id.to_ascii_lowercase();
        seen.insert(key.clone());
        if key != root {
            // The record is the catalog entry under another name (an alias).
            edges.entry(root.clone()).or_default().insert(key.clone());
        }
        named_by = key.clone();
        if let Some(b) = &me.base_model {
            queue.push_back((
                b.clone(),
                me.relation.unwrap_or(Relation::Finetune),
                Source::Catalog,
                1,
                key,
            ));
        }
    }
    for b in &rec.base_models {
        queue.push_back((
            b.id.clone(),
            b.relation,
            Source::Declared,
            1,
            named_by.clone(),
        ));
    }
    if queue.is_empty()
        && lin.self_known.is_none()
        && let Some((model, evidence)) =
            infer(rec, cat, |base| inference_applies(rec, cat, base, declared))
    {
        lin.inferred = true;
        lin.evidence = evidence;
        queue.push_back((model, Relation::Unknown, Source::Inferred, 1, root.clone()));
    }
    while let Some((id, relation, source, depth, from)) = queue.pop_front() {
        let in_catalog = cat.get(&id);
        // Catalog entries are keyed by their id, whatever alias named them.
        let key = in_catalog.map_or_else(
            || id.trim().to_ascii_lowercase(),
            |m| m.id.to_ascii_lowercase(),
        );
        edges.entry(from).or_default().insert(key.clone());
        if seen.contains(&key) {
            // Reached before: by another path (a diamond, listed once) or by a cycle
            // (found below, once every link is known).
            continue;
        }
        // Only a chain longer than any real lineage gets here: the rest is not followed
        // and its terms are unknown.
        if depth as usize > MAX_DEPTH {
            lin.depth_exceeded = true;
            if !lin.unresolved.contains(&id) {
                lin.unresolved.push(id);
            }
            continue;
        }
        seen.insert(key.clone());
        if let Some(m) = in_catalog {
            // Cumulative training compute includes the base models' training.
            if let Some(f) = m.training_compute_flops {
                lin.training_compute_flops =
                    Some(lin.training_compute_flops.map_or(f, |x| x.max(f)));
            }
            catalog_licenses.push((&m.license, m.modalities_in.len() > 1));
            lin.ancestors.push(Ancestor {
                model: m.id.clone(),
                license: Some(m.license.clone()),
                relation,
                source,
                depth,
                known: true,
                multimodal: m.modalities_in.len() > 1,
            });
            if let Some(b) = &m.base_model {
                let rel = m.relation.unwrap_or(Relation::Finetune);
                let src = if source == Source::Inferred {
                    Source::Inferred
                } else {
                    Source::Catalog
                };
                queue.push_back((b.clone(), rel, src, depth + 1, m.id.to_ascii_lowercase()));
            }
        } else if let Some(f) = by_id.get(&key) {
            let r = f.record;
            if let Some(x) = r.training_compute_flops {
                lin.training_compute_flops =
                    Some(lin.training_compute_flops.map_or(x, |y| y.max(x)));
            }
            let known = f.license.is_some();
            if !known {
                lin.unresolved.push(r.id.clone());
            }
            lin.fetched.push(r.id.clone());
            lin.ancestors.push(Ancestor {
                model: r.id.clone(),
                license: f.license.clone(),
                relation,
                source,
                depth,
                known,
                multimodal: r.modalities_in.len() > 1,
            });
            let src = if source == Source::Inferred {
                Source::Inferred
            } else {
                Source::Declared
            };
            for b in &r.base_models {
                queue.push_back((b.id.clone(), b.relation, src, depth + 1, key.clone()));
            }
        } else {
            lin.unresolved.push(id.clone());
            lin.ancestors.push(Ancestor {
                model: id,
                license: None,
                relation,
                source,
                depth,
                known: false,
                multimodal: false,
            });
        }
    }
    lin.cycle = has_cycle(&edges);
    catalog_licenses.sort_unstable();
    catalog_licenses.dedup();
    for (l, multimodal) in &catalog_licenses {
        if *multimodal && lin.multimodal_licenses.last().is_none_or(|x| x != l) {
            lin.multimodal_licenses.push(l.to_string());
        }
        if lin.catalog_licenses.last().is_none_or(|x| x != l) {
            lin.catalog_licenses.push(l.to_string());
        }
    }
    lin
}

/// Whether a base inferred from names, tags and prose may stand for a record that
/// declares the licences `declared` (catalog ids). Not when the record comes from the
/// base's own organisation (`meta-llama/...` for a Meta base: the licensor's own
/// model), nor when every declared licence is one of the base publisher's licences but
/// not the base's own: a card under the Llama 3.2 licence that mentions Llama 3 is a
/// Llama 3.2 model, not a Llama 3 derivative, whose terms it would otherwise inherit.
fn inference_applies(
    rec: &ModelRecord,
    cat: &ModelCatalog,
    base: &str,
    declared: &[String],
) -> bool {
    let Some(known) = cat.get(base) else {
        return true;
    };
    let org = |id: &str| id.split_once('/').map(|(o, _)| o.to_ascii_lowercase());
    if org(&rec.id).is_some() && org(&rec.id) == org(&known.id) {
        return false;
    }
    let Some(publisher) = cat.publisher_of(base) else {
        return true;
    };
    let own = |l: &String| cat.is_publisher_license(publisher, l);
    !(!declared.is_empty() && declared.iter().all(own) && !declared.contains(&known.license))
}

/// Whether the directed graph of `base_model` links has a cycle (iterative depth-first
/// search; the graphs are a few dozen links at most).
fn has_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> bool {
    // 1 = on the current path, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    for start in edges.keys() {
        if state.contains_key(start.as_str()) {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(
            start.as_str(),
            edges
                .get(start)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default(),
        )];
        state.insert(start.as_str(), 1);
        while let Some((node, next)) = stack.last_mut() {
            match next.pop() {
                Some(n) => match state.get(n) {
                    Some(1) => return true,
                    Some(_) => {}
                    None => {
                        state.insert(n, 1);
                        let children = edges
                            .get(n)
                            .map(|s| s.iter().map(String::as_str).collect())
                            .unwrap_or_default();
                        stack.push((n, children));
                    }
                },
                None => {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    false
}

/// Infers a base model from the name, tags and prose, only when at least two kinds of
/// evidence agree and the model's output modality fits the family.
fn infer(
    rec: &ModelRecord,
    cat: &ModelCatalog,
    accept: impl Fn(&str) -> bool,
) -> Option<(String, Vec<Evidence>)> {
    let name = format!("{} {}", rec.id, rec.name.as_deref().unwrap_or(""));
    let name_hits = cat.names.matches(&name);
    let tag_hits: Vec<(&String, Vec<usize>)> =
        rec.tags.iter().map(|t| (t, cat.tags.matches(t))).collect();
    for (ri, r) in cat.inference.iter().enumerate() {
        if !rec.modalities_out.is_empty()
            && !r.modalities_out.is_empty()
            && !rec
                .modalities_out
                .iter()
                .any(|m| r.modalities_out.contains(m))
        {
            continue;
        }
        let mut evidence = Vec::new();
        if let Some(m) = cat.names.matched(ri, &name_hits, &name) {
            evidence.push(Evidence {
                kind: "name".into(),
                matched: m,
            });
        }
        if let Some(m) = tag_hits
            .iter()
            .find_map(|(t, h)| cat.tags.matched(ri, h, t))
        {
            evidence.push(Evidence {
                kind: "tag".into(),
                matched: m,
            });
        }
        // Two kinds of evidence are needed, so without a name or tag hit the prose
        // cannot decide.
        if evidence.is_empty() {
            continue;
        }
        if let Some(m) = cat.texts.first_match(ri, &rec.prose) {
            evidence.push(Evidence {
                kind: "text".into(),
                matched: m,
            });
        }
        if evidence.len() >= 2 && accept(&r.model) {
            return Some((r.model.clone(), evidence));
        }
    }
    None
}
