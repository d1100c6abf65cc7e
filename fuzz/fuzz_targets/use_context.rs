//! The use context, as the API reads it (JSON) and as `modelgate check --context` reads it
//! (YAML), then `UseContext::prepare` against the built-in pack's use categories.
//!
//! Invariants: no panic; JSON and YAML read the same text the same way when both accept
//! it; a prepared context validates, preparing it again changes nothing, it survives JSON
//! and YAML round trips, and its input digest is the digest of the context as given
//! (the digest does not depend on case, order or duplicates of list values).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_engine::UseContext;

fuzz_target!(|data: &[u8]| {
    let json = serde_json::from_slice::<UseContext>(data).ok();
    let yaml = serde_norway::from_slice::<UseContext>(data).ok();
    if let (Some(j), Some(y)) = (&json, &yaml) {
        assert_eq!(j, y, "JSON and YAML read the same text differently");
    }
    for ctx in [json, yaml].into_iter().flatten() {
        check(ctx);
    }
});

fn check(given: UseContext) {
    let categories = modelgate_fuzz::pack().use_categories();
    let mut ctx = given.clone();
    if let Err(e) = ctx.prepare(categories) {
        assert!(!e.field.is_empty(), "an error without a field: {e}");
        let _ = e.to_string();
        return;
    }
    assert_eq!(
        ctx.validate(categories),
        Ok(()),
        "prepared but invalid: {ctx:?}"
    );
    let mut again = ctx.clone();
    assert_eq!(again.prepare(categories), Ok(()));
    assert_eq!(again, ctx, "prepare is not idempotent");
    let mut normalized = ctx.clone();
    normalized.normalize();
    assert_eq!(normalized, ctx, "normalize changes a prepared context");

    let text = serde_json::to_string(&ctx).expect("a context serializes");
    let back: UseContext = serde_json::from_str(&text).expect("a context reads back");
    assert_eq!(back, ctx, "JSON round trip: {text}");
    let yaml = serde_norway::to_string(&ctx).expect("a context serializes to YAML");
    let back: UseContext = serde_norway::from_str(&yaml).expect("a context reads back from YAML");
    assert_eq!(back, ctx, "YAML round trip:\n{yaml}");

    assert_eq!(
        modelgate_engine::input_digest(b"doc", &given),
        modelgate_engine::input_digest(b"doc", &ctx),
        "the input digest depends on how the context was written: {given:?}"
    );
}
