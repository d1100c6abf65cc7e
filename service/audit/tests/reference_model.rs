//! Compares the crate with a reference implementation of RFC 6962 §2.1 (MTH), §2.1.1 (PATH)
//! and §2.1.2 (PROOF / SUBPROOF) written directly from the RFC text, for every tree size
//! 1..=300, with the tree built by `append` in pseudo-random batch sizes.

use modelgate_audit::Hash;
use modelgate_audit::tree::{
    append, consistency_proof, inclusion_proof, needed_for_append, needed_for_consistency,
    needed_for_inclusion, needed_for_root, root, verify_consistency, verify_inclusion,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const N: usize = 300;

/// RFC 6962 §2.1 with the leaf data `d[lo..hi]`, memoised on (lo, hi).
struct Rfc {
    d: Vec<Vec<u8>>,
    memo: HashMap<(usize, usize), [u8; 32]>,
}

/// The largest power of two smaller than n (n > 1).
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

impl Rfc {
    /// MTH(D[lo:hi]).
    fn mth(&mut self, lo: usize, hi: usize) -> [u8; 32] {
        if let Some(h) = self.memo.get(&(lo, hi)) {
            return *h;
        }
        let n = hi - lo;
        let h: [u8; 32] = if n == 0 {
            Sha256::digest([]).into()
        } else if n == 1 {
            let mut s = Sha256::new();
            s.update([0x00]);
            s.update(&self.d[lo]);
            s.finalize().into()
        } else {
            let k = k_of(n);
            let left = self.mth(lo, lo + k);
            let right = self.mth(lo + k, hi);
            let mut s = Sha256::new();
            s.update([0x01]);
            s.update(left);
            s.update(right);
            s.finalize().into()
        };
        self.memo.insert((lo, hi), h);
        h
    }

    /// PATH(m, D[lo:hi]).
    fn path(&mut self, m: usize, lo: usize, hi: usize) -> Vec<[u8; 32]> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// SUBPROOF(m, D[lo:hi], b).
    fn subproof(&mut self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<[u8; 32]> {
        let n = hi - lo;
        if m == n {
            return if b { vec![] } else { vec![self.mth(lo, hi)] };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// PROOF(m, D[n]).
    fn proof(&mut self, m: usize, n: usize) -> Vec<[u8; 32]> {
        self.subproof(m, 0, n, true)
    }
}

/// splitmix64, for reproducible pseudo-random batch sizes.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn raw(v: Vec<[u8; 32]>) -> Vec<Hash> {
    v.into_iter().map(Hash).collect()
}

fn only(stored: &HashMap<u64, Hash>, idx: &[u64]) -> HashMap<u64, Hash> {
    idx.iter().map(|i| (*i, stored[i])).collect()
}

#[test]
fn crate_matches_rfc6962_reference_for_sizes_1_to_300() {
    let data: Vec<Vec<u8>> = (0..N).map(|i| format!("leaf {i}").into_bytes()).collect();
    let mut rfc = Rfc {
        d: data.clone(),
        memo: HashMap::new(),
    };
    let leaf_hashes: Vec<Hash> = data
        .iter()
        .map(|d| modelgate_audit::entry::leaf_hash(d))
        .collect();

    for seed in [1u64, 2, 3] {
        // Build the tree in random batches, checking each batch's root against MTH and
        // giving `append` only the hashes `needed_for_append` lists.
        let mut state = seed;
        let mut stored: HashMap<u64, Hash> = HashMap::new();
        let mut size = 0usize;
        let mut batches = 0;
        while size < N {
            let batch = (1 + next(&mut state) % 17) as usize;
            let batch = batch.min(N - size);
            let need = needed_for_append(size as u64, batch as u64);
            let a = append(
                size as u64,
                &leaf_hashes[size..size + batch],
                &only(&stored, &need),
            )
            .unwrap();
            size += batch;
            batches += 1;
            assert_eq!(a.size, size as u64);
            assert_eq!(a.root, Hash(rfc.mth(0, size)), "root after batch to {size}");
            for (i, h) in a.new_hashes {
                assert!(stored.insert(i, h).is_none(), "index {i} written twice");
            }
        }
        assert!(batches > 20, "batches were not small");
        assert_eq!(
            stored.len() as u64,
            modelgate_audit::tree::stored_hash_count(N as u64).unwrap()
        );

        if seed != 1 {
            // Different batchings must give exactly the same stored hashes: compare roots.
            for n in 1..=N {
                assert_eq!(root(n as u64, &stored).unwrap(), Hash(rfc.mth(0, n)));
            }
            continue;
        }

        for n in 1..=N {
            let r = root(n as u64, &only(&stored, &needed_for_root(n as u64))).unwrap();
            assert_eq!(r, Hash(rfc.mth(0, n)), "root of size {n}");
            for (m, lh) in leaf_hashes.iter().enumerate().take(n) {
                let want = raw(rfc.path(m, 0, n));
                let got = inclusion_proof(
                    m as u64,
                    n as u64,
                    &only(&stored, &needed_for_inclusion(m as u64, n as u64)),
                )
                .unwrap();
                assert_eq!(got, want, "PATH({m}, D[{n}])");
                verify_inclusion(m as u64, n as u64, *lh, &got, r).unwrap();
            }
            for m in 1..=n {
                let want = raw(rfc.proof(m, n));
                let got = consistency_proof(
                    m as u64,
                    n as u64,
                    &only(&stored, &needed_for_consistency(m as u64, n as u64)),
                )
                .unwrap();
                assert_eq!(got, want, "PROOF({m}, D[{n}])");
                verify_consistency(m as u64, n as u64, Hash(rfc.mth(0, m)), r, &got).unwrap();
            }
        }
    }
}
