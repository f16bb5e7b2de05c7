//! What the container's program is: args, environment, working directory,
//! limits and identity, resolved from `process` once, before the fork.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{PosixRlimit, Process, Spec};

use crate::bundle::config_error;
use crate::creds::Creds;
use crate::error::{Error, Result};
use crate::lsm::LsmPlan;
use crate::sched::SchedPlan;
use crate::seccomp::Filter;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: PathBuf,
    pub terminal: bool,
    pub rlimits: Vec<(rustix::process::Resource, u64, u64)>,
    pub oom_score_adj: Option<i32>,
    pub creds: Creds,
    /// Set by [`ProcessPlan::confine`]: applied right before execve.
    pub seccomp: Option<Filter>,
    pub lsm: LsmPlan,
    pub sched: SchedPlan,
}

/// A step of the last moments before execve that failed, and why.
pub(crate) type StepError = (&'static str, std::io::Error);

impl ProcessPlan {
    pub fn from_spec(process: &Process, config: &Path, last_cap: u32) -> Result<Self> {
        let args = process.args().as_deref().unwrap_or_default();
        if args.is_empty() {
            return Err(config_error(
                config,
                "process.args",
                "must name the program to run",
            ));
        }
        let args = cstrings(args, config, "process.args")?;
        let env = cstrings(
            process.env().as_deref().unwrap_or_default(),
            config,
            "process.env",
        )?;
        let cwd = process.cwd().clone();
        if !cwd.is_absolute() {
            return Err(config_error(
                config,
                "process.cwd",
                "must be an absolute path",
            ));
        }
        let mut rlimits = Vec::new();
        for (i, r) in process.rlimits().iter().flatten().enumerate() {
            rlimits.push(rlimit(r, config, i)?);
        }
        Ok(ProcessPlan {
            args,
            env,
            cwd,
            terminal: process.terminal().unwrap_or(false),
            rlimits,
            oom_score_adj: process.oom_score_adj(),
            creds: Creds::from_process(process, last_cap),
            seccomp: None,
            lsm: LsmPlan::default(),
            sched: SchedPlan::default(),
        })
    }

    /// Adds what `spec` (seccomp, personality) and `process` (AppArmor,
    /// SELinux, scheduler, I/O priority) ask for, checked and compiled here in
    /// the parent so that a mistake fails before anything exists. With
    /// SCMP_ACT_NOTIFY this also connects to the seccomp agent.
    pub fn confine(mut self, spec: &Spec, process: &Process, config: &Path) -> Result<Self> {
        let linux = spec.linux().as_ref();
        self.lsm = LsmPlan::from_spec(process, linux, config)?;
        self.sched = SchedPlan::from_spec(process, linux, config)?;
        self.seccomp = crate::seccomp::plan(spec, config)?;
        Ok(self)
    }

    /// Whether a seccomp agent gets the listener (and so the container's state).
    pub fn notifies_agent(&self) -> bool {
        self.seccomp.as_ref().is_some_and(Filter::notifies)
    }

    /// This process's pid as the runtime sees it, for the seccomp agent (0
    /// without one). Call before the container's /proc is mounted or joined.
    pub(crate) fn agent_pid(&self) -> i32 {
        if self.notifies_agent() {
            crate::seccomp::notify::host_pid().unwrap_or(0)
        } else {
            0
        }
    }

    /// Labels, scheduling, and seccomp when it must come before the identity
    /// switch: run while the process still has its privileges. `state` and
    /// `pid` go to a seccomp agent.
    pub(crate) fn confine_before_creds(&self, state: &str, pid: i32) -> Result<(), StepError> {
        self.lsm.apply()?;
        self.sched.apply()?;
        match &self.seccomp {
            Some(filter) if Filter::load_before_creds(&self.creds) => install(filter, state, pid),
            _ => Ok(()),
        }
    }

    /// seccomp as late as possible, right before execve (unless loaded earlier).
    pub(crate) fn confine_last(&self, state: &str, pid: i32) -> Result<(), StepError> {
        match &self.seccomp {
            Some(filter) if !Filter::load_before_creds(&self.creds) => install(filter, state, pid),
            _ => Ok(()),
        }
    }

    /// Sets the process's rlimits (in the container's process, before exec).
    pub fn apply_rlimits(&self) -> rustix::io::Result<()> {
        for &(resource, soft, hard) in &self.rlimits {
            let limit = rustix::process::Rlimit {
                current: Some(soft).filter(|&v| v != u64::MAX),
                maximum: Some(hard).filter(|&v| v != u64::MAX),
            };
            rustix::process::setrlimit(resource, limit)?;
        }
        Ok(())
    }

    /// The value of `PATH` in the program's environment.
    pub fn path_var(&self) -> &str {
        self.env
            .iter()
            .filter_map(|kv| kv.to_str().ok())
            .find_map(|kv| kv.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
    }
}

fn install(filter: &Filter, state: &str, pid: i32) -> Result<(), StepError> {
    use crate::seccomp::InstallError as E;
    filter.install(state, pid).map_err(|e| match e {
        E::Load(e) => ("loading the seccomp filter", e),
        E::Agent(e) => (
            "sending the seccomp listener to linux.seccomp.listenerPath",
            e,
        ),
    })
}

fn cstrings(items: &[String], config: &Path, field: &str) -> Result<Vec<CString>> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            CString::new(s.as_bytes())
                .map_err(|_| config_error(config, &format!("{field}[{i}]"), "contains a NUL byte"))
        })
        .collect()
}

fn rlimit(
    r: &PosixRlimit,
    config: &Path,
    i: usize,
) -> Result<(rustix::process::Resource, u64, u64)> {
    use oci_spec::runtime::PosixRlimitType as T;
    use rustix::process::Resource as R;
    let resource = match r.typ() {
        T::RlimitCpu => R::Cpu,
        T::RlimitFsize => R::Fsize,
        T::RlimitData => R::Data,
        T::RlimitStack => R::Stack,
        T::RlimitCore => R::Core,
        T::RlimitRss => R::Rss,
        T::RlimitNproc => R::Nproc,
        T::RlimitNofile => R::Nofile,
        T::RlimitMemlock => R::Memlock,
        T::RlimitAs => R::As,
        T::RlimitLocks => R::Locks,
        T::RlimitSigpending => R::Sigpending,
        T::RlimitMsgqueue => R::Msgqueue,
        T::RlimitNice => R::Nice,
        T::RlimitRtprio => R::Rtprio,
        T::RlimitRttime => R::Rttime,
    };
    if r.soft() > r.hard() {
        let field = format!("process.rlimits[{i}]");
        return Err(config_error(
            config,
            &field,
            "soft limit is above the hard limit",
        ));
    }
    Ok((resource, r.soft(), r.hard()))
}

/// The environment the program gets: `HOME` is added when missing, from the
/// container's /etc/passwd (or "/"), as runc does. Call inside the new root.
pub fn final_env(env: &[CString], extra: &[CString], uid: u32) -> Vec<CString> {
    let mut out: Vec<CString> = env.iter().chain(extra).cloned().collect();
    if !out.iter().any(|kv| kv.as_bytes().starts_with(b"HOME=")) {
        let home = home_of(uid).unwrap_or_else(|| "/".to_string());
        if let Ok(kv) = CString::new(format!("HOME={home}")) {
            out.push(kv);
        }
    }
    out
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse() == Ok(uid)).then(|| fields[5].to_string())
    })
}

/// Finds the program as `execve` will see it from inside the container,
/// with runc's error texts (engines map them to exit codes 126 and 127).
pub fn resolve_program(arg0: &str, path_var: &str) -> std::result::Result<CString, String> {
    use std::os::unix::fs::PermissionsExt;
    let check = |p: &Path| -> std::result::Result<(), String> {
        let meta = std::fs::metadata(p).map_err(|e| format!("exec: {arg0:?}: {e}"))?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("exec: {arg0:?}: permission denied"));
        }
        Ok(())
    };
    if arg0.contains('/') {
        check(Path::new(arg0))?;
        return CString::new(arg0).map_err(|_| format!("exec: {arg0:?}: contains a NUL byte"));
    }
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if check(&candidate).is_ok() {
            return CString::new(candidate.into_os_string().into_encoded_bytes())
                .map_err(|_| format!("exec: {arg0:?}: contains a NUL byte"));
        }
    }
    Err(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    ))
}

impl From<(&'static str, std::io::Error)> for Error {
    fn from((op, cause): (&'static str, std::io::Error)) -> Self {
        Error::Sys { op, cause }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_lookup() {
        assert_eq!(
            resolve_program("sh", "/nonexistent:/bin")
                .unwrap()
                .to_str()
                .unwrap(),
            "/bin/sh"
        );
        let err = resolve_program("no-such-program", "/bin").unwrap_err();
        assert!(err.contains("executable file not found in $PATH"), "{err}");
        let err = resolve_program("/etc", "/bin").unwrap_err();
        assert!(err.contains("permission denied"), "{err}");
    }
}
