//! seccomp from `linux.seccomp`, compiled to classic BPF by our own
//! generator (no libseccomp: compiling the filter is most of other lean
//! runtimes' own time).
//!
//! - [`profile`] validates the config and names the field at fault.
//! - [`codegen`](self) turns it into a program: an arch check, a binary
//!   search over ranges of syscall numbers, and per-syscall argument rules.
//! - Compiled in the parent ([`plan`]), before anything is created; loaded by
//!   the container's process right before `execve` ([`Filter::install`]).
//! - [`notify`] hands SCMP_ACT_NOTIFY's listener to the agent at `listenerPath`.
//! - [`default_profile`] is what `brig-runtime spec` writes.

pub mod abi;
mod asm;
mod codegen;
pub mod default_profile;
pub mod notify;
pub mod profile;
mod tables;

#[cfg(test)]
mod interp;
#[cfg(test)]
mod tests;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use brig_sys::seccomp::{self as sys, SockFilter};
use oci_spec::runtime::Spec;

use crate::creds::Creds;
use crate::error::{Error, Result};
pub use profile::FieldError;
use profile::{Listener, Profile, ret};

/// What the running kernel's seccomp supports, asked once in the parent.
#[derive(Debug, Clone, Copy)]
pub struct KernelSupport {
    /// The `SECCOMP_FILTER_FLAG_*` bits it accepts.
    pub flags: u32,
    /// `SECCOMP_RET_*` actions it implements (see [`KernelSupport::has_action`]).
    actions: u8,
}

/// Actions that newer kernels added, in bit order for [`KernelSupport::actions`].
const PROBED_ACTIONS: [(u32, &str); 3] = [
    (ret::KILL_PROCESS, "SCMP_ACT_KILL_PROCESS"),
    (ret::LOG, "SCMP_ACT_LOG"),
    (ret::USER_NOTIF, "SCMP_ACT_NOTIFY"),
];

impl KernelSupport {
    /// Asks the kernel about everything (a few cheap syscalls that install nothing).
    pub fn probe() -> Self {
        Self::probe_only(u32::MAX, u8::MAX)
    }

    /// Asks only about the flags and actions `spec` uses (usually none: a
    /// Docker-like profile needs no probe at all). The rest count as supported.
    pub fn probe_for(spec: &oci_spec::runtime::LinuxSeccomp) -> Self {
        match profile::validate(spec) {
            Ok(profile) => Self::probe_for_profile(&profile),
            Err(_) => Self::everything(), // compiling reports the mistake
        }
    }

    fn probe_for_profile(profile: &Profile<'_>) -> Self {
        let mut flags = profile.flags;
        if profile.notifies() {
            flags |= sys::FLAG_NEW_LISTENER | sys::FLAG_TSYNC_ESRCH;
        }
        let used = |action: u32| {
            action & ret::ACTION_FULL == profile.default & ret::ACTION_FULL
                || profile
                    .rules
                    .iter()
                    .any(|r| r.action & ret::ACTION_FULL == action)
        };
        let actions = PROBED_ACTIONS
            .iter()
            .enumerate()
            .filter(|(_, (a, _))| used(*a))
            .fold(0u8, |acc, (i, _)| acc | 1 << i);
        Self::probe_only(flags, actions)
    }

    fn probe_only(wanted_flags: u32, wanted_actions: u8) -> Self {
        let mut flags = u32::MAX;
        for flag in [
            sys::FLAG_TSYNC,
            sys::FLAG_LOG,
            sys::FLAG_SPEC_ALLOW,
            sys::FLAG_NEW_LISTENER,
            sys::FLAG_TSYNC_ESRCH,
            sys::FLAG_WAIT_KILLABLE_RECV,
        ] {
            if wanted_flags & flag != 0 && !sys::filter_flag_supported(flag) {
                flags &= !flag;
            }
        }
        let mut actions = u8::MAX;
        for (i, (action, _)) in PROBED_ACTIONS.iter().enumerate() {
            if wanted_actions & (1 << i) != 0 && !sys::action_available(*action) {
                actions &= !(1 << i);
            }
        }
        KernelSupport { flags, actions }
    }

    /// A kernel that supports everything (for tests and offline compilation).
    pub fn everything() -> Self {
        KernelSupport {
            flags: u32::MAX,
            actions: u8::MAX,
        }
    }

    pub fn has_action(&self, action: u32) -> bool {
        PROBED_ACTIONS
            .iter()
            .position(|(a, _)| *a == action & ret::ACTION_FULL)
            .is_none_or(|i| self.actions & (1 << i) != 0)
    }
}

/// A compiled filter, ready to load.
#[derive(Debug, Clone)]
pub struct Filter {
    pub program: Vec<SockFilter>,
    /// Flags for seccomp(2), those the kernel does not know left out.
    pub flags: u32,
    /// Set when a rule uses SCMP_ACT_NOTIFY.
    pub agent: Option<Agent>,
}

/// The seccomp agent SCMP_ACT_NOTIFY's listener goes to.
#[derive(Debug, Clone)]
pub struct Agent {
    pub listener: Listener,
    /// Connected by [`Filter::connect_agent`] in the parent.
    socket: Option<Arc<OwnedFd>>,
}

/// Validates and compiles `spec` for a kernel supporting `kernel`.
pub fn compile(
    spec: &oci_spec::runtime::LinuxSeccomp,
    kernel: &KernelSupport,
) -> std::result::Result<Filter, FieldError> {
    compile_profile(profile::validate(spec)?, kernel)
}

/// Validates and compiles `spec` for the running kernel, asking it only about
/// the flags and actions the profile uses.
pub fn compile_for_this_kernel(
    spec: &oci_spec::runtime::LinuxSeccomp,
) -> std::result::Result<Filter, FieldError> {
    let profile = profile::validate(spec)?;
    let kernel = KernelSupport::probe_for_profile(&profile);
    compile_profile(profile, &kernel)
}

fn compile_profile(
    profile: Profile<'_>,
    kernel: &KernelSupport,
) -> std::result::Result<Filter, FieldError> {
    check_actions(&profile, kernel)?;
    let program = codegen::generate(&profile).map_err(|too_large| FieldError {
        field: "linux.seccomp.syscalls".into(),
        reason: format!(
            "the compiled filter has {} instructions, more than the kernel's 4096",
            too_large.0
        ),
    })?;
    let notifies = profile.notifies();
    let mut flags = profile.flags;
    if notifies {
        flags |= sys::FLAG_NEW_LISTENER;
        if flags & sys::FLAG_TSYNC != 0 {
            // The kernel refuses TSYNC with a listener unless TSYNC failures use ESRCH.
            flags |= sys::FLAG_TSYNC_ESRCH;
        }
    } else {
        // Only meaningful (and only accepted) together with a listener.
        flags &= !sys::FLAG_WAIT_KILLABLE_RECV;
    }
    let agent = match (notifies, profile.listener) {
        (true, Some(listener)) => Some(Agent {
            listener,
            socket: None,
        }),
        _ => None,
    };
    Ok(Filter {
        program,
        flags: flags & kernel.flags,
        agent,
    })
}

fn check_actions(
    profile: &Profile<'_>,
    kernel: &KernelSupport,
) -> std::result::Result<(), FieldError> {
    let used = std::iter::once(("linux.seccomp.defaultAction".to_string(), profile.default)).chain(
        profile
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("linux.seccomp.syscalls[{i}].action"), r.action)),
    );
    for (field, action) in used {
        if !kernel.has_action(action) {
            let name = PROBED_ACTIONS
                .iter()
                .find(|(a, _)| *a == action & ret::ACTION_FULL)
                .map_or("this action", |(_, n)| n);
            return Err(FieldError {
                field,
                reason: format!("{name} is not supported by the running kernel"),
            });
        }
    }
    Ok(())
}

/// Whether `spec`'s `linux.seccomp` uses SCMP_ACT_NOTIFY (the container's
/// process then needs the state document for the agent).
pub fn notifies(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .and_then(|s| s.syscalls().as_ref())
        .is_some_and(|calls| {
            calls
                .iter()
                .any(|c| c.action() == oci_spec::runtime::LinuxSeccompAction::ScmpActNotify)
        })
}

/// The filter `linux.seccomp` of `spec` asks for (none without the field),
/// compiled for the running kernel, with the agent connected when
/// SCMP_ACT_NOTIFY is used. Errors name `config` and the field.
pub fn plan(spec: &Spec, config: &Path) -> Result<Option<Filter>> {
    let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    if !cfg!(target_arch = "x86_64") {
        return Err(Error::Unsupported("linux.seccomp on this architecture"));
    }
    let mut filter =
        compile(seccomp, &KernelSupport::probe_for(seccomp)).map_err(|e| Error::Config {
            file: config.to_path_buf(),
            field: e.field,
            reason: e.reason,
        })?;
    filter.connect_agent()?;
    Ok(Some(filter))
}

impl Filter {
    /// Whether loading returns a listener for an agent.
    pub fn notifies(&self) -> bool {
        self.agent.is_some()
    }

    /// Connects to the agent (done in the parent, where `listenerPath` is reachable).
    pub fn connect_agent(&mut self) -> Result<()> {
        if let Some(agent) = &mut self.agent {
            let path = &agent.listener.path;
            let socket = notify::connect(path).map_err(|e| {
                Error::io(
                    "cannot connect to linux.seccomp.listenerPath",
                    path.clone(),
                    e,
                )
            })?;
            agent.socket = Some(Arc::new(socket));
        }
        Ok(())
    }

    /// Whether the filter must be loaded before the identity switch: loading
    /// needs no_new_privs or CAP_SYS_ADMIN, and the program may end with neither.
    pub fn load_before_creds(creds: &Creds) -> bool {
        const CAP_SYS_ADMIN: u32 = 21;
        let keeps_admin = match &creds.caps {
            Some(caps) => caps.effective & (1 << CAP_SYS_ADMIN) != 0,
            None => creds.uid == 0,
        };
        !creds.no_new_privs && !keeps_admin
    }

    /// Loads the filter on the calling thread; with SCMP_ACT_NOTIFY sends the
    /// listener at once to the agent, with `state_json` (the container's
    /// state) and `pid` (this process as the runtime sees it).
    pub fn install(&self, state_json: &str, pid: i32) -> std::result::Result<(), InstallError> {
        let listener = sys::load_filter(&self.program, self.flags).map_err(InstallError::Load)?;
        if let (Some(agent), Some(listener)) = (&self.agent, listener) {
            let socket = agent
                .socket
                .as_deref()
                .ok_or_else(|| InstallError::Agent(std::io::ErrorKind::NotConnected.into()))?
                .try_clone()
                .map_err(InstallError::Agent)?;
            let metadata = agent.listener.metadata.as_deref();
            notify::deliver(socket, listener, state_json, pid, metadata)
                .map_err(InstallError::Agent)?;
        }
        Ok(())
    }
}

/// Why [`Filter::install`] failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("loading the seccomp filter: {0}")]
    Load(std::io::Error),
    #[error("sending the seccomp listener to linux.seccomp.listenerPath: {0}")]
    Agent(std::io::Error),
}

impl InstallError {
    pub fn errno(&self) -> Option<i32> {
        match self {
            InstallError::Load(e) | InstallError::Agent(e) => e.raw_os_error(),
        }
    }
}
