//! Waivers: time-limited exceptions for (model, rule[, profile]) that legal teams grant.
//!
//! Pure: which waivers apply is decided from the waivers given, the model reference, the
//! profile and the evaluation time (passed in). A waived finding stays in the decision,
//! marked `waived` with the waiver's id, and no longer counts towards the verdict.

use crate::time::Timestamp;

/// The reasons a waiver may be granted for.
pub const REASONS: [&str; 5] = [
    "license_acquired",
    "legal_opinion_on_file",
    "use_case_out_of_scope",
    "temporary_risk_acceptance",
    "false_positive",
];

/// A waiver as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub id: String,
    /// An exact model reference, or a prefix pattern ending in `*` (`acme/*`).
    pub model_ref: String,
    pub rule_id: String,
    /// Only under this profile (`None`: any use context).
    pub profile: Option<String>,
    /// When it starts to apply (`None`: always has).
    pub created_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    /// When it was revoked (`None`: never).
    pub revoked_at: Option<Timestamp>,
}

/// True when `pattern` (exact, or a prefix ending in `*`) covers `model_ref`.
pub fn scope_matches(pattern: &str, model_ref: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => model_ref.starts_with(prefix),
        None => pattern == model_ref,
    }
}

impl Waiver {
    /// In force at `now`: started, not expired, not revoked.
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.created_at.is_none_or(|c| c <= now)
            && now < self.expires_at
            && self.revoked_at.is_none_or(|r| r > now)
    }

    /// Applies to `model_ref` under `profile` at `now` (whatever the rule).
    pub fn covers(&self, model_ref: &str, profile: Option<&str>, now: Timestamp) -> bool {
        self.active_at(now)
            && scope_matches(&self.model_ref, model_ref)
            && self.profile.as_deref().is_none_or(|p| Some(p) == profile)
    }
}

/// The waivers that apply to `model_ref` under `profile` at `now`, in the order given.
pub fn applicable<'a>(
    waivers: &'a [Waiver],
    model_ref: &str,
    profile: Option<&str>,
    now: Timestamp,
) -> Vec<&'a Waiver> {
    waivers
        .iter()
        .filter(|w| w.covers(model_ref, profile, now))
        .collect()
}

/// Checks a waiver's own fields; `Err` says what is wrong.
pub fn validate(w: &Waiver, now: Timestamp, max_days: i64) -> Result<(), String> {
    check_scope(w)?;
    if w.expires_at <= now {
        return Err("`expires_at` must be in the future".into());
    }
    if w.expires_at.as_second() > now.as_second().saturating_add(max_days * 86_400) {
        return Err(format!("`expires_at` may be at most {max_days} days ahead"));
    }
    Ok(())
}

/// Checks what a waiver covers, whenever it was granted: a model reference or a prefix
/// pattern, and a rule. A waiver that fails it could never apply.
pub fn check_scope(w: &Waiver) -> Result<(), String> {
    let pattern_ok = match w.model_ref.strip_suffix('*') {
        Some(prefix) => !prefix.is_empty() && !prefix.contains('*'),
        None => !w.model_ref.is_empty() && !w.model_ref.contains('*'),
    };
    if !pattern_ok {
        return Err(format!(
            "`model_ref` must be a model reference or a prefix ending in `*`, got `{}`",
            w.model_ref
        ));
    }
    if w.rule_id.trim().is_empty() {
        return Err("`rule_id` must name a rule".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::from_unix as t;

    fn w(model: &str, profile: Option<&str>) -> Waiver {
        Waiver {
            id: "w1".into(),
            model_ref: model.into(),
            rule_id: "r".into(),
            profile: profile.map(str::to_string),
            created_at: Some(t(100)),
            expires_at: t(200),
            revoked_at: None,
        }
    }

    #[test]
    fn scope_time_and_profile() {
        assert!(w("acme/x", None).covers("acme/x", None, t(150)));
        assert!(!w("acme/x", None).covers("acme/xy", None, t(150)));
        assert!(w("acme/*", None).covers("acme/xy", Some("p"), t(150)));
        assert!(!w("acme/*", None).covers("other/xy", None, t(150)));
        assert!(
            !w("acme/x", None).covers("acme/x", None, t(99)),
            "not started"
        );
        assert!(!w("acme/x", None).covers("acme/x", None, t(200)), "expired");
        assert!(w("acme/x", Some("p")).covers("acme/x", Some("p"), t(150)));
        assert!(!w("acme/x", Some("p")).covers("acme/x", Some("q"), t(150)));
        assert!(!w("acme/x", Some("p")).covers("acme/x", None, t(150)));
        let mut r = w("acme/x", None);
        r.revoked_at = Some(t(120));
        assert!(r.covers("acme/x", None, t(110)), "before its revocation");
        assert!(!r.covers("acme/x", None, t(120)), "revoked");
    }

    #[test]
    fn validation() {
        let ok = w("acme/*", None);
        assert!(validate(&ok, t(150), 365).is_ok());
        for bad in ["", "*", "a*b*", "a*b"] {
            assert!(validate(&w(bad, None), t(150), 365).is_err(), "{bad}");
        }
        assert!(validate(&ok, t(250), 365).is_err(), "expired");
        let mut far = ok.clone();
        far.expires_at = t(150 + 366 * 86_400);
        assert!(validate(&far, t(150), 365).is_err());
    }
}
