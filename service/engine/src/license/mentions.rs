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
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::borrow::Cow;
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
    let u = find(u, "://").and_then(|i| u.get(i + 3..)).unwrap_or(u);
    let u = u.split(['?', '#']).next().unwrap_or("");
    let u = u.strip_prefix("www.").unwrap_or(u);
    let mut u = u.trim_end_matches('/').to_ascii_lowercase();
    if u.starts_with("huggingface.co/") {
        for kind in ["/resolve/", "/raw/"] {
            if let Some(i) = find(&u, kind) {
                u.replace_range(i..i + kind.len(), "/blob/");
                break;
            }
        }
    }
    u
}

/// The byte offset of the first `needle` in `hay`: a plain scan, cheaper than `str::find`
/// for the short texts and needles here.
fn find(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
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
            .kind(Some(AhoCorasickKind::DFA))
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
        self.normalized_link(&normalize_link(url))
    }

    /// [`Mentions::link`] for an address already passed through [`normalize_link`].
    pub fn normalized_link(&self, n: &str) -> Option<&str> {
        if n.is_empty() {
            return None;
        }
        if let Some(id) = self.exact.get(n) {
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
        self.in_prose_except(text, |_| false)
    }

    /// [`Mentions::in_prose`] without the licences `known` accepts (the declared ones):
    /// the text is folded and searched once, and sentences are cut out only around the
    /// licences that remain, so a section that restates the declared licence costs one
    /// pass.
    pub fn in_prose_except(&self, text: &str, known: impl Fn(&str) -> bool) -> Vec<ProseMention> {
        let Some(m) = &self.matcher else {
            return Vec::new();
        };
        // Link targets and emphasis marks are removed only where there are any.
        let plain: Cow<'_, str> =
            if find(text, "://").is_some() || text.contains(['[', ']', '*', '`', '_']) {
                Cow::Owned(strip_links(text))
            } else {
                Cow::Borrowed(text)
            };
        let folded = fold(&plain);
        let bytes = folded.as_bytes();
        // Byte offsets in `plain`, made only once a licence to report is found.
        let mut at: Option<Vec<u32>> = None;
        let mut out: Vec<ProseMention> = Vec::new();
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
            if known(id) || out.iter().any(|x| &x.id == id) {
                continue;
            }
            let at = at.get_or_insert_with(|| fold_mapped(&plain).1);
            let Some(&pos) = at.get(hit.start()) else {
                continue;
            };
            let sentence = sentence_around(&plain, pos as usize);
            if about_the_model(&fold(sentence)) {
                out.push(ProseMention {
                    id: id.clone(),
                    sentence: bounded(&sentence.split_whitespace().collect::<Vec<_>>().join(" ")),
                });
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

/// The text with link targets removed (`[MIT license](https://…)` -> `MIT license`),
/// bare addresses dropped and Markdown emphasis marks blanked, so that addresses are not
/// read as prose; line ends are kept.
fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let link = find(rest, "](");
        let bare = find(rest, "://");
        match (link, bare) {
            (Some(i), b) if b.is_none_or(|b| i < b) => {
                push_plain(&mut out, rest.get(..i).unwrap_or(""));
                let tail = rest.get(i + 2..).unwrap_or("");
                rest = tail.find(')').and_then(|j| tail.get(j + 1..)).unwrap_or("");
            }
            (_, Some(b)) => {
                // Drop the whole word that holds the address.
                let head = rest.get(..b).unwrap_or("");
                let start = head.rfind(char::is_whitespace).map_or(0, |k| k + 1);
                push_plain(&mut out, head.get(..start).unwrap_or(""));
                let tail = rest.get(b..).unwrap_or("");
                let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
                rest = tail.get(end..).unwrap_or("");
            }
            _ => {
                push_plain(&mut out, rest);
                return out;
            }
        }
    }
}

fn push_plain(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['[', ']', '*', '`', '_']) {
        out.push_str(rest.get(..i).unwrap_or(""));
        out.push(' ');
        rest = rest.get(i + 1..).unwrap_or("");
    }
    out.push_str(rest);
}

/// `fold` of a whole text, with the byte offset in `text` of each byte of the result.
fn fold_mapped(text: &str) -> (String, Vec<u32>) {
    let mut out = String::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len());
    let mut sep = false;
    for (i, ch) in text.char_indices() {
        if ch.is_whitespace() || ch == '_' || ch == '-' {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push(' ');
            at.push(i as u32);
        }
        sep = false;
        if ch.is_ascii() {
            out.push(ch.to_ascii_lowercase());
            at.push(i as u32);
            continue;
        }
        for l in ch.to_lowercase() {
            let before = out.len();
            out.push(l);
            at.extend(std::iter::repeat_n(i as u32, out.len() - before));
        }
    }
    (out, at)
}

/// Whether a sentence ends after the character at byte `i` of `text`.
fn ends_sentence(text: &str, i: usize, c: char) -> bool {
    c == '\n'
        || (matches!(c, '.' | ';' | '!' | '?')
            && text
                .get(i + c.len_utf8()..)
                .and_then(|r| r.chars().next())
                .is_none_or(char::is_whitespace))
}

/// The sentence of `text` that holds byte `pos`, trimmed.
fn sentence_around(text: &str, pos: usize) -> &str {
    let head = text.get(..pos).unwrap_or("");
    let start = head
        .char_indices()
        .rev()
        .find(|&(i, c)| ends_sentence(text, i, c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let tail = text.get(pos..).unwrap_or("");
    let end = tail
        .char_indices()
        .find(|&(i, c)| ends_sentence(text, pos + i, c))
        .map_or(text.len(), |(i, c)| pos + i + c.len_utf8());
    text.get(start..end).unwrap_or("").trim()
}

/// Whether a folded sentence may be about the model: not when it speaks only of code,
/// software or data.
fn about_the_model(folded: &str) -> bool {
    let has = |ws: &[&str]| {
        folded
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| ws.contains(&w))
    };
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
        let t = "This code repository is MIT. The weights are CC BY-NC 4.0\nData: CC0";
        assert_eq!(sentence_around(t, 3), "This code repository is MIT.");
        assert_eq!(sentence_around(t, 40), "The weights are CC BY-NC 4.0");
        assert_eq!(sentence_around(t, t.len() - 1), "Data: CC0");
        assert!(!about_the_model(&fold("This code repository is MIT.")));
        assert!(about_the_model(&fold("The weights are CC BY-NC 4.0")));
        assert!(!about_the_model(&fold("Data: CC0")));
        assert!(about_the_model(&fold(
            "Falcon-7B is made available under the Apache 2.0 license."
        )));
        for t in ["  Ab  C-d_ ", "-x", "ÄÖ İstanbul — CC BY-NC 4.0\n", ""] {
            assert_eq!(fold_mapped(t).0, fold(t), "{t:?}");
        }
        let (f, at) = fold_mapped("Ab  C-d");
        assert_eq!(f, "ab c d");
        assert_eq!(at, [0, 1, 4, 4, 6, 6]);
    }

    #[test]
    fn links_found_and_stripped() {
        let t =
            "Licensed under the [MIT license](https://x.example/LICENSE). See https://y.example/a.";
        assert_eq!(
            links_in(t),
            vec!["https://x.example/LICENSE", "https://y.example/a"]
        );
        assert_eq!(strip_links(t), "Licensed under the  MIT license. See ");
    }
}
