//! Signed checkpoints (C2SP signed notes with Ed25519), as auditors and `audit verify`
//! read them: `checkpoint::open_checkpoint` against a verifier key, and the verifier key
//! text itself.
//!
//! Input: the first byte chooses the mode:
//! * `S`: 8 bytes of tree size and 32 of root hash, then (position, byte) pairs: the
//!   checkpoint for that size and root is signed with a fixed test key and opened; then
//!   the pairs change bytes of the note and the changed note is opened again;
//! * `K`: a verifier key on the first line and a note after it;
//! * anything else: a note opened with the fixed test key.
//!
//! Invariants: no panic; a signed checkpoint opens to the size, root and origin signed;
//! no change to a note yields a checkpoint that says something else (a changed note either
//! fails or still says exactly what was signed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_audit::Hash;
use modelgate_audit::checkpoint::{CheckpointSigner, open_checkpoint};
use std::sync::OnceLock;

/// The key pair of Go's `sumdb/note` documentation (as in `service/audit/src/checkpoint.rs`
/// tests): a public test vector, not a secret.
const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fn signer() -> &'static CheckpointSigner {
    static S: OnceLock<CheckpointSigner> = OnceLock::new();
    S.get_or_init(|| CheckpointSigner::new(SKEY).expect("the test key"))
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b'S', rest)) if rest.len() >= 40 => {
            let size = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
            let root = Hash(rest[8..40].try_into().expect("32 bytes"));
            let Ok(note) = signer().sign(size, root) else {
                return;
            };
            let opened = open_checkpoint(&note, VKEY).expect("a signed checkpoint opens");
            assert_eq!((opened.size, opened.root), (size, root));
            assert_eq!(opened.origin, "PeterNeumann");
            let mut changed = note.clone().into_bytes();
            for pair in rest[40..].chunks_exact(2) {
                let i = usize::from(pair[0]) % changed.len();
                changed[i] = pair[1];
            }
            let changed = String::from_utf8_lossy(&changed);
            if let Ok(c) = open_checkpoint(&changed, VKEY) {
                assert_eq!(
                    (c.size, c.root, c.origin.as_str()),
                    (size, root, "PeterNeumann"),
                    "a changed note opens to another checkpoint:\n{changed}"
                );
            }
        }
        Some((b'K', rest)) => {
            let text = modelgate_fuzz::text(rest);
            let (vkey, note) = text.split_once('\n').unwrap_or((&text, ""));
            if let Ok(c) = open_checkpoint(note, vkey) {
                assert_eq!(c.origin, c.key_name, "the origin is not the key name");
            }
        }
        _ => {
            let note = modelgate_fuzz::text(data);
            if let Ok(c) = open_checkpoint(&note, VKEY) {
                assert_eq!(c.origin, "PeterNeumann");
            }
        }
    }
});
