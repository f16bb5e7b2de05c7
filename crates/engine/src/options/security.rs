//! `--security-opt`, `--cap-add/--cap-drop`, `--privileged`, `--userns`.

use crate::caps;
use crate::config::{SeccompChoice, SecurityConfig};
use crate::error::{Error, Result};

/// What `--security-opt` values say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    pub apparmor: Option<String>,
    pub label: Vec<String>,
    pub unmask_system_paths: bool,
}

/// Parses `--security-opt` values; `read_file` reads a seccomp profile.
pub fn parse_security_opts(
    opts: &[String],
    read_file: &dyn Fn(&str) -> Result<String>,
) -> Result<SecurityOpts> {
    let flag = "--security-opt";
    let mut out = SecurityOpts::default();
    for spec in opts {
        // Docker accepts both KEY=VALUE and the older KEY:VALUE.
        let (key, value) = match spec.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => match spec.split_once(':') {
                Some((k, v)) => (k, Some(v)),
                None => (spec.as_str(), None),
            },
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => out.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => out.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => out.seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some(path)) if !path.is_empty() => {
                let text = read_file(path)?;
                crate::seccomp::check_profile(&text).map_err(|reason| {
                    Error::invalid(
                        flag,
                        spec,
                        format!("the seccomp profile {path} is not usable: {reason}"),
                    )
                })?;
                out.seccomp = SeccompChoice::Custom(text);
            }
            ("apparmor", Some(name)) if !name.is_empty() => out.apparmor = Some(name.to_owned()),
            ("label", Some(v)) => {
                let known = v == "disable"
                    || v == "nested"
                    || ["user:", "role:", "type:", "level:", "filetype:"]
                        .iter()
                        .any(|p| v.starts_with(p));
                if !known {
                    return Err(Error::invalid(
                        flag,
                        spec,
                        "label takes disable, user:U, role:R, type:T or level:L",
                    ));
                }
                out.label.push(v.to_owned());
            }
            ("systempaths", Some("unconfined")) => out.unmask_system_paths = true,
            _ => {
                return Err(Error::invalid(
                    flag,
                    spec,
                    "supported: no-new-privileges, seccomp=unconfined|PROFILE.json, apparmor=PROFILE, label=..., systempaths=unconfined",
                ));
            }
        }
    }
    Ok(out)
}

/// The security part of a container's config.
pub fn security_config(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
    opts: SecurityOpts,
    userns: crate::config::UsernsMode,
) -> Result<SecurityConfig> {
    let norm = |flag: &str, list: &[String]| -> Result<Vec<String>> {
        list.iter().map(|c| caps::normalize(flag, c)).collect()
    };
    Ok(SecurityConfig {
        privileged,
        cap_add: norm("--cap-add", cap_add)?,
        cap_drop: norm("--cap-drop", cap_drop)?,
        no_new_privileges: opts.no_new_privileges,
        seccomp: opts.seccomp,
        apparmor: opts.apparmor,
        label: opts.label,
        userns,
        unmask_system_paths: opts.unmask_system_paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(p: &str) -> Result<String> {
        Err(Error::invalid("--security-opt", p, "no such file"))
    }

    #[test]
    fn security_opts_parse() {
        let o = parse_security_opts(
            &[
                "no-new-privileges".into(),
                "seccomp=unconfined".into(),
                "apparmor=x".into(),
            ],
            &no_files,
        )
        .unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        assert_eq!(o.apparmor.as_deref(), Some("x"));
        assert!(parse_security_opts(&["seccomp=/nope.json".into()], &no_files).is_err());
        assert!(parse_security_opts(&["label=bogus".into()], &no_files).is_err());
        assert!(parse_security_opts(&["frobnicate".into()], &no_files).is_err());
        let custom = |_: &str| Ok(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.to_owned());
        let o = parse_security_opts(&["seccomp=p.json".into()], &custom).unwrap();
        assert!(matches!(o.seccomp, SeccompChoice::Custom(_)));
        let bad = |_: &str| Ok("[1,2]".to_owned());
        assert!(parse_security_opts(&["seccomp=p.json".into()], &bad).is_err());
    }
}
