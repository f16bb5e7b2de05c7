//! Seccomp profiles in Docker's format, resolved into `linux.seccomp`.
//!
//! brig's default profile (`default.json`, Docker-equivalent: deny by
//! default with EPERM, an allow list, argument filters for `socket`,
//! `personality` and `clone`, and per-capability unlocks) and the profiles
//! users pass with `--security-opt seccomp=FILE` are both in Docker's
//! format, a superset of the OCI one: rules may carry `includes` and
//! `excludes` (`caps`, `arches`, `minKernel`), and `archMap` lists
//! sub-architectures. Resolution keeps the rules that apply to this
//! container (its bounding set, the host architecture and kernel) and
//! emits plain OCI, so any runtime can load it.

use oci_spec::runtime::LinuxSeccomp;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// brig's default profile.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    /// Docker's legacy single name.
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// What a profile is resolved for.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The container's bounding set (`CAP_X` names).
    pub bounding: &'a [String],
    /// `SCMP_ARCH_X86_64`, ...
    pub arch: &'a str,
    /// The host kernel's (major, minor).
    pub kernel: (u32, u32),
}

/// Whether `text` is a profile brig can use (for early, clear errors).
pub fn check_profile(text: &str) -> std::result::Result<(), String> {
    let p: Profile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let host = host_arch();
    let target = Target {
        bounding: &[],
        arch: host,
        kernel: (6, 0),
    };
    resolve_parsed(p, &target)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Resolves a Docker- or OCI-format profile for `target`.
pub fn resolve(text: &str, target: &Target<'_>) -> Result<LinuxSeccomp> {
    let p: Profile =
        serde_json::from_str(text).map_err(|e| Error::json("the seccomp profile", e))?;
    resolve_parsed(p, target)
}

fn resolve_parsed(p: Profile, target: &Target<'_>) -> Result<LinuxSeccomp> {
    let mut architectures = p.architectures.clone();
    if let Some(entry) = p.arch_map.iter().find(|m| m.architecture == target.arch) {
        architectures.push(entry.architecture.clone());
        architectures.extend(entry.sub_architectures.iter().cloned());
    }
    let mut syscalls = Vec::new();
    for rule in p.syscalls.iter().filter(|r| applies(r, target)) {
        let mut names = rule.names.clone();
        names.extend(rule.name.iter().cloned());
        if names.is_empty() {
            continue;
        }
        let mut out = Map::new();
        out.insert("names".into(), json!(names));
        out.insert("action".into(), json!(rule.action));
        if let Some(e) = rule.errno_ret {
            out.insert("errnoRet".into(), json!(e));
        }
        if !rule.args.is_empty() {
            out.insert("args".into(), Value::Array(rule.args.clone()));
        }
        syscalls.push(Value::Object(out));
    }
    let mut out = Map::new();
    out.insert("defaultAction".into(), json!(p.default_action));
    if let Some(e) = p.default_errno_ret {
        out.insert("defaultErrnoRet".into(), json!(e));
    }
    if !architectures.is_empty() {
        out.insert("architectures".into(), json!(architectures));
    }
    if !p.flags.is_empty() {
        out.insert("flags".into(), json!(p.flags));
    }
    if let Some(l) = &p.listener_path {
        out.insert("listenerPath".into(), json!(l));
    }
    if let Some(m) = &p.listener_metadata {
        out.insert("listenerMetadata".into(), json!(m));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    serde_json::from_value(Value::Object(out)).map_err(|e| Error::json("the seccomp profile", e))
}

fn applies(rule: &Rule, t: &Target<'_>) -> bool {
    let ex = &rule.excludes;
    if ex.arches.iter().any(|a| arch_matches(a, t.arch))
        || ex.caps.iter().any(|c| t.bounding.contains(c))
        || ex
            .min_kernel
            .as_deref()
            .is_some_and(|k| kernel_at_least(t.kernel, k))
    {
        return false;
    }
    let inc = &rule.includes;
    (inc.arches.is_empty() || inc.arches.iter().any(|a| arch_matches(a, t.arch)))
        && inc.caps.iter().all(|c| t.bounding.contains(c))
        && inc
            .min_kernel
            .as_deref()
            .is_none_or(|k| kernel_at_least(t.kernel, k))
}

/// Docker's `arches` use Go names (`amd64`) or libseccomp names.
fn arch_matches(name: &str, scmp: &str) -> bool {
    let go = match scmp {
        "SCMP_ARCH_X86_64" => "amd64",
        "SCMP_ARCH_AARCH64" => "arm64",
        "SCMP_ARCH_X86" => "386",
        _ => "",
    };
    name == scmp || name == go || (scmp == "SCMP_ARCH_X86_64" && name == "x32")
}

fn kernel_at_least(kernel: (u32, u32), min: &str) -> bool {
    let mut parts = min.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let want = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    kernel >= want
}

/// The libseccomp name of this machine's architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// The running kernel's (major, minor).
pub fn host_kernel() -> (u32, u32) {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests;
