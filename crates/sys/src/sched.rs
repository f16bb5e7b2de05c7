//! Process attributes set right before a container's program starts:
//! scheduling policy (`sched_setattr`), I/O priority (`ioprio_set`) and
//! execution domain (`personality`). None of them is wrapped by rustix.

use std::io;

/// The kernel's `struct sched_attr`, first version (`SCHED_ATTR_SIZE_VER0`, 48 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// Sets the calling thread's scheduling policy and attributes.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a live, initialised struct sched_attr whose `size`
    // field says how much of it the kernel may read; pid 0 is ourselves.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the calling thread's scheduling attributes.
pub fn sched_getattr() -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: the kernel writes at most `size` bytes into `attr`, which is
    // exactly that large and lives across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            size,
            0u32,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attr)
}

/// `IOPRIO_WHO_PROCESS`.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// Bits of the class in an I/O priority value (`IOPRIO_CLASS_SHIFT`).
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// Sets the calling process's I/O scheduling class (1 RT, 2 BE, 3 IDLE) and level (0-7).
pub fn ioprio_set(class: u32, level: u32) -> io::Result<()> {
    let value = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes integer arguments only; who = 0 is ourselves.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The calling process's I/O priority as (class, level).
pub fn ioprio_get() -> io::Result<(u32, u32)> {
    // SAFETY: ioprio_get takes integer arguments only.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let value = ret as u32;
    Ok((
        value >> IOPRIO_CLASS_SHIFT,
        value & ((1 << IOPRIO_CLASS_SHIFT) - 1),
    ))
}

/// `PER_LINUX`: the standard execution domain.
pub const PER_LINUX: u32 = 0;
/// `PER_LINUX32`: `uname` reports a 32-bit machine.
pub const PER_LINUX32: u32 = 8;
/// Asks for the current persona without changing it.
const PERSONALITY_QUERY: libc::c_ulong = 0xffff_ffff;

/// Sets the execution domain; returns the previous persona.
pub fn set_personality(persona: u32) -> io::Result<u32> {
    // SAFETY: personality takes one integer argument and touches no memory of ours.
    let ret = unsafe { libc::personality(libc::c_ulong::from(persona)) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as u32)
}

/// The current persona.
pub fn personality() -> io::Result<u32> {
    // SAFETY: 0xffffffff only queries the persona.
    let ret = unsafe { libc::personality(PERSONALITY_QUERY) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_has_the_kernel_size() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 48);
    }

    #[test]
    fn reading_attributes_works_unprivileged() {
        let attr = sched_getattr().unwrap();
        assert_eq!(attr.size, 48);
        assert!(ioprio_get().is_ok());
        assert_eq!(personality().unwrap() & 0xff, PER_LINUX);
    }
}
