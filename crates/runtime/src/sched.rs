//! `process.scheduler` (sched_setattr), `process.ioPriority` (ioprio_set)
//! and `linux.personality` (personality): checked in the parent, applied by
//! the container's process before it gives up its privileges.

use std::io;
use std::path::Path;

use brig_sys::sched::{self as sys, SchedAttr};
use oci_spec::runtime::{
    IOPriorityClass, Linux, LinuxPersonalityDomain, LinuxSchedulerFlag as Flag,
    LinuxSchedulerPolicy as Policy, Process, Scheduler,
};

use crate::bundle::config_error;
use crate::error::Result;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedPlan {
    pub scheduler: Option<SchedAttr>,
    /// (class, level) for ioprio_set.
    pub io_priority: Option<(u32, u32)>,
    pub personality: Option<u32>,
}

impl SchedPlan {
    pub fn from_spec(process: &Process, linux: Option<&Linux>, config: &Path) -> Result<Self> {
        let scheduler = match process.scheduler() {
            Some(s) => Some(scheduler(s).map_err(|(f, r)| config_error(config, &f, &r))?),
            None => None,
        };
        let io_priority = match process.io_priority() {
            Some(p) => {
                let level = u32::try_from(p.priority())
                    .ok()
                    .filter(|&l| l <= 7)
                    .ok_or_else(|| {
                        config_error(
                            config,
                            "process.ioPriority.priority",
                            &format!(
                                "{} is out of range: levels are 0 (highest) to 7",
                                p.priority()
                            ),
                        )
                    })?;
                let class = match p.class() {
                    IOPriorityClass::IoprioClassRt => 1,
                    IOPriorityClass::IoprioClassBe => 2,
                    IOPriorityClass::IoprioClassIdle => 3,
                };
                Some((class, level))
            }
            None => None,
        };
        let personality = match linux.and_then(|l| l.personality().as_ref()) {
            Some(p) => {
                if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                    return Err(config_error(
                        config,
                        "linux.personality.flags",
                        "no personality flags are supported (the runtime spec defines none)",
                    ));
                }
                Some(match p.domain() {
                    LinuxPersonalityDomain::PerLinux => sys::PER_LINUX,
                    LinuxPersonalityDomain::PerLinux32 => sys::PER_LINUX32,
                })
            }
            None => None,
        };
        Ok(SchedPlan {
            scheduler,
            io_priority,
            personality,
        })
    }

    pub fn apply(&self) -> std::result::Result<(), (&'static str, io::Error)> {
        if let Some(persona) = self.personality {
            sys::set_personality(persona).map_err(|e| ("setting linux.personality", e))?;
        }
        if let Some((class, level)) = self.io_priority {
            sys::ioprio_set(class, level).map_err(|e| ("setting process.ioPriority", e))?;
        }
        if let Some(attr) = &self.scheduler {
            sys::sched_setattr(attr).map_err(|e| ("setting process.scheduler", e))?;
        }
        Ok(())
    }
}

const FIELD: &str = "process.scheduler";

/// Checks like runc's, so that a mistake names its field rather than
/// failing as EINVAL in the container's process.
fn scheduler(s: &Scheduler) -> std::result::Result<SchedAttr, (String, String)> {
    let bad = |field: &str, reason: String| (format!("{FIELD}.{field}"), reason);
    let policy = match s.policy() {
        Policy::SchedOther => libc::SCHED_OTHER,
        Policy::SchedFifo => libc::SCHED_FIFO,
        Policy::SchedRr => libc::SCHED_RR,
        Policy::SchedBatch => libc::SCHED_BATCH,
        Policy::SchedIdle => libc::SCHED_IDLE,
        Policy::SchedDeadline => 6, // SCHED_DEADLINE
        Policy::SchedIso => {
            return Err(bad(
                "policy",
                "SCHED_ISO is not implemented by Linux".into(),
            ));
        }
    } as u32;
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(bad("nice", format!("{nice} is out of range -20..19")));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(s.policy(), Policy::SchedFifo | Policy::SchedRr);
    if realtime && !(1..=99).contains(&priority) {
        return Err(bad(
            "priority",
            format!("{priority} is out of range 1..99 for {}", s.policy()),
        ));
    }
    if !realtime && priority != 0 {
        return Err(bad(
            "priority",
            format!(
                "must be 0 for {} (only SCHED_FIFO and SCHED_RR use it)",
                s.policy()
            ),
        ));
    }
    let deadline = matches!(s.policy(), Policy::SchedDeadline);
    if !deadline && (s.runtime().is_some() || s.deadline().is_some() || s.period().is_some()) {
        return Err(bad(
            "runtime",
            "runtime, deadline and period are only for SCHED_DEADLINE".into(),
        ));
    }
    let mut flags = 0u64;
    for (i, flag) in s.flags().iter().flatten().enumerate() {
        flags |= match flag {
            Flag::SchedResetOnFork => 0x01,
            Flag::SchedFlagReclaim => 0x02,
            Flag::SchedFlagDLOverrun => 0x04,
            Flag::SchedFlagKeepPolicy => 0x08,
            Flag::SchedFlagKeepParams => 0x10,
            Flag::SchedFlagUtilClampMin | Flag::SchedFlagUtilClampMax => {
                return Err(bad(
                    &format!("flags[{i}]"),
                    format!("{flag} needs utilization values, which config.json cannot give"),
                ));
            }
        };
    }
    Ok(SchedAttr {
        size: 0,
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(process_extra: serde_json::Value, linux: serde_json::Value) -> Result<SchedPlan> {
        let mut p = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["true"]});
        p.as_object_mut()
            .unwrap()
            .extend(process_extra.as_object().unwrap().clone());
        let process: Process = serde_json::from_value(p).unwrap();
        let linux: Linux = serde_json::from_value(linux).unwrap();
        SchedPlan::from_spec(&process, Some(&linux), Path::new("config.json"))
    }

    #[test]
    fn valid_settings_become_kernel_values() {
        let p = plan(
            json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_RESET_ON_FORK"]},
                   "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 7}}),
            json!({"personality": {"domain": "LINUX32"}}),
        )
        .unwrap();
        let s = p.scheduler.unwrap();
        assert_eq!((s.policy, s.priority, s.flags), (1, 10, 1));
        assert_eq!(p.io_priority, Some((3, 7)));
        assert_eq!(p.personality, Some(8));
        assert_eq!(plan(json!({}), json!({})).unwrap(), SchedPlan::default());
    }

    #[test]
    fn mistakes_name_the_field() {
        let cases = [
            (
                json!({"scheduler": {"policy": "SCHED_FIFO"}}),
                json!({}),
                "process.scheduler.priority",
            ),
            (
                json!({"scheduler": {"policy": "SCHED_OTHER", "priority": 3}}),
                json!({}),
                "process.scheduler.priority",
            ),
            (
                json!({"scheduler": {"policy": "SCHED_OTHER", "nice": 40}}),
                json!({}),
                "process.scheduler.nice",
            ),
            (
                json!({"scheduler": {"policy": "SCHED_ISO"}}),
                json!({}),
                "process.scheduler.policy",
            ),
            (
                json!({"scheduler": {"policy": "SCHED_BATCH", "runtime": 5}}),
                json!({}),
                "process.scheduler.runtime",
            ),
            (
                json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}),
                json!({}),
                "process.ioPriority.priority",
            ),
            (
                json!({}),
                json!({"personality": {"domain": "LINUX", "flags": ["X"]}}),
                "linux.personality.flags",
            ),
        ];
        for (process, linux, field) in cases {
            let err = plan(process, linux).unwrap_err().to_string();
            assert!(err.contains(&format!("config.json: {field}: ")), "{err}");
        }
    }
}
