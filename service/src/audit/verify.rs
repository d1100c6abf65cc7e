//! `modelgate audit verify`: checks the whole log against the database it lives in.
//!
//! Every entry's leaf is rebuilt from its source row (a decision or an event) and must hash
//! to the logged leaf hash; indices must be contiguous from 0; the tree is recomputed from
//! the leaf hashes and every stored hash must match; every checkpoint's root must be the
//! recomputed root at its size and its signature must verify with a trusted key (so
//! consecutive checkpoints are consistent: their roots come from one sequence of leaves);
//! every decision must be in the log or the queue. The first problem stops the check and
//! names the index.

use super::{DECISION_KIND, stored_decision_leaf};
use crate::store::{Backend, CheckpointRow, EntrySource, LogEntryRow, Store, StoreError};
use modelgate_audit::checkpoint::open_checkpoint;
use modelgate_audit::{Hash, entry, tree};
use std::collections::{HashMap, VecDeque};

/// Entries read per page: on PostgreSQL a decision comes without its content (the database
/// hashes it), so pages can be larger; on SQLite a page holds whole rows (≈ 6.5 KB each).
fn page_size(store: &Store) -> u64 {
    match store.backend() {
        Backend::Postgres => 10_000,
        Backend::Sqlite => 5_000,
    }
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub size: u64,
    pub root: String,
    pub checkpoints: u64,
    pub queued: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The first bad log index and what is wrong with it.
    #[error("index {index}: {reason}")]
    BadIndex { index: u64, reason: String },
    /// A problem not tied to one index (a checkpoint, an unlogged decision).
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// The first bad index, when the problem has one.
    pub fn index(&self) -> Option<u64> {
        match self {
            VerifyError::BadIndex { index, .. } => Some(*index),
            _ => None,
        }
    }
}

fn bad(index: u64, reason: impl Into<String>) -> VerifyError {
    VerifyError::BadIndex {
        index,
        reason: reason.into(),
    }
}

/// The stored hashes, read in index order alongside the recomputation.
struct StoredHashes<'a> {
    store: &'a Store,
    buf: VecDeque<(u64, Vec<u8>)>,
    next: u64,
    done: bool,
}

impl StoredHashes<'_> {
    async fn fill(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() && !self.done {
            let page = self.store.tree_hash_page(self.next, 20_000).await?;
            if page.is_empty() {
                self.done = true;
            }
            if let Some((last, _)) = page.last() {
                self.next = last + 1;
            }
            self.buf.extend(page);
        }
        Ok(())
    }

    /// Checks the stored hash at `id` against the recomputed one.
    async fn expect(&mut self, id: u64, want: &Hash) -> Result<(), VerifyError> {
        let (level, n) = tlog_tiles::tlog::split_stored_hash_index(id);
        let first_leaf = n << level;
        self.fill().await?;
        match self.buf.pop_front() {
            Some((got, h)) if got == id => {
                if h.as_slice() == want.0.as_slice() {
                    Ok(())
                } else {
                    Err(bad(
                        first_leaf,
                        format!(
                            "the stored tree hash at level {level}, position {n} was changed \
                             (it no longer matches the leaves under it)"
                        ),
                    ))
                }
            }
            Some((got, _)) if got < id => Err(bad(
                first_leaf,
                format!("an unexpected stored tree hash (stored index {got}) is in the log"),
            )),
            other => {
                if let Some(o) = other {
                    self.buf.push_front(o);
                }
                Err(bad(
                    first_leaf,
                    format!("the stored tree hash at level {level}, position {n} is missing"),
                ))
            }
        }
    }
}

/// Stored-hash indexes a tree of `size` leaves needs to grow: its perfect subtrees' roots.
fn frontier_ids(size: u64) -> Vec<u64> {
    (0..64)
        .filter(|l| size >> l & 1 == 1)
        .map(|l| tlog_tiles::tlog::stored_hash_index(l as u8, (size >> l) - 1))
        .collect()
}

/// The leaf hash of entry `e` rebuilt from its source row, checked against the log.
fn rebuild(e: &LogEntryRow, src: EntrySource) -> Result<Hash, VerifyError> {
    let rebuilt = match src {
        EntrySource::Decision { row: d, digests } => {
            let leaf = stored_decision_leaf(&d, digests.as_ref())
                .map_err(|err| bad(e.idx, err.to_string()))?;
            let h = entry::leaf_hash(&leaf);
            if d.leaf_hash.as_deref().is_some_and(|own| own != h.0) {
                return Err(bad(
                    e.idx,
                    format!(
                        "decision {} was changed after it was logged (its content \
                         no longer gives the leaf hash recorded with it)",
                        e.ref_id
                    ),
                ));
            }
            h
        }
        EntrySource::Event { leaf } => {
            match entry::parse_leaf(&leaf) {
                Ok((kind, _)) if kind == e.kind => {}
                Ok((kind, _)) => {
                    return Err(bad(
                        e.idx,
                        format!(
                            "event {} is a `{kind}`, the log says `{}`",
                            e.ref_id, e.kind
                        ),
                    ));
                }
                Err(err) => return Err(bad(e.idx, format!("event {}: {err}", e.ref_id))),
            }
            entry::leaf_hash(&leaf)
        }
        EntrySource::Missing => {
            let what = if e.kind == DECISION_KIND {
                "decision"
            } else {
                "event"
            };
            return Err(bad(
                e.idx,
                format!(
                    "the logged {what} {} is missing from the database",
                    e.ref_id
                ),
            ));
        }
    };
    if e.leaf_hash.as_slice() != rebuilt.0.as_slice() {
        return Err(bad(
            e.idx,
            format!(
                "the {} {} does not match its log entry (changed after it was logged, \
                 or the entry's leaf hash was rewritten)",
                if e.kind == DECISION_KIND {
                    "decision"
                } else {
                    "event"
                },
                e.ref_id
            ),
        ));
    }
    Ok(rebuilt)
}

/// [`rebuild`] for a page of entries, on every core; the error of the lowest index wins.
fn rebuild_all(pairs: Vec<(LogEntryRow, EntrySource)>) -> Result<Vec<Hash>, VerifyError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = pairs.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<(LogEntryRow, EntrySource)>> = Vec::new();
    let mut it = pairs.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    let results: Vec<Result<Vec<Hash>, VerifyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(e, src)| rebuild(&e, src))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(VerifyError::Bad("a verification thread panicked".into()))
                })
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// The log entries `[from, to)` and the rows they were made from, read as four quarters
/// at once (four connections: on PostgreSQL, backends read and hash the rows in parallel).
async fn fetch_page(
    store: &Store,
    from: u64,
    to: u64,
) -> Result<(Vec<LogEntryRow>, Vec<EntrySource>), StoreError> {
    async fn read(
        store: &Store,
        from: u64,
        to: u64,
    ) -> Result<(Vec<LogEntryRow>, Vec<EntrySource>), StoreError> {
        let entries = store.log_entries(from, to).await?;
        let sources = store.entry_sources(&entries).await?;
        Ok((entries, sources))
    }
    let q = (to - from) / 4;
    let (m1, m2, m3) = (from + q, from + 2 * q, from + 3 * q);
    let (a, b, c, d) = tokio::join!(
        read(store, from, m1),
        read(store, m1, m2),
        read(store, m2, m3),
        read(store, m3, to)
    );
    let (mut entries, mut sources) = a?;
    for part in [b, c, d] {
        let (e, s) = part?;
        entries.extend(e);
        sources.extend(s);
    }
    Ok((entries, sources))
}

/// Verifies the log in `store`; checkpoints must be signed by one of `trusted` (verifier
/// keys, `name+id+key`).
pub async fn verify_log(store: &Store, trusted: &[String]) -> Result<VerifyReport, VerifyError> {
    // Every committed decision is in the log or in the queue at every moment (the
    // sequencer moves it in one transaction), so this check may run while the log is
    // walked; its answer is used at the end, after the walk's own findings.
    let unlogged = {
        let store = store.clone();
        tokio::spawn(async move { store.unlogged_decisions(1).await })
    };
    let state = store.log_state().await?;
    let mut checkpoints: Vec<CheckpointRow> = Vec::new();
    loop {
        let page = store
            .checkpoints_page(checkpoints.last().map(|c| c.size), 10_000, false)
            .await?;
        if page.is_empty() {
            break;
        }
        checkpoints.extend(page);
    }
    // The service may append (and sign) while the log is walked: what lies beyond the size
    // read first is checked against the log's size now, and verified by a later run.
    if checkpoints.iter().any(|c| c.size > state.size) {
        let now = store.log_state().await?.size;
        if let Some(c) = checkpoints.iter().find(|c| c.size > now) {
            return Err(VerifyError::Bad(format!(
                "the checkpoint of size {} is larger than the log ({now} entries)",
                c.size
            )));
        }
    }
    let check_checkpoint = |c: &CheckpointRow, root: &Hash| -> Result<(), VerifyError> {
        let at = c.size.saturating_sub(1);
        if c.root != root.0 {
            return Err(bad(
                at,
                format!(
                    "the checkpoint of size {} records a root the log's leaves do not give",
                    c.size
                ),
            ));
        }
        let mut last_err = String::from("no trusted key was given");
        for key in trusted {
            match open_checkpoint(&c.note, key) {
                Ok(o) if o.size == c.size && o.root == *root => return Ok(()),
                Ok(_) => {
                    last_err = "its signed size or root differs from the log's".into();
                }
                Err(e) => last_err = e.to_string(),
            }
        }
        Err(bad(
            at,
            format!(
                "the signed checkpoint of size {} does not verify: {last_err}",
                c.size
            ),
        ))
    };

    let mut cps = checkpoints.iter().peekable();
    let empty_root = tree::EMPTY_ROOT;
    while let Some(c) = cps.next_if(|c| c.size == 0) {
        check_checkpoint(c, &empty_root)?;
    }
    let mut stored = StoredHashes {
        store,
        buf: VecDeque::new(),
        next: 0,
        done: false,
    };
    let mut frontier: HashMap<u64, Hash> = HashMap::new();
    let mut size = 0u64;
    let mut root = empty_root;
    // Pages are read one ahead: the next page comes from the database while this one's
    // leaves are rebuilt on the other cores.
    let page = page_size(store);
    let mut current = if state.size > 0 {
        Some(fetch_page(store, 0, page.min(state.size)).await?)
    } else {
        None
    };
    while size < state.size {
        let end = (size + page).min(state.size);
        let (entries, sources) = current
            .take()
            .ok_or_else(|| VerifyError::Bad("internal: a log page was not read".into()))?;
        for (i, e) in entries.iter().enumerate() {
            if e.idx != size + i as u64 {
                return Err(bad(size + i as u64, "the entry is missing from the log"));
            }
        }
        if (entries.len() as u64) < end - size {
            return Err(bad(
                size + entries.len() as u64,
                "the entry is missing from the log",
            ));
        }
        let pairs: Vec<(LogEntryRow, EntrySource)> = entries.into_iter().zip(sources).collect();
        let next_end = (end + page).min(state.size);
        let (next, leaves) = tokio::join!(
            async {
                if end < state.size {
                    fetch_page(store, end, next_end).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            tokio::task::spawn_blocking(move || rebuild_all(pairs))
        );
        // This page's errors first: they are at lower indices than the next page's.
        let leaves = leaves
            .map_err(|e| VerifyError::Bad(format!("a verification thread failed: {e}")))??;
        current = next?;
        // Extend the recomputed tree, cutting at checkpoint sizes.
        let mut at = 0usize;
        while at < leaves.len() {
            let remaining = (leaves.len() - at) as u64;
            let len = match cps.peek() {
                Some(c) if c.size > size && c.size - size <= remaining => c.size - size,
                _ => remaining,
            } as usize;
            let out = tree::append(size, &leaves[at..at + len], &frontier)
                .map_err(|e| bad(size, e.to_string()))?;
            for (id, h) in &out.new_hashes {
                stored.expect(*id, h).await?;
                frontier.insert(*id, *h);
            }
            size += len as u64;
            at += len;
            root = out.root;
            let keep = frontier_ids(size);
            frontier.retain(|k, _| keep.contains(k));
            while let Some(c) = cps.next_if(|c| c.size == size) {
                check_checkpoint(c, &root)?;
            }
        }
    }
    if root.0 != state.root {
        return Err(VerifyError::Bad(format!(
            "the log state records a root for size {} that its leaves do not give",
            state.size
        )));
    }
    // Stored hashes beyond the walked size: those of entries appended since are fine; one
    // that not even the log's present size needs was put there.
    let mut now: Option<u64> = None;
    loop {
        stored.fill().await?;
        let Some((id, _)) = stored.buf.pop_front() else {
            break;
        };
        let (level, n) = tlog_tiles::tlog::split_stored_hash_index(id);
        // The hash at (level, n) exists once the log has (n + 1) << level entries.
        let needs = (u128::from(n) + 1) << level.min(64);
        let mut size = match now {
            Some(s) => s,
            None => *now.insert(store.log_state().await?.size),
        };
        if needs > u128::from(size) {
            // Read after this hash: the append that wrote it is in it.
            size = *now.insert(store.log_state().await?.size);
        }
        if needs > u128::from(size) {
            return Err(bad(
                n << level,
                format!(
                    "a stored tree hash beyond the log's {size} entries exists (level {level}, position {n})"
                ),
            ));
        }
    }
    let unlogged = unlogged
        .await
        .map_err(|e| VerifyError::Bad(format!("the check for unlogged decisions failed: {e}")))??;
    if let Some(d) = unlogged.first() {
        return Err(VerifyError::Bad(format!(
            "decision {} is neither in the log nor queued for it",
            d.id
        )));
    }
    Ok(VerifyReport {
        size: state.size,
        root: entry::hex_hash(&root),
        checkpoints: checkpoints.len() as u64,
        queued: store.queue_len().await?,
    })
}
