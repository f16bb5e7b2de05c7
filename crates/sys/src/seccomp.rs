//! Loading a compiled seccomp BPF program, and asking the kernel what its
//! seccomp supports. Program *generation* lives in brig-runtime.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// One classic-BPF instruction, as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process.
pub const FLAG_TSYNC: u32 = 1;
/// `SECCOMP_FILTER_FLAG_LOG`: log every action but `SECCOMP_RET_ALLOW`.
pub const FLAG_LOG: u32 = 2;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep Speculative Store Bypass mitigation off.
pub const FLAG_SPEC_ALLOW: u32 = 4;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification descriptor.
pub const FLAG_NEW_LISTENER: u32 = 8;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: TSYNC failures return ESRCH (needed with NEW_LISTENER).
pub const FLAG_TSYNC_ESRCH: u32 = 16;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: a notified task waits killably (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

const SET_MODE_FILTER: libc::c_long = 1;
const GET_ACTION_AVAIL: libc::c_long = 2;

/// Installs `program` as a seccomp filter for the calling thread with the
/// given `SECCOMP_FILTER_FLAG_*` flags. With [`FLAG_NEW_LISTENER`] the kernel
/// returns a notification descriptor (close-on-exec), which is returned here.
pub fn load_filter(program: &[SockFilter], flags: u32) -> io::Result<Option<OwnedFd>> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, which outlives the call; SockFilter
    // has the same layout as libc::sock_filter. The kernel copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the kernel returned a fresh fd we now own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }));
    }
    Ok(None)
}

/// Whether the running kernel knows the filter flag `flag`. Installs nothing:
/// a NULL program fails with EFAULT once the flags were accepted, and with
/// EINVAL when they were not.
pub fn filter_flag_supported(flag: u32) -> bool {
    // SAFETY: a NULL program pointer is never dereferenced by us; the kernel
    // validates flags first and then fails the copy of the program (EFAULT).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flag,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// Whether the kernel implements the action `ret` (a `SECCOMP_RET_*` value
/// without data), via `SECCOMP_GET_ACTION_AVAIL`.
pub fn action_available(ret: u32) -> bool {
    let action = ret;
    // SAFETY: the kernel reads one u32 from `&action`, which lives across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            GET_ACTION_AVAIL,
            0u32,
            &action as *const u32,
        )
    };
    rc == 0
}

/// The calling thread's seccomp mode (0 none, 1 strict, 2 filter).
pub fn mode() -> io::Result<u32> {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments.
    let ret = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0u64, 0u64, 0u64, 0u64) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as u32)
}

/// The kernel's `struct seccomp_data`: what a filter (or an agent) sees of a syscall.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// The kernel's `struct seccomp_notif`: one syscall waiting for an agent.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notification {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: SeccompData,
}

#[repr(C)]
struct NotificationResponse {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// `_IOWR('!', 0, struct seccomp_notif)` and `_IOWR('!', 1, struct seccomp_notif_resp)`.
const IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: let the syscall run as if allowed.
pub const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// Waits for the next notification on a listener (`SECCOMP_IOCTL_NOTIF_RECV`).
pub fn notif_recv(listener: BorrowedFd<'_>) -> io::Result<Notification> {
    // The kernel wants the buffer zeroed.
    let mut notif = Notification::default();
    // SAFETY: the ioctl writes one struct seccomp_notif, which `notif` is
    // (same layout, 80 bytes), into memory that lives across the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            IOCTL_NOTIF_RECV,
            &mut notif as *mut Notification,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(notif)
}

/// Answers notification `id`: the syscall returns `val`, or fails with
/// `error` (a negative errno), or runs (flags [`USER_NOTIF_FLAG_CONTINUE`]).
pub fn notif_respond(
    listener: BorrowedFd<'_>,
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
) -> io::Result<()> {
    let mut resp = NotificationResponse {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: the ioctl reads one struct seccomp_notif_resp (24 bytes, same
    // layout as `resp`), which lives across the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            IOCTL_NOTIF_SEND,
            &mut resp as *mut NotificationResponse,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_structs_have_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<SeccompData>(), 64);
        assert_eq!(std::mem::size_of::<Notification>(), 80);
        assert_eq!(std::mem::size_of::<NotificationResponse>(), 24);
    }

    #[test]
    fn sock_filter_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<SockFilter>(), 8);
        assert_eq!(
            std::mem::size_of::<SockFilter>(),
            std::mem::size_of::<libc::sock_filter>()
        );
    }

    #[test]
    fn probes_answer_without_installing_anything() {
        // Every kernel with seccomp(2) knows TSYNC and the ALLOW action.
        assert!(filter_flag_supported(FLAG_TSYNC));
        assert!(!filter_flag_supported(1 << 30));
        assert!(action_available(0x7fff_0000));
        assert!(!action_available(0x1234_0000));
        assert!(mode().unwrap() <= 2);
    }
}
