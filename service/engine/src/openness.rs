//! Model Openness Framework (MOF) classification from released components.

use serde::Serialize;

/// The 17 MOF components, with the class that first requires each (3 = Class III
/// "Open Model", 2 = Class II "Open Tooling", 1 = Class I "Open Science") and whether
/// it is optional for that class.
pub const COMPONENTS: &[(&str, u8, bool)] = &[
    ("model_architecture", 3, false),
    ("model_parameters_final", 3, false),
    ("model_card", 3, false),
    ("data_card", 3, false),
    ("technical_report", 3, false),
    ("evaluation_results", 3, false),
    ("sample_model_outputs", 3, true),
    ("training_code", 2, false),
    ("inference_code", 2, false),
    ("evaluation_code", 2, false),
    ("evaluation_data", 2, false),
    ("supporting_libraries", 2, true),
    ("datasets", 1, false),
    ("data_preprocessing_code", 1, false),
    ("model_parameters_intermediate", 1, false),
    ("research_paper", 1, false),
    ("model_metadata", 1, true),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentStatus {
    pub name: &'static str,
    pub released: bool,
    pub license: Option<String>,
    /// Released under a licence the MOF counts as open.
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Openness {
    /// 1, 2 or 3 (Class I is the most open); 0 when no class is met.
    pub mof_class: i64,
    /// `Class I — Open Science`, ..., or `none`.
    pub mof_class_name: String,
    pub components: Vec<ComponentStatus>,
    /// Required components of the next class up that are missing or not open.
    pub missing_for_next_class: Vec<&'static str>,
}

/// Classifies. `released` lists (component, licence id) pairs; `is_open` tells whether
/// a licence id counts as open.
pub fn classify(released: &[(&str, Option<&str>)], is_open: impl Fn(&str) -> bool) -> Openness {
    let components: Vec<ComponentStatus> = COMPONENTS
        .iter()
        .map(|&(name, _, _)| {
            let found = released.iter().find(|(n, _)| *n == name);
            let license = found.and_then(|(_, l)| *l);
            ComponentStatus {
                name,
                released: found.is_some(),
                open: license.is_some_and(&is_open),
                license: license.map(str::to_string),
            }
        })
        .collect();
    let meets = |class: u8| {
        COMPONENTS
            .iter()
            .zip(&components)
            .all(|((_, c, optional), st)| *c < class || *optional || st.open)
    };
    let mof_class = [1u8, 2, 3]
        .into_iter()
        .find(|&c| meets(c))
        .map(i64::from)
        .unwrap_or(0);
    let next = if mof_class == 0 {
        3
    } else {
        mof_class as u8 - 1
    };
    let missing_for_next_class = if next == 0 {
        Vec::new()
    } else {
        COMPONENTS
            .iter()
            .zip(&components)
            .filter(|((_, c, optional), st)| *c >= next && !*optional && !st.open)
            .map(|((n, _, _), _)| *n)
            .collect()
    };
    let mof_class_name = match mof_class {
        1 => "Class I — Open Science",
        2 => "Class II — Open Tooling",
        3 => "Class III — Open Model",
        _ => "none",
    }
    .to_string();
    Openness {
        mof_class,
        mof_class_name,
        components,
        missing_for_next_class,
    }
}
