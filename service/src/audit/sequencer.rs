//! The sequencer and checkpointer: one task per process; one process leads at a time (on
//! PostgreSQL the holder of an advisory lock, fenced by a row lock on `log_state`).
//!
//! Loop: take up to [`SEQUENCER_BATCH`] queued entries, give them the next indices and
//! extend the tree (one transaction), then sign a checkpoint of the new tree — after
//! checking that it is consistent with the previous checkpoint. It takes the queue every
//! [`POLL`] (at once again when a batch was full, or when woken for a caller waiting on
//! its entry), so an entry waits well under a second under normal load, and batches grow
//! with the load instead of the sequencer spending a transaction on each entry.

use crate::store::{AppendResult, CheckpointRow, SequencerLease, Store, StoreError};
use modelgate_audit::checkpoint::{CheckpointSigner, open_checkpoint};
use modelgate_audit::{Hash, tree};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Entries per sequencing transaction.
pub const SEQUENCER_BATCH: usize = 2000;
const POLL: Duration = Duration::from_millis(100);
const RETRY: Duration = Duration::from_secs(1);

/// The log as the rest of the service sees it: the signer and a way to wake the sequencer.
#[derive(Clone)]
pub struct Log {
    signer: Arc<CheckpointSigner>,
    wake: Arc<Notify>,
    /// Signalled after each checkpoint, for requests waiting on their entry.
    grown: Arc<Notify>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("origin", &self.signer.origin())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] modelgate_audit::AuditError),
    #[error("refusing to sign: {0}")]
    Refused(String),
}

impl Log {
    pub fn new(signer: CheckpointSigner) -> Log {
        Log {
            signer: Arc::new(signer),
            wake: Arc::new(Notify::new()),
            grown: Arc::new(Notify::new()),
        }
    }

    pub fn signer(&self) -> &CheckpointSigner {
        &self.signer
    }

    /// Tells the sequencer there is something in the queue.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits until the next checkpoint is signed, or `timeout`.
    pub async fn grown(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.grown.notified()).await;
    }

    /// Runs the sequencer on the current tokio runtime until the returned handle is aborted.
    pub fn spawn(&self, store: Store) -> tokio::task::JoinHandle<()> {
        let log = self.clone();
        tokio::spawn(async move { log.run(store).await })
    }

    async fn run(self, store: Store) {
        let mut lease: Option<SequencerLease> = None;
        let mut leading = false;
        loop {
            if lease.is_none() {
                match store.try_sequencer_lease().await {
                    Ok(Some(l)) => {
                        if !leading {
                            tracing::info!("this process now sequences the audit log");
                        }
                        leading = true;
                        lease = Some(l);
                        match self.backfill(&store).await {
                            Ok(0) => {}
                            Ok(n) => tracing::warn!(
                                decisions = n,
                                "queued decisions that were in no log (written before the log existed, or around the service)"
                            ),
                            Err(e) => {
                                tracing::error!(error = %e, "audit log back-fill failed");
                            }
                        }
                    }
                    Ok(None) => {
                        leading = false;
                        let _ = tokio::time::timeout(RETRY, self.wake.notified()).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "audit log sequencer cannot reach the database");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                }
            }
            let Some(l) = lease.as_mut() else { continue };
            match self.step(&store, l).await {
                Ok(true) => {}
                Ok(false) => {
                    let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit log sequencer step failed; retrying");
                    if let Some(l) = lease.take() {
                        store.drop_sequencer_lease(l).await;
                    }
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Queues every decision that is neither in the log nor queued (rows older than the
    /// log, or written around the service), leaf hash computed from the row. Returns how
    /// many. Run by the leader when it takes over.
    pub async fn backfill(&self, store: &Store) -> Result<u64, SequencerError> {
        let mut n = 0u64;
        loop {
            let rows = store.unlogged_decisions(500).await?;
            if rows.is_empty() {
                return Ok(n);
            }
            for d in &rows {
                let hash = super::decision_leaf_hash(&d.as_new())?;
                store
                    .enqueue_decision(d, &hash, crate::time::now_micros())
                    .await?;
                n += 1;
            }
        }
    }

    /// One round: a batch and, when the tree grew (or has no checkpoint yet), a
    /// checkpoint. True when the batch was full (more may be waiting).
    pub async fn step(
        &self,
        store: &Store,
        lease: &mut SequencerLease,
    ) -> Result<bool, SequencerError> {
        let batch = store
            .sequence_batch(
                lease,
                SEQUENCER_BATCH,
                crate::time::now_micros(),
                tree::needed_for_append,
                |old, leaves, stored| {
                    let stored = stored.iter().map(|(k, v)| (*k, Hash(*v))).collect();
                    let leaves: Vec<Hash> = leaves.iter().map(|h| Hash(*h)).collect();
                    let out = tree::append(old, &leaves, &stored).map_err(|e| e.to_string())?;
                    Ok(AppendResult {
                        new_hashes: out.new_hashes.into_iter().map(|(i, h)| (i, h.0)).collect(),
                        root: out.root.0,
                    })
                },
            )
            .await?;
        let full = batch.is_some_and(|b| b.new_size - b.old_size >= SEQUENCER_BATCH as u64);
        if self.checkpoint(store).await? {
            self.grown.notify_waiters();
        }
        Ok(full)
    }

    /// Signs a checkpoint of the current tree when it is larger than the last one (or when
    /// there is none). Refuses when the stored tree does not give the recorded root or is
    /// not consistent with the previous checkpoint. True when it signed.
    pub async fn checkpoint(&self, store: &Store) -> Result<bool, SequencerError> {
        let state = store.log_state().await?;
        let last = store.latest_checkpoint().await?;
        if last.as_ref().is_some_and(|c| c.size >= state.size) {
            return Ok(false);
        }
        let root = tree::root(
            state.size,
            &super::tree_hashes(store, &tree::needed_for_root(state.size)).await?,
        )?;
        if root.0 != state.root {
            return Err(SequencerError::Refused(format!(
                "the stored tree of size {} does not give the recorded root",
                state.size
            )));
        }
        if let Some(last) = &last {
            let opened = open_checkpoint(&last.note, &last.verifier_key).map_err(|e| {
                SequencerError::Refused(format!(
                    "the previous checkpoint (size {}) does not verify: {e}",
                    last.size
                ))
            })?;
            let proof = tree::consistency_proof(
                last.size,
                state.size,
                &super::tree_hashes(store, &tree::needed_for_consistency(last.size, state.size))
                    .await?,
            )?;
            tree::verify_consistency(last.size, state.size, opened.root, root, &proof).map_err(
                |e| {
                    SequencerError::Refused(format!(
                        "the tree of size {} is not consistent with the checkpoint of size {}: {e}",
                        state.size, last.size
                    ))
                },
            )?;
        }
        let note = self.signer.sign(state.size, root)?;
        let signed = store
            .insert_checkpoint(&CheckpointRow {
                size: state.size,
                root: root.0,
                note,
                verifier_key: self.signer.verifier_key(),
                created_at: crate::time::now_micros(),
            })
            .await?;
        Ok(signed)
    }
}
