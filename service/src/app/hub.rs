//! Models fetched from the Hugging Face Hub by the service: `POST /v1/evaluations` with
//! `hub: "hf:<org>/<name>[@<revision>]"`, `PUT /v1/models/{ref}` with the same, and the
//! web "check a model" page with an `hf:` reference. The fetch is the CLI's
//! ([`crate::hub::Hub::fetch`]: the exact commit, the card, base models the pack does not
//! know); what is stored is the fetch's inputs ([`crate::hub::StoredFetch`], format
//! [`STORED_FORMAT`]), so a replay builds the same records without asking the Hub.

use crate::hub::{self, Hub, HubConfig, HubError, HubRef, Token};
use modelgate_engine::{ModelRecord, Pack};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub use crate::hub::STORED_FORMAT;

/// Fetches at once; the rest wait (each holds a blocking thread for up to a request's
/// timeout).
const CONCURRENT_FETCHES: usize = 8;

/// The longest the service waits for one Hub request, and for a `Retry-After`; and its
/// retries. A person or a deploy pipeline waits for the answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
const MAX_RETRIES: u32 = 2;

/// The service's access to the Hub.
pub struct HubAccess {
    /// `Some` until dropped (the blocking HTTP client is dropped off the async runtime).
    hub: Option<Arc<Hub>>,
    endpoint: String,
    /// Scrubbed from every message (it is never put in one; text from the Hub is quoted).
    token: Option<Token>,
    permits: Semaphore,
}

impl HubAccess {
    /// With the service's bounds on waiting (a shorter timeout and fewer retries than the
    /// CLI's defaults). The Hub's HTTP client is a blocking one: it is built (and used, and
    /// dropped) off the async runtime, where building it would panic.
    pub async fn start(cfg: HubConfig) -> Result<HubAccess, HubError> {
        tokio::task::spawn_blocking(move || HubAccess::new(cfg))
            .await
            .map_err(|e| HubError::Internal(format!("the Hub client was not built: {e}")))?
    }

    fn new(mut cfg: HubConfig) -> Result<HubAccess, HubError> {
        cfg.client.timeout = cfg.client.timeout.min(REQUEST_TIMEOUT);
        cfg.client.connect_timeout = cfg.client.connect_timeout.min(REQUEST_TIMEOUT);
        cfg.client.max_retry_after = cfg.client.max_retry_after.min(MAX_RETRY_AFTER);
        cfg.client.retries = cfg.client.retries.min(MAX_RETRIES);
        let endpoint = cfg.client.endpoint.trim_end_matches('/').to_string();
        let token = cfg.client.token.clone();
        Ok(HubAccess {
            hub: Some(Arc::new(Hub::new(cfg)?)),
            endpoint,
            token,
            permits: Semaphore::new(CONCURRENT_FETCHES),
        })
    }

    /// The Hub's address (for logs and the stored fetch).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fetches `reference` (`hf:<org>/<name>[@<revision>]`) and the base models `pack`
    /// does not know: the model's record, its fetched ancestors and the stored fetch.
    pub async fn fetch(&self, pack: Arc<Pack>, reference: &str) -> Result<Fetched, HubError> {
        self.fetch_unscrubbed(pack, reference)
            .await
            .map_err(|e| e.scrubbed(self.token.as_ref()))
    }

    async fn fetch_unscrubbed(
        &self,
        pack: Arc<Pack>,
        reference: &str,
    ) -> Result<Fetched, HubError> {
        let r = HubRef::parse(reference.trim())?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HubError::Internal("the Hub fetches were closed".into()))?;
        let hub = self
            .hub
            .clone()
            .ok_or_else(|| HubError::Internal("the Hub client is gone".into()))?;
        let fetched = tokio::task::spawn_blocking(move || hub.fetch(&r, &pack))
            .await
            .map_err(|e| HubError::Internal(format!("the Hub fetch stopped: {e}")))??;
        for n in &fetched.notes {
            let n = hub::redact(n, self.token.as_ref());
            tracing::warn!(model = %fetched.model.repo, "Hub fetch: {n}");
        }
        let stored = fetched.stored(&self.endpoint)?;
        let ancestors = fetched.ancestor_records();
        Ok(Fetched {
            record: fetched.model.record,
            ancestors,
            stored,
        })
    }
}

impl Drop for HubAccess {
    fn drop(&mut self) {
        // Dropping the blocking client on an async worker panics: drop it on a thread.
        if let Some(hub) = self.hub.take() {
            std::thread::spawn(move || drop(hub));
        }
    }
}

/// A model fetched from the Hub.
pub struct Fetched {
    pub record: ModelRecord,
    /// The base models fetched (nearest first).
    pub ancestors: Vec<ModelRecord>,
    /// The document stored for it ([`crate::hub::StoredFetch`], JSON).
    pub stored: Vec<u8>,
}

/// The records of a stored fetch: the model's and its fetched ancestors'.
pub fn rebuild(pack: &Pack, stored: &[u8]) -> Result<(ModelRecord, Vec<ModelRecord>), HubError> {
    hub::rebuild(pack, stored)
}
