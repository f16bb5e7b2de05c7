//! SCMP_ACT_NOTIFY: the listener descriptor goes to a seccomp agent over
//! `linux.seccomp.listenerPath` (runtime-spec config-linux.md, "The Container
//! Process State"): one connection, one JSON document as the payload with the
//! descriptor in SCM_RIGHTS, then the connection is closed.
//!
//! The runtime connects in the parent, before anything is created (a missing
//! agent is then a clean error, and the socket is reachable by its host path);
//! the container's process sends right after it loaded the filter.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde_json::{Value, json};

use crate::report::OCI_VERSION;

/// Connects to the agent's socket (`SOCK_STREAM`, close-on-exec).
pub fn connect(path: &Path) -> io::Result<OwnedFd> {
    UnixStream::connect(path).map(OwnedFd::from)
}

/// The container process state: `state` is the container's state document
/// (as hooks get it), `pid` the process that loaded the filter.
pub fn payload(state_json: &str, pid: i32, metadata: Option<&str>) -> Vec<u8> {
    let state: Value = serde_json::from_str(state_json).unwrap_or(Value::Null);
    let mut doc = json!({
        "ociVersion": OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = metadata {
        doc["metadata"] = Value::String(m.to_string());
    }
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// Sends `payload` with `listener` attached to the first message.
pub fn send(socket: BorrowedFd<'_>, listener: BorrowedFd<'_>, payload: &[u8]) -> io::Result<()> {
    let fds = [listener];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    let mut sent = loop {
        match rustix::net::sendmsg(
            socket,
            &[IoSlice::new(payload)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    // A stream may take the document in several writes; the descriptor went with the first.
    while sent < payload.len() {
        match rustix::net::send(socket, &payload[sent..], SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The pid of the calling process as the runtime sees it (from the procfs
/// still mounted at /proc, i.e. before the container's own is mounted).
pub fn host_pid() -> Option<i32> {
    std::fs::read_link("/proc/self")
        .ok()?
        .to_str()?
        .parse()
        .ok()
}

/// Delivers `listener` to the agent connected on `socket`, then closes the connection.
pub fn deliver(
    socket: OwnedFd,
    listener: OwnedFd,
    state_json: &str,
    pid: i32,
    metadata: Option<&str>,
) -> io::Result<()> {
    let doc = payload(state_json, pid, metadata);
    send(socket.as_fd(), listener.as_fd(), &doc)
    // Both descriptors are closed here: the agent now holds the only listener.
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{IoSliceMut, Read};
    use std::os::unix::net::UnixListener;

    #[test]
    fn payload_is_the_container_process_state() {
        let state = r#"{"ociVersion":"1.2.1","id":"c1","status":"running","pid":42,"bundle":"/b"}"#;
        let doc: Value = serde_json::from_slice(&payload(state, 43, Some("meta"))).unwrap();
        assert_eq!(doc["fds"], json!(["seccompFd"]));
        assert_eq!(doc["pid"], 43);
        assert_eq!(doc["metadata"], "meta");
        assert_eq!(doc["state"]["id"], "c1");
        let doc: Value = serde_json::from_slice(&payload(state, 43, None)).unwrap();
        assert!(doc.get("metadata").is_none());
    }

    #[test]
    fn deliver_sends_the_descriptor_and_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let agent = UnixListener::bind(&path).unwrap();
        let socket = connect(&path).unwrap();
        let (mut conn, _) = agent.accept().unwrap();
        let (passed, _keep) = rustix::pipe::pipe().unwrap();
        deliver(socket, passed, r#"{"id":"x"}"#, 7, None).unwrap();

        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = rustix::net::RecvAncillaryBuffer::new(&mut space);
        let mut buf = vec![0u8; 4096];
        let got = rustix::net::recvmsg(
            &conn,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            rustix::net::RecvFlags::CMSG_CLOEXEC,
        )
        .unwrap();
        let fds: Vec<OwnedFd> = control
            .drain()
            .filter_map(|m| match m {
                rustix::net::RecvAncillaryMessage::ScmRights(fds) => Some(fds.collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(fds.len(), 1);
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).unwrap(); // closed after one document
        let mut all = buf[..got.bytes].to_vec();
        all.extend(rest);
        let doc: Value = serde_json::from_slice(&all).unwrap();
        assert_eq!(doc["pid"], 7);
        assert_eq!(doc["state"]["id"], "x");
    }
}
