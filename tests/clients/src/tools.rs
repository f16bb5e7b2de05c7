//! The runtimes compared, and the programs the clients need.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's runc, the reference every flow is compared with.
pub const RUNC: &str = "/usr/sbin/runc";

/// A runtime binary that the clients are told to use.
#[derive(Debug, Clone)]
pub struct RuntimeUnderTest {
    /// "runc" or "brig-runtime", for messages and container names.
    pub name: &'static str,
    /// The binary given to `podman --runtime` or `ctr run --runc-binary`.
    pub binary: PathBuf,
}

impl RuntimeUnderTest {
    /// True for brig-runtime.
    pub fn is_brig(&self) -> bool {
        self.name == "brig-runtime"
    }

    /// A short tag for container names: "runc" or "brig".
    pub fn tag(&self) -> &'static str {
        if self.is_brig() { "brig" } else { "runc" }
    }
}

/// runc first (it validates the flow), then brig-runtime from this workspace.
pub fn runtimes() -> Vec<RuntimeUnderTest> {
    vec![
        RuntimeUnderTest {
            name: "runc",
            binary: PathBuf::from(RUNC),
        },
        RuntimeUnderTest {
            name: "brig-runtime",
            binary: brig_testkit::runtime::brig_binary().to_owned(),
        },
    ]
}

/// The programs of `tools` that are not found in `PATH` (or, for runc, at
/// its Debian path).
pub fn missing_tools<'a>(tools: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = Vec::new();
    for tool in tools.iter().copied().chain(["runc", "nsenter", "unshare"]) {
        if !all.contains(&tool) {
            all.push(tool);
        }
    }
    all.into_iter().filter(|tool| !in_path(tool)).collect()
}

fn in_path(tool: &str) -> bool {
    if tool == "runc" {
        return Path::new(RUNC).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|dir| dir.join(tool).is_file())
}

/// Whether brig-runtime says (in `features`) that it installs seccomp filters.
pub fn brig_supports_seccomp(brig: &Path) -> bool {
    let Ok(out) = Command::new(brig).arg("features").output() else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| {
            v.pointer("/linux/seccomp/enabled")
                .and_then(|e| e.as_bool())
        })
        .unwrap_or(false)
}

/// `arg` quoted for `sh -c` (single quotes, embedded ones escaped).
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@".contains(&b))
    {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(shell_quote("plain/path-1"), "plain/path-1");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        let tricky = "it's $HOME; `x`";
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(tricky)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), tricky);
    }
}
