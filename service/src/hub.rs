//! Fetching a model's metadata from the Hugging Face Hub for `check hf:<org>/<name>[@<rev>]`.
//!
//! For a model: the model info (`GET {endpoint}/api/models/{repo}[/revision/{rev}]`: the
//! exact commit sha, the files of the repository, gating, card data), then the card at
//! that commit (`GET {endpoint}/{repo}/resolve/{sha}/README.md`), parsed by the engine's
//! hf-card parser. Base models named by `base_model` that the base-model catalog does not
//! know are fetched in turn (breadth first, each repository once, to [`HubConfig::max_depth`]
//! links), so that the engine can follow a fine-tune of a fine-tune to its root.
//!
//! Responses are cached on disk by commit ([`cache`]): a commit is immutable, so a second
//! check of the same sha reads everything from the cache and makes no request. A branch,
//! a tag or no revision (the default branch) asks the model-info endpoint again for the
//! sha it points to and reads the rest from the cache. The commits that the base models
//! resolved to at the first check of a commit are kept with it (`lineage.json`), so a
//! later check of that commit evaluates the same lineage; `--no-cache` resolves them again.
//!
//! The token (`HF_TOKEN`) is sent as `Authorization: Bearer` and never printed: [`Token`]
//! has no `Display` and its `Debug` is redacted, and every message from the network is
//! scrubbed of it ([`HubError::redacted`]).

pub mod cache;
pub mod client;

use cache::Cache;
use client::{Client, ClientConfig, Reply};
use modelgate_engine::record::ModelRecord;
use modelgate_engine::{Format, Pack, ParseOptions};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Default number of `base_model` links followed through the Hub.
pub const DEFAULT_MAX_DEPTH: usize = 8;
/// Most bytes of a model-info response (the file list of a large repository is long).
pub const MAX_INFO_BYTES: u64 = 32 * 1024 * 1024;
/// Most files of the repository listed in the record.
pub const MAX_FILES: usize = 256;

/// An access token. Never printed: no `Display`, a redacted `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// `None` for an empty or blank value.
    pub fn new(s: &str) -> Option<Token> {
        let t = s.trim();
        (!t.is_empty()).then(|| Token(t.to_string()))
    }

    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A model on the Hub: `hf:<org>/<name>[@<revision>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRef {
    /// `org/name` (or a legacy single-segment id such as `gpt2`).
    pub repo: String,
    /// A branch, tag or commit sha; `None` is the default branch.
    pub revision: Option<String>,
}

impl HubRef {
    /// Parses `hf:<org>/<name>[@<revision>]`.
    pub fn parse(s: &str) -> Result<HubRef, HubError> {
        let bad = |why: &str| {
            HubError::Usage(format!(
                "`{s}` is not a Hub model reference: {why} (expected hf:<org>/<name>[@<revision>])"
            ))
        };
        let rest = s
            .strip_prefix("hf:")
            .ok_or_else(|| bad("it does not start with `hf:`"))?;
        let (repo, revision) = match rest.split_once('@') {
            Some((r, rev)) => (r, Some(rev)),
            None => (rest, None),
        };
        if !repo.contains('/') {
            return Err(bad("the repository needs an organisation: <org>/<name>"));
        }
        validate_repo(repo).map_err(|w| bad(&w))?;
        let revision = match revision {
            None => None,
            Some(r) => {
                validate_revision(r).map_err(|w| bad(&w))?;
                Some(r.to_string())
            }
        };
        Ok(HubRef {
            repo: repo.to_string(),
            revision,
        })
    }
}

impl fmt::Display for HubRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hf:{}", self.repo)?;
        if let Some(r) = &self.revision {
            write!(f, "@{r}")?;
        }
        Ok(())
    }
}

/// Checks a repository id: one or two segments (`org/name`) of ASCII letters, digits,
/// `-`, `_`, `.`, at most 96 characters each, not starting or ending with `-` or `.`,
/// without `--` or `..` (the Hub's own rules).
pub fn validate_repo(repo: &str) -> Result<(), String> {
    let segs: Vec<&str> = repo.split('/').collect();
    if segs.len() > 2 {
        return Err(format!("`{repo}` has more than one `/`"));
    }
    for seg in segs {
        if seg.is_empty() || seg.len() > 96 {
            return Err(format!("`{repo}` has an empty or over-long part"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(format!(
                "`{seg}` may hold only ASCII letters, digits, `-`, `_` and `.`"
            ));
        }
        if seg.starts_with(['-', '.'])
            || seg.ends_with(['-', '.'])
            || seg.contains("--")
            || seg.contains("..")
        {
            return Err(format!(
                "`{seg}` starts or ends with `-` or `.`, or contains `--` or `..`"
            ));
        }
    }
    Ok(())
}

/// Checks a revision: a branch, tag or commit, printable, without spaces, at most 256 bytes.
pub fn validate_revision(rev: &str) -> Result<(), String> {
    if rev.is_empty() {
        return Err("the revision after `@` is empty".into());
    }
    if rev.len() > 256 || rev.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("`{rev}` is not a branch, tag or commit"));
    }
    Ok(())
}

/// Whether a revision is a full commit sha.
pub fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-encodes everything but unreserved characters (a revision such as `refs/pr/1`
/// is one path segment).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why fetching failed; each kind has its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubError {
    /// A bad reference, endpoint or setting (64).
    Usage(String),
    /// The model, revision or file does not exist (66).
    NotFound(String),
    /// The card is malformed or over the size limit (65).
    Malformed(String),
    TooLarge(String),
    /// The Hub is unreachable, or failed after every retry (69).
    Unavailable(String),
    /// The Hub's answer is not what its API promises (76).
    Protocol(String),
    /// Gated, private or the token refused (77).
    Denied(String),
    /// A bug or a local failure (70).
    Internal(String),
}

impl HubError {
    pub fn message(&self) -> &str {
        match self {
            HubError::Usage(m)
            | HubError::NotFound(m)
            | HubError::Malformed(m)
            | HubError::TooLarge(m)
            | HubError::Unavailable(m)
            | HubError::Protocol(m)
            | HubError::Denied(m)
            | HubError::Internal(m) => m,
        }
    }

    /// The message with every occurrence of the token replaced (defence in depth: the
    /// token is never put in a message, but text from the network is quoted).
    pub fn redacted(&self, token: Option<&Token>) -> String {
        redact(self.message(), token)
    }

    /// The same error with its message [`HubError::redacted`].
    pub fn scrubbed(self, token: Option<&Token>) -> HubError {
        let m = self.redacted(token);
        match self {
            HubError::Usage(_) => HubError::Usage(m),
            HubError::NotFound(_) => HubError::NotFound(m),
            HubError::Malformed(_) => HubError::Malformed(m),
            HubError::TooLarge(_) => HubError::TooLarge(m),
            HubError::Unavailable(_) => HubError::Unavailable(m),
            HubError::Protocol(_) => HubError::Protocol(m),
            HubError::Denied(_) => HubError::Denied(m),
            HubError::Internal(_) => HubError::Internal(m),
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for HubError {}

pub fn redact(s: &str, token: Option<&Token>) -> String {
    match token {
        Some(t) if !t.0.is_empty() => s.replace(&t.0, "<redacted>"),
        _ => s.to_string(),
    }
}

/// Everything configurable about Hub access.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub client: ClientConfig,
    /// `None`: no cache (nothing read, nothing written).
    pub cache_dir: Option<PathBuf>,
    /// Most `base_model` links followed through the Hub.
    pub max_depth: usize,
    /// Most bytes of a card.
    pub max_card_bytes: u64,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            client: ClientConfig::default(),
            cache_dir: None,
            max_depth: DEFAULT_MAX_DEPTH,
            max_card_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Where the cache is by default: `$MODELGATE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/modelgate/hub`, else `$HOME/.cache/modelgate/hub`.
pub fn default_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if let Some(d) = nonempty("MODELGATE_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = nonempty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("modelgate/hub"));
    }
    nonempty("HOME").map(|h| PathBuf::from(h).join(".cache/modelgate/hub"))
}

/// The model info as the Hub API returns it (the fields modelgate reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub sha: Option<String>,
    #[serde(default)]
    pub siblings: Option<Vec<Sibling>>,
    /// `false`, `"auto"` or `"manual"`.
    #[serde(default)]
    pub gated: serde_json::Value,
    #[serde(default, rename = "cardData", skip_serializing_if = "Option::is_none")]
    pub card_data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sibling {
    pub rfilename: String,
}

impl ModelInfo {
    pub fn is_gated(&self) -> bool {
        match &self.gated {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) => !matches!(s.as_str(), "" | "false"),
            _ => false,
        }
    }

    fn has_file(&self, name: &str) -> Option<bool> {
        self.siblings
            .as_ref()
            .map(|s| s.iter().any(|f| f.rfilename == name))
    }
}

/// One model fetched: its record, the exact commit, the card bytes.
#[derive(Debug, Clone)]
pub struct FetchedModel {
    /// The repository id as the Hub spells it.
    pub repo: String,
    pub sha: String,
    pub info: ModelInfo,
    /// The card (`README.md`) at `sha`; empty when the repository has none.
    pub card: Vec<u8>,
    pub record: ModelRecord,
    /// The record was built from the model info's card data (the card itself was gated).
    pub from_card_data: bool,
}

/// A model and the base models fetched for its lineage.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub model: FetchedModel,
    /// Nearest first, each repository once.
    pub ancestors: Vec<FetchedModel>,
    /// What could not be followed (printed as warnings).
    pub notes: Vec<String>,
}

impl Fetch {
    pub fn ancestor_records(&self) -> Vec<ModelRecord> {
        self.ancestors.iter().map(|a| a.record.clone()).collect()
    }

    /// The document the decision's input digest is computed over: for the model and then
    /// each fetched base model, `hf:<repo>@<sha>`, a newline, the card's length in bytes,
    /// a newline and the card bytes. So the digest pins the exact commits and cards.
    pub fn digest_document(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for m in std::iter::once(&self.model).chain(&self.ancestors) {
            out.extend_from_slice(
                format!("hf:{}@{}\n{}\n", m.repo, m.sha, m.card.len()).as_bytes(),
            );
            out.extend_from_slice(&m.card);
        }
        out
    }
}

/// The format name of a stored Hub fetch: what the service records as the document of a
/// decision (or a model version) whose model it fetched from the Hub ([`Fetch::stored`]).
pub const STORED_FORMAT: &str = "hf-hub";

/// What a stored Hub fetch says it is (`kind`).
const STORED_KIND: &str = "modelgate-hub-fetch/1";

/// A Hub fetch as the service stores it: the exact inputs of the records (each model's
/// info and card at its commit), so that a replay builds the same records with
/// [`assemble`] without asking the Hub, and the input digest pins every commit and card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredFetch {
    /// `modelgate-hub-fetch/1`.
    pub kind: String,
    /// The Hub the models came from.
    pub endpoint: String,
    /// The model, then each fetched base model (nearest first).
    pub models: Vec<StoredModel>,
}

/// One fetched model in a [`StoredFetch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredModel {
    /// The repository id as the Hub spells it.
    pub repo: String,
    pub sha: String,
    /// The id of the record (a base model keeps the name the linking card gave it).
    pub id: String,
    pub info: ModelInfo,
    /// The card at `sha` (empty: the repository has none).
    pub card: String,
    /// The card is the Hub's card data (the card itself was gated).
    pub card_from_data: bool,
}

impl Fetch {
    /// The fetch as the service stores it ([`StoredFetch`], JSON).
    pub fn stored(&self, endpoint: &str) -> Result<Vec<u8>, HubError> {
        let models = std::iter::once(&self.model)
            .chain(&self.ancestors)
            .map(|m| {
                Ok(StoredModel {
                    repo: m.repo.clone(),
                    sha: m.sha.clone(),
                    id: m.record.id.clone(),
                    info: m.info.clone(),
                    card: String::from_utf8(m.card.clone()).map_err(|_| {
                        HubError::Malformed(format!(
                            "hf:{}@{} README.md is not UTF-8 text",
                            m.repo, m.sha
                        ))
                    })?,
                    card_from_data: m.from_card_data,
                })
            })
            .collect::<Result<Vec<_>, HubError>>()?;
        serde_json::to_vec(&StoredFetch {
            kind: STORED_KIND.to_string(),
            endpoint: endpoint.to_string(),
            models,
        })
        .map_err(|e| HubError::Internal(format!("cannot write the fetch down: {e}")))
    }
}

/// The model's record and its fetched ancestors' records from a stored fetch
/// ([`Fetch::stored`]), built as the fetch built them.
pub fn rebuild(pack: &Pack, stored: &[u8]) -> Result<(ModelRecord, Vec<ModelRecord>), HubError> {
    let s: StoredFetch = serde_json::from_slice(stored)
        .map_err(|e| HubError::Malformed(format!("not a stored Hub fetch: {e}")))?;
    if s.kind != STORED_KIND {
        return Err(HubError::Malformed(format!(
            "a stored Hub fetch of kind `{}` (this version reads `{STORED_KIND}`)",
            s.kind
        )));
    }
    let mut records = Vec::with_capacity(s.models.len());
    for m in s.models {
        // What a fetch stores: Hub repository ids and commit shas (never a blank id, nor
        // a path the cache or the model reference could be bent by).
        for (what, id) in [("repository", &m.repo), ("model id", &m.id)] {
            validate_repo(id).map_err(|why| {
                HubError::Malformed(format!("a stored Hub fetch with the {what} `{id}`: {why}"))
            })?;
        }
        if !is_sha(&m.sha) {
            return Err(HubError::Malformed(format!(
                "a stored Hub fetch of {} at `{}`, which is not a commit sha",
                m.repo, m.sha
            )));
        }
        let mut f = assemble(
            pack,
            m.repo,
            m.sha,
            m.info,
            m.card.into_bytes(),
            m.card_from_data,
        )?;
        f.record.id = m.id;
        records.push(f.record);
    }
    if records.is_empty() {
        return Err(HubError::Malformed(
            "a stored Hub fetch without a model".into(),
        ));
    }
    let model = records.remove(0);
    Ok((model, records))
}

/// The Hub: a client and the cache.
#[derive(Debug)]
pub struct Hub {
    client: Client,
    cache: Option<Cache>,
    max_depth: usize,
    max_card_bytes: u64,
}

/// The commits a cached `lineage.json` pins base models to: lower-cased repository id →
/// sha (40 hex digits). Empty when the entry is not a lineage lock; an entry whose sha is
/// not a commit sha is left out (that base model is resolved again).
pub fn lineage_lock(bytes: &[u8]) -> HashMap<String, String> {
    serde_json::from_slice::<LineageLock>(bytes)
        .map(|l| {
            l.ancestors
                .into_iter()
                .filter(|a| is_sha(&a.sha))
                .map(|a| (a.id.to_ascii_lowercase(), a.sha))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Serialize, Deserialize)]
struct LineageLock {
    ancestors: Vec<LockedAncestor>,
}

#[derive(Serialize, Deserialize)]
struct LockedAncestor {
    id: String,
    sha: String,
}

impl Hub {
    pub fn new(cfg: HubConfig) -> Result<Hub, HubError> {
        let mut client_cfg = cfg.client;
        client_cfg.endpoint = client_cfg.endpoint.trim_end_matches('/').to_string();
        Ok(Hub {
            client: Client::new(client_cfg)?,
            cache: cfg.cache_dir.map(Cache::new),
            max_depth: cfg.max_depth,
            max_card_bytes: cfg.max_card_bytes,
        })
    }

    pub fn token_withheld(&self) -> bool {
        self.client.token_withheld()
    }

    /// Fetches a model and, through `base_model` links, the base models that `pack`'s
    /// base-model catalog does not know.
    pub fn fetch(&self, r: &HubRef, pack: &Pack) -> Result<Fetch, HubError> {
        let mut notes = Vec::new();
        let model = self.fetch_model(&r.repo, r.revision.as_deref(), pack, true, &mut notes)?;
        let lock: HashMap<String, String> = self
            .cache_read(&r.repo, &model.sha, "lineage.json")
            .map(|b| lineage_lock(&b))
            .unwrap_or_default();
        let mut ancestors: Vec<FetchedModel> = Vec::new();
        let mut visited: HashSet<String> = HashSet::new();
        visited.insert(r.repo.to_ascii_lowercase());
        visited.insert(model.repo.to_ascii_lowercase());
        let mut queue: VecDeque<(String, usize)> = model
            .record
            .base_models
            .iter()
            .map(|b| (b.id.clone(), 1))
            .collect();
        while let Some((id, depth)) = queue.pop_front() {
            if pack.models.get(&id).is_some() {
                continue; // the catalog knows it
            }
            if !visited.insert(id.trim().to_ascii_lowercase()) {
                continue; // fetched already (a diamond or a cycle; the engine reports cycles)
            }
            if depth > self.max_depth {
                notes.push(format!(
                    "the lineage is deeper than {} links: base model {id} was not fetched",
                    self.max_depth
                ));
                continue;
            }
            if let Err(why) = validate_repo(id.trim()) {
                notes.push(format!(
                    "base model `{id}` is not a Hub repository id: {why}"
                ));
                continue;
            }
            let pinned = lock
                .get(&id.trim().to_ascii_lowercase())
                .map(String::as_str);
            match self.fetch_model(id.trim(), pinned, pack, false, &mut notes) {
                Ok(mut m) => {
                    // The name the card used: the engine matches base_model links by it.
                    if !m.record.id.eq_ignore_ascii_case(id.trim()) {
                        notes.push(format!("base model {id} is now {} on the Hub", m.record.id));
                        m.record.id = id.trim().to_string();
                    }
                    if m.from_card_data {
                        notes.push(format!(
                            "the card of base model {id} is gated; its licence and base models were read from the Hub's card data"
                        ));
                    }
                    for b in &m.record.base_models {
                        queue.push_back((b.id.clone(), depth + 1));
                    }
                    ancestors.push(m);
                }
                Err(e @ (HubError::NotFound(_) | HubError::Denied(_) | HubError::Malformed(_))) => {
                    notes.push(format!("base model {id} could not be fetched: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
        if lock.is_empty() && !ancestors.is_empty() {
            let l = LineageLock {
                ancestors: ancestors
                    .iter()
                    .map(|a| LockedAncestor {
                        id: a.record.id.clone(),
                        sha: a.sha.clone(),
                    })
                    .collect(),
            };
            if let Ok(b) = serde_json::to_vec(&l) {
                self.cache_write(&r.repo, &model.sha, "lineage.json", &b, &mut notes);
            }
        }
        Ok(Fetch {
            model,
            ancestors,
            notes,
        })
    }

    fn cache_read(&self, repo: &str, sha: &str, entry: &str) -> Option<Vec<u8>> {
        self.cache.as_ref()?.read(repo, sha, entry)
    }

    fn cache_write(
        &self,
        repo: &str,
        sha: &str,
        entry: &str,
        bytes: &[u8],
        notes: &mut Vec<String>,
    ) {
        if let Some(c) = &self.cache
            && let Err(e) = c.write(repo, sha, entry, bytes)
        {
            notes.push(format!(
                "cannot write the cache in {}: {e}",
                c.dir().display()
            ));
        }
    }

    /// One model: info, card, record. `root`: the model checked (a gated card is an
    /// error); otherwise a base model (a gated card falls back to the info's card data).
    fn fetch_model(
        &self,
        repo: &str,
        revision: Option<&str>,
        pack: &Pack,
        root: bool,
        notes: &mut Vec<String>,
    ) -> Result<FetchedModel, HubError> {
        let info = self.model_info(repo, revision, notes)?;
        let sha = info.sha.clone().unwrap_or_default();
        // The Hub's spelling of the id (it redirects renamed and differently cased ids).
        let name = if validate_repo(&info.id).is_ok() {
            info.id.clone()
        } else {
            repo.to_string()
        };
        let (card, from_card_data) = match self.card(repo, &sha, &info, notes) {
            Ok(c) => (c, false),
            Err(HubError::Denied(m)) if !root => match card_from_data(&info) {
                Some(c) => (c, true),
                None => return Err(HubError::Denied(m)),
            },
            Err(e) => return Err(e),
        };
        assemble(pack, name, sha, info, card, from_card_data)
    }

    fn model_info(
        &self,
        repo: &str,
        revision: Option<&str>,
        notes: &mut Vec<String>,
    ) -> Result<ModelInfo, HubError> {
        let exact = revision.filter(|r| is_sha(r)).map(str::to_ascii_lowercase);
        if let Some(sha) = &exact
            && let Some(info) = self
                .cache_read(repo, sha, "info.json")
                .and_then(|b| serde_json::from_slice::<ModelInfo>(&b).ok())
                .filter(|i| {
                    i.sha
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(sha))
                })
        {
            return Ok(info);
        }
        let mut url = format!("{}/api/models/{repo}", self.client.endpoint());
        if let Some(r) = revision {
            url.push_str("/revision/");
            url.push_str(&encode_segment(r));
        }
        let what = format!("model info of hf:{repo}");
        let reply = self.client.get(&url, MAX_INFO_BYTES, &what)?;
        if !reply.ok() {
            return Err(self.refused(&reply, repo, revision, None));
        }
        let mut info: ModelInfo = serde_json::from_slice(&reply.body).map_err(|e| {
            HubError::Protocol(format!(
                "{what}: the Hub's answer is not model info JSON: {e}"
            ))
        })?;
        let sha = match info.sha.as_deref() {
            Some(s) if is_sha(s) => s.to_ascii_lowercase(),
            other => {
                return Err(HubError::Protocol(format!(
                    "{what}: the Hub's answer has no commit sha (sha: {other:?})"
                )));
            }
        };
        if let Some(want) = &exact
            && *want != sha
        {
            return Err(HubError::Protocol(format!(
                "{what}: asked for commit {want}, the Hub answered for {sha}"
            )));
        }
        info.sha = Some(sha.clone());
        if let Ok(b) = serde_json::to_vec(&info) {
            self.cache_write(repo, &sha, "info.json", &b, notes);
        }
        Ok(info)
    }

    /// The card at `sha`, or empty bytes when the repository has none.
    fn card(
        &self,
        repo: &str,
        sha: &str,
        info: &ModelInfo,
        notes: &mut Vec<String>,
    ) -> Result<Vec<u8>, HubError> {
        if info.has_file("README.md") == Some(false) {
            return Ok(Vec::new());
        }
        // The card of a gated repository is served from the cache only to a caller with a
        // token: the cache never gives what the Hub would refuse.
        if (!info.is_gated() || self.client.has_token())
            && let Some(b) = self.cache_read(repo, sha, "README.md")
        {
            return Ok(b);
        }
        let url = format!("{}/{repo}/resolve/{sha}/README.md", self.client.endpoint());
        let what = format!("card of hf:{repo}@{sha}");
        let reply = self
            .client
            .get(&url, self.max_card_bytes, &what)
            .map_err(|e| match e {
                HubError::TooLarge(_) => HubError::TooLarge(format!(
                    "{what}: the card is over the limit of {} bytes (--max-bytes)",
                    self.max_card_bytes
                )),
                e => e,
            })?;
        if reply.ok() {
            self.cache_write(repo, sha, "README.md", &reply.body, notes);
            return Ok(reply.body);
        }
        if reply.status == 404 && reply.error_code.as_deref() != Some("RepoNotFound") {
            return Ok(Vec::new()); // EntryNotFound: no card in this commit
        }
        Err(self.refused(&reply, repo, Some(sha), Some("README.md")))
    }

    /// The error for a refused request.
    fn refused(
        &self,
        r: &Reply,
        repo: &str,
        revision: Option<&str>,
        file: Option<&str>,
    ) -> HubError {
        let page = format!("{}/{repo}", self.client.endpoint());
        let code = r.error_code.as_deref().unwrap_or("");
        let detail = r
            .error_message
            .as_deref()
            .map(|m| format!(" (the Hub says: {m})"))
            .unwrap_or_default();
        let target = match file {
            Some(f) => format!("{f} of hf:{repo}"),
            None => format!("hf:{repo}"),
        };
        if code == "GatedRepo" {
            let how = if self.client.has_token() {
                format!(
                    "the token in HF_TOKEN has no access: accept the licence on the model page {page} \
                     with the account that owns the token"
                )
            } else {
                format!(
                    "accept the licence on the model page {page}, then set HF_TOKEN to an access \
                     token of that account (https://huggingface.co/settings/tokens)"
                )
            };
            return HubError::Denied(format!(
                "hf:{repo} is a gated repository: {target} is available only to accounts that accepted its conditions; {how}{detail}"
            ));
        }
        if code == "RevisionNotFound" {
            return HubError::NotFound(format!(
                "revision `{}` of hf:{repo} not found on the Hub{detail}",
                revision.unwrap_or("main")
            ));
        }
        if code == "EntryNotFound" {
            return HubError::NotFound(format!("{target} not found on the Hub{detail}"));
        }
        if code == "RepoNotFound" || r.status == 404 {
            let private = if r.status == 401 && !self.client.has_token() {
                "; if it is private, set HF_TOKEN to a token with access"
            } else {
                ""
            };
            return HubError::NotFound(format!(
                "model hf:{repo} not found on the Hub at {}{private}{detail}",
                self.client.endpoint()
            ));
        }
        match r.status {
            401 | 403 => {
                let how = if self.client.has_token() {
                    "the Hub refused the token in HF_TOKEN; check that it is valid and has read access".to_string()
                } else if self.client.token_withheld() {
                    "HF_TOKEN is set but not sent over plain HTTP; use an https endpoint"
                        .to_string()
                } else {
                    format!(
                        "the repository may be gated or private: accept its licence on the model page {page} \
                         and set HF_TOKEN to an access token of that account"
                    )
                };
                HubError::Denied(format!(
                    "access to {target} refused (HTTP {}): {how}{detail}",
                    r.status
                ))
            }
            400 => HubError::Usage(format!(
                "the Hub refused the request for {target}{} as invalid (HTTP 400){detail}",
                revision.map(|v| format!(" at `{v}`")).unwrap_or_default()
            )),
            s => HubError::Protocol(format!(
                "unexpected HTTP {s} from the Hub for {target}{detail}"
            )),
        }
    }
}

/// A card made of the model info's card data (the card's front matter as JSON), for a
/// base model whose card is gated.
fn card_from_data(info: &ModelInfo) -> Option<Vec<u8>> {
    let data = info.card_data.as_ref().filter(|d| d.is_object())?;
    let yaml = serde_norway::to_string(data).ok()?;
    Some(format!("---\n{yaml}---\n").into_bytes())
}

/// Whether a file of the repository goes into the record's `files`: documents at the top
/// level (licences, notices, policies, cards), not weights or configuration.
pub fn is_document(name: &str) -> bool {
    if name.contains('/') {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    let stem = upper.split('.').next().unwrap_or("");
    if [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "USE_POLICY",
        "ACCEPTABLE_USE_POLICY",
    ]
    .iter()
    .any(|p| stem.starts_with(p))
    {
        return true;
    }
    match upper.rsplit_once('.') {
        Some((_, ext)) => matches!(ext, "MD" | "TXT" | "PDF" | "RST" | "HTML"),
        None => false,
    }
}

/// The Hub settings of the environment and flags: endpoint, token, cache, retries.
pub struct Settings<'a> {
    pub endpoint: Option<&'a str>,
    pub cache_dir: Option<&'a std::path::Path>,
    pub no_cache: bool,
    pub max_card_bytes: u64,
}

/// Builds the configuration: flags, then `MODELGATE_HF_ENDPOINT`, `HF_TOKEN`,
/// `MODELGATE_CACHE_DIR` (or the XDG default), `MODELGATE_HF_RETRIES`,
/// `MODELGATE_HF_BACKOFF_MS`, `MODELGATE_HF_TIMEOUT_SECS`, `MODELGATE_HF_MAX_DEPTH`.
pub fn config(
    s: &Settings<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HubConfig, HubError> {
    let mut cfg = HubConfig::default();
    let nonempty = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(e) = s
        .endpoint
        .map(str::to_string)
        .or_else(|| nonempty("MODELGATE_HF_ENDPOINT"))
    {
        cfg.client.endpoint = e;
    }
    cfg.client.token = env("HF_TOKEN").as_deref().and_then(Token::new);
    let number = |k: &str| -> Result<Option<u64>, HubError> {
        match nonempty(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| HubError::Usage(format!("{k}=`{v}` is not a whole number"))),
        }
    };
    if let Some(n) = number("MODELGATE_HF_RETRIES")? {
        cfg.client.retries = n.min(20) as u32;
    }
    if let Some(ms) = number("MODELGATE_HF_BACKOFF_MS")? {
        cfg.client.backoff_base = Duration::from_millis(ms);
    }
    if let Some(secs) = number("MODELGATE_HF_TIMEOUT_SECS")? {
        let t = Duration::from_secs(secs.max(1));
        cfg.client.timeout = t;
        cfg.client.connect_timeout = cfg.client.connect_timeout.min(t);
    }
    if let Some(d) = number("MODELGATE_HF_MAX_DEPTH")? {
        cfg.max_depth = d as usize;
    }
    cfg.cache_dir = if s.no_cache {
        None
    } else {
        s.cache_dir
            .map(PathBuf::from)
            .or_else(|| default_cache_dir(env))
    };
    cfg.max_card_bytes = s.max_card_bytes;
    Ok(cfg)
}

/// A model's record from its model info and card at commit `sha` (pure: a fetch and the
/// replay of a stored fetch build it the same way). `name` is the repository id as the Hub
/// spells it; an empty card is a repository without one.
pub fn assemble(
    pack: &Pack,
    name: String,
    sha: String,
    info: ModelInfo,
    card: Vec<u8>,
    from_card_data: bool,
) -> Result<FetchedModel, HubError> {
    let model_ref = format!("hf:{name}@{sha}");
    let mut rec = if card.iter().all(u8::is_ascii_whitespace) {
        // No card: the record has the id and revision (and what the API says below).
        ModelRecord {
            id: name.clone(),
            source_format: Format::HfCard.as_str().to_string(),
            publisher: name.split_once('/').map(|(o, _)| o.to_string()),
            ..ModelRecord::default()
        }
    } else {
        let opts = ParseOptions::with_model_ref(model_ref.clone());
        pack.parse(&card, Some(Format::HfCard), &opts)
            .map_err(|e| HubError::Malformed(format!("{model_ref} README.md: {e}")))?
    };
    rec.id = name.clone();
    rec.revision = Some(sha.clone());
    rec.note("revision", "hf-api", "/sha");
    rec.gating.gated = info.is_gated();
    rec.note("gating", "hf-api", "/gated");
    if let Some(files) = &info.siblings {
        let mut added = false;
        for f in files
            .iter()
            .map(|s| &s.rfilename)
            .filter(|f| is_document(f))
        {
            if rec.files.len() >= MAX_FILES {
                break;
            }
            if !rec.files.iter().any(|x| x == f) {
                rec.files.push(f.clone());
                added = true;
            }
        }
        if added {
            rec.note("files", "hf-api", "/siblings");
        }
    }
    Ok(FetchedModel {
        repo: name,
        sha,
        info,
        card,
        record: rec,
        from_card_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = HubRef::parse("hf:acme/m-1.5@v1.0").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.revision.as_deref()),
            ("acme/m-1.5", Some("v1.0"))
        );
        assert_eq!(HubRef::parse("hf:acme/m").unwrap().revision, None);
        for bad in [
            "acme/m",
            "hf:",
            "hf:m",
            "hf:acme/",
            "hf:/m",
            "hf:a/b/c",
            "hf:acme/m@",
            "hf:acme/m@a b",
            "hf:acme/../x",
            "hf:acme/m--x",
            "hf:acme/m x",
        ] {
            let e = HubRef::parse(bad).unwrap_err();
            assert!(matches!(e, HubError::Usage(_)), "{bad}: {e:?}");
            assert!(e.message().contains(bad), "{bad}: {e}");
        }
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
    }

    #[test]
    fn token_is_never_shown() {
        let t = Token::new(" hf_secret123 ").unwrap();
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        let mut cfg = HubConfig::default();
        cfg.client.token = Some(t.clone());
        assert!(!format!("{cfg:?}").contains("hf_secret123"));
        let e = HubError::Unavailable("echo hf_secret123".into());
        assert_eq!(e.redacted(Some(&t)), "echo <redacted>");
        assert!(Token::new("  ").is_none());
    }

    #[test]
    fn documents_of_a_repository() {
        for f in [
            "LICENSE",
            "LICENSE.txt",
            "USE_POLICY.md",
            "NOTICE",
            "README.md",
            "LICENCE-MIT",
        ] {
            assert!(is_document(f), "{f}");
        }
        for f in [
            "model.safetensors",
            "config.json",
            "original/LICENSE",
            ".gitattributes",
        ] {
            assert!(!is_document(f), "{f}");
        }
    }

    /// A stored fetch names Hub repositories at commits: anything else is refused
    /// rather than rebuilt into a record with a blank id or a revision that is no commit
    /// (the `hub_stored` fuzz target reads arbitrary ones).
    #[test]
    fn a_stored_fetch_holds_repositories_at_commits() {
        let pack = crate::packdir::builtin().unwrap();
        let stored = |repo: &str, id: &str, sha: &str| {
            serde_json::to_vec(&serde_json::json!({
                "kind": STORED_KIND,
                "endpoint": "https://huggingface.co",
                "models": [{"repo": repo, "sha": sha, "id": id,
                            "info": {"id": repo, "sha": sha},
                            "card": "---\nlicense: mit\n---\n", "card_from_data": false}],
            }))
            .unwrap()
        };
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let (m, ancestors) = rebuild(&pack, &stored("acme/m", "acme/m", sha)).unwrap();
        assert_eq!(
            (m.id.as_str(), m.revision.as_deref()),
            ("acme/m", Some(sha))
        );
        assert!(ancestors.is_empty());
        for (repo, id, sha) in [
            ("acme/m", " ", sha),
            ("acme/m", "", sha),
            ("../x", "acme/m", sha),
            ("acme/m", "acme/m", "main"),
            ("acme/m", "acme/m", "../../etc"),
        ] {
            let e = rebuild(&pack, &stored(repo, id, sha)).unwrap_err();
            assert!(
                matches!(e, HubError::Malformed(_)),
                "{repo} {id} {sha}: {e:?}"
            );
        }
    }

    #[test]
    fn cache_dir_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_cache_dir(&env(&[("MODELGATE_CACHE_DIR", "/c"), ("HOME", "/h")])),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            default_cache_dir(&env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/modelgate/hub"))
        );
        assert_eq!(
            default_cache_dir(&env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/modelgate/hub"))
        );
        assert_eq!(default_cache_dir(&env(&[])), None);
    }
}
