//! Licences named outside a document's licence field: in the prose of a model card's
//! licence section and in links (`license_link`, links in that section).
//!
//! A card whose YAML says `apache-2.0` while its "License" section says the weights are
//! under CC BY-NC 4.0, or whose `license_link` is a Llama licence, contradicts itself;
//! the evaluation treats what is found here as further declarations (with the sentence
//! or address as evidence), so the conflict is reviewed and every named licence's terms
//! apply until it is resolved.
//!
//! Only phrases that read as a licence's name are looked for: a catalog name, alias or
//! id that says "licence", "agreement" or "terms of use", names a RAIL licence, or
//! belongs to an SPDX-listed licence and carries a version or several words ("Apache
//! 2.0", "CC BY-NC 4.0"). Bare model names ("Llama 3.1") are not licence names.

use super::catalog::{LicenseTerms, fold};
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

/// A licence named in prose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProseMention {
    /// Catalog id.
    pub id: String,
    /// The sentence that names it, as written (whitespace collapsed, bounded).
    pub sentence: String,
}

/// The phrase and link index of a catalog.
#[derive(Debug, Clone, Default)]
pub struct Mentions {
    matcher: Option<AhoCorasick>,
    /// Pattern index -> catalog id.
    owners: Vec<String>,
    /// Normalized address -> catalog id: a link to exactly this page or file.
    exact: HashMap<String, String>,
    /// Normalized address prefixes (whole path segments) -> catalog id.
    prefixes: Vec<(String, String)>,
}

/// Longest sentence kept as evidence.
const MAX_SENTENCE: usize = 400;

/// Whether a folded phrase reads as the name of a licence (see the module docs).
fn is_licence_name(folded: &str, spdx_listed: bool) -> bool {
    let words = folded.split(' ').count();
    if ["licen", "agreement", "terms of use", "public domain"]
        .iter()
        .any(|k| folded.contains(k))
    {
        return true;
    }
    if folded.contains("rail") && (words > 1 || folded.contains('+')) {
        return true;
    }
    spdx_listed && (words > 1 || folded.bytes().any(|b| b.is_ascii_digit())) && folded.len() >= 3
}

/// A web address reduced for comparison: no scheme, `www.`, query, fragment or trailing
/// `/`; lower case; Hugging Face `resolve`/`raw` file addresses as `blob`.
pub fn normalize_link(url: &str) -> String {
    let u = url.trim();
    let u = u.split_once("://").map_or(u, |(_, rest)| rest);
    let u = u.split(['?', '#']).next().unwrap_or("");
    let u = u.strip_prefix("www.").unwrap_or(u);
    let mut u = u.trim_end_matches('/').to_ascii_lowercase();
    if u.starts_with("huggingface.co/") {
        u = u
            .replacen("/resolve/", "/blob/", 1)
            .replacen("/raw/", "/blob/", 1);
    }
    u
}

impl Mentions {
    pub fn build(entries: &[LicenseTerms]) -> Mentions {
        let mut phrases: HashMap<String, Option<String>> = HashMap::new();
        let mut exact: HashMap<String, Option<String>> = HashMap::new();
        let mut prefixes = Vec::new();
        // A later revision is named by its original's names and addresses.
        for e in entries.iter().filter(|e| e.revision_of.is_none()) {
            let spdx_listed = e.spdx.is_some();
            let candidates = std::iter::once(&e.name)
                .chain(e.aliases.iter())
                .chain(e.spdx.iter())
                .chain(std::iter::once(&e.id));
            for p in candidates {
                let f = fold(p);
                if !is_licence_name(&f, spdx_listed) {
                    continue;
                }
                // A phrase two licences claim names neither.
                let slot = phrases.entry(f).or_insert_with(|| Some(e.id.clone()));
                if slot.as_deref() != Some(e.id.as_str()) {
                    *slot = None;
                }
            }
            if let Some(u) = &e.url {
                let slot = exact
                    .entry(normalize_link(u))
                    .or_insert_with(|| Some(e.id.clone()));
                if slot.as_deref() != Some(e.id.as_str()) {
                    *slot = None;
                }
            }
            for l in &e.links {
                prefixes.push((normalize_link(l), e.id.clone()));
            }
        }
        let (patterns, owners): (Vec<String>, Vec<String>) = phrases
            .into_iter()
            .filter_map(|(p, id)| Some((p, id?)))
            .unzip();
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        // Longest prefix first, so that the most specific address wins.
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.cmp(b)));
        Mentions {
            matcher,
            owners,
            exact: exact
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            prefixes,
        }
    }

    /// The catalog licence a link names, by the catalog's own addresses.
    pub fn link(&self, url: &str) -> Option<&str> {
        let n = normalize_link(url);
        if n.is_empty() {
            return None;
        }
        if let Some(id) = self.exact.get(&n) {
            return Some(id);
        }
        self.prefixes
            .iter()
            .find(|(p, _)| {
                n.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, id)| id.as_str())
    }

    /// Licences named in a licence section's prose, one per licence (the first sentence
    /// naming it), in order of appearance. Sentences about code, software or data only
    /// are skipped: a code repository under MIT does not contradict a model licence.
    pub fn in_prose(&self, text: &str) -> Vec<ProseMention> {
        let Some(m) = &self.matcher else {
            return Vec::new();
        };
        let mut out: Vec<ProseMention> = Vec::new();
        for sentence in sentences(&strip_links(text)) {
            let folded = fold(&sentence);
            if !about_the_model(&folded) {
                continue;
            }
            let bytes = folded.as_bytes();
            for hit in m.find_iter(&folded) {
                let before = hit.start().checked_sub(1).and_then(|i| bytes.get(i));
                let after = bytes.get(hit.end());
                let boundary = |b: Option<&u8>| b.is_none_or(|c| !c.is_ascii_alphanumeric());
                if !boundary(before) || !boundary(after) {
                    continue;
                }
                let Some(id) = self.owners.get(hit.pattern().as_usize()) else {
                    continue;
                };
                if !out.iter().any(|x| &x.id == id) {
                    out.push(ProseMention {
                        id: id.clone(),
                        sentence: bounded(&sentence),
                    });
                }
            }
        }
        out
    }
}

/// The addresses of the links in a text (Markdown `[text](url)`, `<url>` and bare
/// `http(s)://` addresses).
pub fn links_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in text.match_indices("http") {
        let rest = text.get(i..).unwrap_or("");
        if !(rest.starts_with("http://") || rest.starts_with("https://")) {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '>' | ']' | '"' | '\''))
            .unwrap_or(rest.len());
        let url = rest
            .get(..end)
            .unwrap_or("")
            .trim_end_matches(['.', ',', ';']);
        if !url.is_empty() && !out.iter().any(|u| u == url) {
            out.push(url.to_string());
        }
    }
    out
}

/// The text with link targets removed (`[MIT license](https://…)` -> `MIT license`) and
/// bare addresses dropped, so that addresses are not read as prose.
fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        match tail.find(')') {
            Some(j) => rest = tail.get(j + 1..).unwrap_or(""),
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace(['[', ']', '*', '`', '_'], " ")
        .split_whitespace()
        .filter(|w| !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sentences of a text: split at `. `, `; `, `! `, `? ` and line ends; empty ones dropped.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        cur.push(c);
        if matches!(c, '.' | ';' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace()) {
            let s = cur.trim().to_string();
            if !s.is_empty() {
                out.push(s);
            }
            cur.clear();
        }
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// Whether a folded sentence may be about the model: not when it speaks only of code,
/// software or data.
fn about_the_model(folded: &str) -> bool {
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |ws: &[&str]| words.iter().any(|w| ws.contains(w));
    let model = has(&[
        "model",
        "models",
        "weight",
        "weights",
        "checkpoint",
        "checkpoints",
        "parameters",
    ]);
    let other = has(&[
        "code",
        "repository",
        "repo",
        "software",
        "script",
        "scripts",
        "library",
        "data",
        "dataset",
        "datasets",
        "corpus",
    ]);
    model || !other
}

fn bounded(s: &str) -> String {
    if s.len() <= MAX_SENTENCE {
        return s.to_string();
    }
    let mut end = MAX_SENTENCE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_normalize() {
        assert_eq!(
            normalize_link("https://www.Llama.com/llama3_1/license/?x=1#y"),
            "llama.com/llama3_1/license"
        );
        assert_eq!(
            normalize_link("https://huggingface.co/meta-llama/Llama-3.1-8B/resolve/main/LICENSE"),
            "huggingface.co/meta-llama/llama-3.1-8b/blob/main/license"
        );
    }

    #[test]
    fn sentences_and_scope() {
        let s = sentences("This code repository is MIT. The weights are CC BY-NC 4.0.\nData: CC0");
        assert_eq!(s.len(), 3);
        assert!(!about_the_model(&fold(&s[0])));
        assert!(about_the_model(&fold(&s[1])));
        assert!(!about_the_model(&fold(&s[2])));
        assert!(about_the_model(&fold(
            "Falcon-7B is made available under the Apache 2.0 license."
        )));
    }

    #[test]
    fn links_found_and_stripped() {
        let t =
            "Licensed under the [MIT license](https://x.example/LICENSE). See https://y.example/a.";
        assert_eq!(
            links_in(t),
            vec!["https://x.example/LICENSE", "https://y.example/a"]
        );
        assert_eq!(strip_links(t), "Licensed under the MIT license. See");
    }
}
