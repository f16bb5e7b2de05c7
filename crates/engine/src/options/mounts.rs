//! `-v`, `--mount` and `--tmpfs`, parsed without touching the host (the
//! host paths are checked and volumes created when the container is made).

use std::path::PathBuf;

use crate::config::MountConfig;
use crate::error::{Error, Result};

/// Default options of a tmpfs mount: Docker's, and world-writable with the
/// sticky bit so a non-root user can use it.
const TMPFS_DEFAULTS: &[&str] = &["nosuid", "nodev", "noexec", "mode=1777"];

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// A cleaned absolute path inside the container (`..` refused).
pub fn container_path(flag: &str, spec: &str, path: &str) -> Result<String> {
    if !path.starts_with('/') {
        return Err(Error::invalid(
            flag,
            spec,
            format!("the container path {path:?} must be absolute"),
        ));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::invalid(
                    flag,
                    spec,
                    "the container path must not contain ..",
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(Error::invalid(flag, spec, "cannot mount over /"));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Docker's volume names.
pub fn is_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `-v HOST:CTR[:OPTS]`, `-v NAME:CTR[:OPTS]` or `-v CTR` (an anonymous
/// volume, named by the caller).
pub fn parse_volume_flag(
    spec: &str,
    anonymous_name: impl FnOnce() -> String,
) -> Result<MountConfig> {
    let flag = "-v";
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, opts] => (Some(*source), *target, *opts),
        _ => {
            return Err(Error::invalid(
                flag,
                spec,
                "expected HOST-PATH:CONTAINER-PATH[:OPTIONS], NAME:CONTAINER-PATH[:OPTIONS] or CONTAINER-PATH",
            ));
        }
    };
    let target = container_path(flag, spec, target)?;
    let mut readonly = false;
    let mut propagation = None;
    let mut copy_up = true;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "z" | "Z" | "consistent" | "cached" | "delegated" => {}
            "nocopy" => copy_up = false,
            p if PROPAGATIONS.contains(&p) => propagation = Some(p.to_owned()),
            other => {
                return Err(Error::invalid(
                    flag,
                    spec,
                    format!(
                        "unknown option {other:?} (use ro, rw, nocopy, z, Z or a propagation like rshared)"
                    ),
                ));
            }
        }
    }
    match source {
        Some(src) if src.starts_with('/') => Ok(MountConfig::Bind {
            source: PathBuf::from(src),
            target,
            readonly,
            propagation,
        }),
        Some(name) if is_volume_name(name) => Ok(MountConfig::Volume {
            name: name.to_owned(),
            target,
            readonly,
            anonymous: false,
            copy_up,
        }),
        Some(other) => Err(Error::invalid(
            flag,
            spec,
            format!(
                "{other:?} is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"
            ),
        )),
        None => Ok(MountConfig::Volume {
            name: anonymous_name(),
            target,
            readonly,
            anonymous: true,
            copy_up,
        }),
    }
}

fn parse_bool(flag: &str, spec: &str, key: &str, value: Option<&str>) -> Result<bool> {
    match value {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(Error::invalid(
            flag,
            spec,
            format!("{key}={v}: expected true or false"),
        )),
    }
}

/// `--mount type=bind|volume|tmpfs,source=...,target=...,readonly,...`.
pub fn parse_mount_flag(
    spec: &str,
    anonymous_name: impl FnOnce() -> String,
) -> Result<MountConfig> {
    let flag = "--mount";
    let mut kind = "volume";
    let (mut source, mut target) = (None, None);
    let (mut readonly, mut copy_up) = (false, true);
    let mut propagation = None;
    let mut tmpfs_opts: Vec<String> = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (field.trim(), None),
        };
        let need = || {
            value.ok_or_else(|| {
                Error::invalid(flag, spec, format!("{key} needs a value ({key}=...)"))
            })
        };
        match key {
            "type" => kind = need()?,
            "source" | "src" => source = Some(need()?),
            "target" | "destination" | "dst" => target = Some(need()?),
            "readonly" | "ro" => readonly = parse_bool(flag, spec, key, value)?,
            "volume-nocopy" => copy_up = !parse_bool(flag, spec, key, value)?,
            "bind-propagation" => {
                let p = need()?;
                if !PROPAGATIONS.contains(&p) {
                    return Err(Error::invalid(
                        flag,
                        spec,
                        format!("unknown bind-propagation {p:?}"),
                    ));
                }
                propagation = Some(p.to_owned());
            }
            "tmpfs-size" => {
                let size = super::units::parse_size(flag, need()?)?;
                tmpfs_opts.push(format!("size={size}"));
            }
            "tmpfs-mode" => {
                let mode = need()?;
                u32::from_str_radix(mode, 8).map_err(|_| {
                    Error::invalid(
                        flag,
                        spec,
                        format!("tmpfs-mode {mode:?} is not an octal mode"),
                    )
                })?;
                tmpfs_opts.push(format!("mode={mode}"));
            }
            "consistency" | "bind-nonrecursive" | "volume-driver" => {}
            other => {
                return Err(Error::invalid(
                    flag,
                    spec,
                    format!("unknown field {other:?}"),
                ));
            }
        }
    }
    let Some(target) = target else {
        return Err(Error::invalid(
            flag,
            spec,
            "target=CONTAINER-PATH is required",
        ));
    };
    let target = container_path(flag, spec, target)?;
    match kind {
        "bind" => {
            let Some(src) = source.filter(|s| s.starts_with('/')) else {
                return Err(Error::invalid(
                    flag,
                    spec,
                    "a bind mount needs source=ABSOLUTE-HOST-PATH",
                ));
            };
            Ok(MountConfig::Bind {
                source: PathBuf::from(src),
                target,
                readonly,
                propagation,
            })
        }
        "volume" => {
            let (name, anonymous) = match source {
                Some(n) if is_volume_name(n) => (n.to_owned(), false),
                Some(n) => {
                    return Err(Error::invalid(
                        flag,
                        spec,
                        format!("{n:?} is not a valid volume name"),
                    ));
                }
                None => (anonymous_name(), true),
            };
            Ok(MountConfig::Volume {
                name,
                target,
                readonly,
                anonymous,
                copy_up,
            })
        }
        "tmpfs" => {
            if source.is_some() {
                return Err(Error::invalid(flag, spec, "a tmpfs mount takes no source"));
            }
            if readonly {
                tmpfs_opts.push("ro".to_owned());
            }
            Ok(MountConfig::Tmpfs {
                target,
                options: tmpfs_options(&tmpfs_opts),
            })
        }
        other => Err(Error::invalid(
            flag,
            spec,
            format!("unknown type {other:?} (use bind, volume or tmpfs)"),
        )),
    }
}

/// `--tmpfs /path[:opt,opt]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<MountConfig> {
    let (path, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let target = container_path("--tmpfs", spec, path)?;
    let given: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    for o in &given {
        if let Some(size) = o.strip_prefix("size=") {
            super::units::parse_size("--tmpfs", size)?;
        }
    }
    Ok(MountConfig::Tmpfs {
        target,
        options: tmpfs_options(&given),
    })
}

/// The defaults, overridden by the options given (`exec` cancels `noexec`, ...).
fn tmpfs_options(given: &[String]) -> Vec<String> {
    let key = |o: &str| {
        let name = o.split('=').next().unwrap_or(o).to_owned();
        name.strip_prefix("no").map(str::to_owned).unwrap_or(name)
    };
    let mut out: Vec<String> = TMPFS_DEFAULTS
        .iter()
        .filter(|d| !given.iter().any(|g| key(g) == key(d)))
        .map(|d| (*d).to_owned())
        .collect();
    out.extend(given.iter().filter(|g| *g != "rw").cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon() -> String {
        "anon1".to_owned()
    }

    #[test]
    fn volume_flag_forms() {
        assert_eq!(
            parse_volume_flag("/srv/data:/data:ro", anon).unwrap(),
            MountConfig::Bind {
                source: "/srv/data".into(),
                target: "/data".into(),
                readonly: true,
                propagation: None
            }
        );
        assert_eq!(
            parse_volume_flag("cache:/var/cache/", anon).unwrap(),
            MountConfig::Volume {
                name: "cache".into(),
                target: "/var/cache".into(),
                readonly: false,
                anonymous: false,
                copy_up: true
            }
        );
        assert!(matches!(
            parse_volume_flag("/data", anon).unwrap(),
            MountConfig::Volume { anonymous: true, ref name, .. } if name == "anon1"
        ));
        assert!(parse_volume_flag("rel/path:/x", anon).is_err());
        assert!(parse_volume_flag("/a:b", anon).is_err());
        assert!(
            parse_volume_flag("/a:/b:bogus", anon)
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
        assert!(parse_volume_flag("/a:/", anon).is_err());
        assert!(parse_volume_flag("/a:/x/../etc", anon).is_err());
    }

    #[test]
    fn mount_flag_forms() {
        assert!(matches!(
            parse_mount_flag("type=bind,source=/src,target=/dst,readonly", anon).unwrap(),
            MountConfig::Bind { readonly: true, .. }
        ));
        let tmp = parse_mount_flag(
            "type=tmpfs,dst=/scratch,tmpfs-size=64m,tmpfs-mode=700",
            anon,
        )
        .unwrap();
        let MountConfig::Tmpfs { options, .. } = tmp else {
            panic!()
        };
        assert!(options.contains(&"size=67108864".to_owned()));
        assert!(options.contains(&"mode=700".to_owned()));
        assert!(!options.contains(&"mode=1777".to_owned()));
        assert!(parse_mount_flag("type=bind,target=/x", anon).is_err());
        assert!(parse_mount_flag("type=nfs,target=/x", anon).is_err());
        assert!(parse_mount_flag("source=v1", anon).is_err());
    }

    #[test]
    fn tmpfs_defaults_to_sticky_world_writable() {
        let MountConfig::Tmpfs { target, options } = parse_tmpfs_flag("/tmp").unwrap() else {
            panic!()
        };
        assert_eq!(target, "/tmp");
        assert_eq!(options, ["nosuid", "nodev", "noexec", "mode=1777"]);
        let MountConfig::Tmpfs { options, .. } = parse_tmpfs_flag("/run:exec,size=1m").unwrap()
        else {
            panic!()
        };
        assert_eq!(options, ["nosuid", "nodev", "mode=1777", "exec", "size=1m"]);
        assert!(parse_tmpfs_flag("/run:size=lots").is_err());
    }
}
