//! Hub model references (`modelgate check hf:<org>/<name>[@<revision>]`):
//! `hub::HubRef::parse`, with the repository and revision checks it applies.
//!
//! Invariants: no panic; a parsed reference prints as the text it was read from, its
//! repository passes `validate_repo` and names an organisation, its revision passes
//! `validate_revision`; `ingest::split_model_ref` (which names records) reads the same
//! repository and revision from it when the revision holds no `@`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate::hub::{HubError, HubRef, is_sha, validate_repo, validate_revision};
use modelgate_engine::ingest::split_model_ref;

fuzz_target!(|data: &[u8]| {
    let s = modelgate_fuzz::text(data);
    match HubRef::parse(&s) {
        Ok(r) => {
            assert_eq!(r.to_string(), s, "a reference does not print as itself");
            assert!(r.repo.contains('/'), "a repository without an organisation");
            assert_eq!(validate_repo(&r.repo), Ok(()));
            if let Some(rev) = &r.revision {
                assert_eq!(validate_revision(rev), Ok(()));
                let _ = is_sha(rev);
            }
            if !r.revision.as_deref().is_some_and(|v| v.contains('@')) {
                let (id, rev) = split_model_ref(&s);
                assert_eq!(
                    (id.as_str(), rev.as_deref()),
                    (r.repo.as_str(), r.revision.as_deref())
                );
            }
        }
        Err(e) => {
            assert!(matches!(e, HubError::Usage(_)), "{e:?}");
            assert!(
                e.message().contains(s.as_ref()),
                "the message does not quote the input"
            );
        }
    }
});
