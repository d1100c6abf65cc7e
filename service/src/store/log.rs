//! Audit-log storage (DESIGN §6): events, the queue, sequencing into the log, the tree's
//! stored hashes, checkpoints, and the reads that proofs and verification need.
//!
//! The tree arithmetic is not here (it is `modelgate_audit::tree`); the sequencer passes it
//! in as two functions, so this module stays the only place with SQL.

use super::{Backend, DECISION_COLUMNS, DecisionRow, Pool, Result, Store, StoreError, decode};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Postgres, QueryBuilder, Row};
use std::collections::HashMap;

/// A SHA-256 hash as stored.
pub type Digest = [u8; 32];

/// Advisory-lock key of the sequencer's leadership on PostgreSQL ("modelgat" in ASCII).
const SEQUENCER_LOCK: i64 = 0x6d6f_6465_6c67_6174;

/// Rows per `IN (…)` list, well under both databases' bind limits.
const IN_CHUNK: usize = 500;

/// An audit event other than a decision (pack registered, pack activated, …).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub kind: String,
    /// `"<kind>/v1\n"` + canonical JSON.
    pub leaf: Vec<u8>,
    pub leaf_hash: Digest,
    pub created_at: i64,
}

/// The log's size and root, as the sequencer last wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogState {
    pub size: u64,
    pub root: Digest,
}

/// What one sequencing batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencedBatch {
    pub old_size: u64,
    pub new_size: u64,
    pub root: Digest,
}

/// The new stored hashes and root a batch produces (computed by the caller).
pub struct AppendResult {
    pub new_hashes: Vec<(u64, Digest)>,
    pub root: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckpointRow {
    #[sqlx(try_from = "i64")]
    pub size: u64,
    #[sqlx(try_from = "Vec<u8>")]
    pub root: Digest,
    pub note: String,
    pub verifier_key: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LogEntryRow {
    #[sqlx(try_from = "i64")]
    pub idx: u64,
    pub tenant: String,
    pub kind: String,
    pub ref_id: String,
    pub leaf_hash: Vec<u8>,
    pub queued_at: i64,
    pub sequenced_at: i64,
}

/// Where a decision or event is in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPosition {
    Sequenced(LogEntryRow),
    Queued,
    Absent,
}

/// The source row of a log entry, for rebuilding its leaf.
#[derive(Debug, Clone)]
pub enum EntrySource {
    /// A decision. With `digests` (PostgreSQL), the database hashed the four content
    /// columns and the row's `document`, `record`, `context` and `decision` are empty;
    /// without, the row is whole.
    Decision {
        row: Box<DecisionRow>,
        digests: Option<ContentDigests>,
    },
    Event {
        leaf: Vec<u8>,
    },
    Missing,
}

/// The SHA-256 of a decision's content columns, each as `sha256:<hex>` (what its log entry
/// records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigests {
    pub document: String,
    pub record: String,
    pub context: String,
    pub decision: String,
}

/// The columns of a decision for its log leaf on PostgreSQL: the content columns come as
/// their SHA-256, computed by the database (`pg_catalog.sha256`; text as its UTF-8 bytes),
/// so that a page of the log does not ship every document to be hashed here. The row's
/// content fields are read back empty.
const DECISION_DIGEST_COLUMNS: &str = "d.id, d.tenant, d.model_ref, d.model_version, \
    NULLIF(d.profile, '') AS profile, d.verdict, d.format, ''::bytea AS document, '' AS record, '' AS context, '' AS decision, \
    d.pack_digest, d.engine_version, d.input_digest, d.created_at, d.requested_by, \
    d.idempotency_key, d.request_digest, d.trace_id, d.leaf_hash, \
    'sha256:' || encode(pg_catalog.sha256(d.document), 'hex') AS document_digest, \
    'sha256:' || encode(pg_catalog.sha256(convert_to(d.record, 'UTF8')), 'hex') AS record_digest, \
    'sha256:' || encode(pg_catalog.sha256(convert_to(d.context, 'UTF8')), 'hex') AS context_digest, \
    'sha256:' || encode(pg_catalog.sha256(convert_to(d.decision, 'UTF8')), 'hex') AS decision_digest";

/// Leadership of the sequencer. On PostgreSQL it holds the connection that holds the
/// advisory lock (the lock goes when the connection does); on SQLite it is a marker, the
/// database's write lock being the fence.
pub struct SequencerLease {
    conn: Option<PoolConnection<Postgres>>,
}

impl std::fmt::Debug for SequencerLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequencerLease")
            .field("postgres", &self.conn.is_some())
            .finish()
    }
}

fn digest(v: Vec<u8>, what: &str) -> Result<Digest> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not a 32-byte hash")))
}

const ENTRY_COLUMNS: &str = "idx, tenant, kind, ref_id, leaf_hash, queued_at, sequenced_at";

impl Store {
    /// Records an audit event; the same statement queues it for the log.
    #[tracing::instrument(name = "store.insert_event", skip_all, fields(backend = self.backend().as_str(), tenant = tenant, kind = %ev.kind))]
    pub async fn insert_event(&self, tenant: &str, ev: &NewEvent) -> Result<()> {
        in_tenant!(self, tenant, |c| {
            insert_event_in!(&mut *c, tenant, ev);
            Ok(())
        })
    }

    /// Takes the sequencer's leadership if nobody holds it. `None`: another process leads.
    pub async fn try_sequencer_lease(&self) -> Result<Option<SequencerLease>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(Some(SequencerLease { conn: None })),
            Pool::Postgres(p, _) => {
                let mut conn = p.acquire().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(SEQUENCER_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                if got {
                    Ok(Some(SequencerLease { conn: Some(conn) }))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Gives up leadership after an error: the connection (and with it the advisory lock)
    /// is closed rather than returned to the pool, so no pooled session keeps the lock.
    pub async fn drop_sequencer_lease(&self, lease: SequencerLease) {
        if let Some(conn) = lease.conn {
            let _ = conn.close().await;
        }
    }

    /// Moves up to `max` queued entries into the log in one transaction: locks the log
    /// state (the fence), assigns the next indices in queue order, stores the tree's new
    /// hashes and root, and deletes the queue rows. `needed(old_size, count)` names the
    /// stored hashes the arithmetic reads; `append(old_size, leaf_hashes, stored)` computes
    /// the new ones. `None` when the queue was empty.
    #[tracing::instrument(name = "store.sequence_batch", skip_all, fields(backend = self.backend().as_str()))]
    pub async fn sequence_batch<N, A>(
        &self,
        lease: &mut SequencerLease,
        max: usize,
        now: i64,
        needed: N,
        append: A,
    ) -> Result<Option<SequencedBatch>>
    where
        N: FnOnce(u64, u64) -> Vec<u64>,
        A: FnOnce(
            u64,
            &[Digest],
            &HashMap<u64, Digest>,
        ) -> std::result::Result<AppendResult, String>,
    {
        macro_rules! body {
            ($tx:ident, $lock:expr) => {{
                let row = sqlx::query($lock).fetch_one(&mut *$tx).await?;
                let old_size = row.try_get::<i64, _>("size")? as u64;
                let queued = sqlx::query(
                    "SELECT id, tenant, kind, ref_id, leaf_hash, queued_at FROM log_queue \
                     ORDER BY id LIMIT $1",
                )
                .bind(max as i64)
                .fetch_all(&mut *$tx)
                .await?;
                if queued.is_empty() {
                    $tx.rollback().await?;
                    return Ok(None);
                }
                let mut leaves = Vec::with_capacity(queued.len());
                for r in &queued {
                    leaves.push(digest(r.try_get("leaf_hash")?, "a queued leaf hash")?);
                }
                let want = needed(old_size, leaves.len() as u64);
                let mut stored = HashMap::with_capacity(want.len());
                for chunk in want.chunks(IN_CHUNK) {
                    let mut q = QueryBuilder::new("SELECT id, hash FROM log_hashes WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id as i64);
                    }
                    q.push(")");
                    for r in q.build().fetch_all(&mut *$tx).await? {
                        let id = r.try_get::<i64, _>("id")? as u64;
                        stored.insert(id, digest(r.try_get("hash")?, "a stored tree hash")?);
                    }
                }
                let out = append(old_size, &leaves, &stored).map_err(StoreError::Corrupt)?;
                let new_size = old_size + leaves.len() as u64;
                for (chunk_no, chunk) in queued.chunks(IN_CHUNK / 5).enumerate() {
                    let base = old_size + (chunk_no * (IN_CHUNK / 5)) as u64;
                    let mut q = QueryBuilder::new(
                        "INSERT INTO log_entries (idx, tenant, kind, ref_id, leaf_hash, queue_id, \
                         queued_at, sequenced_at) ",
                    );
                    let mut err = None;
                    q.push_values(chunk.iter().enumerate(), |mut b, (i, r)| {
                        let get = || -> std::result::Result<_, sqlx::Error> {
                            Ok((
                                r.try_get::<String, _>("tenant")?,
                                r.try_get::<String, _>("kind")?,
                                r.try_get::<String, _>("ref_id")?,
                                r.try_get::<Vec<u8>, _>("leaf_hash")?,
                                r.try_get::<i64, _>("id")?,
                                r.try_get::<i64, _>("queued_at")?,
                            ))
                        };
                        match get() {
                            Ok((tenant, kind, ref_id, hash, id, queued_at)) => {
                                b.push_bind((base + i as u64) as i64)
                                    .push_bind(tenant)
                                    .push_bind(kind)
                                    .push_bind(ref_id)
                                    .push_bind(hash)
                                    .push_bind(id)
                                    .push_bind(queued_at)
                                    .push_bind(now);
                            }
                            Err(e) => err = Some(e),
                        }
                    });
                    if let Some(e) = err {
                        return Err(e.into());
                    }
                    q.build().execute(&mut *$tx).await?;
                }
                for chunk in out.new_hashes.chunks(IN_CHUNK) {
                    let mut q = QueryBuilder::new("INSERT INTO log_hashes (id, hash) ");
                    q.push_values(chunk, |mut b, (id, h)| {
                        b.push_bind(*id as i64).push_bind(h.to_vec());
                    });
                    q.build().execute(&mut *$tx).await?;
                }
                for chunk in queued.chunks(IN_CHUNK) {
                    let mut q = QueryBuilder::new("DELETE FROM log_queue WHERE id IN (");
                    let mut sep = q.separated(", ");
                    for r in chunk {
                        sep.push_bind(r.try_get::<i64, _>("id")?);
                    }
                    q.push(")");
                    q.build().execute(&mut *$tx).await?;
                }
                sqlx::query(
                    "UPDATE log_state SET size = $1, root = $2, updated_at = $3 WHERE id = 1",
                )
                .bind(new_size as i64)
                .bind(out.root.to_vec())
                .bind(now)
                .execute(&mut *$tx)
                .await?;
                $tx.commit().await?;
                Ok(Some(SequencedBatch {
                    old_size,
                    new_size,
                    root: out.root,
                }))
            }};
        }
        match (&self.pool, lease.conn.as_mut()) {
            (Pool::Postgres(..), Some(conn)) => {
                let mut tx = conn.begin().await?;
                body!(
                    tx,
                    "SELECT size, root FROM log_state WHERE id = 1 FOR UPDATE"
                )
            }
            (Pool::Sqlite(p), _) => {
                // BEGIN IMMEDIATE takes the write lock first: no other writer can slip in
                // between reading the state and writing the batch.
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                body!(tx, "SELECT size, root FROM log_state WHERE id = 1")
            }
            (Pool::Postgres(..), None) => Err(StoreError::Corrupt(
                "a sequencer lease without its connection".into(),
            )),
        }
    }

    /// The log's committed size and root.
    pub async fn log_state(&self) -> Result<LogState> {
        on_pool!(self, |p| {
            let r = sqlx::query("SELECT size, root FROM log_state WHERE id = 1")
                .fetch_one(p)
                .await?;
            Ok(LogState {
                size: r.try_get::<i64, _>("size")? as u64,
                root: digest(r.try_get("root")?, "the log root")?,
            })
        })
    }

    /// Stored tree hashes by stored-hash index (the ones that exist).
    #[tracing::instrument(name = "store.tree_hashes", skip_all, fields(backend = self.backend().as_str(), count = ids.len()))]
    pub async fn tree_hashes(&self, ids: &[u64]) -> Result<HashMap<u64, Digest>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let rows = on_pool!(self, |p| {
                let mut q = QueryBuilder::new("SELECT id, hash FROM log_hashes WHERE id IN (");
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push_bind(*id as i64);
                }
                q.push(")");
                let mut rows = Vec::new();
                for r in q.build().fetch_all(p).await? {
                    rows.push((r.try_get::<i64, _>("id")?, r.try_get::<Vec<u8>, _>("hash")?));
                }
                Ok::<_, StoreError>(rows)
            })?;
            for (id, h) in rows {
                out.insert(id as u64, digest(h, "a stored tree hash")?);
            }
        }
        Ok(out)
    }

    /// Stored tree hashes with index >= `from`, in index order (for verification).
    pub async fn tree_hash_page(&self, from: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>> {
        on_pool!(self, |p| {
            let rows =
                sqlx::query("SELECT id, hash FROM log_hashes WHERE id >= $1 ORDER BY id LIMIT $2")
                    .bind(from as i64)
                    .bind(i64::from(limit))
                    .fetch_all(p)
                    .await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<i64, _>("id")? as u64, r.try_get("hash")?)))
                .collect()
        })
    }

    /// Records a signed checkpoint. False when one of that size exists already.
    pub async fn insert_checkpoint(&self, c: &CheckpointRow) -> Result<bool> {
        let done = on_pool!(self, |p| sqlx::query(
            "INSERT INTO log_checkpoints (size, root, note, verifier_key, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (size) DO NOTHING"
        )
        .bind(c.size as i64)
        .bind(c.root.to_vec())
        .bind(&c.note)
        .bind(&c.verifier_key)
        .bind(c.created_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The checkpoint of the largest tree.
    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        Ok(self.checkpoints_page(None, 1, true).await?.pop())
    }

    /// Checkpoints by size, ascending from `after` (exclusive), or the largest first when
    /// `descending`.
    pub async fn checkpoints_page(
        &self,
        after: Option<u64>,
        limit: u32,
        descending: bool,
    ) -> Result<Vec<CheckpointRow>> {
        let sql = if descending {
            "SELECT size, root, note, verifier_key, created_at FROM log_checkpoints \
             WHERE size > $1 ORDER BY size DESC LIMIT $2"
        } else {
            "SELECT size, root, note, verifier_key, created_at FROM log_checkpoints \
             WHERE size > $1 ORDER BY size LIMIT $2"
        };
        let after = after.map_or(-1, |a| a as i64);
        on_pool!(self, |p| {
            let rows = sqlx::query(sql)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// The distinct verifier keys that signed checkpoints.
    pub async fn checkpoint_keys(&self) -> Result<Vec<String>> {
        on_pool!(self, |p| sqlx::query_scalar(
            "SELECT DISTINCT verifier_key FROM log_checkpoints ORDER BY verifier_key"
        )
        .fetch_all(p)
        .await)
        .map_err(Into::into)
    }

    /// Where a decision (`kind = "decision"`) or event is in the log.
    pub async fn log_position(&self, kind: &str, ref_id: &str) -> Result<LogPosition> {
        // The queue first: an entry only ever moves from the queue to the log (atomically),
        // so "not queued, then not logged" cannot miss one that moved in between.
        on_pool!(self, |p| {
            let queued = sqlx::query("SELECT 1 FROM log_queue WHERE kind = $1 AND ref_id = $2")
                .bind(kind)
                .bind(ref_id)
                .fetch_optional(p)
                .await?;
            if queued.is_some() {
                return Ok(LogPosition::Queued);
            }
            let entry = sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM log_entries WHERE kind = $1 AND ref_id = $2"
            ))
            .bind(kind)
            .bind(ref_id)
            .fetch_optional(p)
            .await?;
            match entry {
                Some(r) => Ok(LogPosition::Sequenced(decode(&r)?)),
                None => Ok(LogPosition::Absent),
            }
        })
    }

    /// Log entries `start..end` in index order.
    #[tracing::instrument(name = "store.log_entries", skip_all, fields(backend = self.backend().as_str(), start = start, end = end))]
    pub async fn log_entries(&self, start: u64, end: u64) -> Result<Vec<LogEntryRow>> {
        on_pool!(self, |p| {
            let rows = sqlx::query(&format!(
                "SELECT {ENTRY_COLUMNS} FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx"
            ))
            .bind(start as i64)
            .bind(end as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// The rows the entries were made from, in the entries' order.
    pub async fn entry_sources(&self, entries: &[LogEntryRow]) -> Result<Vec<EntrySource>> {
        let mut decisions: HashMap<String, (DecisionRow, Option<ContentDigests>)> = HashMap::new();
        let mut events: HashMap<String, Vec<u8>> = HashMap::new();
        let (dec_ids, ev_ids): (Vec<&LogEntryRow>, Vec<&LogEntryRow>) =
            entries.iter().partition(|e| e.kind == "decision");
        // A contiguous run of indices (a page of the log): one join instead of IN lists.
        let contiguous = match (entries.first(), entries.last()) {
            (Some(a), Some(b)) => b.idx >= a.idx && b.idx - a.idx + 1 == entries.len() as u64,
            _ => false,
        };
        if contiguous && !dec_ids.is_empty() {
            let (start, end) = (
                entries[0].idx as i64,
                entries[entries.len() - 1].idx as i64 + 1,
            );
            let pg = self.backend() == Backend::Postgres;
            let columns = if pg {
                DECISION_DIGEST_COLUMNS.to_string()
            } else {
                DECISION_COLUMNS.to_string()
            };
            // No `e.kind = 'decision'`: only decisions are in `decisions`, and without
            // statistics (a log just written) PostgreSQL would scan the kind index for it.
            let sql = format!(
                "SELECT {columns} FROM log_entries e JOIN decisions d ON d.id = e.ref_id \
                 WHERE e.idx >= $1 AND e.idx < $2"
            );
            on_pool!(self, |p| {
                let rows = sqlx::query(&sql).bind(start).bind(end).fetch_all(p).await?;
                for r in &rows {
                    let row: DecisionRow = decode(r)?;
                    let digests = if pg {
                        Some(ContentDigests {
                            document: r.try_get("document_digest")?,
                            record: r.try_get("record_digest")?,
                            context: r.try_get("context_digest")?,
                            decision: r.try_get("decision_digest")?,
                        })
                    } else {
                        None
                    };
                    decisions.insert(row.id.clone(), (row, digests));
                }
                Ok::<_, StoreError>(())
            })?;
        }
        let dec_ids: Vec<&LogEntryRow> = if contiguous { Vec::new() } else { dec_ids };
        for chunk in dec_ids.chunks(IN_CHUNK) {
            let rows = on_pool!(self, |p| {
                let mut q = QueryBuilder::new(format!(
                    "SELECT {DECISION_COLUMNS} FROM decisions d WHERE d.id IN ("
                ));
                let mut sep = q.separated(", ");
                for e in chunk {
                    sep.push_bind(e.ref_id.clone());
                }
                q.push(")");
                let rows = q.build().fetch_all(p).await?;
                rows.iter()
                    .map(decode)
                    .collect::<Result<Vec<DecisionRow>>>()
            })?;
            decisions.extend(rows.into_iter().map(|d| (d.id.clone(), (d, None))));
        }
        for chunk in ev_ids.chunks(IN_CHUNK) {
            let rows = on_pool!(self, |p| {
                let mut q = QueryBuilder::new("SELECT id, leaf FROM log_events WHERE id IN (");
                let mut sep = q.separated(", ");
                for e in chunk {
                    sep.push_bind(e.ref_id.clone());
                }
                q.push(")");
                let rows = q.build().fetch_all(p).await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<String, _>("id")?,
                            r.try_get::<Vec<u8>, _>("leaf")?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()
            })?;
            events.extend(rows);
        }
        Ok(entries
            .iter()
            .map(|e| {
                if e.kind == "decision" {
                    decisions
                        .remove(&e.ref_id)
                        .map_or(EntrySource::Missing, |(row, digests)| {
                            EntrySource::Decision {
                                row: Box::new(row),
                                digests,
                            }
                        })
                } else {
                    events
                        .remove(&e.ref_id)
                        .map_or(EntrySource::Missing, |leaf| EntrySource::Event { leaf })
                }
            })
            .collect())
    }

    /// Decisions that are neither in the log nor queued (rows written before the log
    /// existed, or written around the service), oldest first.
    pub async fn unlogged_decisions(&self, limit: u32) -> Result<Vec<DecisionRow>> {
        on_pool!(self, |p| {
            let rows = sqlx::query(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d WHERE NOT EXISTS \
                 (SELECT 1 FROM log_entries e WHERE e.kind = 'decision' AND e.ref_id = d.id) \
                 AND NOT EXISTS (SELECT 1 FROM log_queue q WHERE q.kind = 'decision' AND q.ref_id = d.id) \
                 ORDER BY d.id LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter().map(decode).collect()
        })
    }

    /// Queues an existing decision for the log (for [`Store::unlogged_decisions`]).
    pub async fn enqueue_decision(
        &self,
        d: &DecisionRow,
        leaf_hash: &Digest,
        now: i64,
    ) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
                "INSERT INTO log_queue (tenant, kind, ref_id, leaf_hash, queued_at) \
                 VALUES ($1, 'decision', $2, $3, $4)",
            )
            .bind(&d.tenant)
            .bind(&d.id)
            .bind(leaf_hash.to_vec())
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Entries still waiting for the sequencer.
    pub async fn queue_len(&self) -> Result<u64> {
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM log_queue"
        )
        .fetch_one(p)
        .await)
        .map(|n| n as u64)
        .map_err(Into::into)
    }
}
