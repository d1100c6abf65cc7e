//! A recorded decision's evidence: its audit-log entry, the inclusion proof up to the latest
//! signed checkpoint, all checked (`EvidenceBundle::build` verifies what it assembles). The
//! API's evidence bundle and the web decision page both call [`bundle`].

use super::{App, Corrupt};
use crate::audit::{DECISION_KIND, decision_leaf};
use crate::store::{DecisionRow, LogPosition, StoreError};
use modelgate_audit::evidence::EvidenceBundle;
use modelgate_audit::{entry, tree};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("decision {0} is not in a signed checkpoint yet; retry in a second")]
    NotYetLogged(String),
    #[error("decision {0} is neither in the audit log nor queued; run `modelgate audit verify`")]
    NotInLog(String),
    #[error(
        "decision {id} no longer matches its audit log entry {index}; run `modelgate audit verify`"
    )]
    Mismatch { id: String, index: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// The decision's evidence bundle, waiting up to `wait` for it to reach a checkpoint.
pub async fn bundle(
    app: &App,
    row: &DecisionRow,
    wait: Duration,
) -> Result<EvidenceBundle, EvidenceError> {
    let id = &row.id;
    let deadline = tokio::time::Instant::now() + wait;
    let (entry_row, cp) = loop {
        match app.store.log_position(DECISION_KIND, id).await? {
            LogPosition::Sequenced(e) => {
                if let Some(cp) = app.store.latest_checkpoint().await?
                    && cp.size > e.idx
                {
                    break (e, cp);
                }
            }
            LogPosition::Queued => {}
            LogPosition::Absent => return Err(EvidenceError::NotInLog(id.clone())),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(EvidenceError::NotYetLogged(id.clone()));
        }
        app.log.wake();
        app.log.grown(Duration::from_millis(200)).await;
    };
    let leaf = decision_leaf(&row.as_new()).map_err(|e| Corrupt::new("decision leaf", e))?;
    if entry::leaf_hash(&leaf).0.as_slice() != entry_row.leaf_hash.as_slice() {
        return Err(EvidenceError::Mismatch {
            id: id.clone(),
            index: entry_row.idx,
        });
    }
    let needed = tree::needed_for_inclusion(entry_row.idx, cp.size);
    let stored = crate::audit::tree_hashes(&app.store, &needed).await?;
    let proof = tree::inclusion_proof(entry_row.idx, cp.size, &stored)
        .map_err(|e| Corrupt::new("audit log tree", e))?;
    EvidenceBundle::build(
        &leaf,
        &row.decision,
        entry_row.idx,
        &proof,
        &cp.note,
        &cp.verifier_key,
    )
    .map_err(|e| Corrupt::new(format!("evidence for {id}"), e).into())
}
