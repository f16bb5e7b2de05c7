//! The receiving end of `--console-socket`: a unix socket to which the
//! runtime sends the container's pty master with SCM_RIGHTS.

use std::io::{self, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};

/// How long the receiver waits for the runtime to connect.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A listening console socket; one connection is accepted in the background.
#[derive(Debug)]
pub struct ConsoleSocket {
    path: PathBuf,
    received: mpsc::Receiver<io::Result<OwnedFd>>,
}

impl ConsoleSocket {
    /// Listens at `path` (which must not exist).
    pub fn bind(path: &Path) -> io::Result<ConsoleSocket> {
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(accept_and_receive(&listener));
        });
        Ok(ConsoleSocket {
            path: path.to_owned(),
            received,
        })
    }

    /// The socket's path, for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty master the runtime sent.
    pub fn recv_master(&self, timeout: Duration) -> io::Result<OwnedFd> {
        match self.received.recv_timeout(timeout) {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no pty master received on the console socket",
            )),
        }
    }
}

fn accept_and_receive(listener: &UnixListener) -> io::Result<OwnedFd> {
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    receive_fd(&stream)
}

/// Receives one descriptor sent with SCM_RIGHTS (runc sends the pty's name
/// as the data and the master as the descriptor).
pub fn receive_fd(stream: &UnixStream) -> io::Result<OwnedFd> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut data)];
    recvmsg(stream, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "console socket message carried no descriptor",
    ))
}

/// Reads the pty master until every slave is closed (EIO) or `timeout`.
/// Returns what was read, with `\r\n` turned into `\n`.
pub fn read_master_to_end(master: OwnedFd, timeout: Duration) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    let _ = tx.send(Some(out.clone()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break, // EIO: the last slave was closed
            }
        }
        let _ = tx.send(None);
    });
    let deadline = Instant::now() + timeout;
    let mut latest = Vec::new();
    while let Ok(message) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        match message {
            Some(bytes) => latest = bytes,
            None => break,
        }
    }
    String::from_utf8_lossy(&latest).replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    use std::io::IoSlice;
    use std::os::fd::AsFd;

    #[test]
    fn receives_a_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let socket = ConsoleSocket::bind(&dir.path().join("console.sock")).unwrap();
        let stream = UnixStream::connect(socket.path()).unwrap();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let fds = [file.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        sendmsg(
            &stream,
            &[IoSlice::new(b"/dev/pts/9")],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        let got = socket.recv_master(Duration::from_secs(5)).unwrap();
        let mut text = String::new();
        std::fs::File::from(got).read_to_string(&mut text).unwrap();
        assert!(text.starts_with(&std::process::id().to_string()));
    }
}
