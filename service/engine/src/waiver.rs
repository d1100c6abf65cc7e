//! Waivers: time-limited exceptions for (model, rule[, profile]) that legal teams grant.
//!
//! Pure: which waivers apply is decided from the waivers given, the model reference, the
//! profile and the evaluation time (passed in). A waived finding stays in the decision,
//! marked `waived` with the waiver's id, and no longer counts towards the verdict.

use serde::{Deserialize, Serialize};

/// The reasons a waiver may be granted for.
pub const REASONS: [&str; 5] = [
    "license_acquired",
    "legal_opinion_on_file",
    "use_case_out_of_scope",
    "temporary_risk_acceptance",
    "false_positive",
];

/// A waiver as the engine needs it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub id: String,
    /// An exact model reference, or a prefix pattern ending in `*` (`acme/*`).
    pub model_ref: String,
    pub rule_id: String,
    /// Only under this profile (`None`: any use context).
    #[serde(default)]
    pub profile: Option<String>,
    /// When it starts to apply (`None`: always has).
    #[serde(default)]
    pub created_at: Option<i64>,
    pub expires_at: i64,
    /// When it was revoked (`None`: never).
    #[serde(default)]
    pub revoked_at: Option<i64>,
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
    pub fn active_at(&self, now: i64) -> bool {
        self.created_at.is_none_or(|c| c <= now)
            && now < self.expires_at
            && self.revoked_at.is_none_or(|r| r > now)
    }

    /// Applies to `model_ref` under `profile` at `now` (whatever the rule).
    pub fn covers(&self, model_ref: &str, profile: Option<&str>, now: i64) -> bool {
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
    now: i64,
) -> Vec<&'a Waiver> {
    waivers
        .iter()
        .filter(|w| w.covers(model_ref, profile, now))
        .collect()
}

/// Checks a waiver's own fields; `Err` says what is wrong.
pub fn validate(w: &Waiver, now: i64, max_days: i64) -> Result<(), String> {
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
    if w.expires_at <= now {
        return Err("`expires_at` must be in the future".into());
    }
    if w.expires_at > now + max_days * 86_400 {
        return Err(format!("`expires_at` may be at most {max_days} days ahead"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(model: &str, profile: Option<&str>) -> Waiver {
        Waiver {
            id: "w1".into(),
            model_ref: model.into(),
            rule_id: "r".into(),
            profile: profile.map(str::to_string),
            created_at: Some(100),
            expires_at: 200,
            revoked_at: None,
        }
    }

    #[test]
    fn scope_time_and_profile() {
        assert!(w("acme/x", None).covers("acme/x", None, 150));
        assert!(!w("acme/x", None).covers("acme/xy", None, 150));
        assert!(w("acme/*", None).covers("acme/xy", Some("p"), 150));
        assert!(!w("acme/*", None).covers("other/xy", None, 150));
        assert!(!w("acme/x", None).covers("acme/x", None, 99), "not started");
        assert!(!w("acme/x", None).covers("acme/x", None, 200), "expired");
        assert!(w("acme/x", Some("p")).covers("acme/x", Some("p"), 150));
        assert!(!w("acme/x", Some("p")).covers("acme/x", Some("q"), 150));
        assert!(!w("acme/x", Some("p")).covers("acme/x", None, 150));
        let mut r = w("acme/x", None);
        r.revoked_at = Some(120);
        assert!(r.covers("acme/x", None, 110), "before its revocation");
        assert!(!r.covers("acme/x", None, 120), "revoked");
    }

    #[test]
    fn validation() {
        let ok = w("acme/*", None);
        assert!(validate(&ok, 150, 365).is_ok());
        for bad in ["", "*", "a*b*", "a*b"] {
            assert!(validate(&w(bad, None), 150, 365).is_err(), "{bad}");
        }
        assert!(validate(&ok, 250, 365).is_err(), "expired");
        let mut far = ok.clone();
        far.expires_at = 150 + 366 * 86_400;
        assert!(validate(&far, 150, 365).is_err());
    }
}
