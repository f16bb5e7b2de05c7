//! `brig audit`: a defense-in-depth report per container, one line per
//! layer, each a pass or a warning with the flag that fixes it. Pure: it
//! reads only the container's record.

use serde::Serialize;

use crate::caps;
use crate::config::{NetworkMode, SeccompChoice, UsernsMode};
use crate::engine::Engine;
use crate::error::Result;
use crate::record::ContainerRecord;

/// One layer's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditLine {
    pub layer: &'static str,
    /// `pass` or `warn`.
    pub status: &'static str,
    pub detail: String,
    /// The flag that fixes a warning (empty on pass).
    pub fix: String,
}

fn line(layer: &'static str, ok: bool, detail: impl Into<String>, fix: &str) -> AuditLine {
    AuditLine {
        layer,
        status: if ok { "pass" } else { "warn" },
        detail: detail.into(),
        fix: if ok { String::new() } else { fix.to_owned() },
    }
}

fn is_root_user(user: &str) -> bool {
    let u = user.split(':').next().unwrap_or("");
    u.is_empty() || u == "0" || u == "root"
}

/// The report for one container.
pub fn audit(rec: &ContainerRecord, cap_last_cap: u32) -> Vec<AuditLine> {
    let c = &rec.config;
    let s = &c.security;
    let r = &c.resources;
    let set = caps::effective_set(s.privileged, &s.cap_add, &s.cap_drop, cap_last_cap);
    let minimal = set.iter().all(|c| c == "CAP_NET_BIND_SERVICE");
    let beyond: Vec<&String> = set
        .iter()
        .filter(|c| !caps::DEFAULT.contains(&c.as_str()))
        .collect();
    let cap_detail = if s.privileged {
        "privileged: every capability".to_owned()
    } else if minimal {
        format!(
            "minimal: {}",
            if set.is_empty() {
                "none".to_owned()
            } else {
                set.iter().cloned().collect::<Vec<_>>().join(",")
            }
        )
    } else if beyond.is_empty() {
        format!("the default set of {} capabilities", set.len())
    } else {
        format!(
            "added beyond the defaults: {}",
            beyond
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let seccomp_ok = !s.privileged && s.seccomp != SeccompChoice::Unconfined;
    let lsm_ok = s.apparmor.as_deref().is_some_and(|a| a != "unconfined")
        || s.label.iter().any(|l| l != "disable");
    let pids_ok = r.pids_limit != Some(0);
    let exposure = match (&c.network, c.ports.is_empty()) {
        (NetworkMode::Host, _) => (false, "shares the host's network".to_owned()),
        (_, false) => (
            false,
            format!(
                "publishes {}",
                c.ports
                    .iter()
                    .map(|p| format!("{}/{}", p.host_port, p.protocol))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        (NetworkMode::None, true) => (true, "no network (loopback only)".to_owned()),
        (NetworkMode::Container(c), true) => (true, format!("shares container {c}'s network")),
        (NetworkMode::Bridge(b), true) => {
            (true, format!("network {}, nothing published", b.primary()))
        }
    };
    let pinned = rec.image.contains("@sha256:");
    vec![
        line(
            "user namespace",
            s.userns == UsernsMode::Auto,
            if s.userns == UsernsMode::Auto {
                "private ID range"
            } else {
                "root in the container is root on the host"
            },
            "--userns auto",
        ),
        line(
            "non-root user",
            !is_root_user(&c.user),
            if is_root_user(&c.user) {
                "runs as root".to_owned()
            } else {
                format!("runs as {}", c.user)
            },
            "--user 1000:1000",
        ),
        line(
            "capabilities",
            !s.privileged && minimal,
            cap_detail,
            "--cap-drop ALL --cap-add only what it needs",
        ),
        line(
            "seccomp",
            seccomp_ok,
            match (&s.seccomp, s.privileged) {
                (_, true) | (SeccompChoice::Unconfined, _) => "no seccomp filter",
                (SeccompChoice::Default, _) => "brig's default profile",
                (SeccompChoice::Custom(_), _) => "a custom profile",
            },
            "drop --security-opt seccomp=unconfined / --privileged",
        ),
        line(
            "LSM",
            lsm_ok,
            if lsm_ok {
                "an AppArmor or SELinux profile is set"
            } else {
                "no AppArmor or SELinux profile"
            },
            "--security-opt apparmor=PROFILE (or label=type:TYPE)",
        ),
        line(
            "read-only root",
            c.read_only,
            if c.read_only { "read-only" } else { "writable" },
            "--read-only --tmpfs /tmp",
        ),
        line(
            "no-new-privileges",
            s.no_new_privileges,
            if s.no_new_privileges {
                "set"
            } else {
                "setuid programs can gain privileges"
            },
            "--security-opt no-new-privileges",
        ),
        line(
            "memory limit",
            r.memory.is_some(),
            r.memory
                .map_or("unlimited".to_owned(), |m| format!("{} MiB", m >> 20)),
            "--memory 512m",
        ),
        line(
            "CPU limit",
            r.nano_cpus.is_some(),
            r.nano_cpus.map_or("unlimited".to_owned(), |n| {
                format!("{:.2} CPUs", n as f64 / 1e9)
            }),
            "--cpus 1",
        ),
        line(
            "pids limit",
            pids_ok,
            match r.pids_limit {
                Some(0) => "unlimited".to_owned(),
                Some(n) => n.to_string(),
                None => format!("{} (default)", crate::spec::DEFAULT_PIDS_LIMIT),
            },
            "--pids-limit 100",
        ),
        line(
            "network exposure",
            exposure.0,
            exposure.1,
            "--network none, or publish only what is needed",
        ),
        line(
            "pinned image",
            pinned,
            if pinned {
                "by digest".to_owned()
            } else {
                format!("{} can change under the same name", rec.image)
            },
            "run IMAGE@sha256:DIGEST",
        ),
    ]
}

impl Engine {
    /// `brig audit CONTAINER`.
    pub fn audit(&self, reference: &str) -> Result<(ContainerRecord, Vec<AuditLine>)> {
        let rec = self.find(reference)?;
        let lines = audit(&rec, caps::host_cap_last_cap());
        Ok((rec, lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    fn record(change: impl FnOnce(&mut crate::options::CreateOptions)) -> ContainerRecord {
        ContainerRecord {
            id: "c".repeat(64),
            name: "web".into(),
            image: "busybox:1.36".into(),
            image_id: "sha256:00".into(),
            config: testutil::config(change),
            state: crate::record::State::Created,
            pid: None,
            monitor: None,
            owner: None,
            exit_code: None,
            oom_killed: false,
            created_at: 0,
            started_at: None,
            finished_at: None,
            restart_count: 0,
            stop_requested: false,
            health: None,
            error: None,
        }
    }

    fn status(lines: &[AuditLine], layer: &str) -> &'static str {
        lines
            .iter()
            .find(|l| l.layer == layer)
            .map(|l| l.status)
            .unwrap()
    }

    #[test]
    fn defaults_warn_where_a_flag_would_help() {
        let lines = audit(&record(|_| {}), 40);
        assert_eq!(lines.len(), 12);
        for layer in [
            "user namespace",
            "non-root user",
            "capabilities",
            "read-only root",
            "no-new-privileges",
            "memory limit",
            "CPU limit",
            "pinned image",
        ] {
            assert_eq!(status(&lines, layer), "warn", "{layer}");
            assert!(
                !lines
                    .iter()
                    .find(|l| l.layer == layer)
                    .unwrap()
                    .fix
                    .is_empty()
            );
        }
        for layer in ["seccomp", "pids limit", "network exposure"] {
            assert_eq!(status(&lines, layer), "pass", "{layer}");
        }
    }

    #[test]
    fn the_hardened_line_passes_its_layers() {
        let lines = audit(
            &record(|o| {
                o.user = Some("1000:1000".into());
                o.cap_drop = vec!["ALL".into()];
                o.cap_add = vec!["NET_BIND_SERVICE".into()];
                o.read_only = true;
                o.security_opts = vec!["no-new-privileges".into()];
                o.memory = Some("512m".into());
                o.cpus = Some("0.5".into());
                o.pids_limit = Some(100);
            }),
            40,
        );
        for layer in [
            "non-root user",
            "capabilities",
            "seccomp",
            "read-only root",
            "no-new-privileges",
            "memory limit",
            "CPU limit",
            "pids limit",
            "network exposure",
        ] {
            assert_eq!(status(&lines, layer), "pass", "{layer}");
        }
        let privileged = audit(&record(|o| o.privileged = true), 40);
        assert_eq!(status(&privileged, "capabilities"), "warn");
        assert_eq!(status(&privileged, "seccomp"), "warn");
    }
}
