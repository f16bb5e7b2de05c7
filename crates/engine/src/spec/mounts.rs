//! The container's mounts: Docker's standard set (`/proc`, `/dev`, ...),
//! the generated `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`, then
//! the user's binds, volumes and tmpfs, secrets and the init binary,
//! parents before children.

use oci_spec::runtime::{Mount, MountBuilder};

use super::SpecInput;
use crate::config::MountConfig;
use crate::error::{Error, Result};

/// Where `--init`'s binary appears in the container.
pub const INIT_PATH: &str = "/run/brig-init";

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>())
        .build()
        .map_err(|e| Error::Spec(format!("mount {dest}: {e}")))
}

fn bind(dest: &str, source: &std::path::Path, readonly: bool, extra: &[String]) -> Result<Mount> {
    let mut options = vec![
        "rbind".to_owned(),
        if readonly { "ro" } else { "rw" }.to_owned(),
    ];
    options.extend(extra.iter().cloned());
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(options)
        .build()
        .map_err(|e| Error::Spec(format!("mount {dest}: {e}")))
}

/// Every mount, in the order the runtime must make them.
pub fn mounts(input: &SpecInput<'_>) -> Result<Vec<Mount>> {
    let c = input.config;
    let privileged = c.security.privileged;
    let shm = format!("size={}", c.resources.shm_size.unwrap_or(64 << 20));
    let sys_mode = if privileged { "rw" } else { "ro" };
    let mut out = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", sys_mode],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm],
        )?,
    ];
    let user_targets: Vec<&str> = c.mounts.iter().map(MountConfig::target).collect();
    let bundle = input.paths.bundle(input.id);
    for file in ["hostname", "hosts", "resolv.conf"] {
        let target = format!("/etc/{file}");
        if !user_targets.contains(&target.as_str()) {
            out.push(bind(
                &target,
                &bundle.join(file),
                false,
                &["rprivate".to_owned()],
            )?);
        }
    }
    let mut user = user_mounts(input)?;
    // Parents first: /data before /data/sub, as Docker sorts them.
    user.sort_by_key(|(target, _)| target.matches('/').count());
    out.extend(user.into_iter().map(|(_, m)| m));
    if c.init {
        let Some(init) = &input.host.init_binary else {
            return Err(Error::invalid(
                "--init",
                "",
                "no init binary found (install tini: apt-get install tini, which provides tini-static)",
            ));
        };
        out.push(bind(INIT_PATH, init, true, &["rprivate".to_owned()])?);
    }
    Ok(out)
}

fn user_mounts(input: &SpecInput<'_>) -> Result<Vec<(String, Mount)>> {
    let c = input.config;
    let mut out = Vec::new();
    for m in &c.mounts {
        let made = match m {
            MountConfig::Bind {
                source,
                target,
                readonly,
                propagation,
            } => {
                let prop = propagation.clone().unwrap_or_else(|| "rprivate".to_owned());
                bind(target, source, *readonly, &[prop])?
            }
            MountConfig::Volume {
                name,
                target,
                readonly,
                ..
            } => bind(
                target,
                &input.paths.volume_data(name),
                *readonly,
                &["rprivate".to_owned()],
            )?,
            MountConfig::Tmpfs { target, options } => {
                let opts: Vec<&str> = options.iter().map(String::as_str).collect();
                mount(target, "tmpfs", "tmpfs", &opts)?
            }
        };
        out.push((m.target().to_owned(), made));
    }
    for s in &c.secrets {
        let m = bind(
            &s.target,
            &input.paths.secret(&s.id),
            true,
            &[
                "rprivate".to_owned(),
                "nosuid".to_owned(),
                "nodev".to_owned(),
                "noexec".to_owned(),
            ],
        )?;
        out.push((s.target.clone(), m));
    }
    Ok(out)
}
