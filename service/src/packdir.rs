//! Reading rule packs: the built-in one (embedded at build time) or a directory.

use include_dir::{Dir, include_dir};
use modelgate_engine::{Pack, PackError, PackFile};
use std::io::Read as _;
use std::path::Path;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../rules");

/// The files of the pack built into the binary (the repository's `rules/`).
pub fn builtin_files() -> Vec<PackFile> {
    let mut out = Vec::new();
    collect(&BUILTIN, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn collect(dir: &Dir<'_>, out: &mut Vec<PackFile>) {
    for f in dir.files() {
        if let Some(p) = f.path().to_str() {
            out.push(PackFile {
                path: p.replace('\\', "/"),
                bytes: f.contents().to_vec(),
            });
        }
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}

/// A pack's files as the store keeps them (text); `Err(path)` names the first file that is
/// not UTF-8.
pub fn stored_files(files: &[PackFile]) -> Result<Vec<crate::store::StoredFile>, String> {
    files
        .iter()
        .map(|f| {
            String::from_utf8(f.bytes.clone())
                .map(|content| crate::store::StoredFile {
                    path: f.path.clone(),
                    content,
                })
                .map_err(|_| f.path.clone())
        })
        .collect()
}

/// Loads the built-in pack.
pub fn builtin() -> Result<Pack, PackError> {
    Pack::load(&builtin_files())
}

/// An error reading a pack directory.
#[derive(Debug, thiserror::Error)]
pub enum PackDirError {
    #[error("cannot read rule pack directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(#[from] PackError),
}

/// Reads every regular file below `dir` (symlinks and hidden files are skipped).
pub fn read_files(dir: &Path) -> Result<Vec<PackFile>, PackDirError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PackFile>) -> Result<(), PackDirError> {
    let io = |source| PackDirError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type().map_err(io)?;
        let path = entry.path();
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else if ft.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path).map_err(|source| PackDirError::Io {
                path: path.display().to_string(),
                source,
            })?;
            out.push(PackFile { path: rel, bytes });
        }
    }
    Ok(())
}

/// Loads a pack from a directory.
pub fn load_dir(dir: &Path) -> Result<Pack, PackDirError> {
    Ok(Pack::load(&read_files(dir)?)?)
}

/// Upload limits: compressed body, unpacked total, number of files.
pub const MAX_UPLOAD: usize = 8 * 1024 * 1024;
const MAX_UNPACKED: u64 = 32 * 1024 * 1024;
const MAX_FILES: usize = 4096;

/// The files of a tar.gz pack, relative to the directory holding `pack.yaml`.
pub fn unpack(bytes: &[u8]) -> Result<Vec<PackFile>, String> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED + 1));
    let mut files = Vec::new();
    let mut total = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| format!("the body is not a tar.gz archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let kind = entry.header().entry_type();
        let path = entry
            .path()
            .map_err(|e| format!("an archive path is not valid: {e}"))?
            .to_string_lossy()
            .replace('\\', "/");
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "`{path}` is not a regular file (links and devices are refused)"
            ));
        }
        let path = path.trim_start_matches("./").to_string();
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(format!("`{path}` points outside the pack"));
        }
        if path.split('/').any(|c| c.starts_with('.')) {
            continue;
        }
        files.push((path, {
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| format!("the archive is damaged: {e}"))?;
            total += buf.len() as u64;
            if total > MAX_UNPACKED {
                return Err(format!(
                    "the pack unpacks to more than {} MiB",
                    MAX_UNPACKED / 1024 / 1024
                ));
            }
            buf
        }));
        if files.len() > MAX_FILES {
            return Err(format!("the pack holds more than {MAX_FILES} files"));
        }
    }
    // The pack's root: where pack.yaml is (the archive's root or one directory down).
    let root = files
        .iter()
        .filter(|(p, _)| p == "pack.yaml" || p.ends_with("/pack.yaml"))
        .map(|(p, _)| p.trim_end_matches("pack.yaml").to_string())
        .min_by_key(|r| r.len())
        .ok_or("the archive has no pack.yaml")?;
    let mut out: Vec<PackFile> = files
        .into_iter()
        .filter_map(|(p, bytes)| {
            p.strip_prefix(&root).map(|rel| PackFile {
                path: rel.to_string(),
                bytes,
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
