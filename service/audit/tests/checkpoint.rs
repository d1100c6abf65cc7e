//! Signed checkpoints: round trip, wrong keys, tampering, origin mismatch.

mod common;

use modelgate_audit::AuditError;
use modelgate_audit::checkpoint::{CheckpointSigner, generate_key, open_checkpoint};
use modelgate_audit::entry::leaf_hash;
use rand_core::OsRng;
use signed_note::{Note, StandardSigner};
use tlog_tiles::checkpoint::Checkpoint;

#[test]
fn sign_open_round_trip() {
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    assert!(skey.starts_with("PRIVATE+KEY+modelgate.example/audit+"));
    let signer = CheckpointSigner::new(&skey).unwrap();
    assert_eq!(signer.verifier_key(), vkey);
    assert_eq!(signer.origin(), common::ORIGIN);
    let root = leaf_hash(b"some root");
    let note = signer.sign(42, root).unwrap();
    assert!(note.starts_with("modelgate.example/audit\n42\n"));
    let opened = open_checkpoint(&note, &vkey).unwrap();
    assert_eq!(opened.origin, common::ORIGIN);
    assert_eq!(opened.key_name, common::ORIGIN);
    assert_eq!(opened.size, 42);
    assert_eq!(opened.root, root);
    assert_eq!(opened.key_id, signer.key_id());
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    assert_eq!(parts[0], opened.key_name);
    assert_eq!(parts[1], format!("{:08x}", opened.key_id));
}

#[test]
fn wrong_key_rejected() {
    let (skey, _) = generate_key(&mut OsRng, common::ORIGIN);
    let (_, other_vkey_same_name) = generate_key(&mut OsRng, common::ORIGIN);
    let (_, other_vkey_other_name) = generate_key(&mut OsRng, "other.example/log");
    let note = CheckpointSigner::new(&skey)
        .unwrap()
        .sign(1, leaf_hash(b""))
        .unwrap();
    for vkey in [other_vkey_same_name, other_vkey_other_name] {
        let err = open_checkpoint(&note, &vkey).unwrap_err();
        assert!(matches!(err, AuditError::NotSignedByKey { .. }), "{err}");
        assert!(err.to_string().contains("no signature by key"));
    }
    assert!(matches!(
        open_checkpoint(&note, "not a key"),
        Err(AuditError::VerifierKey(_))
    ));
}

#[test]
fn every_changed_byte_is_rejected() {
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let note = CheckpointSigner::new(&skey)
        .unwrap()
        .sign(1234, leaf_hash(b"x"))
        .unwrap();
    let bytes = note.as_bytes();
    let mut tried = 0;
    for pos in 0..bytes.len() {
        for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80] {
            let mut b = bytes.to_vec();
            b[pos] ^= mask;
            // A note that is not UTF-8 cannot even be passed as &str.
            let Ok(s) = String::from_utf8(b) else {
                continue;
            };
            tried += 1;
            assert!(
                open_checkpoint(&s, &vkey).is_err(),
                "byte {pos} ^ {mask:#x} accepted: {s:?}"
            );
        }
    }
    assert!(tried > bytes.len() * 4, "too few mutations tried: {tried}");
    // Truncation and appended text are rejected too.
    assert!(open_checkpoint(&note[..note.len() - 1], &vkey).is_err());
    assert!(open_checkpoint(&format!("{note}x"), &vkey).is_err());
    assert!(open_checkpoint(&format!("x{note}"), &vkey).is_err());
}

#[test]
fn bad_signature_is_reported_as_such() {
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let note = CheckpointSigner::new(&skey)
        .unwrap()
        .sign(5, leaf_hash(b"x"))
        .unwrap();
    let tampered = note.replacen("\n5\n", "\n6\n", 1);
    let err = open_checkpoint(&tampered, &vkey).unwrap_err();
    assert!(matches!(err, AuditError::BadSignature { .. }), "{err}");
}

#[test]
fn origin_mismatch_rejected() {
    // A correctly signed note whose origin line is not the key name.
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let cp = Checkpoint::new("other.example/log", 3, leaf_hash(b"r"), "").unwrap();
    let mut note = Note::new(&cp.to_bytes(), &[]).unwrap();
    note.add_sigs(&[&StandardSigner::new(&skey).unwrap()])
        .unwrap();
    let text = String::from_utf8(note.to_bytes()).unwrap();
    let err = open_checkpoint(&text, &vkey).unwrap_err();
    assert_eq!(
        err,
        AuditError::OriginMismatch {
            origin: "other.example/log".into(),
            key_name: common::ORIGIN.into()
        }
    );
}

#[test]
fn signed_non_checkpoint_rejected() {
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let mut note = Note::new(b"modelgate.example/audit\nnot a number\nxx\n", &[]).unwrap();
    note.add_sigs(&[&StandardSigner::new(&skey).unwrap()])
        .unwrap();
    let text = String::from_utf8(note.to_bytes()).unwrap();
    assert_eq!(
        open_checkpoint(&text, &vkey).unwrap_err(),
        AuditError::CheckpointMalformed
    );
}

#[test]
fn extra_cosignature_is_ignored() {
    let (skey, vkey) = generate_key(&mut OsRng, common::ORIGIN);
    let (wkey, _) = generate_key(&mut OsRng, "witness.example");
    let cp = Checkpoint::new(common::ORIGIN, 9, leaf_hash(b"r"), "").unwrap();
    let mut note = Note::new(&cp.to_bytes(), &[]).unwrap();
    note.add_sigs(&[
        &StandardSigner::new(&skey).unwrap(),
        &StandardSigner::new(&wkey).unwrap(),
    ])
    .unwrap();
    let text = String::from_utf8(note.to_bytes()).unwrap();
    assert_eq!(open_checkpoint(&text, &vkey).unwrap().size, 9);
}
