//! `linux.seccomp`, validated: actions become kernel return values, errno
//! values and argument indexes are checked, and every mistake names the
//! field at fault. Nothing here looks at the kernel.

use std::path::PathBuf;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F,
    LinuxSeccompOperator as O, LinuxSyscall,
};

use super::abi::Abi;

/// `SECCOMP_RET_*` action values (the low 16 bits carry data).
pub mod ret {
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    pub const KILL_THREAD: u32 = 0x0000_0000;
    pub const TRAP: u32 = 0x0003_0000;
    pub const ERRNO: u32 = 0x0005_0000;
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    pub const TRACE: u32 = 0x7ff0_0000;
    pub const LOG: u32 = 0x7ffc_0000;
    pub const ALLOW: u32 = 0x7fff_0000;
    /// The action part of a return value.
    pub const ACTION_FULL: u32 = 0xffff_0000;
}

/// What a syscall of a foreign ABI gets (seccomp_data.arch not in the
/// profile, or an x32 call without x32 in the profile): the process is killed,
/// as libseccomp's default bad-arch action does (its whole process, so that a
/// multithreaded program cannot go on half killed).
pub const BAD_ARCH: u32 = ret::KILL_PROCESS;

/// A comparison of one syscall argument (libseccomp's `SCMP_CMP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == value_two`.
    MaskedEq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    /// Argument index, 0-5.
    pub index: u8,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

impl Cond {
    /// The comparison as the kernel sees it: on a 32-bit ABI only the low
    /// 32 bits of the argument and of the operands count.
    pub fn holds(&self, arg: u64, wide: bool) -> bool {
        let narrow = |v: u64| if wide { v } else { v & 0xffff_ffff };
        let (a, v, v2) = (narrow(arg), narrow(self.value), narrow(self.value_two));
        match self.op {
            Op::Ne => a != v,
            Op::Lt => a < v,
            Op::Le => a <= v,
            Op::Eq => a == v,
            Op::Ge => a >= v,
            Op::Gt => a > v,
            Op::MaskedEq => (a & v) == v2,
        }
    }
}

/// One `syscalls[]` entry: all conditions must hold (AND).
#[derive(Debug, Clone)]
pub struct Rule<'a> {
    pub names: &'a [String],
    /// The full `SECCOMP_RET_*` value, data included.
    pub action: u32,
    pub conds: Vec<Cond>,
}

/// Where SCMP_ACT_NOTIFY's listener descriptor goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Profile<'a> {
    pub default: u32,
    /// The ABIs filtered; x86_64 (the native one) always comes first.
    pub abis: Vec<Abi>,
    pub rules: Vec<Rule<'a>>,
    /// `SECCOMP_FILTER_FLAG_*` asked for (before checking what the kernel knows).
    pub flags: u32,
    pub listener: Option<Listener>,
}

impl Profile<'_> {
    /// Whether any rule uses SCMP_ACT_NOTIFY.
    pub fn notifies(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.action & ret::ACTION_FULL == ret::USER_NOTIF)
    }
}

/// A mistake in `linux.seccomp`, with the dotted path of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        reason: reason.into(),
    }
}

const BASE: &str = "linux.seccomp";

/// Syscalls the runtime makes after loading the filter and before the agent
/// holds the listener: notifying them would wait for ourselves forever.
const NEVER_NOTIFIED: &[&str] = &["sendmsg"];

pub fn validate(spec: &LinuxSeccomp) -> Result<Profile<'_>, FieldError> {
    let default = action(
        spec.default_action(),
        spec.default_errno_ret(),
        &format!("{BASE}.defaultAction"),
        &format!("{BASE}.defaultErrnoRet"),
    )?;
    if default == ret::USER_NOTIF {
        return Err(bad(
            format!("{BASE}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action (the runtime must still run until execve); use it for named syscalls",
        ));
    }
    let mut rules = Vec::new();
    for (i, entry) in spec.syscalls().iter().flatten().enumerate() {
        rules.push(rule(entry, &format!("{BASE}.syscalls[{i}]"))?);
    }
    let profile = Profile {
        default,
        abis: abis(spec.architectures().as_deref().unwrap_or_default()),
        rules,
        flags: flags(spec.flags().as_deref().unwrap_or_default()),
        listener: listener(spec)?,
    };
    if let Some(i) = profile
        .rules
        .iter()
        .position(|r| r.action & ret::ACTION_FULL == ret::USER_NOTIF)
        && profile.listener.is_none()
    {
        return Err(bad(
            format!("{BASE}.listenerPath"),
            format!(
                "is required: {BASE}.syscalls[{i}] uses SCMP_ACT_NOTIFY, whose listener must go to an agent's unix socket"
            ),
        ));
    }
    Ok(profile)
}

fn rule<'a>(entry: &'a LinuxSyscall, field: &str) -> Result<Rule<'a>, FieldError> {
    if entry.names().is_empty() {
        return Err(bad(
            format!("{field}.names"),
            "must name at least one syscall",
        ));
    }
    if let Some(j) = entry.names().iter().position(|n| n.trim().is_empty()) {
        return Err(bad(format!("{field}.names[{j}]"), "is empty"));
    }
    let action = action(
        entry.action(),
        entry.errno_ret(),
        &format!("{field}.action"),
        &format!("{field}.errnoRet"),
    )?;
    if action == ret::USER_NOTIF
        && let Some(j) = entry
            .names()
            .iter()
            .position(|n| NEVER_NOTIFIED.contains(&n.as_str()))
    {
        return Err(bad(
            format!("{field}.names[{j}]"),
            format!(
                "{} cannot use SCMP_ACT_NOTIFY: the runtime sends the listener to the agent with it",
                entry.names()[j]
            ),
        ));
    }
    let mut conds = Vec::new();
    for (k, arg) in entry.args().iter().flatten().enumerate() {
        let index = u8::try_from(arg.index())
            .ok()
            .filter(|&i| i < 6)
            .ok_or_else(|| {
                bad(
                    format!("{field}.args[{k}].index"),
                    format!(
                        "{} is out of range: syscalls have arguments 0 to 5",
                        arg.index()
                    ),
                )
            })?;
        conds.push(Cond {
            index,
            op: op(arg.op()),
            value: arg.value(),
            value_two: arg.value_two().unwrap_or(0),
        });
    }
    Ok(Rule {
        names: entry.names(),
        action,
        conds,
    })
}

/// The kernel value of an action; `errno` is only meaningful for ERRNO and
/// TRACE (default EPERM, like runc).
fn action(
    a: A,
    errno: Option<u32>,
    action_field: &str,
    errno_field: &str,
) -> Result<u32, FieldError> {
    let base = match a {
        A::ScmpActKill | A::ScmpActKillThread => ret::KILL_THREAD,
        A::ScmpActKillProcess => ret::KILL_PROCESS,
        A::ScmpActTrap => ret::TRAP,
        A::ScmpActErrno => ret::ERRNO,
        A::ScmpActNotify => ret::USER_NOTIF,
        A::ScmpActTrace => ret::TRACE,
        A::ScmpActLog => ret::LOG,
        A::ScmpActAllow => ret::ALLOW,
    };
    let takes_errno = matches!(a, A::ScmpActErrno | A::ScmpActTrace);
    match errno {
        None if takes_errno => Ok(base | libc::EPERM as u32),
        None => Ok(base),
        Some(_) if !takes_errno => Err(bad(
            errno_field,
            format!(
                "{a} does not take an errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do; see {action_field})"
            ),
        )),
        Some(e) if e > 0xffff => Err(bad(
            errno_field,
            format!("{e} does not fit in the 16 bits seccomp returns"),
        )),
        Some(e) => Ok(base | e),
    }
}

fn op(o: O) -> Op {
    match o {
        O::ScmpCmpNe => Op::Ne,
        O::ScmpCmpLt => Op::Lt,
        O::ScmpCmpLe => Op::Le,
        O::ScmpCmpEq => Op::Eq,
        O::ScmpCmpGe => Op::Ge,
        O::ScmpCmpGt => Op::Gt,
        O::ScmpCmpMaskedEq => Op::MaskedEq,
    }
}

/// The ABIs to filter: the native x86_64 always (as libseccomp does), plus
/// x86 and x32 when listed. Other architectures cannot occur on this kernel.
fn abis(archs: &[Arch]) -> Vec<Abi> {
    let mut abis = vec![Abi::X86_64];
    for want in [Abi::X86, Abi::X32] {
        let listed = archs.iter().any(|a| match a {
            Arch::ScmpArchX86 => want == Abi::X86,
            Arch::ScmpArchX32 => want == Abi::X32,
            _ => false,
        });
        if listed {
            abis.push(want);
        }
    }
    abis
}

fn flags(list: &[F]) -> u32 {
    use brig_sys::seccomp as s;
    list.iter().fold(0, |acc, f| {
        acc | match f {
            F::SeccompFilterFlagTsync => s::FLAG_TSYNC,
            F::SeccompFilterFlagLog => s::FLAG_LOG,
            F::SeccompFilterFlagSpecAllow => s::FLAG_SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv => s::FLAG_WAIT_KILLABLE_RECV,
        }
    })
}

fn listener(spec: &LinuxSeccomp) -> Result<Option<Listener>, FieldError> {
    let path = spec
        .listener_path()
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    let metadata = spec.listener_metadata().clone().filter(|m| !m.is_empty());
    match (path, metadata) {
        (None, Some(_)) => Err(bad(
            format!("{BASE}.listenerMetadata"),
            "must not be set without listenerPath",
        )),
        (None, None) => Ok(None),
        (Some(path), metadata) => Ok(Some(Listener {
            path: path.clone(),
            metadata,
        })),
    }
}
