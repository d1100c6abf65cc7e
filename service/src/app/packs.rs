//! Rule packs as the use cases need them: compiled packs (a cache over the store), a
//! tenant's active pack, the built-in pack's bootstrap, impact analysis of a candidate
//! pack, and activation (which re-evaluates the registry).

use super::evaluate::{Decide, decide, siblings_of};
use super::{App, Corrupt};
use crate::packdir;
use crate::store::{NewDecision, NewPack, Store, StoreError, StoredFile};
use modelgate_engine::waiver::Waiver;
use modelgate_engine::{
    Decision, Digest, ModelRecord, Pack, PackFile, Timestamp, UseContext, Verdict,
};
use moka::future::Cache;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Why a pack could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored pack that this version cannot compile.
    #[error("stored pack {digest} no longer loads: {problems} problem(s)")]
    NoLongerLoads { digest: String, problems: usize },
    /// The tenant has no pack with this digest.
    #[error("there is no pack {0}")]
    NotRegistered(String),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
    /// The tenant's active pack is not stored.
    #[error("active pack {0} is not stored")]
    ActiveMissing(String),
    /// The tenant's first request could not start it with the built-in pack.
    #[error("no rule pack is active for this tenant: {0}")]
    Bootstrap(#[from] BootstrapError),
    /// The error of a load that several requests waited for (the cache's single flight).
    #[error(transparent)]
    Shared(Arc<PackError>),
}

impl PackError {
    /// The error of a shared load, as its one owner or as [`PackError::Shared`].
    pub(super) fn unshare(e: Arc<PackError>) -> PackError {
        Arc::try_unwrap(e).unwrap_or_else(PackError::Shared)
    }

    /// The error itself, through any [`PackError::Shared`].
    pub fn cause(&self) -> &PackError {
        match self {
            PackError::Shared(e) => e.cause(),
            e => e,
        }
    }
}

/// Compiled packs, loaded from the store on first use. A pack is visible to a tenant only
/// once that tenant has it registered (the cache is keyed by tenant and digest); a pack
/// compiled for one tenant is shared with the others that register the same digest.
/// Concurrent requests for a pack not yet loaded wait for one load (single flight).
pub struct PackCache {
    /// (tenant, digest) → the compiled pack, for packs the tenant has registered.
    registered: Cache<(String, String), Arc<Pack>>,
    /// digest → the compiled pack, whoever registered it.
    compiled: Cache<String, Arc<Pack>>,
    /// tenant → its active pack once started (single flight for a new tenant's bootstrap).
    started: Cache<String, ()>,
}

/// Packs compiled and kept (a compiled pack is some megabytes; more are compiled again).
const COMPILED_PACKS: u64 = 64;
/// (tenant, pack) pairs kept.
const REGISTERED_PACKS: u64 = 100_000;

impl Default for PackCache {
    fn default() -> PackCache {
        PackCache {
            registered: Cache::new(REGISTERED_PACKS),
            compiled: Cache::new(COMPILED_PACKS),
            started: Cache::new(REGISTERED_PACKS),
        }
    }
}

impl PackCache {
    /// Records a pack the tenant has registered.
    pub async fn insert(&self, tenant: &str, pack: Arc<Pack>) {
        self.compiled
            .insert(pack.digest.to_string(), pack.clone())
            .await;
        self.registered
            .insert((tenant.to_string(), pack.digest.to_string()), pack)
            .await;
    }

    /// The compiled pack with this digest, if the tenant has it registered, loading it from
    /// the store when needed.
    pub async fn get(
        &self,
        store: &Store,
        tenant: &str,
        digest: &str,
    ) -> Result<Option<Arc<Pack>>, PackError> {
        let key = (tenant.to_string(), digest.to_string());
        let loaded = self
            .registered
            .try_get_with(key, async {
                let row = store
                    .get_pack(tenant, digest)
                    .await?
                    .ok_or_else(|| PackError::NotRegistered(digest.to_string()))?;
                self.compiled
                    .try_get_with(digest.to_string(), async move {
                        let files: Vec<PackFile> = row
                            .files
                            .into_iter()
                            .map(|f| PackFile {
                                path: f.path,
                                bytes: f.content.into_bytes(),
                            })
                            .collect();
                        let pack = Pack::load(&files).map_err(|e| PackError::NoLongerLoads {
                            digest: digest.to_string(),
                            problems: e.problems.len(),
                        })?;
                        Ok::<_, PackError>(Arc::new(pack))
                    })
                    .await
                    .map_err(PackError::unshare)
            })
            .await
            .map_err(PackError::unshare);
        match loaded {
            Ok(p) => Ok(Some(p)),
            Err(e) if matches!(e.cause(), PackError::NotRegistered(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Registers the built-in pack for `tenant` and activates it when no pack is active or
/// when the active one is an older built-in pack (an upgrade of the binary). Concurrent
/// bootstraps (replicas starting, a new tenant's first requests) activate it once: an
/// activation only follows the one it read, and losing that race means another process
/// did the same work.
pub async fn bootstrap(
    store: &Store,
    cache: &PackCache,
    tenant: &str,
    now: i64,
) -> Result<Arc<Pack>, BootstrapError> {
    let files = packdir::builtin_files();
    let pack = Pack::load(&files).map_err(|e| BootstrapError::Pack(e.problems.len()))?;
    let stored = packdir::stored_files(&files).map_err(BootstrapError::NotText)?;
    register(store, tenant, &pack, stored, true, now).await?;
    let current = store.active_pack(tenant).await?;
    let activate = match &current {
        None => true,
        Some(a) if a.digest == pack.digest => false,
        Some(a) => store
            .get_pack(tenant, &a.digest)
            .await?
            .is_some_and(|p| p.summary.builtin),
    };
    if activate {
        let event = crate::audit::pack_activated(tenant, now, pack.digest.as_str())?;
        store
            .activate_pack_after(
                tenant,
                pack.digest.as_str(),
                now,
                Some(&event),
                current.map(|a| a.seq),
            )
            .await?;
    }
    let pack = Arc::new(pack);
    cache.insert(tenant, pack.clone()).await;
    Ok(pack)
}

/// Registers a compiled pack for `tenant` with its audit-log event (idempotent: a pack is
/// immutable and addressed by its digest). True when it was new.
pub async fn register(
    store: &Store,
    tenant: &str,
    pack: &Pack,
    files: Vec<StoredFile>,
    builtin: bool,
    now: i64,
) -> Result<bool, RegisterError> {
    let (name, version) = (&pack.manifest.name, &pack.manifest.version);
    let event =
        crate::audit::pack_registered(tenant, now, pack.digest.as_str(), name, version, builtin)?;
    let new = NewPack {
        digest: pack.digest.to_string(),
        name: name.clone(),
        version: version.clone(),
        files,
        builtin,
    };
    Ok(store.register_pack(tenant, &new, now, Some(&event)).await?)
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit log entry: {0}")]
    Audit(#[from] modelgate_audit::AuditError),
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("the built-in rule pack does not load ({0} problem(s)); run `modelgate pack lint`")]
    Pack(usize),
    #[error("the built-in rule pack file {0} is not UTF-8 text")]
    NotText(String),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit log entry: {0}")]
    Audit(#[from] modelgate_audit::AuditError),
}

/// The active pack of the tenant, compiled. A tenant's first request starts it with the
/// built-in pack.
pub async fn active_pack(app: &App, tenant: &str) -> Result<Arc<Pack>, PackError> {
    let Some(a) = app.store.active_pack(tenant).await? else {
        // A new tenant: its concurrent first requests wait for one bootstrap.
        app.packs
            .started
            .try_get_with(tenant.to_string(), async {
                bootstrap(&app.store, &app.packs, tenant, crate::time::now_micros())
                    .await
                    .map(drop)
                    .map_err(PackError::from)
            })
            .await
            .map_err(PackError::unshare)?;
        app.packs.started.invalidate(tenant).await;
        let a = app
            .store
            .active_pack(tenant)
            .await?
            .ok_or_else(|| PackError::ActiveMissing("(none after the bootstrap)".into()))?;
        return app
            .packs
            .get(&app.store, tenant, &a.digest)
            .await?
            .ok_or(PackError::ActiveMissing(a.digest));
    };
    app.packs
        .get(&app.store, tenant, &a.digest)
        .await?
        .ok_or(PackError::ActiveMissing(a.digest))
}

/// The tenant's pack with this digest (`None`: not registered).
pub async fn by_digest(app: &App, tenant: &str, digest: &str) -> Result<Arc<Pack>, PackError> {
    app.packs
        .get(&app.store, tenant, digest)
        .await?
        .ok_or_else(|| PackError::NotRegistered(digest.to_string()))
}

/// One registered model, ready to evaluate.
struct Subject {
    model_ref: String,
    version: i64,
    format: String,
    document: Vec<u8>,
    record: ModelRecord,
    siblings: Vec<ModelRecord>,
}

/// A use context to evaluate under: a stored profile, or (no profile stored) the default.
struct Usage {
    profile: Option<String>,
    ctx: UseContext,
}

/// Every registered model (latest version) and every stored profile of the tenant.
async fn registry(
    app: &App,
    tenant: &str,
    parse_with: &Pack,
) -> Result<(Vec<Subject>, Vec<Usage>), PackError> {
    let versions = app.store.latest_versions(tenant).await?;
    let mut subjects = Vec::with_capacity(versions.len());
    for v in versions {
        let record: ModelRecord = serde_json::from_str(&v.record)
            .map_err(|e| Corrupt::new(format!("stored record of {}", v.model_ref), e))?;
        let siblings = siblings_of(parse_with, &v.document, &v.format, &v.model_ref, &record);
        subjects.push(Subject {
            model_ref: v.model_ref,
            version: v.version,
            format: v.format,
            document: v.document,
            record,
            siblings,
        });
    }
    let mut uses = Vec::new();
    for p in app.store.list_profiles(tenant).await? {
        let mut ctx: UseContext = serde_json::from_str(&p.context)
            .map_err(|e| Corrupt::new(format!("stored profile {}", p.name), e))?;
        ctx.normalize();
        uses.push(Usage {
            profile: Some(p.name),
            ctx,
        });
    }
    if uses.is_empty() {
        uses.push(Usage {
            profile: None,
            ctx: UseContext::default(),
        });
    }
    Ok((subjects, uses))
}

/// A registered model under a use context, through the one evaluation path.
fn evaluate(
    pack: &Pack,
    s: &Subject,
    u: &Usage,
    waivers: &[Waiver],
    now: Timestamp,
) -> (Decision, Digest) {
    let digest = modelgate_engine::input_digest(&s.document, &u.ctx);
    let d = decide(&Decide {
        pack,
        record: &s.record,
        ancestors: &s.siblings,
        model_ref: &s.model_ref,
        profile: u.profile.as_deref(),
        context: &u.ctx,
        input_digest: digest.as_str(),
        waivers,
        now,
    });
    (d, digest)
}

fn failing(d: &Decision) -> BTreeSet<String> {
    d.findings
        .iter()
        .filter(|f| !f.waived)
        .map(|f| f.rule_id.clone())
        .collect()
}

/// A model whose decision a candidate pack changes.
pub struct Change {
    pub model_ref: String,
    pub profile: Option<String>,
    pub before: Verdict,
    pub after: Verdict,
    /// Rules that fail with the candidate and did not before.
    pub added: Vec<String>,
    /// Rules that failed before and do not with the candidate.
    pub removed: Vec<String>,
}

/// What a candidate pack would change.
pub struct Impact {
    pub candidate: Arc<Pack>,
    pub active: Arc<Pack>,
    /// (model, use) pairs evaluated.
    pub evaluated: usize,
    pub changes: Vec<Change>,
    pub elapsed: std::time::Duration,
}

/// Every registered model under every stored profile, with the candidate `digest` and with
/// the active pack: the differences. Records nothing.
pub async fn impact(app: &App, tenant: &str, digest: &str) -> Result<Impact, PackError> {
    let candidate = by_digest(app, tenant, digest).await?;
    let active = active_pack(app, tenant).await?;
    let started = std::time::Instant::now();
    let (subjects, uses) = registry(app, tenant, &active).await?;
    let now_us = crate::time::now_micros();
    let waivers = super::tenants::engine_waivers(app, tenant, now_us).await?;
    let now = crate::time::second_of(now_us);
    let (active2, candidate2) = (active.clone(), candidate.clone());
    let (changes, evaluated) = tokio::task::spawn_blocking(move || {
        let mut changes = Vec::new();
        let mut evaluated = 0usize;
        for s in &subjects {
            for u in &uses {
                let (before, _) = evaluate(&active2, s, u, &waivers, now);
                let (after, _) = evaluate(&candidate2, s, u, &waivers, now);
                evaluated += 1;
                let (fb, fa) = (failing(&before), failing(&after));
                if before.verdict != after.verdict || fb != fa {
                    changes.push(Change {
                        model_ref: s.model_ref.clone(),
                        profile: u.profile.clone(),
                        before: before.verdict,
                        after: after.verdict,
                        added: fa.difference(&fb).cloned().collect(),
                        removed: fb.difference(&fa).cloned().collect(),
                    });
                }
            }
        }
        (changes, evaluated)
    })
    .await
    .map_err(|e| Corrupt::new("impact analysis", e))?;
    Ok(Impact {
        candidate,
        active,
        evaluated,
        changes,
        elapsed: started.elapsed(),
    })
}

/// The ETag of a tenant's current activation.
pub fn activation_etag(seq: Option<i64>) -> String {
    format!("\"activation-{}\"", seq.unwrap_or(0))
}

/// Why a pack was not activated.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    /// `If-Match` is not the current activation's ETag.
    #[error("the activation changed: If-Match is {given}, the current ETag is {current}")]
    Changed { given: String, current: String },
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// A pack activated, and the registry re-evaluated under it.
pub struct Activated {
    pub seq: i64,
    /// Unix microseconds.
    pub activated_at: i64,
    /// Decisions recorded by the re-evaluation.
    pub reevaluated: usize,
}

/// Activates pack `digest` for `tenant` if `if_match` is the current activation's ETag (or
/// `*`), then re-evaluates every registered model under every profile and records the
/// decisions, asked by API key `by`.
pub async fn activate(
    app: &App,
    tenant: &str,
    digest: &str,
    if_match: &str,
    by: &str,
) -> Result<Activated, ActivateError> {
    let pack = by_digest(app, tenant, digest).await?;
    let current = app.store.active_pack(tenant).await?;
    let etag = activation_etag(current.as_ref().map(|a| a.seq));
    if if_match.trim() != etag && if_match.trim() != "*" {
        return Err(ActivateError::Changed {
            given: if_match.to_string(),
            current: etag,
        });
    }
    let now_us = crate::time::now_micros();
    let event = crate::audit::pack_activated(tenant, now_us, digest)
        .map_err(|e| Corrupt::new("activation event", e))?;
    // `*` activates whatever came before; an ETag only the activation it names (one
    // that came in between answers as a changed ETag, not as a lost update).
    let activation = if if_match.trim() == "*" {
        app.store
            .activate_pack(tenant, digest, now_us, Some(&event))
            .await?
    } else {
        let after = current.as_ref().map(|a| a.seq);
        match app
            .store
            .activate_pack_after(tenant, digest, now_us, Some(&event), after)
            .await?
        {
            Some(a) => a,
            None => {
                let now = app.store.active_pack(tenant).await?;
                return Err(ActivateError::Changed {
                    given: if_match.to_string(),
                    current: activation_etag(now.map(|a| a.seq)),
                });
            }
        }
    };
    app.tenants.forget(tenant).await;
    // Re-evaluate the registry under the new pack and record the decisions.
    let (subjects, uses) = registry(app, tenant, &pack).await?;
    let waivers = super::tenants::engine_waivers(app, tenant, now_us).await?;
    let now = crate::time::second_of(now_us);
    let mut recorded = 0usize;
    for s in &subjects {
        for u in &uses {
            let (decision, input_digest) = evaluate(&pack, s, u, &waivers, now);
            let id = uuid::Uuid::now_v7().to_string();
            let record_json =
                serde_json::to_string(&s.record).map_err(|e| Corrupt::new("record", e))?;
            let context_json =
                serde_json::to_string(&u.ctx).map_err(|e| Corrupt::new("context", e))?;
            let decision_json =
                serde_json::to_string(&decision).map_err(|e| Corrupt::new("decision", e))?;
            let mut new = NewDecision {
                link_digest: None,
                generation: None,
                id: &id,
                tenant,
                model_ref: &s.model_ref,
                model_version: Some(s.version),
                profile: u.profile.as_deref(),
                verdict: decision.verdict.as_str(),
                format: &s.format,
                document: &s.document,
                record_json: &record_json,
                context_json: &context_json,
                decision_json: &decision_json,
                pack_digest: pack.digest.as_str(),
                engine_version: modelgate_engine::ENGINE_VERSION,
                input_digest: input_digest.as_str(),
                created_at: crate::time::now_micros(),
                requested_by: Some(by),
                idempotency_key: None,
                request_digest: None,
                trace_id: None,
                leaf_hash: None,
            };
            new.leaf_hash =
                Some(crate::audit::decision_leaf_hash(&new).map_err(|e| Corrupt::new("leaf", e))?);
            app.store.insert_decision(&new).await?;
            recorded += 1;
        }
    }
    app.log.wake();
    Ok(Activated {
        seq: activation.seq,
        activated_at: activation.activated_at,
        reevaluated: recorded,
    })
}

/// A pack uploaded: what it is, its tests, and whether it was new to the tenant.
#[derive(Debug)]
pub struct Uploaded {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub passed: usize,
    pub new: bool,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Not a tar.gz of a pack (what is wrong with the archive).
    #[error("{0}")]
    Archive(String),
    #[error("`{0}` is not UTF-8 text")]
    NotText(String),
    #[error("the rule pack is invalid ({} problem(s))", .0.problems.len())]
    Invalid(modelgate_engine::PackError),
    #[error("{} of the pack's {} tests fail", .0.failed, .0.failed + .0.passed)]
    TestsFailed(modelgate_engine::rules::testing::TestReport),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Registers an uploaded pack (a tar.gz of a `rules/`-shaped directory) once it loads and
/// its own tests pass; it is not activated.
pub async fn upload(
    app: &App,
    tenant: &str,
    raw: Vec<u8>,
    now: i64,
) -> Result<Uploaded, UploadError> {
    let checked = tokio::task::spawn_blocking(move || {
        let files = crate::packdir::unpack(&raw).map_err(UploadError::Archive)?;
        let stored = crate::packdir::stored_files(&files).map_err(UploadError::NotText)?;
        let pack = Pack::load(&files).map_err(UploadError::Invalid)?;
        let report = pack.run_tests();
        Ok::<_, UploadError>((pack, stored, report))
    })
    .await
    .map_err(|e| Corrupt::new("pack upload", e))??;
    let (pack, stored, report) = checked;
    if report.failed > 0 {
        return Err(UploadError::TestsFailed(report));
    }
    let new = register(&app.store, tenant, &pack, stored, false, now).await?;
    app.log.wake();
    let out = Uploaded {
        digest: pack.digest.to_string(),
        name: pack.manifest.name.clone(),
        version: pack.manifest.version.clone(),
        passed: report.passed,
        new,
    };
    app.packs.insert(tenant, Arc::new(pack)).await;
    Ok(out)
}
