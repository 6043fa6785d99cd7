//! The list of every scenario. Adding a scenario means adding its type here, once.

use harness::Runtime;

use crate::{Observation, Scenario, ScenarioDef};

macro_rules! catalogue {
    ($($scenario:path),* $(,)?) => {
        /// Every scenario, self-tests included, in display order.
        pub static ALL: &[&ScenarioDef] = &[$(&<$scenario as Scenario>::DEF),*];

        /// Runs the scenario with this id on runtime `R`; `None` for an unknown id.
        pub fn run_by_id<R: Runtime>(id: &str) -> Option<Observation> {
            $(
                if id == <$scenario as Scenario>::DEF.id {
                    return Some(<$scenario as Scenario>::run::<R>());
                }
            )*
            None
        }
    };
}

catalogue! {
    crate::tasks::TaskStartsLater,
    crate::selftest::Hang,
    crate::selftest::Abort,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<_> = ALL.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate scenario id");
        for d in ALL {
            assert!(d.id.starts_with(&format!("{}.", d.group)), "{}", d.id);
            assert!(!d.rule.is_empty() && !d.title.is_empty(), "{}", d.id);
        }
    }
}
