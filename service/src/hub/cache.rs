//! The on-disk cache of Hub responses, keyed by repository and commit sha.
//!
//! Layout: `<dir>/models/<org>--<name>/<sha>/<entry>` with the entries `info.json` (the
//! model info at that commit: siblings, gating, card data), `README.md` (the card at that
//! commit) and `lineage.json` (the commits its fetched base models were resolved to the
//! first time it was checked). A commit is immutable, so an entry never goes stale; only
//! the sha a branch or tag points to is asked again.
//!
//! Each file is a header line `modelgate-cache 1 sha256:<hex> <length>` and the payload;
//! a file whose payload does not match its header (truncated, edited, half-written by a
//! crashed older version) is ignored and fetched again. Files are written to a temporary
//! name in the same folder and renamed into place, so a reader never sees half a file.
//! On Unix the folders are created 0700 and the files 0600: the cache may hold the cards
//! of gated repositories.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: &str = "modelgate-cache 1";

/// The cache of one directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one entry. `repo` is a validated repository id (segments of ASCII
    /// letters, digits, `-`, `_`, `.`; never `..`), `sha` 40 hex digits, so neither can
    /// leave the cache folder.
    pub fn path(&self, repo: &str, sha: &str, entry: &str) -> PathBuf {
        self.dir
            .join("models")
            .join(repo.to_ascii_lowercase().replace('/', "--"))
            .join(sha.to_ascii_lowercase())
            .join(entry)
    }

    /// The payload of an entry, or `None` when it is absent, unreadable or corrupt.
    pub fn read(&self, repo: &str, sha: &str, entry: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.path(repo, sha, entry)).ok()?;
        decode(&bytes)
    }

    /// Writes an entry atomically (temporary file + rename).
    pub fn write(&self, repo: &str, sha: &str, entry: &str, payload: &[u8]) -> std::io::Result<()> {
        let path = self.path(repo, sha, entry);
        let dir = path
            .parent()
            .ok_or_else(|| std::io::Error::other("cache entry without a folder"))?;
        create_dirs(dir)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{entry}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = open_private(&tmp)?;
            f.write_all(&encode(payload))?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// The file of an entry: its header line, then the payload.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = header(payload).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The payload of an entry's file, or `None` unless the file is exactly what [`encode`]
/// writes for that payload (so a truncated, edited or half-written file is never read).
pub fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let (head, payload) = bytes.split_at(nl + 1);
    // Cheap refusals first, then the digest.
    let expected_len = format!(" {}\n", payload.len());
    (head.starts_with(MAGIC.as_bytes())
        && head.ends_with(expected_len.as_bytes())
        && head == header(payload).as_bytes())
    .then(|| payload.to_vec())
}

/// `modelgate-cache 1 sha256:<hex> <length>\n`.
fn header(payload: &[u8]) -> String {
    format!(
        "{MAGIC} sha256:{} {}\n",
        hex::encode(Sha256::digest(payload)),
        payload.len()
    )
}

#[cfg(unix)]
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
}

#[cfg(not(unix))]
fn open_private(p: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn round_trip_and_corruption_is_detected() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::new(d.path());
        assert_eq!(c.read("acme/m", SHA, "README.md"), None);
        c.write("acme/m", SHA, "README.md", b"# card\n").unwrap();
        assert_eq!(
            c.read("Acme/M", SHA, "README.md").as_deref(),
            Some(&b"# card\n"[..])
        );
        let p = c.path("acme/m", SHA, "README.md");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 2);
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(c.read("acme/m", SHA, "README.md"), None, "truncated");
        std::fs::write(&p, b"# card\n").unwrap();
        assert_eq!(c.read("acme/m", SHA, "README.md"), None, "no header");
        // No temporary files are left behind.
        let names: Vec<String> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["README.md".to_string()]);
    }

    /// Only the header `encode` writes is read: the decoder once accepted variants of it
    /// (found by the `hub_cache` fuzz target).
    #[test]
    fn only_the_exact_header_is_read() {
        let good = encode(b"{}");
        assert_eq!(decode(&good).as_deref(), Some(&b"{}"[..]));
        let text = String::from_utf8(good).unwrap();
        let digest = text.split(' ').nth(2).unwrap();
        for bad in [
            format!("modelgate-cache 1{digest} 2\n{{}}"),
            format!("modelgate-cache 1 {digest} +2\n{{}}"),
            format!("modelgate-cache 1  {digest} 2\n{{}}"),
            format!("modelgate-cache 1 {digest} 2 \n{{}}"),
            format!("modelgate-cache 1 {} 2\n{{}}", digest.to_ascii_uppercase()),
            format!("modelgate-cache 1 {digest} 02\n{{}}"),
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let c = Cache::new(d.path());
        c.write("acme/m", SHA, "info.json", b"{}").unwrap();
        let m = std::fs::metadata(c.path("acme/m", SHA, "info.json")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
}
