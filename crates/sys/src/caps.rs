//! Capability operations done with prctl, by raw number, so that
//! capabilities newer than our dependencies still work.

use std::io;

fn prctl(option: i32, arg2: u64, arg3: u64) -> io::Result<()> {
    // SAFETY: the prctl options used here take integer arguments only and
    // touch no memory of ours.
    let ret = unsafe { libc::prctl(option, arg2, arg3, 0u64, 0u64) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes capability `cap` from the bounding set.
pub fn drop_bounding(cap: u32) -> io::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, u64::from(cap), 0)
}

/// Raises `cap` in the ambient set (it must be permitted and inheritable).
pub fn raise_ambient(cap: u32) -> io::Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_RAISE as u64,
        u64::from(cap),
    )
}

/// Clears the ambient set.
pub fn clear_ambient() -> io::Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as u64,
        0,
    )
}

/// Keeps permitted capabilities across a change of uid away from 0.
pub fn set_keep_caps(keep: bool) -> io::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, u64::from(keep), 0)
}

/// Makes the process non-dumpable: other processes of the same user cannot
/// ptrace it or open its /proc files (e.g. `exe`) without CAP_SYS_PTRACE.
pub fn set_dumpable(dumpable: bool) -> io::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, u64::from(dumpable), 0)
}
