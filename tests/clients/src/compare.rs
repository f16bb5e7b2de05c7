//! The differential check: brig-runtime must see what runc saw.

use std::fmt::Debug;

/// Panics unless every runtime's observation equals the first one's
/// (runc's), showing all of them.
#[track_caller]
pub fn agree<T: PartialEq + Debug>(flow: &str, observed: &[(&str, T)]) {
    let Some((reference, expected)) = observed.first() else {
        return;
    };
    for (name, value) in &observed[1..] {
        assert!(
            value == expected,
            "{flow}: {name} and {reference} disagree\n  {reference}: {expected:#?}\n  {name}: {value:#?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_observations_agree() {
        agree("x", &[("runc", 1), ("brig-runtime", 1)]);
        agree::<i32>("empty", &[]);
    }

    #[test]
    #[should_panic(expected = "brig-runtime and runc disagree")]
    fn different_observations_do_not() {
        agree("x", &[("runc", 1), ("brig-runtime", 2)]);
    }
}
