//! Session keyrings, so containers do not share the host's keys.

use std::ffi::CStr;
use std::io;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;

/// Joins a new session keyring named `name`. Kernels without keyrings
/// (ENOSYS) are not an error.
pub fn join_session(name: &CStr) -> io::Result<()> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING reads a NUL-terminated name that
    // outlives the call; no other memory is touched.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret == -1 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) {
            return Ok(());
        }
        return Err(err);
    }
    Ok(())
}
