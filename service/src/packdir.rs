//! Reading rule packs: the built-in one (embedded at build time) or a directory.

use include_dir::{Dir, include_dir};
use modelgate_engine::{Pack, PackError, PackFile};
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
