//! The licence catalog: facts about each licence, one YAML file per licence in
//! `rules/licenses/`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    PublicDomain,
    Permissive,
    WeakCopyleft,
    Copyleft,
    ResponsibleAi,
    /// Adapted material may not be shared (CC BY-ND): usable as is, not as a base.
    NoDerivatives,
    Proprietary,
    NonCommercial,
    ResearchOnly,
}

impl Category {
    /// The catalog spelling (`responsible-ai`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PublicDomain => "public-domain",
            Category::Permissive => "permissive",
            Category::WeakCopyleft => "weak-copyleft",
            Category::Copyleft => "copyleft",
            Category::ResponsibleAi => "responsible-ai",
            Category::NoDerivatives => "no-derivatives",
            Category::Proprietary => "proprietary",
            Category::NonCommercial => "non-commercial",
            Category::ResearchOnly => "research-only",
        }
    }

    /// How restrictive the category is: a derivative whose declared licence ranks
    /// lower than its base's is "more permissive than its base".
    pub fn restrictiveness(self) -> u8 {
        match self {
            Category::PublicDomain => 0,
            Category::Permissive => 1,
            Category::WeakCopyleft => 2,
            Category::Copyleft => 3,
            Category::ResponsibleAi => 4,
            Category::NoDerivatives => 5,
            Category::Proprietary => 6,
            Category::NonCommercial => 7,
            Category::ResearchOnly => 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commercial {
    Allowed,
    Conditional,
    /// Any commercial use needs the licensor's prior (written) permission.
    Permission,
    Prohibited,
}

impl Commercial {
    /// The catalog spelling (`allowed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Commercial::Allowed => "allowed",
            Commercial::Conditional => "conditional",
            Commercial::Permission => "permission",
            Commercial::Prohibited => "prohibited",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub monthly_active_users: Option<i64>,
    pub mau_measured_at: Option<String>,
    pub annual_revenue_usd: Option<i64>,
    pub above_threshold: Option<String>,
    /// `all` (any use) or `commercial` (only commercial use is capped).
    #[serde(default = "all_uses")]
    pub applies_to: String,
}

fn all_uses() -> String {
    "all".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aup {
    pub url: Option<String>,
    pub updatable_by_licensor: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Obligations {
    pub attribution: Vec<String>,
    pub notice: Option<String>,
    pub license_copy: bool,
    pub mark_modifications: bool,
    pub flow_down: bool,
    /// Shared copies must credit the licensor (copyright, licence and disclaimer notices,
    /// a link to the licence), with no fixed wording (Creative Commons §3(a)(1)).
    #[serde(default)]
    pub credit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoRestriction {
    pub region: String,
    pub scope: String,
    pub basis: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseOpenness {
    pub osi_approved: bool,
    pub osaid_compatible: bool,
    pub mof_open: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub section: String,
    pub summary: String,
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseTerms {
    pub id: String,
    pub name: String,
    pub spdx: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub url: Option<String>,
    /// Web addresses (without scheme, `www.` or trailing `/`) whose pages or files are
    /// this licence: a `license_link` or a link in a card's licence section under one of
    /// them names this licence.
    #[serde(default)]
    pub links: Vec<String>,
    pub version_date: Option<String>,
    /// The catalog id of the licence this entry is a later revision of (the terms as
    /// revised on `version_date`); a model whose lineage carries this revision is
    /// evaluated under it when it declares the earlier id.
    #[serde(default)]
    pub revision_of: Option<String>,
    pub category: Category,
    pub commercial: Commercial,
    pub research_only: bool,
    pub non_production: bool,
    #[serde(default)]
    pub thresholds: Thresholds,
    pub aup: Option<Aup>,
    #[serde(default)]
    pub use_restrictions: Vec<String>,
    /// Use categories allowed only under a condition the licence states (the consents
    /// applicable law requires, say): reviewed, not denied.
    #[serde(default)]
    pub conditional_uses: Vec<String>,
    #[serde(default)]
    pub obligations: Obligations,
    pub derivative_name_prefix: Option<String>,
    pub outputs_training: String,
    pub share_alike: bool,
    pub no_derivatives: bool,
    pub hosting_restricted: bool,
    #[serde(default)]
    pub geo_restrictions: Vec<GeoRestriction>,
    #[serde(default)]
    pub termination: Vec<String>,
    pub remote_restriction: bool,
    pub must_use_latest: bool,
    pub export_control: bool,
    pub governing_law: Option<String>,
    #[serde(default)]
    pub openness: LicenseOpenness,
    pub verified: bool,
    #[serde(default)]
    pub clauses: BTreeMap<String, Clause>,
}

/// All catalog entries with an index of ids, aliases and SPDX ids.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<LicenseTerms>,
    by_id: HashMap<String, usize>,
    by_folded: HashMap<String, usize>,
    by_alias: HashMap<String, usize>,
    by_spdx: HashMap<String, usize>,
    mentions: super::mentions::Mentions,
    /// Ids of the licences some entry is a later revision of.
    revised: FxHashSet<String>,
}

/// Folds a licence spelling for alias lookup: lowercase, trimmed, runs of whitespace,
/// `_` and `-` treated alike.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut sep = false;
    for ch in s.trim().chars() {
        if ch.is_whitespace() || ch == '_' || ch == '-' {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push(' ');
        }
        sep = false;
        if ch.is_ascii() {
            out.push(ch.to_ascii_lowercase());
        } else {
            out.extend(ch.to_lowercase());
        }
    }
    out
}

impl Catalog {
    /// Builds the catalog; returns the problems found (duplicate ids or aliases).
    pub fn build(mut entries: Vec<LicenseTerms>) -> Result<Catalog, Vec<String>> {
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        let mut cat = Catalog::default();
        let mut problems = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if cat.by_id.insert(e.id.clone(), i).is_some() {
                problems.push(format!("licence id `{}` is defined twice", e.id));
            }
            cat.by_folded.insert(e.id.trim().to_lowercase(), i);
            if let Some(s) = &e.spdx {
                cat.by_spdx.insert(s.clone(), i);
                cat.by_folded.entry(s.to_lowercase()).or_insert(i);
            }
        }
        for (i, e) in entries.iter().enumerate() {
            for a in &e.aliases {
                let f = fold(a);
                if let Some(&j) = cat.by_folded.get(&a.trim().to_lowercase()) {
                    if j != i {
                        problems.push(format!(
                            "alias `{a}` of licence `{}` is the id of licence `{}`",
                            e.id, entries[j].id
                        ));
                    }
                    continue;
                }
                if let Some(j) = cat.by_alias.insert(f, i)
                    && j != i
                {
                    problems.push(format!(
                        "alias `{a}` is claimed by licences `{}` and `{}`",
                        entries[j].id, e.id
                    ));
                }
            }
        }
        // Ids and SPDX ids spelt with other separators ("Apache 2.0") map too.
        for (i, e) in entries.iter().enumerate() {
            for k in std::iter::once(&e.id).chain(e.spdx.iter()) {
                cat.by_alias.entry(fold(k)).or_insert(i);
            }
        }
        cat.mentions = super::mentions::Mentions::build(&entries);
        cat.revised = entries
            .iter()
            .filter_map(|e| e.revision_of.clone())
            .collect();
        for (i, e) in entries.iter().enumerate() {
            if let Some(r) = &e.revision_of
                && !entries
                    .iter()
                    .any(|x| &x.id == r && x.revision_of.is_none())
            {
                problems.push(format!(
                    "licence `{}` is a revision of `{r}`, which is not a catalog licence of its own",
                    entries[i].id
                ));
            }
        }
        cat.entries = entries;
        if problems.is_empty() {
            Ok(cat)
        } else {
            Err(problems)
        }
    }

    pub fn entries(&self) -> &[LicenseTerms] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&LicenseTerms> {
        self.by_id.get(id).and_then(|&i| self.entries.get(i))
    }

    pub fn by_exact_id(&self, s: &str) -> Option<&LicenseTerms> {
        self.get(s)
    }

    pub fn by_spdx(&self, spdx_id: &str) -> Option<&LicenseTerms> {
        self.by_spdx.get(spdx_id).and_then(|&i| self.entries.get(i))
    }

    /// Case-insensitive match on the id or the SPDX id.
    pub fn by_folded_id(&self, s: &str) -> Option<&LicenseTerms> {
        self.by_folded
            .get(&s.trim().to_lowercase())
            .and_then(|&i| self.entries.get(i))
    }

    /// Licences named in prose and links (see [`super::mentions`]).
    pub fn mentions(&self) -> &super::mentions::Mentions {
        &self.mentions
    }

    /// Whether a later revision of licence `id` is in the catalog.
    pub fn has_revisions(&self, id: &str) -> bool {
        !self.revised.is_empty() && self.revised.contains(id)
    }

    /// The catalog id of the licence family an entry belongs to: its own id, or the id
    /// of the licence it is a revision of.
    pub fn family_id<'a>(&'a self, id: &'a str) -> &'a str {
        self.get(id)
            .and_then(|t| t.revision_of.as_deref())
            .unwrap_or(id)
    }

    pub fn by_alias(&self, s: &str) -> Option<&LicenseTerms> {
        self.by_alias
            .get(&fold(s))
            .and_then(|&i| self.entries.get(i))
    }
}
