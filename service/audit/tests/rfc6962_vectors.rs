//! Known-answer tests with the RFC 6962 test vectors of Certificate Transparency.
//!
//! Source: transparency-dev/merkle (successor of the Trillian / certificate-transparency-go
//! Merkle code), `proof/verify_test.go`: the 8 leaves, the roots of the trees of sizes 1..=8
//! (`roots`), `inclusionProofs` (there the leaf number is 1-based: `{6, 8, …}` is leaf index 5
//! of the tree of size 8) and `consistencyProofs`; empty-tree and leaf hashes from
//! `rfc6962/rfc6962_test.go`.

use modelgate_audit::Hash;
use modelgate_audit::entry::{hex_hash, leaf_hash, parse_hex_hash};
use modelgate_audit::tree::{
    EMPTY_ROOT, append, consistency_proof, inclusion_proof, needed_for_append, root,
    verify_consistency, verify_inclusion,
};
use std::collections::HashMap;

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, audit path)
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (first size, second size, consistency proof)
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn h(s: &str) -> Hash {
    parse_hex_hash(s).unwrap()
}

fn hashes(v: &[&str]) -> Vec<Hash> {
    v.iter().map(|s| h(s)).collect()
}

fn leaf_hashes() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).unwrap()))
        .collect()
}

/// Builds the 8-leaf tree one record at a time, as the sequencer would, and returns the store.
fn store() -> HashMap<u64, Hash> {
    let mut stored = HashMap::new();
    for (i, lh) in leaf_hashes().iter().enumerate() {
        let size = i as u64;
        let need = needed_for_append(size, 1);
        assert!(need.iter().all(|n| stored.contains_key(n)));
        let a = append(size, &[*lh], &stored).unwrap();
        assert_eq!(hex_hash(&a.root), ROOTS[i], "root after appending leaf {i}");
        stored.extend(a.new_hashes);
    }
    stored
}

#[test]
fn empty_tree_and_leaf_hashes() {
    assert_eq!(
        hex_hash(&EMPTY_ROOT),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex_hash(&root(0, &HashMap::new()).unwrap()),
        hex_hash(&EMPTY_ROOT)
    );
    // The root of a one-leaf tree is that leaf's hash; for the empty leaf it is 6e34…
    assert_eq!(hex_hash(&leaf_hashes()[0]), ROOTS[0]);
}

#[test]
fn roots_for_sizes_1_to_8() {
    let stored = store();
    for size in 1..=8u64 {
        assert_eq!(
            hex_hash(&root(size, &stored).unwrap()),
            ROOTS[size as usize - 1],
            "root of size {size}"
        );
    }
    // The same tree built in one batch.
    let a = append(0, &leaf_hashes(), &HashMap::new()).unwrap();
    assert_eq!(hex_hash(&a.root), ROOTS[7]);
}

#[test]
fn inclusion_vectors() {
    let stored = store();
    let leaves = leaf_hashes();
    for (index, size, path) in INCLUSION {
        let want = hashes(path);
        let got = inclusion_proof(index, size, &stored).unwrap();
        assert_eq!(got, want, "inclusion proof of leaf {index} in tree {size}");
        let root = h(ROOTS[size as usize - 1]);
        verify_inclusion(index, size, leaves[index as usize], &want, root).unwrap();
        // Wrong index, size, leaf or root, and a reversed path, are rejected.
        if size > 1 {
            let other = (index + 1) % size;
            assert!(verify_inclusion(other, size, leaves[index as usize], &want, root).is_err());
            assert!(verify_inclusion(index, size, leaves[other as usize], &want, root).is_err());
        }
        assert!(verify_inclusion(index, size * 2, leaves[index as usize], &want, root).is_err());
        assert!(verify_inclusion(index, size, leaves[index as usize], &want, EMPTY_ROOT).is_err());
        if want.len() > 1 {
            let mut rev = want.clone();
            rev.reverse();
            assert!(verify_inclusion(index, size, leaves[index as usize], &rev, root).is_err());
        }
    }
}

#[test]
fn consistency_vectors() {
    let stored = store();
    for (first, second, proof) in CONSISTENCY {
        let want = hashes(proof);
        let got = consistency_proof(first, second, &stored).unwrap();
        assert_eq!(got, want, "consistency proof {first} -> {second}");
        let r1 = h(ROOTS[first as usize - 1]);
        let r2 = h(ROOTS[second as usize - 1]);
        verify_consistency(first, second, r1, r2, &want).unwrap();
        if first != second {
            assert!(verify_consistency(first, second, r2, r1, &want).is_err());
            assert!(verify_consistency(first, second, r1, r2, &[]).is_err());
            assert!(verify_consistency(first, second, r1, r2, &want[1..]).is_err());
        }
    }
}

#[test]
fn trivial_consistency_cases() {
    // From TestVerifyConsistency in proof/verify_test.go.
    let r1 = h(ROOTS[0]);
    let r2 = h(ROOTS[1]);
    let e = EMPTY_ROOT;
    assert!(verify_consistency(0, 0, r1, r1, &[]).is_ok());
    assert!(verify_consistency(0, 1, r1, r2, &[]).is_ok());
    assert!(verify_consistency(1, 1, r2, r2, &[]).is_ok());
    assert!(verify_consistency(0, 0, r1, r2, &[]).is_err());
    assert!(verify_consistency(1, 1, r1, r2, &[]).is_err());
    assert!(verify_consistency(1, 0, r1, r2, &[]).is_err());
    assert!(verify_consistency(2, 1, r1, r2, &[]).is_err());
    assert!(verify_consistency(1, 2, r1, r2, &[]).is_err());
    assert!(verify_consistency(0, 0, e, e, &[e]).is_err());
    assert!(verify_consistency(0, 1, e, e, &[e]).is_err());
    assert!(verify_consistency(1, 1, e, e, &[e]).is_err());
}
