//! `process`: the command, user, environment, capabilities and limits.

use std::collections::HashSet;

use oci_spec::runtime::{
    Capability, LinuxCapabilitiesBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
    Process, ProcessBuilder, UserBuilder,
};

use super::SpecInput;
use super::mounts::INIT_PATH;
use crate::caps;
use crate::error::{Error, Result};

fn spec_err(what: &str) -> impl Fn(oci_spec::OciSpecError) -> Error + '_ {
    move |e| Error::Spec(format!("{what}: {e}"))
}

fn capability_set(names: &[String]) -> Result<HashSet<Capability>> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value(serde_json::Value::String(n.clone()))
                .map_err(|e| Error::Spec(format!("capability {n}: {e}")))
        })
        .collect()
}

/// The capability sets. Root gets the set as bounding, effective and
/// permitted; a non-root user (as in Podman) gets only the capabilities
/// explicitly added, also as ambient so that they survive `execve` (so
/// `--user 1000 --cap-drop ALL --cap-add NET_BIND_SERVICE` can bind port 80).
pub fn capabilities(input: &SpecInput<'_>) -> Result<oci_spec::runtime::LinuxCapabilities> {
    let sec = &input.config.security;
    let set: Vec<String> = caps::effective_set(
        sec.privileged,
        &sec.cap_add,
        &sec.cap_drop,
        input.host.cap_last_cap,
    )
    .into_iter()
    .collect();
    let bounding = capability_set(&set)?;
    let granted = if input.user.uid == 0 {
        bounding.clone()
    } else {
        let added: Vec<String> = set
            .iter()
            .filter(|c| sec.privileged || sec.cap_add.iter().any(|a| a == *c || a == "ALL"))
            .cloned()
            .collect();
        capability_set(&added)?
    };
    let ambient = if input.user.uid == 0 {
        HashSet::new()
    } else {
        granted.clone()
    };
    LinuxCapabilitiesBuilder::default()
        .bounding(bounding)
        .effective(granted.clone())
        .permitted(granted.clone())
        .inheritable(ambient.clone())
        .ambient(ambient)
        .build()
        .map_err(spec_err("capabilities"))
}

fn rlimit(name: &str, soft: u64, hard: u64) -> Result<PosixRlimit> {
    let typ: PosixRlimitType = serde_json::from_value(serde_json::Value::String(format!(
        "RLIMIT_{}",
        name.to_ascii_uppercase()
    )))
    .map_err(|e| Error::Spec(format!("rlimit {name}: {e}")))?;
    PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()
        .map_err(spec_err("rlimit"))
}

/// `--ulimit`s; other limits are inherited from the engine (as Docker
/// inherits the daemon's): raising a hard limit could fail in the runtime.
fn rlimits(input: &SpecInput<'_>) -> Result<Vec<PosixRlimit>> {
    input
        .config
        .resources
        .ulimits
        .iter()
        .map(|u| rlimit(&u.name, u.soft, u.hard))
        .collect()
}

fn environment(input: &SpecInput<'_>) -> Vec<String> {
    let c = input.config;
    let mut env = vec![format!("HOSTNAME={}", c.hostname)];
    env.extend(
        c.env
            .iter()
            .filter(|v| !v.starts_with("HOSTNAME="))
            .cloned(),
    );
    if !env.iter().any(|v| v.starts_with("HOME=")) {
        let home = input
            .user
            .home
            .clone()
            .unwrap_or_else(|| if input.user.uid == 0 { "/root" } else { "/" }.to_owned());
        env.push(format!("HOME={home}"));
    }
    env
}

/// The `process` object.
pub fn process(input: &SpecInput<'_>) -> Result<Process> {
    let c = input.config;
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(input.user.additional_gids.clone())
        .umask(0o022u32)
        .build()
        .map_err(spec_err("user"))?;
    let mut args = c.args.clone();
    if c.init {
        args.splice(0..0, [INIT_PATH.to_owned(), "--".to_owned()]);
    }
    let mut builder = ProcessBuilder::default()
        .terminal(c.tty)
        .user(user)
        .args(args)
        .env(environment(input))
        .cwd(&c.working_dir)
        .capabilities(capabilities(input)?)
        .rlimits(rlimits(input)?)
        .no_new_privileges(c.security.no_new_privileges);
    if let Some(adj) = c.resources.oom_score_adj {
        builder = builder.oom_score_adj(adj);
    }
    if let Some(profile) = c.security.apparmor.as_ref().filter(|p| *p != "unconfined") {
        builder = builder.apparmor_profile(profile);
    }
    if input.host.selinux_enabled
        && let Some(label) = selinux_label(&c.security.label)
    {
        builder = builder.selinux_label(label);
    }
    builder.build().map_err(spec_err("process"))
}

/// `user:U`, `role:R`, `type:T`, `level:L` into `U:R:T:L` (defaults
/// `system_u:system_r:container_t:s0`); `None` for `disable` or nothing.
fn selinux_label(opts: &[String]) -> Option<String> {
    if opts.is_empty() || opts.iter().any(|o| o == "disable") {
        return None;
    }
    let pick = |key: &str, default: &str| {
        opts.iter()
            .find_map(|o| o.strip_prefix(key))
            .unwrap_or(default)
            .to_owned()
    };
    Some(format!(
        "{}:{}:{}:{}",
        pick("user:", "system_u"),
        pick("role:", "system_r"),
        pick("type:", "container_t"),
        pick("level:", "s0")
    ))
}
