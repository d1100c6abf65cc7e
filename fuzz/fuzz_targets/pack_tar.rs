//! Rule pack uploads (`POST /v1/packs`, the dashboard's upload form): `packdir::unpack` of
//! a tar.gz body, then the pack loader and the pack's tests on what it unpacked (as
//! `app::packs::upload` does).
//!
//! Input: the first byte chooses how the rest becomes the body:
//! * `E`: entries in the `=== <path>` container (`==> <path> -> <target>` a symbolic link,
//!   `==/ <path>` a directory), written into a tar archive with their paths as given
//!   (`..`, absolute paths, hidden files) and gzipped: reaches the path checks and the
//!   loader;
//! * `T`: a tar stream, gzipped here: reaches the tar reader;
//! * anything else: the body as is (gzip errors, truncation).
//!
//! Invariants: no panic; unpacked paths are relative, without `..` or hidden components,
//! sorted; `stored_files` refuses exactly the files that are not UTF-8; and what loads
//! keeps the invariants of `modelgate_fuzz::check_pack`.
#![no_main]

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use modelgate::packdir::{stored_files, unpack};
use modelgate_fuzz::Entry;
use std::io::Write as _;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}

/// A tar archive of the entries, each path written into the header as is (the `tar`
/// crate's own `set_path` refuses `..`, which an attacker's archive would not).
fn archive(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        let (path, kind, data): (&str, tar::EntryType, &[u8]) = match e {
            Entry::File(p, d) => (p, tar::EntryType::Regular, d),
            Entry::Link(p, target) => {
                let _ = h.set_link_name(target);
                (p, tar::EntryType::Symlink, &[])
            }
            Entry::Dir(p) => (p, tar::EntryType::Directory, &[]),
        };
        let name = path.as_bytes();
        let n = name.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).expect("tar into memory");
    }
    b.into_inner().expect("tar into memory")
}

fuzz_target!(|data: &[u8]| {
    let body = match data.split_first() {
        Some((b'E', rest)) => gzip(&archive(&modelgate_fuzz::entries(rest))),
        Some((b'T', rest)) => gzip(rest),
        _ => data.to_vec(),
    };
    let files = match unpack(&body) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.is_empty(), "an empty error message");
            return;
        }
    };
    for w in files.windows(2) {
        assert!(
            w[0].path <= w[1].path,
            "unsorted: {} before {}",
            w[0].path,
            w[1].path
        );
    }
    for f in &files {
        assert!(!f.path.starts_with('/'), "absolute path {}", f.path);
        assert!(
            !f.path.split('/').any(|c| c == ".." || c.starts_with('.')),
            "path {} leaves the pack or is hidden",
            f.path
        );
    }
    match stored_files(&files) {
        Ok(stored) => assert_eq!(stored.len(), files.len()),
        Err(path) => assert!(
            files
                .iter()
                .any(|f| f.path == path && std::str::from_utf8(&f.bytes).is_err()),
            "stored_files refuses {path}, which is UTF-8"
        ),
    }
    modelgate_fuzz::check_pack(&files);
});
