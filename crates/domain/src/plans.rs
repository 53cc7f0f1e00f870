//! The plan table and task prices (api.md §2). Both are configuration; these are defaults.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub api_access: bool,
    pub concurrent_tasks: u32,
    pub monthly_credits: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTable {
    pub plans: Vec<Plan>,
}

impl Default for PlanTable {
    fn default() -> Self {
        let plan = |name: &str, api_access, concurrent_tasks, monthly_credits| Plan {
            name: name.to_string(),
            api_access,
            concurrent_tasks,
            monthly_credits,
        };
        PlanTable {
            plans: vec![
                plan("Free", false, 0, 0),
                plan("Starter", false, 0, 20),
                plan("Plus", true, 1, 100),
                plan("Pro", true, 3, 400),
                plan("Max", true, 10, 1500),
            ],
        }
    }
}

impl PlanTable {
    /// Plan names are matched case-insensitively (`--plan pro` means `Pro`).
    pub fn get(&self, name: &str) -> Option<&Plan> {
        self.plans
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Plans that include API access, for `PLAN_NOT_ALLOWED.details.required_plans`.
    pub fn api_plans(&self) -> Vec<String> {
        self.plans
            .iter()
            .filter(|p| p.api_access)
            .map(|p| p.name.clone())
            .collect()
    }
}

/// Credits per task (api.md §2 **Decision**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prices {
    pub narrated_slideshow: i64,
    pub living_property_per_image: i64,
    pub staging_per_image: i64,
    /// The legacy slideshow route, before any staging (`staging_per_image` each).
    pub slideshow: i64,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            narrated_slideshow: 5,
            living_property_per_image: 2,
            staging_per_image: 2,
            // The narrated slideshow's price: the legacy route makes the same kind of
            // video, so a client moving between the two pays the same.
            slideshow: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_matches_the_spec() {
        let t = PlanTable::default();
        assert_eq!(t.get("pro").unwrap().concurrent_tasks, 3);
        assert_eq!(t.get("Max").unwrap().monthly_credits, 1500);
        assert!(!t.get("STARTER").unwrap().api_access);
        assert_eq!(t.api_plans(), vec!["Plus", "Pro", "Max"]);
        assert!(t.get("Enterprise").is_none());
    }
}
