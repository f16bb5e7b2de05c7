//! `BRIG_NET_TRACE=FILE`: appends the duration of each attach/detach phase
//! (one line each, milliseconds) to FILE, to see where networking's time
//! goes. Off (no clock reads, no I/O) when the variable is not set.

use std::io::Write;
use std::time::Instant;

/// Times the phases of one attach or detach.
#[derive(Debug)]
pub struct Phases {
    file: Option<std::fs::File>,
    what: &'static str,
    last: Instant,
}

impl Phases {
    pub fn start(what: &'static str) -> Phases {
        let file = std::env::var_os("BRIG_NET_TRACE").and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        });
        Phases {
            file,
            what,
            last: Instant::now(),
        }
    }

    /// Records the time since the previous mark under `phase`.
    pub fn mark(&mut self, phase: &str) {
        let Some(file) = &mut self.file else {
            return;
        };
        let now = Instant::now();
        let ms = (now - self.last).as_secs_f64() * 1000.0;
        let _ = writeln!(file, "{} {phase} {ms:.3}", self.what);
        self.last = now;
    }
}
