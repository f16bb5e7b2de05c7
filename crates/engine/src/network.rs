//! Where networking plugs in. The monitor calls [`Network::attach`]
//! between the runtime's `create` and `start` (the container's network
//! namespace exists, its program has not run) and [`Network::detach`]
//! after it exited. Bridges, ports and DNS (issue 8) implement the trait;
//! until then a container gets `none` (a private namespace with loopback
//! up) or `host`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};

use crate::config::{NetworkMode, PortBinding};
use crate::error::{Error, IoContext, Result};

/// The container as networking sees it.
#[derive(Debug, Clone)]
pub struct NetworkContext<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hostname: &'a str,
    /// `/proc/PID/ns/net` of the container's init.
    pub netns: PathBuf,
    pub ports: &'a [PortBinding],
}

/// What attaching gave the container (for `inspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    pub ip_addresses: Vec<String>,
}

/// A network a container can join.
pub trait Network: std::fmt::Debug {
    fn attach(&self, ctx: &NetworkContext<'_>) -> Result<Attachment>;
    fn detach(&self, ctx: &NetworkContext<'_>) -> Result<()>;
}

/// `--network none`: loopback only.
#[derive(Debug, Default)]
pub struct NoneNetwork;

impl Network for NoneNetwork {
    fn attach(&self, ctx: &NetworkContext<'_>) -> Result<Attachment> {
        loopback_up(&ctx.netns)?;
        Ok(Attachment {
            ip_addresses: vec!["127.0.0.1".to_owned()],
        })
    }

    fn detach(&self, _ctx: &NetworkContext<'_>) -> Result<()> {
        Ok(())
    }
}

/// `--network host`: nothing to do.
#[derive(Debug, Default)]
pub struct HostNetwork;

impl Network for HostNetwork {
    fn attach(&self, _ctx: &NetworkContext<'_>) -> Result<Attachment> {
        Ok(Attachment::default())
    }

    fn detach(&self, _ctx: &NetworkContext<'_>) -> Result<()> {
        Ok(())
    }
}

/// The implementation for a mode.
pub fn for_mode(mode: &NetworkMode) -> Box<dyn Network> {
    match mode {
        NetworkMode::None => Box::new(NoneNetwork),
        NetworkMode::Host => Box::new(HostNetwork),
    }
}

/// Sets `lo` (always index 1 in a new namespace) up inside `netns`: a
/// netlink socket opened from a thread that joined the namespace stays
/// bound to it; the thread ends and the engine never leaves its own.
pub fn loopback_up(netns: &Path) -> Result<()> {
    let ns = std::fs::File::open(netns).ctx("open network namespace", netns)?;
    let sock: OwnedFd = std::thread::scope(|s| {
        s.spawn(|| -> std::io::Result<OwnedFd> {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            Ok(rustix::net::socket_with(
                AddressFamily::NETLINK,
                SocketType::RAW,
                SocketFlags::CLOEXEC,
                None,
            )?)
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("netns thread panicked")))
    })
    .ctx("join network namespace", netns)?;
    // nlmsghdr (len, RTM_NEWLINK, NLM_F_REQUEST|NLM_F_ACK, seq, pid) +
    // ifinfomsg (AF_UNSPEC, type 0, index 1, flags IFF_UP, change IFF_UP).
    let mut msg = Vec::with_capacity(32);
    msg.extend(32u32.to_ne_bytes());
    msg.extend(16u16.to_ne_bytes());
    msg.extend(5u16.to_ne_bytes());
    msg.extend(1u32.to_ne_bytes());
    msg.extend(0u32.to_ne_bytes());
    msg.extend([0u8, 0]);
    msg.extend(0u16.to_ne_bytes());
    msg.extend(1i32.to_ne_bytes());
    msg.extend(1u32.to_ne_bytes());
    msg.extend(1u32.to_ne_bytes());
    let kernel = rustix::net::netlink::SocketAddrNetlink::new(0, 0);
    rustix::net::sendto(&sock, &msg, SendFlags::empty(), &kernel).ctx("netlink send to", netns)?;
    let mut reply = [0u8; 256];
    let (n, _) = rustix::net::recv(&sock, &mut reply, rustix::net::RecvFlags::empty())
        .ctx("netlink reply from", netns)?;
    // NLMSG_ERROR (2) carries an errno; 0 is the acknowledgement.
    if n >= 20 && u16::from_ne_bytes([reply[4], reply[5]]) == 2 {
        let errno = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
        if errno != 0 {
            return Err(Error::io(
                "bring up lo in",
                netns,
                std::io::Error::from_raw_os_error(-errno),
            ));
        }
    }
    Ok(())
}
