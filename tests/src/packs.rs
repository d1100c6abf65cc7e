//! Rule packs as uploads: tar.gz archives built from the built-in pack.

/// A tar.gz of `(path, content)` files.
pub fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, text.as_bytes())
            .expect("append to the archive");
    }
    let raw = tar.into_inner().expect("archive");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).expect("compress");
    gz.finish().expect("compress")
}

/// A tar.gz of the built-in pack under `rules/`, with `edit` applied to its files (path,
/// content) first; `None` drops a file.
pub fn pack_tgz(edit: impl Fn(&str, String) -> Option<String>) -> Vec<u8> {
    let files: Vec<(String, String)> = crate::packs_builtin()
        .into_iter()
        .filter_map(|(p, t)| edit(&p, t).map(|t| (format!("rules/{p}"), t)))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    tgz(&refs)
}

/// A candidate pack: the non-commercial rule only asks for review; the pack's tests are
/// left out (they expect a deny); version 9.9.9-candidate.
pub fn candidate() -> Vec<u8> {
    pack_tgz(|path, text| {
        if path.starts_with("tests/") {
            return None;
        }
        if path == "pack.yaml" {
            let v = text
                .lines()
                .find(|l| l.starts_with("version:"))?
                .to_string();
            return Some(text.replacen(&v, "version: 9.9.9-candidate", 1));
        }
        if path == "policies/license.yaml" {
            return Some(text.replacen(
                "  - id: license-non-commercial\n    title: Non-commercial licence used for commercial advantage\n    category: license\n    effect: deny",
                "  - id: license-non-commercial\n    title: Non-commercial licence used for commercial advantage\n    category: license\n    effect: review",
                1,
            ));
        }
        Some(text)
    })
}
