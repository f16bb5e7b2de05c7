//! Attaching to a container's stdio through its monitor's socket.
//!
//! Frames both ways: `[kind: u8][length: u32 big-endian][payload]`.
//! Client to monitor: [`STDIN`], [`STDIN_EOF`], [`RESIZE`] (rows, cols as
//! u16). Monitor to client: [`STDOUT`], [`STDERR`], [`EXIT`] (the exit
//! code as i32), [`ERROR`] (why the container could not start).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::event::{PollFd, PollFlags};

use crate::error::{Error, IoContext, Result};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const STDIN_EOF: u8 = 4;
pub const RESIZE: u8 = 5;
pub const ERROR: u8 = 6;

/// Largest frame payload accepted.
const MAX_FRAME: u32 = 1 << 20;

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    w.write_all(&head)?;
    w.write_all(payload)
}

/// Reads one frame; `None` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Incremental frame decoding for non-blocking readers (the monitor).
#[derive(Debug, Default)]
pub struct FrameBuffer {
    buf: Vec<u8>,
}

impl FrameBuffer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any; `Err` for a malformed stream.
    pub fn next_frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "attach frame too large",
            ));
        }
        let end = 5 + len as usize;
        if self.buf.len() < end {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..end].to_vec();
        self.buf.drain(..end);
        Ok(Some((kind, payload)))
    }
}

/// A connection to a monitor's attach socket.
#[derive(Debug)]
pub struct AttachClient {
    stream: UnixStream,
}

/// How to relay a terminal or pipes to an attached container.
#[derive(Debug, Clone, Copy)]
pub struct RelayOptions {
    /// Forward our stdin (`-i`).
    pub stdin: bool,
    /// The container has a terminal: raw mode and window size.
    pub tty: bool,
    /// Forward signals we receive to the container (`--sig-proxy`).
    pub sig_proxy: bool,
}

impl AttachClient {
    pub fn connect(socket: &Path) -> Result<AttachClient> {
        let stream =
            UnixStream::connect(socket).ctx("connect to the container's monitor at", socket)?;
        Ok(AttachClient { stream })
    }

    pub fn send(&mut self, kind: u8, payload: &[u8]) -> Result<()> {
        write_frame(&mut self.stream, kind, payload).ctx("write to the monitor", "attach socket")
    }

    pub fn resize(&mut self, rows: u16, cols: u16) -> Result<()> {
        let mut p = rows.to_be_bytes().to_vec();
        p.extend(cols.to_be_bytes());
        self.send(RESIZE, &p)
    }

    /// Relays our stdio until the container exits; returns its exit code.
    /// `kill` forwards a signal to the container.
    pub fn relay(&mut self, opts: RelayOptions, kill: &dyn Fn(i32)) -> Result<i32> {
        let _raw = opts.tty.then(RawTerminal::enter).flatten();
        let mut signals = brig_sys::signal::FORWARDED.to_vec();
        if !opts.sig_proxy {
            signals.retain(|s| *s == rustix::process::Signal::WINCH.as_raw());
        }
        let sigfd = brig_sys::signal::signalfd(&signals).ctx("block signals", "signalfd")?;
        if opts.tty {
            self.send_window_size();
        }
        let stdin = rustix::stdio::stdin();
        let mut stdin_open = opts.stdin;
        let mut out = io::stdout();
        let mut err = io::stderr();
        let mut frames = FrameBuffer::default();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let mut fds = vec![
                PollFd::new(&self.stream, PollFlags::IN),
                PollFd::new(&sigfd, PollFlags::IN),
            ];
            if stdin_open {
                fds.push(PollFd::from_borrowed_fd(stdin, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::io("poll", "attach", e.into())),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            if ready[1] {
                let sig = brig_sys::signal::read_signal(&sigfd).ctx("read signal", "signalfd")?;
                if sig == rustix::process::Signal::WINCH.as_raw() {
                    if opts.tty {
                        self.send_window_size();
                    }
                } else if sig != rustix::process::Signal::CHILD.as_raw() {
                    kill(sig);
                }
            }
            if stdin_open && ready.get(2).copied().unwrap_or(false) {
                match rustix::io::read(stdin, &mut buf) {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                        let _ = self.send(STDIN_EOF, &[]);
                    }
                    Ok(n) => {
                        let _ = self.send(STDIN, &buf[..n]);
                    }
                }
            }
            if ready[0] {
                let n = match self.stream.read(&mut buf) {
                    Ok(0) => return Err(monitor_gone()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io("read from the monitor", "attach socket", e)),
                };
                frames.push(&buf[..n]);
                while let Some((kind, payload)) =
                    frames.next_frame().ctx("read", "attach socket")?
                {
                    match kind {
                        STDOUT => {
                            let _ = out.write_all(&payload).and_then(|_| out.flush());
                        }
                        STDERR => {
                            let _ = err.write_all(&payload).and_then(|_| err.flush());
                        }
                        EXIT if payload.len() == 4 => {
                            return Ok(i32::from_be_bytes([
                                payload[0], payload[1], payload[2], payload[3],
                            ]));
                        }
                        ERROR => return Err(decode_error(&payload)),
                        _ => {}
                    }
                }
            }
        }
    }

    fn send_window_size(&mut self) {
        if let Ok(ws) = rustix::termios::tcgetwinsize(rustix::stdio::stdout()) {
            let _ = self.resize(ws.ws_row, ws.ws_col);
        }
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

fn monitor_gone() -> Error {
    Error::io(
        "read from the monitor",
        "attach socket",
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the monitor closed the connection",
        ),
    )
}

/// An [`ERROR`] frame's payload: `{"kind": "...", "message": "..."}`.
pub fn encode_error(err: &Error) -> Vec<u8> {
    let kind = match err {
        Error::CommandNotFound { .. } => "not-found",
        Error::CannotExecute { .. } => "cannot-execute",
        _ => "engine",
    };
    serde_json::json!({"kind": kind, "message": err.to_string(), "command": command_of(err)})
        .to_string()
        .into_bytes()
}

fn command_of(err: &Error) -> String {
    match err {
        Error::CommandNotFound { command } | Error::CannotExecute { command, .. } => {
            command.clone()
        }
        _ => String::new(),
    }
}

/// The error an [`ERROR`] frame (or a monitor's readiness line) carries.
pub fn decode_error(payload: &[u8]) -> Error {
    let v: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    let message = v["message"]
        .as_str()
        .unwrap_or("the container failed to start")
        .to_owned();
    let command = v["command"].as_str().unwrap_or("").to_owned();
    match v["kind"].as_str() {
        Some("not-found") => Error::CommandNotFound { command },
        Some("cannot-execute") => Error::CannotExecute {
            reason: message
                .split_once(": cannot execute: ")
                .map(|(_, r)| r.to_owned())
                .unwrap_or(message),
            command,
        },
        _ => Error::Runtime {
            runtime: "monitor".to_owned(),
            command: "start".to_owned(),
            status: String::new(),
            message,
        },
    }
}

/// Puts our terminal in raw mode until the guard is dropped (`None` when
/// stdin is not a terminal).
pub fn raw_terminal() -> Option<impl Drop> {
    RawTerminal::enter()
}

/// The terminal in raw mode while this lives.
struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let fd = rustix::stdio::stdin();
        let saved = rustix::termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            rustix::stdio::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_whole_and_in_pieces() {
        let mut wire = Vec::new();
        write_frame(&mut wire, STDOUT, b"hello").unwrap();
        write_frame(&mut wire, EXIT, &7i32.to_be_bytes()).unwrap();
        let mut r = &wire[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((EXIT, 7i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut fb = FrameBuffer::default();
        for b in &wire {
            fb.push(&[*b]);
        }
        assert_eq!(fb.next_frame().unwrap(), Some((STDOUT, b"hello".to_vec())));
        assert_eq!(fb.next_frame().unwrap().unwrap().0, EXIT);
        assert_eq!(fb.next_frame().unwrap(), None);
    }

    #[test]
    fn start_errors_keep_their_kind_across_the_socket() {
        let e = decode_error(&encode_error(&Error::CommandNotFound {
            command: "nope".into(),
        }));
        assert_eq!(e.kind(), crate::ErrorKind::CommandNotFound);
        let e = decode_error(&encode_error(&Error::CannotExecute {
            command: "/etc".into(),
            reason: "/etc is a directory".into(),
        }));
        assert_eq!(e.kind(), crate::ErrorKind::CannotExecute);
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
