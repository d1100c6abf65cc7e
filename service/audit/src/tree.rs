//! The RFC 6962 Merkle tree over hashes stored in a database.
//!
//! Hashes are stored under the "stored-hash index" of Go's `golang.org/x/mod/sumdb/tlog`
//! (ported to Rust as [`tlog_tiles::tlog`]): writing record `n` stores its leaf hash and the
//! hashes of all subtrees it completes, starting at `stored_hash_index(0, n)`; a tree of `n`
//! records has `stored_hash_count(n)` stored hashes.
//!
//! The service cannot do IO from inside a `tlog_tiles` `HashReader` callback, so every
//! operation comes in two halves: `needed_for_*` lists the stored-hash indexes the operation
//! will read (these depend only on the sizes, never on hash values), the caller loads them into
//! a `HashMap`, and the operation computes from that map. A hash missing from the map is an
//! [`AuditError::MissingHash`] naming its index; nothing here panics.
//!
//! Proofs are lists of hashes in RFC 6962 order (§2.1.1 `PATH`, §2.1.2 `PROOF`): the hash
//! nearest to the leaf (or to the old tree) first. `tlog` uses the same order; the tests check
//! this with the Certificate Transparency test vectors.

use crate::{AuditError, Hash};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use tlog_tiles::tlog::{self, HashReader};

/// Largest tree size this module accepts (2^62 records), which keeps all stored-hash index
/// arithmetic far from `u64` overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Longest proof accepted by the verifiers; a tree of at most [`MAX_TREE_SIZE`] records never
/// needs more than 2·62 hashes.
const MAX_PROOF_LEN: usize = 128;

/// The root hash of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = tlog::EMPTY_HASH;

/// Returns the RFC 6962 interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    tlog::node_hash(left, right)
}

/// Returns the number of stored hashes of a tree with `size` records.
///
/// # Errors
///
/// [`AuditError::TreeTooLarge`] if `size` exceeds [`MAX_TREE_SIZE`].
pub fn stored_hash_count(size: u64) -> Result<u64, AuditError> {
    check_size(u128::from(size))?;
    Ok(tlog::stored_hash_count(size))
}

/// Returns the stored-hash index of the leaf hash of record `index`.
///
/// # Errors
///
/// [`AuditError::TreeTooLarge`] if `index` is not below [`MAX_TREE_SIZE`].
pub fn leaf_stored_index(index: u64) -> Result<u64, AuditError> {
    check_size(u128::from(index) + 1)?;
    Ok(tlog::stored_hash_index(0, index))
}

fn check_size(size: u128) -> Result<(), AuditError> {
    if size > u128::from(MAX_TREE_SIZE) {
        Err(AuditError::TreeTooLarge { size })
    } else {
        Ok(())
    }
}

/// A `HashReader` that records the indexes asked for and answers with dummy hashes.
/// `tlog` chooses indexes from sizes alone, so this yields the exact read set.
#[derive(Default)]
struct Recorder {
    asked: RefCell<Vec<u64>>,
}

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog::Error> {
        self.asked.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash::default(); indexes.len()])
    }
}

impl Recorder {
    /// The recorded indexes below `limit`, sorted and deduplicated.
    fn finish(self, limit: u64) -> Vec<u64> {
        let mut v = self.asked.into_inner();
        v.retain(|&i| i < limit);
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// A `HashReader` over the caller's map (and, while appending, the batch's new hashes).
/// It remembers the first missing index so the error can name it.
struct MapReader<'a> {
    stored: &'a HashMap<u64, Hash>,
    overlay: Option<&'a HashMap<u64, Hash>>,
    missing: Cell<Option<u64>>,
}

impl<'a> MapReader<'a> {
    fn new(stored: &'a HashMap<u64, Hash>, overlay: Option<&'a HashMap<u64, Hash>>) -> Self {
        MapReader {
            stored,
            overlay,
            missing: Cell::new(None),
        }
    }

    /// Converts a `tlog` error into an [`AuditError`], naming a missing index if there was one.
    fn error(&self, e: tlog::Error) -> AuditError {
        match self.missing.get() {
            Some(index) => AuditError::MissingHash { index },
            None => AuditError::Tlog(e.to_string()),
        }
    }
}

impl HashReader for MapReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog::Error> {
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let found = self
                .overlay
                .and_then(|o| o.get(&i))
                .or_else(|| self.stored.get(&i));
            match found {
                Some(h) => out.push(*h),
                None => {
                    self.missing.set(Some(i));
                    return Err(tlog::Error::IndexesNotInTree);
                }
            }
        }
        Ok(out)
    }
}

/// Returns the stored-hash indexes (all below `stored_hash_count(old_size)`) of already stored
/// hashes that [`append`] needs to add `count` records to a tree of `old_size` records,
/// including those needed for the new root. Sorted and deduplicated; empty if the new size
/// would exceed [`MAX_TREE_SIZE`]. Takes time linear in `count` (meant for batches, not for
/// rebuilding a whole log in one call).
pub fn needed_for_append(old_size: u64, count: u64) -> Vec<u64> {
    if check_size(u128::from(old_size) + u128::from(count)).is_err() {
        return Vec::new();
    }
    let new_size = old_size + count;
    let rec = Recorder::default();
    for n in old_size..new_size {
        // The recorder never fails; a failure would only shorten the list, and `append`
        // reports any hash that is then missing.
        let _ = tlog::stored_hashes_for_record_hash(n, Hash::default(), &rec);
    }
    let _ = tlog::tree_hash(new_size, &rec);
    rec.finish(tlog::stored_hash_count(old_size))
}

/// The result of [`append`].
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The new stored hashes, as (stored-hash index, hash), in increasing index order.
    /// They are exactly the indexes `stored_hash_count(old)..stored_hash_count(new)`.
    pub new_hashes: Vec<(u64, Hash)>,
    /// The new tree size.
    pub size: u64,
    /// The RFC 6962 root hash (MTH) of the new tree.
    pub root: Hash,
}

/// Appends records with the given leaf hashes to a tree of `old_size` records.
///
/// `stored` must hold (at least) the hashes listed by
/// `needed_for_append(old_size, leaf_hashes.len())`. Hashes created for earlier records of the
/// batch are used for later ones.
///
/// # Errors
///
/// [`AuditError::TreeTooLarge`] if the new size would exceed [`MAX_TREE_SIZE`];
/// [`AuditError::MissingHash`] if a needed stored hash is not in `stored`.
pub fn append(
    old_size: u64,
    leaf_hashes: &[Hash],
    stored: &HashMap<u64, Hash>,
) -> Result<Appended, AuditError> {
    let count = u64::try_from(leaf_hashes.len()).unwrap_or(u64::MAX);
    check_size(u128::from(old_size) + u128::from(count))?;
    let new_size = old_size + count;
    let mut overlay: HashMap<u64, Hash> = HashMap::new();
    let mut new_hashes = Vec::new();
    for (n, h) in (old_size..new_size).zip(leaf_hashes) {
        let hashes = {
            let reader = MapReader::new(stored, Some(&overlay));
            tlog::stored_hashes_for_record_hash(n, *h, &reader).map_err(|e| reader.error(e))?
        };
        let start = tlog::stored_hash_index(0, n);
        for (index, hash) in (start..).zip(hashes) {
            overlay.insert(index, hash);
            new_hashes.push((index, hash));
        }
    }
    let reader = MapReader::new(stored, Some(&overlay));
    let root = tlog::tree_hash(new_size, &reader).map_err(|e| reader.error(e))?;
    Ok(Appended {
        new_hashes,
        size: new_size,
        root,
    })
}

/// Returns the stored-hash indexes [`root`] reads for a tree of `size` records (empty for size
/// 0 or beyond [`MAX_TREE_SIZE`]).
pub fn needed_for_root(size: u64) -> Vec<u64> {
    if size == 0 || check_size(u128::from(size)).is_err() {
        return Vec::new();
    }
    let mut v = tlog::sub_tree_index(0, size, Vec::new());
    v.sort_unstable();
    v.dedup();
    v
}

/// Returns the RFC 6962 root hash (MTH) of the tree of `size` records; for size 0 that is
/// SHA-256 of the empty string.
///
/// # Errors
///
/// [`AuditError::TreeTooLarge`] or [`AuditError::MissingHash`].
pub fn root(size: u64, stored: &HashMap<u64, Hash>) -> Result<Hash, AuditError> {
    check_size(u128::from(size))?;
    let reader = MapReader::new(stored, None);
    tlog::tree_hash(size, &reader).map_err(|e| reader.error(e))
}

/// Returns the stored-hash indexes [`inclusion_proof`] reads (empty if `index >= size` or the
/// size is beyond [`MAX_TREE_SIZE`]).
pub fn needed_for_inclusion(index: u64, size: u64) -> Vec<u64> {
    if index >= size || check_size(u128::from(size)).is_err() {
        return Vec::new();
    }
    let rec = Recorder::default();
    let _ = tlog::prove_record(size, index, &rec);
    rec.finish(u64::MAX)
}

/// Returns the RFC 6962 inclusion proof (audit path, §2.1.1) of leaf `index` in the tree of
/// `size` records.
///
/// # Errors
///
/// [`AuditError::IndexOutOfRange`], [`AuditError::TreeTooLarge`] or
/// [`AuditError::MissingHash`].
pub fn inclusion_proof(
    index: u64,
    size: u64,
    stored: &HashMap<u64, Hash>,
) -> Result<Vec<Hash>, AuditError> {
    check_size(u128::from(size))?;
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    let reader = MapReader::new(stored, None);
    tlog::prove_record(size, index, &reader).map_err(|e| reader.error(e))
}

/// Returns the stored-hash indexes [`consistency_proof`] reads (empty when the proof is
/// trivially empty or the sizes are invalid).
pub fn needed_for_consistency(first: u64, second: u64) -> Vec<u64> {
    if first == 0 || first >= second || check_size(u128::from(second)).is_err() {
        return Vec::new();
    }
    let rec = Recorder::default();
    let _ = tlog::prove_tree(second, first, &rec);
    rec.finish(u64::MAX)
}

/// Returns the RFC 6962 consistency proof (§2.1.2) that the tree of `second` records extends
/// the tree of `first` records. It is empty when `first` is 0 or equal to `second`.
///
/// # Errors
///
/// [`AuditError::SizesOutOfOrder`] if `first > second`, [`AuditError::TreeTooLarge`] or
/// [`AuditError::MissingHash`].
pub fn consistency_proof(
    first: u64,
    second: u64,
    stored: &HashMap<u64, Hash>,
) -> Result<Vec<Hash>, AuditError> {
    check_size(u128::from(second))?;
    if first > second {
        return Err(AuditError::SizesOutOfOrder { first, second });
    }
    if first == 0 || first == second {
        return Ok(Vec::new());
    }
    let reader = MapReader::new(stored, None);
    tlog::prove_tree(second, first, &reader).map_err(|e| reader.error(e))
}

fn check_proof_len(proof: &[Hash]) -> Result<(), AuditError> {
    if proof.len() > MAX_PROOF_LEN {
        Err(AuditError::ProofTooLong { len: proof.len() })
    } else {
        Ok(())
    }
}

/// Verifies that `proof` shows leaf hash `leaf_hash` at `index` in the tree of `size` records
/// with root `root` (RFC 6962 §2.1.1).
///
/// # Errors
///
/// [`AuditError::IndexOutOfRange`], [`AuditError::TreeTooLarge`],
/// [`AuditError::ProofTooLong`] or [`AuditError::InclusionMismatch`].
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: Hash,
    proof: &[Hash],
    root: Hash,
) -> Result<(), AuditError> {
    check_size(u128::from(size))?;
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    check_proof_len(proof)?;
    match tlog::check_record(&proof.to_vec(), size, root, index, leaf_hash) {
        Ok(()) => Ok(()),
        Err(tlog::Error::InvalidProof) => Err(AuditError::InclusionMismatch { index, size }),
        Err(e) => Err(AuditError::Tlog(e.to_string())),
    }
}

/// Verifies that `proof` shows that the tree of `second` records with root `second_root`
/// extends the tree of `first` records with root `first_root` (RFC 6962 §2.1.2).
///
/// Equal sizes are consistent exactly when the roots are equal and the proof is empty;
/// otherwise a tree of size 0 is extended by every tree (the proof must be empty and
/// `first_root` is not examined), as in transparency-dev/merkle's `VerifyConsistency`.
///
/// # Errors
///
/// [`AuditError::SizesOutOfOrder`] if `first > second`, [`AuditError::TreeTooLarge`],
/// [`AuditError::ProofTooLong`] or [`AuditError::ConsistencyMismatch`].
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: Hash,
    second_root: Hash,
    proof: &[Hash],
) -> Result<(), AuditError> {
    check_size(u128::from(second))?;
    if first > second {
        return Err(AuditError::SizesOutOfOrder { first, second });
    }
    check_proof_len(proof)?;
    let mismatch = AuditError::ConsistencyMismatch { first, second };
    if first == second {
        return if proof.is_empty() && first_root == second_root {
            Ok(())
        } else {
            Err(mismatch)
        };
    }
    if first == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(mismatch)
        };
    }
    match tlog::check_tree(&proof.to_vec(), second, second_root, first, first_root) {
        Ok(()) => Ok(()),
        Err(tlog::Error::InvalidProof) => Err(mismatch),
        Err(e) => Err(AuditError::Tlog(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::leaf_hash;

    fn build(n: u64) -> (HashMap<u64, Hash>, Vec<Hash>, Hash) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let a = append(0, &leaves, &HashMap::new()).unwrap();
        (a.new_hashes.into_iter().collect(), leaves, a.root)
    }

    #[test]
    fn empty_tree() {
        assert_eq!(root(0, &HashMap::new()).unwrap(), EMPTY_ROOT);
        assert_eq!(
            crate::entry::hex_hash(&EMPTY_ROOT),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let a = append(0, &[], &HashMap::new()).unwrap();
        assert_eq!((a.size, a.root, a.new_hashes.len()), (0, EMPTY_ROOT, 0));
    }

    #[test]
    fn missing_hashes_are_named() {
        let (mut stored, leaves, _) = build(5);
        let needed = needed_for_inclusion(4, 5);
        assert!(!needed.is_empty());
        stored.remove(&needed[0]);
        assert_eq!(
            inclusion_proof(4, 5, &stored),
            Err(AuditError::MissingHash { index: needed[0] })
        );
        let needed = needed_for_append(5, 3);
        assert!(!needed.is_empty());
        let (mut stored, _, _) = build(5);
        stored.remove(&needed[needed.len() - 1]);
        let err = append(5, &leaves[..3], &stored).unwrap_err();
        assert_eq!(
            err,
            AuditError::MissingHash {
                index: needed[needed.len() - 1]
            }
        );
        assert!(
            err.to_string()
                .contains(&needed[needed.len() - 1].to_string())
        );
    }

    #[test]
    fn needed_lists_are_sufficient_and_minimal() {
        let (stored, _, _) = build(37);
        for size in 1..=37u64 {
            let only = |idx: &[u64]| -> HashMap<u64, Hash> {
                idx.iter().map(|i| (*i, stored[i])).collect()
            };
            let r = root(size, &only(&needed_for_root(size))).unwrap();
            assert_eq!(r, root(size, &stored).unwrap());
            for index in 0..size {
                let need = needed_for_inclusion(index, size);
                let p = inclusion_proof(index, size, &only(&need)).unwrap();
                assert_eq!(p, inclusion_proof(index, size, &stored).unwrap());
            }
            for first in 1..=size {
                let need = needed_for_consistency(first, size);
                let p = consistency_proof(first, size, &only(&need)).unwrap();
                assert_eq!(p, consistency_proof(first, size, &stored).unwrap());
                // Minimal: dropping any listed hash makes the operation fail.
                for drop in &need {
                    let mut m = only(&need);
                    m.remove(drop);
                    assert_eq!(
                        consistency_proof(first, size, &m),
                        Err(AuditError::MissingHash { index: *drop })
                    );
                }
            }
        }
    }

    #[test]
    fn invalid_sizes_are_errors_not_panics() {
        let m = HashMap::new();
        let h = Hash::default();
        assert!(matches!(
            inclusion_proof(3, 3, &m),
            Err(AuditError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            consistency_proof(4, 3, &m),
            Err(AuditError::SizesOutOfOrder { .. })
        ));
        assert!(matches!(
            root(u64::MAX, &m),
            Err(AuditError::TreeTooLarge { .. })
        ));
        assert!(matches!(
            append(MAX_TREE_SIZE, &[h], &m),
            Err(AuditError::TreeTooLarge { .. })
        ));
        assert!(verify_inclusion(u64::MAX - 1, u64::MAX, h, &[], h).is_err());
        assert!(verify_consistency(1, u64::MAX, h, h, &[h]).is_err());
        assert!(verify_inclusion(0, 2, h, &vec![h; 1000], h).is_err());
        assert!(needed_for_append(u64::MAX, 1).is_empty());
        assert!(needed_for_inclusion(5, 5).is_empty());
        assert!(needed_for_consistency(6, 5).is_empty());
        // Huge but allowed sizes with an empty map: a missing-hash error, no panic.
        assert!(matches!(
            root(MAX_TREE_SIZE, &m),
            Err(AuditError::MissingHash { .. })
        ));
        assert!(matches!(
            inclusion_proof(MAX_TREE_SIZE - 1, MAX_TREE_SIZE, &m),
            Err(AuditError::MissingHash { .. })
        ));
        assert!(matches!(
            consistency_proof(MAX_TREE_SIZE - 3, MAX_TREE_SIZE, &m),
            Err(AuditError::MissingHash { .. })
        ));
        assert!(verify_inclusion(MAX_TREE_SIZE - 1, MAX_TREE_SIZE, h, &[h; 62], h).is_err());
    }

    #[test]
    fn new_hashes_fill_the_stored_range() {
        let (stored, leaves, _) = build(10);
        let extra: Vec<Hash> = leaves.iter().map(|h| node_hash(*h, *h)).collect();
        let need = needed_for_append(10, 7);
        let only: HashMap<u64, Hash> = need.iter().map(|i| (*i, stored[i])).collect();
        let a = append(10, &extra[..7], &only).unwrap();
        let idx: Vec<u64> = a.new_hashes.iter().map(|(i, _)| *i).collect();
        let want: Vec<u64> =
            (stored_hash_count(10).unwrap()..stored_hash_count(17).unwrap()).collect();
        assert_eq!(idx, want);
        assert_eq!(a.size, 17);
    }
}
