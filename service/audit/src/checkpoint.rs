//! Signed checkpoints: a C2SP `tlog-checkpoint` body (origin, tree size, base64 root hash)
//! signed as a C2SP `signed-note` with an Ed25519 key.
//!
//! Keys use the Go `sumdb/note` text forms: the signer key
//! `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` (secret) and the verifier key
//! `<name>+<id>+<base64(0x01 || public key)>`, where `id` is 8 hex digits of
//! `SHA-256(name || "\n" || 0x01 || public key)`. The checkpoint's origin line is the key name.
//!
//! A signed checkpoint looks like:
//! ```text
//! modelgate.example/audit
//! 8
//! XcnaeacGWamtVZy3Ad7Zoqudgjqtj0lgz+Nw7/RgQyg=
//!
//! — modelgate.example/audit 4ZQgk2...base64...
//! ```

use crate::{AuditError, Hash};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand_core::CryptoRngCore;
use signed_note::{
    Note, NoteError, Signer as _, StandardSigner, StandardVerifier, Verifier as _, VerifierList,
};
use tlog_tiles::checkpoint::Checkpoint;

/// Generates a new Ed25519 checkpoint key named `name` (which becomes the checkpoint origin).
/// Returns `(signer key, verifier key)`; the signer key is secret.
///
/// `name` should be non-empty and contain no whitespace or `+` (for example
/// `modelgate.example/audit`); [`CheckpointSigner::new`] rejects keys with other names.
pub fn generate_key(rng: &mut impl CryptoRngCore, name: &str) -> (String, String) {
    signed_note::generate_key(rng, name)
}

/// Signs checkpoints with one Ed25519 key.
#[derive(Clone)]
pub struct CheckpointSigner {
    signer: StandardSigner,
    vkey: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        f.debug_struct("CheckpointSigner")
            .field("verifier_key", &self.vkey)
            .finish_non_exhaustive()
    }
}

/// A "random" number generator that hands out a fixed 32-byte Ed25519 seed. It is used only
/// to re-derive a key pair from a signer key with [`signed_note::generate_key`] (which draws
/// exactly the 32 seed bytes), so that the verifier key can be computed without another
/// Ed25519 dependency. The result is checked against the input key before use.
struct SeedRng {
    seed: [u8; 32],
    pos: usize,
}

impl rand_core::RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            *byte = self.seed.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SeedRng {}

impl CheckpointSigner {
    /// Parses a signer key `PRIVATE+KEY+<name>+<id>+<base64>`.
    ///
    /// # Errors
    ///
    /// [`AuditError::SignerKey`] if the key is malformed, not Ed25519, or its id does not
    /// match its public key.
    pub fn new(skey: &str) -> Result<Self, AuditError> {
        let signer = StandardSigner::new(skey).map_err(|e| AuditError::SignerKey(e.to_string()))?;
        // StandardSigner::new has checked the layout; take the seed to derive the public key.
        // Fields: PRIVATE, KEY, name, id, base64 key (which may itself contain '+').
        let key64 = skey.splitn(5, '+').nth(4).unwrap_or_default();
        let key = BASE64
            .decode(key64)
            .map_err(|e| AuditError::SignerKey(e.to_string()))?;
        let seed: [u8; 32] = key
            .get(1..)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| AuditError::SignerKey("Ed25519 seed is not 32 bytes".into()))?;
        let (skey2, vkey) = signed_note::generate_key(&mut SeedRng { seed, pos: 0 }, signer.name());
        if skey2 != skey {
            return Err(AuditError::SignerKey(
                "could not re-derive the key pair from the signer key".into(),
            ));
        }
        Ok(CheckpointSigner { signer, vkey })
    }

    /// The key name, which is also the origin line of every checkpoint this signer signs.
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The 32-bit key id (as in the verifier key).
    pub fn key_id(&self) -> u32 {
        self.signer.key_id()
    }

    /// The verifier key `<name>+<id>+<base64>` that checks this signer's checkpoints.
    pub fn verifier_key(&self) -> String {
        self.vkey.clone()
    }

    /// Returns the signed note text of the checkpoint for a tree of `size` records with root
    /// hash `root`: origin, size and base64 root lines, a blank line and one signature line.
    ///
    /// # Errors
    ///
    /// [`AuditError::Signing`] if the checkpoint or note cannot be built or signed.
    pub fn sign(&self, size: u64, root: Hash) -> Result<String, AuditError> {
        let cp = Checkpoint::new(self.origin(), size, root, "")
            .map_err(|e| AuditError::Signing(e.to_string()))?;
        let mut note =
            Note::new(&cp.to_bytes(), &[]).map_err(|e| AuditError::Signing(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| AuditError::Signing(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| AuditError::Signing(e.to_string()))
    }
}

/// A checkpoint whose signature has been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedCheckpoint {
    /// The origin line (equal to `key_name`).
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree's root hash.
    pub root: Hash,
    /// Name of the key that signed it.
    pub key_name: String,
    /// Id of the key that signed it.
    pub key_id: u32,
}

/// Verifies that `note` is a checkpoint signed by verifier key `vkey`, that its origin is the
/// key name, and returns its size and root. Signatures by other keys (for example witness
/// cosignatures) are allowed and ignored; checkpoint extension lines are allowed and ignored.
///
/// # Errors
///
/// [`AuditError::VerifierKey`], [`AuditError::NoteMalformed`],
/// [`AuditError::NotSignedByKey`], [`AuditError::BadSignature`],
/// [`AuditError::CheckpointMalformed`] or [`AuditError::OriginMismatch`].
pub fn open_checkpoint(note: &str, vkey: &str) -> Result<OpenedCheckpoint, AuditError> {
    let verifier =
        StandardVerifier::new(vkey).map_err(|e| AuditError::VerifierKey(e.to_string()))?;
    let key_name = verifier.name().to_owned();
    let key_id = verifier.key_id();
    let key = format!("{key_name}+{key_id:08x}");
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|_| AuditError::NoteMalformed)?;
    let known = VerifierList::new(vec![Box::new(verifier)]);
    match parsed.verify(&known) {
        Ok(_) => {}
        Err(NoteError::UnverifiedNote) => return Err(AuditError::NotSignedByKey { key }),
        Err(NoteError::InvalidSignature { .. }) => return Err(AuditError::BadSignature { key }),
        Err(_) => return Err(AuditError::NoteMalformed),
    }
    let cp = Checkpoint::from_bytes(parsed.text()).map_err(|_| AuditError::CheckpointMalformed)?;
    if cp.origin() != key_name {
        return Err(AuditError::OriginMismatch {
            origin: crate::entry::truncate(cp.origin(), 200),
            key_name,
        });
    }
    Ok(OpenedCheckpoint {
        origin: cp.origin().to_owned(),
        size: cp.size(),
        root: *cp.hash(),
        key_name,
        key_id,
    })
}

/// A checkpoint read without verifying any signature, for display only.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnverifiedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// `(name, id)` of each signature line.
    pub signatures: Vec<(String, u32)>,
}

/// Parses a signed checkpoint without checking signatures (used to render evidence).
pub(crate) fn read_checkpoint_unverified(note: &str) -> Result<UnverifiedCheckpoint, AuditError> {
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|_| AuditError::NoteMalformed)?;
    let cp = Checkpoint::from_bytes(parsed.text()).map_err(|_| AuditError::CheckpointMalformed)?;
    // Note does not expose its signatures; read the signature lines ourselves.
    let signatures = note
        .rsplit_once("\n\n")
        .map(|(_, sigs)| sigs)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| signed_note::Signature::from_bytes(line.as_bytes()).ok())
        .map(|s| (s.name().to_owned(), s.id()))
        .collect();
    Ok(UnverifiedCheckpoint {
        origin: cp.origin().to_owned(),
        size: cp.size(),
        root: *cp.hash(),
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Key pair from the Go sumdb/note documentation, as repeated in the signed_note crate docs.
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn verifier_key_is_derived_from_signer_key() {
        let s = CheckpointSigner::new(GO_SKEY).unwrap();
        assert_eq!(s.verifier_key(), GO_VKEY);
        assert_eq!(s.origin(), "PeterNeumann");
        assert_eq!(s.key_id(), 0xc74f20a3);
        assert!(!format!("{s:?}").contains("AYEKF"));
    }

    #[test]
    fn known_answer_signature() {
        // Ed25519 is deterministic, so the note is a fixed string.
        let s = CheckpointSigner::new(GO_SKEY).unwrap();
        let note = s.sign(8, crate::tree::EMPTY_ROOT).unwrap();
        let (text, sig) = note.split_once("\n\n").unwrap();
        assert_eq!(
            text,
            "PeterNeumann\n8\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        // The first 4 signature bytes are the key id c74f20a3 ("x08go" in base64).
        assert!(sig.starts_with("— PeterNeumann x08go"));
        let opened = open_checkpoint(&note, GO_VKEY).unwrap();
        assert_eq!(opened.size, 8);
        assert_eq!(opened.root, crate::tree::EMPTY_ROOT);
        assert_eq!(opened.key_id, 0xc74f20a3);
    }

    #[test]
    fn bad_signer_keys() {
        for bad in [
            "",
            GO_VKEY,
            "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD==",
            "PRIVATE+KEY+Peter Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        ] {
            assert!(
                matches!(CheckpointSigner::new(bad), Err(AuditError::SignerKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unverified_read() {
        let s = CheckpointSigner::new(GO_SKEY).unwrap();
        let note = s.sign(3, crate::tree::EMPTY_ROOT).unwrap();
        let u = read_checkpoint_unverified(&note).unwrap();
        assert_eq!(u.size, 3);
        assert_eq!(u.signatures, vec![("PeterNeumann".to_owned(), 0xc74f20a3)]);
    }
}
