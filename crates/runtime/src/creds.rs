//! The identity the container's program runs with: user, groups, umask,
//! capabilities and no_new_privs, applied in the order the kernel requires.

use oci_spec::runtime::{LinuxCapabilities, Process};
use rustix::process::{Gid, Uid};
use rustix::thread::{CapabilitySet, CapabilitySets};

use crate::caps;

/// Capability sets as bit masks, computed before the fork.
#[derive(Debug, Clone, Copy, Default)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapMasks {
    pub fn from_spec(c: &LinuxCapabilities, last: u32) -> Self {
        CapMasks {
            bounding: caps::mask(c.bounding().as_ref(), last),
            effective: caps::mask(c.effective().as_ref(), last),
            permitted: caps::mask(c.permitted().as_ref(), last),
            inheritable: caps::mask(c.inheritable().as_ref(), last),
            ambient: caps::mask(c.ambient().as_ref(), last),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: Option<CapMasks>,
    pub last_cap: u32,
    pub no_new_privs: bool,
}

/// Which step failed, for the error sent to the parent.
pub type Step = &'static str;

impl Creds {
    pub fn from_process(process: &Process, last_cap: u32) -> Self {
        let user = process.user();
        Creds {
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
            caps: process
                .capabilities()
                .as_ref()
                .map(|c| CapMasks::from_spec(c, last_cap)),
            last_cap,
            no_new_privs: process.no_new_privileges().unwrap_or(false),
        }
    }

    /// Switches to the target identity. `setgroups_allowed` is false inside a
    /// user namespace whose setgroups is denied.
    pub fn apply(&self, setgroups_allowed: bool) -> Result<(), (Step, std::io::Error)> {
        if let Some(caps) = &self.caps {
            for cap in 0..=self.last_cap.min(63) {
                if caps.bounding & (1 << cap) == 0 {
                    brig_sys::caps::drop_bounding(cap)
                        .map_err(|e| ("dropping bounding capabilities", e))?;
                }
            }
            brig_sys::caps::set_keep_caps(true).map_err(|e| ("keeping capabilities", e))?;
        }
        if setgroups_allowed {
            let groups: Vec<Gid> = self.groups.iter().map(|&g| Gid::from_raw(g)).collect();
            rustix::thread::set_thread_groups(&groups)
                .map_err(|e| ("setting additional groups", e.into()))?;
        }
        let (uid, gid) = (Uid::from_raw(self.uid), Gid::from_raw(self.gid));
        rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| ("setting gid", e.into()))?;
        rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| ("setting uid", e.into()))?;
        if let Some(caps) = &self.caps {
            brig_sys::caps::set_keep_caps(false).map_err(|e| ("keeping capabilities", e))?;
            let sets = CapabilitySets {
                effective: CapabilitySet::from_bits_retain(caps.effective),
                permitted: CapabilitySet::from_bits_retain(caps.permitted),
                inheritable: CapabilitySet::from_bits_retain(caps.inheritable),
            };
            rustix::thread::set_capabilities(None, sets)
                .map_err(|e| ("setting capabilities", e.into()))?;
            brig_sys::caps::clear_ambient().map_err(|e| ("clearing ambient capabilities", e))?;
            // The kernel only lets permitted-and-inheritable capabilities be ambient;
            // like runc, others listed as ambient are skipped.
            let ambient = caps.ambient & caps.permitted & caps.inheritable;
            for cap in 0..=self.last_cap.min(63) {
                if ambient & (1 << cap) != 0 {
                    brig_sys::caps::raise_ambient(cap)
                        .map_err(|e| ("raising ambient capabilities", e))?;
                }
            }
        }
        if let Some(mask) = self.umask {
            rustix::process::umask(rustix::fs::Mode::from_bits_truncate(mask));
        }
        if self.no_new_privs {
            rustix::thread::set_no_new_privs(true)
                .map_err(|e| ("setting no_new_privs", e.into()))?;
        }
        Ok(())
    }
}
