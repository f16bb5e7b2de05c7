//! exec: a process spec from --process, or the container's own process with
//! the command line's changes (as runc does).

use std::collections::HashSet;

use anyhow::{Context, Result, bail};
use brig_runtime::Store;
use brig_runtime::oci_spec::runtime::{Capability, Process, User};
use brig_runtime::process::exec::{self, ExecOptions};

use crate::cli::ExecArgs;

pub fn exec(store: &Store, args: ExecArgs) -> Result<i32> {
    let process = match &args.process {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("--process {}", path.display()))?;
            serde_json::from_reader(std::io::BufReader::new(file)).with_context(|| {
                format!("--process {}: not a valid process spec", path.display())
            })?
        }
        None => from_flags(store, &args)?,
    };
    let opts = ExecOptions {
        id: args.id,
        process,
        console_socket: args.console_socket,
        detach: args.detach,
        pid_file: args.pid_file,
        preserve_fds: args.preserve_fds,
    };
    Ok(exec::exec(store, &opts)?)
}

fn from_flags(store: &Store, args: &ExecArgs) -> Result<Process> {
    if args.command.is_empty() {
        bail!("exec: give a command after the container id, or --process FILE");
    }
    let mut p = brig_runtime::container::process_template(store, &args.id)?;
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &args.env {
        if !kv.contains('=') {
            bail!("--env {kv:?}: expected KEY=VALUE");
        }
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(user) = &args.user {
        p.set_user(parse_user(user, &args.additional_gids, p.user())?);
    } else if !args.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(args.additional_gids.clone()));
        p.set_user(u);
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        add_caps(&mut p, &args.cap)?;
    }
    if let Some(profile) = &args.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    Ok(p)
}

fn parse_user(text: &str, groups: &[u32], base: &User) -> Result<User> {
    let (uid, gid) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let mut user = base.clone();
    user.set_uid(
        uid.parse()
            .with_context(|| format!("--user {text:?}: expected UID[:GID] as numbers"))?,
    );
    user.set_gid(match gid {
        Some(g) => g
            .parse()
            .with_context(|| format!("--user {text:?}: expected UID[:GID] as numbers"))?,
        None => 0,
    });
    if !groups.is_empty() {
        user.set_additional_gids(Some(groups.to_vec()));
    }
    Ok(user)
}

fn add_caps(p: &mut Process, names: &[String]) -> Result<()> {
    let mut extra = HashSet::new();
    for name in names {
        let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
            .with_context(|| format!("--cap {name:?}: unknown capability"))?;
        extra.insert(cap);
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    let merge = |set: &Option<HashSet<Capability>>| -> Option<HashSet<Capability>> {
        Some(
            set.clone()
                .unwrap_or_default()
                .union(&extra)
                .copied()
                .collect(),
        )
    };
    caps.set_bounding(merge(caps.bounding()));
    caps.set_effective(merge(caps.effective()));
    caps.set_permitted(merge(caps.permitted()));
    caps.set_inheritable(merge(caps.inheritable()));
    p.set_capabilities(Some(caps));
    Ok(())
}
