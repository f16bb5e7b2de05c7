//! Which namespaces a container gets: created new (one `clone3`) or joined
//! by path (`setns`).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::bundle::config_error;
use crate::error::{Error, Result};

/// A namespace to join, opened in the parent before the fork.
#[derive(Debug)]
pub struct Join {
    pub kind: LinuxNamespaceType,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

#[derive(Debug, Default)]
pub struct NamespacePlan {
    /// `CLONE_NEW*` flags for the namespaces created with the init process.
    pub new_flags: u64,
    /// Joined in this order by the child (the user namespace first).
    pub joins: Vec<Join>,
}

impl NamespacePlan {
    pub fn from_spec(spec: &Spec, config: &Path) -> Result<Self> {
        let mut plan = NamespacePlan::default();
        let mut seen = Vec::new();
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        for (i, ns) in namespaces.into_iter().flatten().enumerate() {
            let kind = ns.typ();
            if seen.contains(&kind) {
                let field = format!("linux.namespaces[{i}]");
                return Err(config_error(
                    config,
                    &field,
                    &format!("namespace {kind} is listed twice"),
                ));
            }
            seen.push(kind);
            match ns.path() {
                None => plan.new_flags |= clone_flag(kind),
                Some(path) => {
                    let field = format!("linux.namespaces[{i}].path");
                    let fd = File::open(path).map_err(|e| {
                        config_error(config, &field, &format!("{}: {e}", path.display()))
                    })?;
                    plan.joins.push(Join {
                        kind,
                        path: path.clone(),
                        fd: fd.into(),
                    });
                }
            }
        }
        // Joining the user namespace first lets the others be joined with its privileges.
        plan.joins
            .sort_by_key(|j| j.kind != LinuxNamespaceType::User);
        plan.check(spec, config)?;
        Ok(plan)
    }

    fn check(&self, spec: &Spec, config: &Path) -> Result<()> {
        let linux = spec.linux().as_ref();
        let has_maps =
            linux.is_some_and(|l| l.uid_mappings().is_some() || l.gid_mappings().is_some());
        if self.creates(LinuxNamespaceType::User) && !has_maps {
            return Err(config_error(
                config,
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
        if !self.creates(LinuxNamespaceType::User)
            && has_maps
            && !self.joins(LinuxNamespaceType::User)
        {
            return Err(config_error(
                config,
                "linux.uidMappings",
                "mappings are given but there is no user namespace in linux.namespaces",
            ));
        }
        if spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
            && !self.creates(LinuxNamespaceType::Uts)
        {
            return Err(config_error(
                config,
                "hostname",
                "setting a hostname needs a new uts namespace",
            ));
        }
        if linux.is_some_and(|l| l.time_offsets().is_some())
            && !self.creates(LinuxNamespaceType::Time)
        {
            return Err(config_error(
                config,
                "linux.timeOffsets",
                "time offsets need a new time namespace",
            ));
        }
        let offsets = linux.and_then(|l| l.time_offsets().as_ref());
        for clock in offsets.into_iter().flat_map(|o| o.keys()) {
            if !matches!(clock.as_str(), "monotonic" | "boottime") {
                let field = format!("linux.timeOffsets.{clock}");
                return Err(config_error(
                    config,
                    &field,
                    "unknown clock (use monotonic or boottime)",
                ));
            }
        }
        if self.joins(LinuxNamespaceType::User)
            && self.new_flags & clone_flag(LinuxNamespaceType::Pid) != 0
        {
            return Err(Error::Unsupported(
                "a new pid namespace inside a joined user namespace",
            ));
        }
        Ok(())
    }

    pub fn creates(&self, kind: LinuxNamespaceType) -> bool {
        self.new_flags & clone_flag(kind) != 0
    }

    pub fn joins(&self, kind: LinuxNamespaceType) -> bool {
        self.joins.iter().any(|j| j.kind == kind)
    }

    /// Namespaces that apply only to children (pid, time) and so must be
    /// entered by the parent before it clones the init process.
    pub fn parent_joins(&self) -> impl Iterator<Item = &Join> {
        self.joins.iter().filter(|j| for_children_only(j.kind))
    }

    /// Namespaces the init process enters itself.
    pub fn child_joins(&self) -> impl Iterator<Item = &Join> {
        self.joins.iter().filter(|j| !for_children_only(j.kind))
    }
}

fn for_children_only(kind: LinuxNamespaceType) -> bool {
    matches!(kind, LinuxNamespaceType::Pid | LinuxNamespaceType::Time)
}

/// The `CLONE_NEW*` flag of a namespace type (oci-spec's discriminants are those flags).
pub fn clone_flag(kind: LinuxNamespaceType) -> u64 {
    kind as u64
}

/// Enters the namespace behind `fd`.
pub fn enter(join: &Join) -> Result<()> {
    use rustix::thread::LinkNameSpaceType as L;
    let kind = match join.kind {
        LinuxNamespaceType::Mount => L::Mount,
        LinuxNamespaceType::Cgroup => L::ControlGroup,
        LinuxNamespaceType::Uts => L::HostNameAndNISDomainName,
        LinuxNamespaceType::Ipc => L::InterProcessCommunication,
        LinuxNamespaceType::User => L::User,
        LinuxNamespaceType::Pid => L::ProcessID,
        LinuxNamespaceType::Network => L::Network,
        LinuxNamespaceType::Time => L::Time,
    };
    rustix::thread::move_into_link_name_space(join.fd.as_fd(), Some(kind))
        .map_err(|e| Error::io("cannot join namespace", &join.path, e.into()))
}
