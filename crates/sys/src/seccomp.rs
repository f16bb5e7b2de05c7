//! Loading a compiled seccomp BPF program.

use std::io;

/// One classic-BPF instruction, as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Installs `program` as a seccomp filter for the calling thread with the
/// given `SECCOMP_FILTER_FLAG_*` flags. With `SECCOMP_FILTER_FLAG_NEW_LISTENER`
/// the kernel returns a notification fd, which is returned here.
pub fn load_filter(program: &[SockFilter], flags: u32) -> io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
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
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32 != 0 {
        // SAFETY: with NEW_LISTENER the kernel returned a fresh fd we now own.
        return Ok(Some(unsafe {
            std::os::fd::OwnedFd::from_raw_fd(ret as i32)
        }));
    }
    Ok(None)
}
