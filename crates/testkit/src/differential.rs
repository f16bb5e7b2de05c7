//! Differential runs: the same bundle through the runtime under test and a
//! reference runtime (runc by default, `BRIG_TEST_REFERENCE=crun` for crun),
//! comparing what the container observed.

use std::path::Path;

use crate::bundle::Bundle;
use crate::command::CmdOutput;
use crate::runtime::{Runtime, RuntimeKind};

/// What one runtime's container reported: exit code and normalized stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub code: Option<i32>,
    pub stdout: String,
}

/// The reference runtime chosen by `BRIG_TEST_REFERENCE` (runc by default).
pub fn reference_kind() -> RuntimeKind {
    match std::env::var("BRIG_TEST_REFERENCE").as_deref() {
        Ok("crun") => RuntimeKind::Crun,
        _ => RuntimeKind::Runc,
    }
}

/// Runs `bundle` in the foreground with `rt` and normalizes its stdout.
pub fn observe(
    rt: &Runtime,
    tag: &str,
    bundle: &Bundle,
    normalize: &dyn Fn(&str) -> String,
) -> (Observed, CmdOutput) {
    let id = rt.new_id(tag);
    let out = rt.run(&id, bundle);
    let observed = Observed {
        code: out.code,
        stdout: normalize(&out.stdout),
    };
    (observed, out)
}

/// Runs `bundle` through the tested runtime and the reference runtime and
/// panics, showing both, unless they observed the same. Returns the tested
/// runtime's observation; None (after a loud message) when the reference
/// runtime is not installed.
#[track_caller]
pub fn assert_same(
    tag: &str,
    bundle: &Bundle,
    normalize: &dyn Fn(&str) -> String,
) -> Option<Observed> {
    let tested = Runtime::from_env();
    let reference = Runtime::of(reference_kind());
    if !Path::new(reference.binary()).exists() {
        eprintln!(
            "SKIPPED (reference runtime {} not installed): {tag}",
            reference.binary().display()
        );
        return None;
    }
    let (mine, mine_out) = observe(&tested, tag, bundle, normalize);
    let (theirs, theirs_out) = observe(&reference, tag, bundle, normalize);
    assert_eq!(
        mine,
        theirs,
        "{} and {} observed differently\n--- {}:\n{}\n--- {}:\n{}",
        tested.kind().name(),
        reference.kind().name(),
        tested.kind().name(),
        mine_out.describe(),
        reference.kind().name(),
        theirs_out.describe()
    );
    Some(mine)
}

/// Keeps lines for which `keep` is true, sorted (for unordered listings).
pub fn sorted_lines(text: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut lines: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
    lines.sort_unstable();
    lines.join("\n")
}
