//! The container's stdio on the monitor's side (pipes or a pty master),
//! and the attach clients.

use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use rustix::pipe::PipeFlags;

use crate::attach::{self, FrameBuffer};
use crate::error::{Error, IoContext, Result};
use crate::runtime::CreateIo;

/// How long a slow attach client may block the monitor before it is dropped.
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Our ends of the container's stdio.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// Where input for the container goes (pipe write end or pty master).
    pub stdin: Option<OwnedFd>,
    /// Output: stdout (or the pty master) and stderr.
    pub outputs: [Option<OwnedFd>; 2],
    /// The pty master, for resizing.
    pub pty: Option<OwnedFd>,
}

/// Our side of stdio prepared for the runtime's `create`.
pub(super) struct Pending {
    console: Option<UnixListener>,
    held: Held,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC).ctx("create pipe", "stdio")
}

fn nonblocking(fd: &OwnedFd) {
    if let Ok(flags) = rustix::fs::fcntl_getfl(fd) {
        let _ = rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK);
    }
}

/// Pipes (or a console socket for a terminal) for a new run.
pub(super) fn prepare(
    tty: bool,
    open_stdin: bool,
    console_socket: &Path,
) -> Result<(CreateIo, Pending)> {
    if tty {
        let _ = std::fs::remove_file(console_socket);
        let listener = UnixListener::bind(console_socket).ctx("listen on", console_socket)?;
        let io = CreateIo {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::null(),
            console_socket: Some(console_socket.to_owned()),
        };
        let pending = Pending {
            console: Some(listener),
            held: Held::default(),
        };
        return Ok((io, pending));
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (stdin, held_stdin) = if open_stdin {
        let (r, w) = pipe()?;
        nonblocking(&w);
        (Stdio::from(r), Some(w))
    } else {
        (Stdio::null(), None)
    };
    nonblocking(&out_r);
    nonblocking(&err_r);
    let io = CreateIo {
        stdin,
        stdout: Stdio::from(out_w),
        stderr: Stdio::from(err_w),
        console_socket: None,
    };
    let pending = Pending {
        console: None,
        held: Held {
            stdin: held_stdin,
            outputs: [Some(out_r), Some(err_r)],
            pty: None,
        },
    };
    Ok((io, pending))
}

impl Pending {
    /// After `create`: takes the pty master the runtime sent, if any.
    pub(super) fn finish(self, console_socket: &Path) -> Result<Held> {
        let Some(listener) = self.console else {
            return Ok(self.held);
        };
        let _ = std::fs::remove_file(console_socket);
        listener
            .set_nonblocking(true)
            .ctx("configure", console_socket)?;
        let (conn, _) = listener
            .accept()
            .ctx("receive the pty from the runtime on", console_socket)?;
        let master =
            receive_fd(&conn).ctx("receive the pty from the runtime on", console_socket)?;
        nonblocking(&master);
        let dup = |fd: &OwnedFd| fd.try_clone().ctx("duplicate", "pty master");
        Ok(Held {
            stdin: Some(dup(&master)?),
            outputs: [Some(dup(&master)?), None],
            pty: Some(master),
        })
    }
}

/// Receives one descriptor sent with SCM_RIGHTS (the runtime's pty master).
pub(crate) fn receive_fd(conn: &UnixStream) -> std::io::Result<OwnedFd> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut buf = [0u8; 4096];
    conn.set_nonblocking(false)?;
    rustix::net::recvmsg(
        conn,
        &mut [IoSliceMut::new(&mut buf)],
        &mut cmsg,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(std::io::Error::other("the runtime sent no descriptor"))
}

/// One attach client.
#[derive(Debug)]
struct Client {
    stream: UnixStream,
    frames: FrameBuffer,
}

/// Input an attach client sent.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Input {
    Stdin(Vec<u8>),
    StdinEof,
    Resize(u16, u16),
}

/// The attach socket and its clients.
#[derive(Debug)]
pub(super) struct Clients {
    listener: UnixListener,
    list: Vec<Client>,
}

impl Clients {
    pub(super) fn bind(path: &Path) -> Result<Clients> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).ctx("listen on", path)?;
        listener.set_nonblocking(true).ctx("configure", path)?;
        Ok(Clients {
            listener,
            list: Vec::new(),
        })
    }

    pub(super) fn listener_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }

    pub(super) fn client_fds(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        self.list.iter().map(|c| c.stream.as_fd()).collect()
    }

    /// Accepts every pending connection.
    pub(super) fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(false).is_ok()
                && stream.set_write_timeout(Some(CLIENT_WRITE_TIMEOUT)).is_ok()
            {
                self.list.push(Client {
                    stream,
                    frames: FrameBuffer::default(),
                });
            }
        }
    }

    /// Waits up to `limit` for a first client (foreground `run`).
    pub(super) fn wait_for_first(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.list.is_empty() && Instant::now() < deadline {
            let mut fds = [PollFd::new(&self.listener, PollFlags::IN)];
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            let _ = rustix::event::poll(&mut fds, Some(&ts));
            self.accept();
        }
    }

    /// Sends a frame to every client, dropping those that fail.
    pub(super) fn broadcast(&mut self, kind: u8, payload: &[u8]) {
        self.list
            .retain_mut(|c| attach::write_frame(&mut c.stream, kind, payload).is_ok());
    }

    /// Reads what client `index` sent; `None` when it went away.
    pub(super) fn read(&mut self, index: usize) -> Option<Vec<Input>> {
        let client = self.list.get_mut(index)?;
        // Small: a buffer on the stack stays resident for the monitor's life.
        let mut buf = [0u8; 4 * 1024];
        let n = match client.stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                self.list.remove(index);
                return None;
            }
            Ok(n) => n,
        };
        client.frames.push(&buf[..n]);
        let mut out = Vec::new();
        while let Ok(Some((kind, payload))) = client.frames.next_frame() {
            match kind {
                attach::STDIN => out.push(Input::Stdin(payload)),
                attach::STDIN_EOF => out.push(Input::StdinEof),
                attach::RESIZE if payload.len() == 4 => out.push(Input::Resize(
                    u16::from_be_bytes([payload[0], payload[1]]),
                    u16::from_be_bytes([payload[2], payload[3]]),
                )),
                _ => {}
            }
        }
        Some(out)
    }

    /// Tells every client the container ended and closes them.
    pub(super) fn finish(&mut self, code: i32) {
        self.broadcast(attach::EXIT, &code.to_be_bytes());
        self.list.clear();
    }

    /// Tells every client why the start failed and closes them.
    pub(super) fn fail(&mut self, err: &Error) {
        self.broadcast(attach::ERROR, &attach::encode_error(err));
        self.list.clear();
    }
}

/// Applies client input to the container's stdin or terminal.
pub(super) fn apply_input(held: &mut Held, input: Input) {
    match input {
        Input::Stdin(data) => {
            if let Some(fd) = &held.stdin {
                write_all(fd, &data);
            }
        }
        Input::StdinEof => {
            // Closing the pipe gives the program EOF; a terminal has no EOF.
            if held.pty.is_none() {
                held.stdin = None;
            }
        }
        Input::Resize(rows, cols) => {
            if let Some(pty) = &held.pty {
                let ws = rustix::termios::Winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                let _ = rustix::termios::tcsetwinsize(pty, ws);
            }
        }
    }
}

/// Writes to a non-blocking descriptor, waiting up to a second for room
/// each time it is full; a program that does not read loses the rest.
fn write_all(fd: &OwnedFd, mut data: &[u8]) {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::OUT)];
                let second = rustix::time::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                };
                if !matches!(rustix::event::poll(&mut fds, Some(&second)), Ok(n) if n > 0) {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}
