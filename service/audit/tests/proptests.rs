//! Property tests: valid proofs verify; any single-bit change of a proof hash, the leaf hash
//! or a root is rejected; a changed index or tree size is rejected whenever it changes the
//! shape of the RFC 6962 path (a size change that keeps the shape, e.g. leaf 0 of a tree of
//! 130 instead of 132 records, is undetectable from the proof alone: RFC 6962 verifiers use
//! the size only to choose the shape; the signed checkpoint is what binds the size);
//! any changed byte of an evidence bundle is rejected.

mod common;

use modelgate_audit::Hash;
use modelgate_audit::entry::leaf_hash;
use modelgate_audit::evidence::verify_bundle;
use modelgate_audit::tree::{
    append, consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

const MAX: u64 = 200;

/// One tree of MAX records, shared by all cases (building it is deterministic).
fn tree() -> &'static HashMap<u64, Hash> {
    static T: OnceLock<HashMap<u64, Hash>> = OnceLock::new();
    T.get_or_init(|| {
        let leaves: Vec<Hash> = (0..MAX).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        append(0, &leaves, &HashMap::new())
            .unwrap()
            .new_hashes
            .into_iter()
            .collect()
    })
}

/// The largest power of two smaller than n (n > 1).
fn k_of(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Shape of RFC 6962 PATH(m, D[n]): for each proof hash, whether it is a right sibling.
fn path_shape(m: u64, n: u64) -> Vec<bool> {
    if n <= 1 {
        return vec![];
    }
    let k = k_of(n);
    let mut v = if m < k {
        path_shape(m, k)
    } else {
        path_shape(m - k, n - k)
    };
    v.push(m < k);
    v
}

/// Shape of RFC 6962 SUBPROOF(m, D[n], b): b'R'/b'L' for right/left siblings, b'S' for the
/// hash of a complete old subtree.
fn proof_shape(m: u64, n: u64, b: bool) -> Vec<u8> {
    if m == n {
        return if b { vec![] } else { vec![b'S'] };
    }
    let k = k_of(n);
    let mut v = if m <= k {
        proof_shape(m, k, b)
    } else {
        proof_shape(m - k, n - k, false)
    };
    v.push(if m <= k { b'R' } else { b'L' });
    v
}

fn flip(h: Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inclusion_proofs_verify_and_resist_tampering(
        size in 1..=MAX, index_seed in any::<u64>(), bit in 0usize..256, other in any::<u64>(),
    ) {
        let stored = tree();
        let index = index_seed % size;
        let r = root(size, stored).unwrap();
        let lh = leaf_hash(&index.to_le_bytes());
        let proof = inclusion_proof(index, size, stored).unwrap();
        prop_assert!(verify_inclusion(index, size, lh, &proof, r).is_ok());

        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i] = flip(p[i], bit);
            prop_assert!(verify_inclusion(index, size, lh, &p, r).is_err(), "proof[{}] flipped", i);
        }
        prop_assert!(verify_inclusion(index, size, flip(lh, bit), &proof, r).is_err());
        prop_assert!(verify_inclusion(index, size, lh, &proof, flip(r, bit)).is_err());

        let other_index = other % size;
        if other_index != index {
            prop_assert!(verify_inclusion(other_index, size, lh, &proof, r).is_err());
        }
        let other_size = 1 + other % (2 * MAX);
        if other_size != size {
            let same_shape = index < other_size
                && path_shape(index, other_size) == path_shape(index, size);
            prop_assert_eq!(verify_inclusion(index, other_size, lh, &proof, r).is_ok(), same_shape);
        }
        let mut longer = proof.clone();
        longer.push(r);
        prop_assert!(verify_inclusion(index, size, lh, &longer, r).is_err());
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(index, size, lh, &proof[1..], r).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_resist_tampering(
        second in 1..=MAX, first_seed in any::<u64>(), bit in 0usize..256, other in any::<u64>(),
    ) {
        let stored = tree();
        let first = 1 + first_seed % second;
        let r1 = root(first, stored).unwrap();
        let r2 = root(second, stored).unwrap();
        let proof = consistency_proof(first, second, stored).unwrap();
        prop_assert!(verify_consistency(first, second, r1, r2, &proof).is_ok());

        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i] = flip(p[i], bit);
            prop_assert!(verify_consistency(first, second, r1, r2, &p).is_err(), "proof[{}] flipped", i);
        }
        prop_assert!(verify_consistency(first, second, flip(r1, bit), r2, &proof).is_err());
        prop_assert!(verify_consistency(first, second, r1, flip(r2, bit), &proof).is_err());

        let other_first = 1 + other % second;
        if other_first != first {
            prop_assert!(verify_consistency(other_first, second, r1, r2, &proof).is_err());
        }
        let other_second = first + other % (2 * MAX);
        if other_second != second {
            let same_shape = first < other_second
                && proof_shape(first, other_second, true) == proof_shape(first, second, true);
            prop_assert_eq!(
                verify_consistency(first, other_second, r1, r2, &proof).is_ok(),
                same_shape
            );
        }
    }
}

fn bundle_fixture() -> &'static (common::Log, Vec<u8>) {
    static B: OnceLock<(common::Log, Vec<u8>)> = OnceLock::new();
    B.get_or_init(|| {
        let log = common::log(13, 9, "m");
        let json = serde_json::to_vec(&log.bundle(9)).unwrap();
        (log, json)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any single-bit change anywhere in the bundle JSON is rejected: every field is bound to
    /// the signed checkpoint, the leaf or the given key, and the JSON has no free whitespace.
    #[test]
    fn any_flipped_bit_of_a_bundle_is_rejected(pos_seed in any::<usize>(), bit in 0u8..8) {
        let (log, json) = bundle_fixture();
        prop_assert!(verify_bundle(json, &log.vkey).is_ok());
        let mut b = json.clone();
        let pos = pos_seed % b.len();
        b[pos] ^= 1 << bit;
        prop_assert!(verify_bundle(&b, &log.vkey).is_err(), "byte {} bit {} accepted", pos, bit);
    }

    /// Targeted: any character of the leaf, checkpoint or a proof hash replaced.
    #[test]
    fn changed_leaf_checkpoint_or_proof_is_rejected(
        which in 0u8..3, pos_seed in any::<usize>(), replacement in proptest::char::range(' ', '~'),
    ) {
        let (log, json) = bundle_fixture();
        let mut b: modelgate_audit::evidence::EvidenceBundle = serde_json::from_slice(json).unwrap();
        let target: &mut String = match which {
            0 => &mut b.entry.leaf,
            1 => &mut b.checkpoint,
            _ => {
                let n = b.entry.inclusion_proof.len();
                &mut b.entry.inclusion_proof[pos_seed % n]
            }
        };
        let chars: Vec<char> = target.chars().collect();
        let pos = pos_seed % chars.len();
        prop_assume!(chars[pos] != replacement);
        *target = chars.iter().enumerate().map(|(i, c)| if i == pos { replacement } else { *c }).collect();
        let out = serde_json::to_vec(&b).unwrap();
        prop_assert!(verify_bundle(&out, &log.vkey).is_err());
    }
}
