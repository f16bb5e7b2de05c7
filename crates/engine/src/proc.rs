//! Processes identified beyond their PID: a PID plus the process's start
//! time (`/proc/PID/stat` field 22), so a recycled PID after a reboot or a
//! crash is never mistaken for the monitor or `brig` process it once was.

use std::fs;

use serde::{Deserialize, Serialize};

/// A process that existed at some point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Clock ticks after boot when the process started.
    pub start: u64,
}

impl ProcessId {
    /// This process.
    pub fn current() -> ProcessId {
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        ProcessId {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// The live process with this PID, if any (zombies count as dead).
    pub fn of(pid: i32) -> Option<ProcessId> {
        let stat = read_stat(pid)?;
        (stat.state != 'Z').then_some(ProcessId {
            pid,
            start: stat.start,
        })
    }

    /// Whether this very process still runs (not a zombie, not a new
    /// process that reuses the PID).
    pub fn is_alive(&self) -> bool {
        ProcessId::of(self.pid).is_some_and(|p| p.start == self.start)
    }
}

struct Stat {
    state: char,
    start: u64,
}

fn start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|s| s.start)
}

fn read_stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Fields after the command name (which may contain spaces and parentheses).
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); starttime is field 22.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The parent PID and the command name of a process (for `top`).
pub fn ppid_and_comm(pid: i32) -> Option<(i32, String)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let ppid = text[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((ppid, comm))
}

/// User plus system CPU time of a process, in clock ticks.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3; utime and stime are fields 14 and 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names_parses() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.start, 123456);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::current();
        assert!(me.is_alive());
        let impostor = ProcessId {
            start: me.start + 1,
            ..me
        };
        assert!(!impostor.is_alive());
    }
}
