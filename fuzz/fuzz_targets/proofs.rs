//! RFC 6962 proofs as evidence bundles and the audit API hand them out:
//! `tree::verify_inclusion` and `tree::verify_consistency` on arbitrary indexes, sizes,
//! hashes and proofs, the hex form of hashes (`entry::parse_hex_hash`), and the
//! stored-hash index arithmetic (`needed_for_*`) on arbitrary sizes.
//!
//! Differential: over a real tree of up to 64 records, the proofs `inclusion_proof` and
//! `consistency_proof` give verify, and any proof, hash, index or size the fuzzer changes
//! is refused unless the change leaves the statement true (the same proof and root for
//! another size of the same shape is undetectable from the proof alone; see
//! `service/audit/tests/proptests.rs`), which is checked against the real tree.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use modelgate_audit::Hash;
use modelgate_audit::entry::{hex_hash, leaf_hash, parse_hex_hash};
use modelgate_audit::tree::{
    MAX_TREE_SIZE, append, consistency_proof, inclusion_proof, needed_for_consistency,
    needed_for_inclusion, needed_for_root, root, verify_consistency, verify_inclusion,
};
use std::collections::HashMap;
use std::sync::OnceLock;

const LEAVES: u64 = 64;

#[derive(Arbitrary, Debug)]
struct Input {
    index: u64,
    size: u64,
    first: u64,
    leaf: [u8; 32],
    root: [u8; 32],
    root2: [u8; 32],
    proof: Vec<[u8; 32]>,
    hex: String,
    /// Changes to a real proof: (position, bit) flips, a new index or size.
    flips: Vec<(u8, u8)>,
    other: u64,
}

fn tree() -> &'static HashMap<u64, Hash> {
    static T: OnceLock<HashMap<u64, Hash>> = OnceLock::new();
    T.get_or_init(|| {
        let leaves: Vec<Hash> = (0..LEAVES).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        append(0, &leaves, &HashMap::new())
            .expect("a small tree")
            .new_hashes
            .into_iter()
            .collect()
    })
}

fn flip(proof: &mut [Hash], flips: &[(u8, u8)]) -> bool {
    let mut changed = false;
    for &(pos, bit) in flips {
        if proof.is_empty() {
            break;
        }
        let i = usize::from(pos) % proof.len();
        let bit = usize::from(bit);
        proof[i].0[(bit / 8) % 32] ^= 1 << (bit % 8);
        changed = true;
    }
    changed
}

fuzz_target!(|input: Input| {
    // Arbitrary values: never a panic.
    let proof: Vec<Hash> = input.proof.iter().map(|h| Hash(*h)).collect();
    let _ = verify_inclusion(
        input.index,
        input.size,
        Hash(input.leaf),
        &proof,
        Hash(input.root),
    );
    let _ = verify_consistency(
        input.first,
        input.size,
        Hash(input.root),
        Hash(input.root2),
        &proof,
    );
    if input.size <= MAX_TREE_SIZE {
        let _ = needed_for_root(input.size);
        let _ = needed_for_inclusion(input.index, input.size);
        let _ = needed_for_consistency(input.first, input.size);
    }
    if let Ok(h) = parse_hex_hash(&input.hex) {
        assert_eq!(hex_hash(&h), input.hex, "a hash does not print as itself");
    }

    // A real tree.
    let stored = tree();
    let size = 1 + input.size % LEAVES;
    let index = input.index % size;
    let r = root(size, stored).expect("root of the tree");
    let lh = leaf_hash(&index.to_le_bytes());
    let good = inclusion_proof(index, size, stored).expect("inclusion proof");
    verify_inclusion(index, size, lh, &good, r).expect("a real inclusion proof verifies");
    let mut bad = good.clone();
    if flip(&mut bad, &input.flips) && bad != good {
        assert!(
            verify_inclusion(index, size, lh, &bad, r).is_err(),
            "a changed proof verifies"
        );
    }
    let other_index = input.other % size;
    if other_index != index {
        // Another leaf's hash at another index: true only if the proof happens to fit.
        let ok = verify_inclusion(other_index, size, lh, &good, r).is_ok();
        assert!(!ok, "leaf {index}'s proof shows it at {other_index}");
    }
    let other_size = 1 + input.other % LEAVES;
    if verify_inclusion(index, other_size, lh, &good, r).is_ok() {
        // Only the shape of the path is bound by a proof: the root stays that of `size`.
        assert!(index < other_size);
    }

    let first = 1 + input.first % size;
    let r1 = root(first, stored).expect("root of the old tree");
    let cproof = consistency_proof(first, size, stored).expect("consistency proof");
    verify_consistency(first, size, r1, r, &cproof).expect("a real consistency proof verifies");
    let mut cbad = cproof.clone();
    if flip(&mut cbad, &input.flips) && cbad != cproof {
        assert!(
            verify_consistency(first, size, r1, r, &cbad).is_err(),
            "a changed consistency proof verifies"
        );
    }
    if let Some(&(pos, bit)) = input.flips.first() {
        let mut r1bad = r1;
        r1bad.0[usize::from(pos) % 32] ^= 1 << (bit % 8);
        if first != size {
            assert!(verify_consistency(first, size, r1bad, r, &cproof).is_err());
        }
    }
});
