//! Licence values as documents declare them: SPDX-style expressions over catalog ids,
//! aliases and SPDX ids (`license::parse_expression`), declared values with an optional
//! licence name (`license::resolve::resolve_declared_value`), and licences and links named
//! in a card's licence prose (`Mentions::in_prose`, `links_in`, `normalize_link`), against
//! the built-in pack's catalog.
//!
//! Input: the value, then optionally a newline and the licence name (`other` values).
//!
//! Invariants: no panic; parsing is deterministic; a parsed expression has terms, each
//! taken from the text, and an error points inside the text; each licence named in prose
//! is a catalog licence, named once, and excluding one leaves the others as they were.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::license::mentions::{links_in, normalize_link};
use modelgate_engine::license::resolve::{looks_like_expression, resolve_declared_value};
use modelgate_engine::license::{Resolution, parse_expression, resolve_term};

fuzz_target!(|data: &[u8]| {
    let text = modelgate_fuzz::text(data);
    let pack = modelgate_fuzz::pack();
    let catalog = &pack.catalog;
    let ambiguous = &pack.manifest.ambiguous_license_ids;

    let parsed = parse_expression(&text, catalog, ambiguous);
    assert_eq!(
        parsed,
        parse_expression(&text, catalog, ambiguous),
        "not deterministic"
    );
    match &parsed {
        Ok(e) => {
            let terms = e.terms();
            assert!(!terms.is_empty(), "an expression without terms");
            for t in terms {
                assert!(
                    text.contains(t.raw.as_str()),
                    "term {:?} is not in the text",
                    t.raw
                );
                if let Some(id) = &t.id {
                    assert!(
                        catalog.get(id).is_some(),
                        "term resolved to unknown id {id}"
                    );
                }
            }
            let _ = e.alternatives();
        }
        Err(err) => {
            assert!(
                err.offset <= text.len(),
                "error offset {} past the end",
                err.offset
            );
            let _ = err.to_string();
        }
    }

    let (value, name) = match text.split_once('\n') {
        Some((v, n)) => (v, Some(n)),
        None => (text.as_ref(), None),
    };
    let _ = looks_like_expression(value);
    let declared = resolve_declared_value(value, name, catalog, ambiguous);
    for t in declared.terms() {
        if t.resolution.is_resolved() {
            assert!(t.id.is_some(), "resolved term without an id: {t:?}");
        }
        if let Some(id) = &t.id {
            assert!(
                catalog.get(id).is_some(),
                "term resolved to unknown id {id}"
            );
        }
    }
    let term = resolve_term(value, catalog, ambiguous);
    if term.resolution == Resolution::Missing {
        assert!(value.trim().is_empty(), "a non-blank term is missing");
    }

    let mentions = catalog.mentions();
    let found = mentions.in_prose(&text);
    for (i, m) in found.iter().enumerate() {
        assert!(
            catalog.get(&m.id).is_some(),
            "prose names unknown licence {}",
            m.id
        );
        assert!(
            !found[..i].iter().any(|x| x.id == m.id),
            "{} named twice",
            m.id
        );
    }
    if let Some(first) = found.first() {
        let rest = mentions.in_prose_except(&text, |id| id == first.id);
        assert_eq!(
            rest.as_slice(),
            &found[1..],
            "excluding {} changes the others",
            first.id
        );
    }
    for url in links_in(&text) {
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
        let n = normalize_link(&url);
        let _ = mentions.normalized_link(&n);
        let _ = mentions.link(&url);
    }
    let _ = normalize_link(&text);
});
