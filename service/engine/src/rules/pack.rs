//! Loading a rule pack from its files (bytes in, values out: no IO here).

use super::check::{Node, check_paths};
pub use super::compiled::Compiled;
use super::def::{PolicyFile, RuleDef, TestCase};
use super::template::Template;
use crate::digest::Digest;
use crate::ingest::{self, Format, IngestError, ParseOptions, Schemas};
use crate::license::{Catalog, LicenseTerms};
use crate::lineage::{FamilyFile, ModelCatalog};
use crate::record::ModelRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One file of a pack: its path relative to the pack root (`licenses/mit.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Licence values that name a family rather than one licence (`bsd`, `openrail`...).
    #[serde(default)]
    pub ambiguous_license_ids: Vec<String>,
    /// ISO codes of the EU member states.
    #[serde(default)]
    pub eu_member_states: Vec<String>,
    /// The use-category vocabulary for `context.domains` and licence use restrictions.
    #[serde(default)]
    pub use_categories: Vec<String>,
}

/// A problem found while loading a pack: the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

/// A pack that failed to load, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule pack is invalid ({} problem(s)): {}", problems.len(), problems.iter().map(|p| format!("{}: {}", p.file, p.message)).collect::<Vec<_>>().join("; "))]
pub struct PackError {
    pub problems: Vec<Problem>,
}

/// A rule with its conditions and templates compiled.
#[derive(Debug)]
pub struct Rule {
    pub def: RuleDef,
    pub file: String,
    pub applies_if: Option<Compiled>,
    pub fails_if: Compiled,
    pub culprits: Option<Compiled>,
    pub message: Template,
    pub how_to_fix: Template,
    pub evidence: Vec<Compiled>,
}

/// A loaded, validated, immutable rule pack.
pub struct Pack {
    pub manifest: Manifest,
    /// `sha256:<hex>` over the pack's files.
    pub digest: Digest,
    pub catalog: Catalog,
    pub models: ModelCatalog,
    pub rules: Vec<Rule>,
    pub tests: Vec<(String, TestCase)>,
    /// The schemas the parsers check documents against.
    pub(crate) schemas: Schemas,
    pub(crate) env: Arc<cel::Env>,
    /// The facts variables and their shapes, for checking expressions.
    pub(crate) roots: BTreeMap<String, Arc<Node>>,
    /// Whether rules run on the fast evaluator where they can (the default).
    pub(crate) fast_path: bool,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pack({} {} {})",
            self.manifest.name, self.manifest.version, self.digest
        )
    }
}

/// The facts variables and their schema, from the engine's facts schema.
pub(crate) fn fact_roots(
    schema: &serde_json::Value,
) -> Result<BTreeMap<String, std::sync::Arc<Node>>, String> {
    match Node::from_schema(schema)? {
        Node::Object(m) => Ok(m),
        _ => Err("the facts schema must describe an object".into()),
    }
}

/// Digest of a set of files: SHA-256 over, for each file sorted by path, the path, a
/// NUL, the length in decimal, a NUL and the bytes.
pub fn digest(files: &[PackFile]) -> Digest {
    let mut sorted: Vec<&PackFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(f.bytes.len().to_string().as_bytes());
        h.update([0]);
        h.update(&f.bytes);
    }
    Digest::finish(h)
}

struct Loader<'a> {
    files: BTreeMap<&'a str, &'a [u8]>,
    problems: Vec<Problem>,
}

impl<'a> Loader<'a> {
    fn problem(&mut self, file: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_string(),
            message: message.into(),
        });
    }

    fn json(&mut self, path: &str) -> Option<serde_json::Value> {
        let Some(bytes) = self.files.get(path).copied() else {
            self.problem(path, "missing: every pack has this file");
            return None;
        };
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(path, format!("invalid JSON: {e}"));
                None
            }
        }
    }

    fn yaml(&mut self, path: &str, bytes: &[u8]) -> Option<serde_json::Value> {
        match serde_norway::from_slice::<serde_json::Value>(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(path, format!("invalid YAML: {e}"));
                None
            }
        }
    }

    /// The engine's schema for `path`, compiled; a copy the pack carries must be it.
    fn validator(&mut self, path: &str) -> Option<jsonschema::Validator> {
        let Some(schema) = super::schemas::schema(path) else {
            self.problem(path, "the engine has no such schema");
            return None;
        };
        self.check_copy(path, &schema);
        match jsonschema::options().build(&schema) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(path, format!("not a usable JSON Schema: {e}"));
                None
            }
        }
    }

    /// A schema the engine owns may be left out of a pack; a copy must be the engine's.
    fn check_copy(&mut self, path: &str, engine: &serde_json::Value) {
        if self.files.contains_key(path)
            && let Some(copy) = self.json(path)
            && copy != *engine
        {
            self.problem(
                path,
                "is not this engine's schema: leave it out (the engine supplies it) or copy \
                 the built-in pack's",
            );
        }
    }

    /// Validates a YAML file against a schema and deserializes it.
    fn typed<T: serde::de::DeserializeOwned>(
        &mut self,
        path: &str,
        bytes: &[u8],
        schema: Option<&jsonschema::Validator>,
    ) -> Option<T> {
        let value = self.yaml(path, bytes)?;
        if let Some(s) = schema {
            let errs: Vec<String> = s
                .iter_errors(&value)
                .take(10)
                .map(|e| {
                    format!(
                        "at {}: {e}",
                        pointer_or_root(&e.instance_path().to_string())
                    )
                })
                .collect();
            if !errs.is_empty() {
                for e in errs {
                    self.problem(path, e);
                }
                return None;
            }
        }
        match serde_json::from_value(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(path, e.to_string());
                None
            }
        }
    }

    fn under(&self, dir: &str) -> Vec<(&'a str, &'a [u8])> {
        self.files
            .iter()
            .filter(|(p, _)| p.starts_with(dir) && (p.ends_with(".yaml") || p.ends_with(".yml")))
            .map(|(p, b)| (*p, *b))
            .collect()
    }
}

fn pointer_or_root(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

impl Pack {
    /// Loads and validates a pack. Every problem is collected, not just the first.
    pub fn load(files: &[PackFile]) -> Result<Pack, PackError> {
        let mut l = Loader {
            files: files
                .iter()
                .map(|f| (f.path.as_str(), f.bytes.as_slice()))
                .collect(),
            problems: Vec::new(),
        };
        let pack_schema = l.validator("schemas/pack.schema.json");
        let license_schema = l.validator("schemas/license.schema.json");
        let models_schema = l.validator("schemas/models.schema.json");
        let policy_schema = l.validator("schemas/policy.schema.json");
        let test_schema = l.validator("schemas/test.schema.json");
        let model_schema = l.validator("schemas/model.schema.json");
        let cyclonedx_schema = l.validator("schemas/cyclonedx.schema.json");
        let spdx3_schema = l.validator("schemas/spdx3.schema.json");
        let mof_schema = l.validator("schemas/mof.schema.json");
        let _context_schema = l.validator("schemas/context.schema.json");

        let manifest: Option<Manifest> = match l.files.get("pack.yaml").copied() {
            Some(b) => l.typed("pack.yaml", b, pack_schema.as_ref()),
            None => {
                l.problem("pack.yaml", "missing: every pack has a manifest");
                None
            }
        };
        if let Some(m) = &manifest
            && !is_semver(&m.version)
        {
            l.problem(
                "pack.yaml",
                format!(
                    "version `{}` is not a semantic version (MAJOR.MINOR.PATCH)",
                    m.version
                ),
            );
        }

        // Licence catalog.
        let mut licenses: Vec<LicenseTerms> = Vec::new();
        for (path, bytes) in l.under("licenses/") {
            if let Some(t) = l.typed::<LicenseTerms>(path, bytes, license_schema.as_ref()) {
                let stem = file_stem(path);
                if t.id != stem {
                    l.problem(
                        path,
                        format!(
                            "licence id `{}` does not match the file name `{stem}`",
                            t.id
                        ),
                    );
                }
                if let Some(s) = &t.spdx
                    && spdx::license_id(s).is_none()
                {
                    l.problem(
                        path,
                        format!("`{s}` is not an SPDX licence id known to the spdx crate"),
                    );
                }
                if let Some(m) = &manifest {
                    for u in t.use_restrictions.iter().chain(&t.conditional_uses) {
                        if !m.use_categories.contains(u) {
                            l.problem(
                                path,
                                format!(
                                    "use restriction `{u}` is not in the pack's use_categories"
                                ),
                            );
                        }
                    }
                }
                licenses.push(t);
            }
        }
        if licenses.is_empty() {
            l.problem("licenses/", "the pack has no licences");
        }
        let catalog = match Catalog::build(licenses) {
            Ok(c) => c,
            Err(ps) => {
                for p in ps {
                    l.problem("licenses/", p);
                }
                Catalog::default()
            }
        };

        // Base-model catalog.
        let mut families = Vec::new();
        for (path, bytes) in l.under("models/") {
            if let Some(f) = l.typed::<FamilyFile>(path, bytes, models_schema.as_ref()) {
                for m in &f.models {
                    if catalog.get(&m.license).is_none() && !catalog.is_empty() {
                        l.problem(
                            path,
                            format!(
                                "model `{}`: licence `{}` is not in the catalog",
                                m.id, m.license
                            ),
                        );
                    }
                }
                families.push((path.to_string(), f));
            }
        }
        let models = match ModelCatalog::build(families) {
            Ok(m) => m,
            Err(ps) => {
                for p in ps {
                    l.problem("models/", p);
                }
                ModelCatalog::default()
            }
        };

        // Rules.
        let env = Arc::new(cel::Env::stdlib());
        // The engine owns the facts schema; a pack may carry a copy (the built-in one
        // does, for rule authors), which must then be it.
        let engine_facts = crate::facts::schema();
        l.check_copy("schemas/facts.schema.json", &engine_facts);
        let roots = fact_roots(&engine_facts).unwrap_or_else(|e| {
            l.problem("schemas/facts.schema.json", e);
            BTreeMap::new()
        });
        let mut rules = Vec::new();
        let mut ids = BTreeSet::new();
        for (path, bytes) in l.under("policies/") {
            let Some(pf) = l.typed::<PolicyFile>(path, bytes, policy_schema.as_ref()) else {
                continue;
            };
            for def in pf.rules {
                if !ids.insert(def.id.clone()) {
                    l.problem(path, format!("rule id `{}` is defined twice", def.id));
                    continue;
                }
                if let Some(c) = &def.cite {
                    let known = catalog.entries().iter().any(|e| e.clauses.contains_key(c));
                    if !known {
                        l.problem(
                            path,
                            format!(
                                "rule `{}`: cites clause `{c}`, which no licence has",
                                def.id
                            ),
                        );
                    }
                }
                match compile_rule(&env, &roots, def, path) {
                    Ok(r) => rules.push(r),
                    Err(ps) => {
                        for p in ps {
                            l.problem(path, p);
                        }
                    }
                }
            }
        }
        if rules.is_empty() {
            l.problem("policies/", "the pack has no rules");
        }
        rules.sort_by(|a, b| a.def.id.cmp(&b.def.id));

        // Tests.
        let mut tests = Vec::new();
        for (path, bytes) in l.under("tests/") {
            if let Some(t) = l.typed::<TestCase>(path, bytes, test_schema.as_ref()) {
                let e = &t.expect;
                let named = e
                    .failing
                    .iter()
                    .flatten()
                    .chain(&e.includes)
                    .chain(&e.excludes)
                    .chain(e.obligations.iter().flatten());
                let unknown: Vec<String> = named.filter(|id| !ids.contains(*id)).cloned().collect();
                for id in unknown {
                    l.problem(
                        path,
                        format!("expects rule `{id}`, which the pack does not define"),
                    );
                }
                tests.push((path.to_string(), t));
            }
        }

        let schemas = match (model_schema, cyclonedx_schema, spdx3_schema, mof_schema) {
            (Some(model), Some(cyclonedx), Some(spdx3), Some(mof)) => Some(Schemas {
                model,
                cyclonedx,
                spdx3,
                mof,
            }),
            _ => None,
        };
        match (l.problems.is_empty(), manifest, schemas) {
            (true, Some(manifest), Some(schemas)) => Ok(Pack {
                manifest,
                digest: digest(files),
                catalog,
                models,
                rules,
                tests,
                schemas,
                env,
                roots,
                fast_path: true,
            }),
            _ => Err(PackError {
                problems: l.problems,
            }),
        }
    }

    /// Parses a document that describes one model (see [`ingest::parse`]).
    pub fn parse(
        &self,
        bytes: &[u8],
        format: Option<Format>,
        opts: &ParseOptions,
    ) -> Result<ModelRecord, IngestError> {
        ingest::parse(bytes, format, opts, &self.schemas)
    }

    /// Parses a document into one record per model it describes (see [`ingest::parse_all`]).
    pub fn parse_all(
        &self,
        bytes: &[u8],
        format: Option<Format>,
        opts: &ParseOptions,
    ) -> Result<Vec<ModelRecord>, IngestError> {
        ingest::parse_all(bytes, format, opts, &self.schemas)
    }

    /// Validates a native record given as a JSON value.
    pub fn record_from_json(
        &self,
        value: serde_json::Value,
        opts: &ParseOptions,
    ) -> Result<ModelRecord, IngestError> {
        ingest::record_from_json(value, opts, &self.schemas)
    }

    /// The use-category vocabulary.
    pub fn use_categories(&self) -> &[String] {
        &self.manifest.use_categories
    }

    pub fn is_eu(&self, code: &str) -> bool {
        code == "EU" || self.manifest.eu_member_states.iter().any(|c| c == code)
    }

    /// Compiles a CEL expression over the facts as a rule's condition is compiled:
    /// variable paths checked against the facts schema.
    pub fn compile_expression(&self, src: &str) -> Result<Compiled, String> {
        compile_expr(&self.env, &self.roots, src)
    }

    /// Compiles a CEL expression without checking its variable paths (an unknown
    /// field is then an evaluation error, as CEL defines it).
    pub fn compile_expression_unchecked(&self, src: &str) -> Result<Compiled, String> {
        compile_checked(&self.env, None, src)
    }

    /// The scope in which compiled expressions run over `facts`.
    pub fn scope<'a>(&'a self, facts: super::value::FactRefs<'a>) -> super::scope::Scope<'a> {
        super::scope::Scope::new(facts, &self.env, self.fast_path)
    }

    /// Turns the fast evaluator off (every expression then runs on the `cel`
    /// interpreter, as the reference) or back on. Decisions are the same either way;
    /// the differential tests check that.
    pub fn set_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }
}

fn compile_rule(
    env: &cel::Env,
    roots: &BTreeMap<String, std::sync::Arc<Node>>,
    def: RuleDef,
    file: &str,
) -> Result<Rule, Vec<String>> {
    let mut problems = Vec::new();
    let id = def.id.clone();
    let mut compile = |what: &str, src: &str| -> Option<Compiled> {
        match compile_expr(env, roots, src) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(format!("rule `{id}`, {what}: {e}"));
                None
            }
        }
    };
    let applies_if = def.applies_if.as_deref().map(|s| compile("applies_if", s));
    let fails_if = compile("fails_if", &def.fails_if);
    let culprits = def.culprits.as_deref().map(|s| compile("culprits", s));
    let evidence: Vec<Option<Compiled>> = def
        .evidence
        .iter()
        .map(|s| compile("evidence", s))
        .collect();
    let message = Template::parse(&def.message, |s| compile("message", s));
    let how_to_fix = Template::parse(&def.how_to_fix, |s| compile("how_to_fix", s));
    let (Some(fails_if), Some(message), Some(how_to_fix)) = (fails_if, message, how_to_fix) else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Rule {
        file: file.to_string(),
        applies_if: applies_if.flatten(),
        fails_if,
        culprits: culprits.flatten(),
        message,
        how_to_fix,
        evidence: evidence.into_iter().flatten().collect(),
        def,
    })
}

/// Compiles a CEL expression and checks its variable paths against the facts.
pub(crate) fn compile_expr(
    env: &cel::Env,
    roots: &BTreeMap<String, std::sync::Arc<Node>>,
    src: &str,
) -> Result<Compiled, String> {
    compile_checked(env, Some(roots), src)
}

fn compile_checked(
    env: &cel::Env,
    roots: Option<&BTreeMap<String, std::sync::Arc<Node>>>,
    src: &str,
) -> Result<Compiled, String> {
    let program = env.compile(src).map_err(|e| {
        format!(
            "`{src}` does not compile: {}",
            e.to_string().replace('\n', "; ")
        )
    })?;
    if let Some(roots) = roots {
        let problems = check_paths(program.expression(), roots);
        if !problems.is_empty() {
            return Err(format!("`{src}`: {}", problems.join("; ")));
        }
    }
    let fast = super::fast::Program::compile(program.expression());
    Ok(Compiled {
        source: src.to_string(),
        program,
        fast,
    })
}

fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name)
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}
