//! Container ids that never collide between tests or test processes.

use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Returns `brigtest-<tag>-<pid>-<n>`: unique within this machine while the
/// test process lives. `tag` is reduced to characters every runtime accepts
/// in an id (letters, digits, `-`, `_`, `.`) and shortened.
pub fn unique_id(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(24)
        .collect();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("brigtest-{tag}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_safe() {
        let a = unique_id("x/y z");
        let b = unique_id("x/y z");
        assert_ne!(a, b);
        assert!(a.starts_with("brigtest-x-y-z-"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
    }
}
