//! External tools the image tests drive (umoci, skopeo, buildah, podman,
//! openssl, ...): whether one is installed, and running one.

use std::process::Command;

/// True when `tool` is on `PATH`; otherwise prints a loud skip line naming `test`.
pub fn have_tool(tool: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()));
    if !found {
        eprintln!("SKIPPED (needs {tool}): {test}");
    }
    found
}

/// Runs a tool and asserts it succeeded; returns its stdout.
pub fn run_tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
