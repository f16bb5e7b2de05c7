//! `brig-reaper -- CMD ARGS...`: runs CMD as a child subreaper.
//!
//! Detached container processes outlive the runtime command that started
//! them and are reparented to the nearest subreaper; PID 1 on the test
//! machines does not reap, so without one they pile up as zombies. This
//! process becomes that subreaper, reaps everything reparented to it, and
//! exits with CMD's status (128 + signal when CMD was killed).
//!
//! It also gives the machine back as it found it: brig's shared `/brig`
//! cgroup parent stays once made (as Docker's `/docker`), so the parents
//! that CMD's containers made in each cgroup hierarchy are removed at the
//! end, whatever CMD's status.

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use brig_testkit::shared_cgroup::SharedParents;

use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, getpid, set_child_subreaper, wait};

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: brig-reaper -- CMD [ARGS...]");
        return ExitCode::from(2);
    };
    if let Err(e) = set_child_subreaper(Some(getpid())) {
        eprintln!("brig-reaper: error: prctl(PR_SET_CHILD_SUBREAPER): {e}");
        return ExitCode::from(125);
    }
    let child = match Command::new(program).args(rest).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "brig-reaper: error: running {}: {e}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    let parents = SharedParents::note();
    let main_pid = Pid::from_child(&child);
    let code = reap_until_exit(main_pid);
    reap_zombies();
    report_survivors();
    drop(parents);
    ExitCode::from(code)
}

/// Reaps every child until `main_pid` exits; returns its shell-style status.
fn reap_until_exit(main_pid: Pid) -> u8 {
    loop {
        match wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == main_pid => {
                if let Some(code) = status.exit_status() {
                    return code as u8;
                }
                return status
                    .terminating_signal()
                    .map_or(1, |sig| 128u8.wrapping_add(sig as u8));
            }
            Ok(_) => {} // an orphan, reaped
            Err(Errno::INTR) => {}
            Err(e) => {
                eprintln!("brig-reaper: error: wait: {e}");
                return 125;
            }
        }
    }
}

fn reap_zombies() {
    while let Ok(Some(_)) = wait(WaitOptions::NOHANG) {}
}

/// Names processes still reparented to us: containers a test leaked.
fn report_survivors() {
    let me = getpid().as_raw_nonzero().get().to_string();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let survivors: Vec<String> = proc_dir
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...: comm may contain spaces, so split after ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                == Some(me.as_str())
        })
        .map(|stat| {
            stat.split(')')
                .next()
                .unwrap_or_default()
                .replace(" (", ":")
                + ")"
        })
        .collect();
    if !survivors.is_empty() {
        eprintln!(
            "brig-reaper: warning: {} leaked processes still running: {}",
            survivors.len(),
            survivors.join(", ")
        );
    }
}
