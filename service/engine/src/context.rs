//! The use context: what the adopting organisation intends to do with the model.
//! Field names are the same everywhere (CLI `--context` file, API, rule facts).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    #[default]
    Commercial,
    Research,
    Internal,
    Personal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Deployment {
    #[default]
    Saas,
    OnPrem,
    Edge,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Modification {
    #[default]
    None,
    Finetune,
    Adapter,
    Quantize,
    Merge,
    Distill,
}

macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [&'static str] = &[$($s),*];
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),* } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$v),)* _ => None } }
        }
    };
}
str_enum!(Purpose { Commercial => "commercial", Research => "research", Internal => "internal", Personal => "personal" });
str_enum!(Deployment { Saas => "saas", OnPrem => "on-prem", Edge => "edge", Internal => "internal" });
str_enum!(Modification { None => "none", Finetune => "finetune", Adapter => "adapter", Quantize => "quantize", Merge => "merge", Distill => "distill" });

/// The intended use. Defaults: commercial SaaS, no users or revenue stated, no regions,
/// no modification, weights not distributed, outputs not used for training.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UseContext {
    #[serde(default)]
    pub purpose: Purpose,
    #[serde(default)]
    pub deployment: Deployment,
    #[serde(default)]
    pub monthly_active_users: i64,
    #[serde(default)]
    pub annual_revenue_usd: i64,
    /// Where it is deployed: ISO 3166-1 alpha-2 codes or `EU`.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Where the adopting organisation is based (ISO code or `EU`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domicile: Option<String>,
    /// Intended use domains, from the use-category vocabulary.
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub modification: Modification,
    #[serde(default)]
    pub distribute_weights: bool,
    #[serde(default)]
    pub train_on_outputs: bool,
}

/// A problem with a use context, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("use context: `{field}`: {message}")]
pub struct ContextError {
    pub field: String,
    pub message: String,
}

impl UseContext {
    /// Uppercases region codes, trims and sorts lists so that equal contexts compare equal.
    pub fn normalize(&mut self) {
        self.normalize_values();
        self.sort_lists();
    }

    /// A context as a caller gave it, made ready to evaluate: each value trimmed and cased,
    /// then checked ([`UseContext::validate`]) while every list is still in the caller's
    /// order, so an error names the index the caller sent (`regions[0]`); then the lists
    /// are sorted and deduplicated ([`UseContext::normalize`]).
    pub fn prepare(&mut self, use_categories: &[String]) -> Result<(), ContextError> {
        self.normalize_values();
        self.validate(use_categories)?;
        self.sort_lists();
        Ok(())
    }

    fn normalize_values(&mut self) {
        for r in &mut self.regions {
            *r = r.trim().to_ascii_uppercase();
        }
        if let Some(d) = &mut self.domicile {
            *d = d.trim().to_ascii_uppercase();
        }
        for d in &mut self.domains {
            *d = d.trim().to_ascii_lowercase().replace('-', "_");
        }
    }

    fn sort_lists(&mut self) {
        self.regions.sort();
        self.regions.dedup();
        self.domains.sort();
        self.domains.dedup();
    }

    /// Checks the values against the vocabularies; `use_categories` comes from the pack.
    pub fn validate(&self, use_categories: &[String]) -> Result<(), ContextError> {
        let err = |field: &str, message: String| ContextError {
            field: field.to_string(),
            message,
        };
        if self.monthly_active_users < 0 {
            return Err(err("monthly_active_users", "must not be negative".into()));
        }
        if self.annual_revenue_usd < 0 {
            return Err(err("annual_revenue_usd", "must not be negative".into()));
        }
        for (i, r) in self.regions.iter().enumerate() {
            if !is_region_code(r) {
                return Err(err(
                    &format!("regions[{i}]"),
                    format!("`{r}` is not an ISO 3166-1 alpha-2 country code or `EU`"),
                ));
            }
        }
        if let Some(d) = &self.domicile
            && !is_region_code(d)
        {
            return Err(err(
                "domicile",
                format!("`{d}` is not an ISO 3166-1 alpha-2 country code or `EU`"),
            ));
        }
        for (i, d) in self.domains.iter().enumerate() {
            if !use_categories.iter().any(|c| c == d) {
                return Err(err(
                    &format!("domains[{i}]"),
                    format!(
                        "`{d}` is not a known use category; expected one of: {}",
                        use_categories.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// ISO 3166-1 alpha-2 codes (officially assigned), space separated, sorted.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// `EU` or an officially assigned ISO 3166-1 alpha-2 code.
pub fn is_region_code(s: &str) -> bool {
    s == "EU" || (s.len() == 2 && ISO_3166_ALPHA2.split(' ').any(|c| c == s))
}
