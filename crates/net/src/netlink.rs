//! A small synchronous netlink client: rtnetlink's message builders and
//! netlink-packet-route's types, sent and received on a blocking
//! netlink-sys socket. rtnetlink's own requests are async; driving them
//! through a tokio runtime cost ~0.1 ms to build per socket and a
//! scheduler round per request, a third of a container's network setup.
//!
//! The socket belongs to the network namespace of the thread that called
//! [`Netlink::open`], so a `Netlink` must be used in that namespace only
//! (it is `!Send`).

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use rtnetlink::{
    AddressMessageBuilder, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::error::NetError;

const ENODEV: i32 = 19;
const IFNAMSIZ: usize = 16;
/// Flags of a request that creates something new.
const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

/// A netlink route socket in the calling thread's network namespace.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    sequence: Cell<u32>,
    /// Where answers are received, allocated once per socket.
    answers: RefCell<Vec<u8>>,
    /// For SIOCGIFINDEX: a name lookup by ioctl takes microseconds, a
    /// netlink RTM_GETLINK answer is ~2 KB to decode.
    ioctl_socket: OwnedFd,
    // Keeps the type !Send: the socket is tied to this thread's namespace.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Netlink {
    /// Opens a socket in the current thread's network namespace.
    pub fn open() -> Result<Self, NetError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetError::Socket)?;
        socket.bind_auto().map_err(NetError::Socket)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetError::Socket)?;
        let ioctl_socket = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| NetError::Socket(e.into()))?;
        Ok(Netlink {
            socket,
            sequence: Cell::new(0),
            answers: RefCell::new(vec![0u8; 64 * 1024]),
            ioctl_socket,
            _not_send: std::marker::PhantomData,
        })
    }

    /// Sends one request and collects the messages that answer it: up to
    /// the acknowledgement, or for a dump up to its end.
    fn exchange(
        &self,
        payload: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Exchange> {
        let sequence = self.sequence.get().wrapping_add(1);
        self.sequence.set(sequence);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = sequence;
        let mut request = NetlinkMessage::new(header, NetlinkPayload::from(payload));
        request.finalize();
        let mut buf = vec![0u8; request.buffer_len()];
        request.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(Exchange::Io)?;
        let mut answers = Vec::new();
        let mut buf = self.answers.borrow_mut();
        loop {
            let n = self
                .socket
                .recv(&mut &mut buf[..], 0)
                .map_err(Exchange::Io)?;
            let mut offset = 0;
            while offset < n {
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..n])
                    .map_err(|e| Exchange::Io(std::io::Error::other(e.to_string())))?;
                let length = message.header.length as usize;
                if length == 0 {
                    return Err(Exchange::Io(std::io::Error::other("empty netlink message")));
                }
                offset += (length + 3) & !3;
                if message.header.sequence_number != sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(Exchange::Kernel(e));
                    }
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(inner) => {
                        answers.push(inner);
                        if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                            return Ok(answers);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// [`Netlink::exchange`] with errors naming the operation and its target.
    fn request(
        &self,
        op: &'static str,
        target: &str,
        payload: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NetError> {
        self.exchange(payload, flags).map_err(|e| match e {
            Exchange::Io(source) => NetError::Socket(source),
            Exchange::Kernel(message) => {
                netlink_error(op, target, rtnetlink::Error::NetlinkError(message))
            }
        })
    }

    /// The index of interface `name`, or None when there is none.
    pub fn link_index(&self, name: &str) -> Result<Option<u32>, NetError> {
        check_link_name(name)?;
        match rustix::net::netdevice::name_to_index(&self.ioctl_socket, name) {
            Ok(index) => Ok(Some(index)),
            Err(rustix::io::Errno::NODEV) => Ok(None),
            Err(source) => Err(NetError::LinkLookup {
                name: name.to_string(),
                source,
            }),
        }
    }

    /// Like [`Netlink::link_index`], but a missing link is an error.
    pub fn require_link(&self, name: &str) -> Result<u32, NetError> {
        self.link_index(name)?
            .ok_or_else(|| NetError::LinkNotFound {
                name: name.to_string(),
            })
    }

    /// Creates a bridge (down) with the given MTU and returns its index.
    pub fn create_bridge(&self, name: &str, mtu: u32) -> Result<u32, NetError> {
        check_link_name(name)?;
        let message = LinkBridge::new(name).mtu(mtu).build();
        self.add_link("create bridge", name, message)?;
        self.require_link(name)
    }

    /// Creates a veth pair and returns (index of `name`, index of `peer`).
    pub fn create_veth(&self, name: &str, peer: &str, mtu: u32) -> Result<(u32, u32), NetError> {
        check_link_name(name)?;
        check_link_name(peer)?;
        let message = LinkVeth::new(name, peer).mtu(mtu).build();
        self.add_link("create veth", name, message)?;
        Ok((self.require_link(name)?, self.require_link(peer)?))
    }

    /// Creates a veth pair in one request: `name` here, up, a port of the
    /// bridge `bridge_index`; its peer `peer` created directly inside the
    /// namespace open at `netns` (no move, no rename). Returns `name`'s index.
    pub fn create_veth_into(
        &self,
        name: &str,
        bridge_index: u32,
        peer: &str,
        netns: BorrowedFd<'_>,
        mtu: u32,
    ) -> Result<u32, NetError> {
        check_link_name(name)?;
        check_link_name(peer)?;
        let peer_message = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_string())
            .mtu(mtu)
            .setns_by_fd(netns.as_raw_fd())
            .build();
        let message = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(name.to_string())
            .mtu(mtu)
            .controller(bridge_index)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message)))
            .build();
        self.add_link("create veth", name, message)?;
        self.require_link(name)
    }

    pub fn set_up(&self, index: u32) -> Result<(), NetError> {
        self.set_link(
            "set up",
            index,
            LinkUnspec::new_with_index(index).up().build(),
        )
    }

    pub fn set_down(&self, index: u32) -> Result<(), NetError> {
        self.set_link(
            "set down",
            index,
            LinkUnspec::new_with_index(index).down().build(),
        )
    }

    pub fn set_mtu(&self, index: u32, mtu: u32) -> Result<(), NetError> {
        self.set_link(
            "set mtu",
            index,
            LinkUnspec::new_with_index(index).mtu(mtu).build(),
        )
    }

    /// Makes `index` a port of the bridge `bridge_index`.
    pub fn set_controller(&self, index: u32, bridge_index: u32) -> Result<(), NetError> {
        let message = LinkUnspec::new_with_index(index)
            .controller(bridge_index)
            .build();
        self.set_link("attach to bridge", index, message)
    }

    pub fn rename(&self, index: u32, new_name: &str) -> Result<(), NetError> {
        check_link_name(new_name)?;
        let message = LinkUnspec::new_with_index(index)
            .name(new_name.to_string())
            .build();
        self.set_link("rename", index, message)
    }

    /// Moves link `index` into the network namespace open at `netns`.
    pub fn move_to_netns(&self, index: u32, netns: BorrowedFd<'_>) -> Result<(), NetError> {
        let message = LinkUnspec::new_with_index(index)
            .setns_by_fd(netns.as_raw_fd())
            .build();
        self.set_link("move to netns", index, message)
    }

    pub fn add_address(&self, index: u32, address: IpAddr, prefix_len: u8) -> Result<(), NetError> {
        let message = match address {
            IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
                .index(index)
                .address(a, prefix_len)
                .build(),
            IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
                .index(index)
                .address(a, prefix_len)
                .build(),
        };
        let target = format!("{address}/{prefix_len} on #{index}");
        self.request(
            "add address",
            &target,
            RouteNetlinkMessage::NewAddress(message),
            CREATE,
        )
        .map(drop)
    }

    /// Adds a default route via `gateway` out of link `index`.
    pub fn add_default_route(&self, index: u32, gateway: IpAddr) -> Result<(), NetError> {
        let message = match gateway {
            IpAddr::V4(gw) => RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build(),
            IpAddr::V6(gw) => RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build(),
        };
        self.request(
            "add default route via",
            &gateway.to_string(),
            RouteNetlinkMessage::NewRoute(message),
            CREATE,
        )
        .map(drop)
    }

    /// Deletes link `index`; deleting one end of a veth deletes both.
    pub fn delete_link(&self, index: u32) -> Result<(), NetError> {
        let message = LinkUnspec::new_with_index(index).build();
        match self.request(
            "delete link",
            &format!("#{index}"),
            RouteNetlinkMessage::DelLink(message),
            NLM_F_REQUEST | NLM_F_ACK,
        ) {
            Err(NetError::Netlink { source, .. }) if errno_of(&source) == Some(ENODEV) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Deletes the link called `name`, if there is one.
    pub fn delete_link_by_name(&self, name: &str) -> Result<bool, NetError> {
        match self.link_index(name)? {
            Some(index) => self.delete_link(index).map(|()| true),
            None => Ok(false),
        }
    }

    /// Names of all links in this namespace (used by tests and diagnostics).
    pub fn link_names(&self) -> Result<Vec<String>, NetError> {
        let answers = self.request(
            "list links",
            "",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(link) => link_name(link),
                _ => None,
            })
            .collect())
    }

    fn add_link(&self, op: &'static str, name: &str, message: LinkMessage) -> Result<(), NetError> {
        self.request(op, name, RouteNetlinkMessage::NewLink(message), CREATE)
            .map(drop)
    }

    fn set_link(&self, op: &'static str, index: u32, message: LinkMessage) -> Result<(), NetError> {
        self.request(
            op,
            &format!("#{index}"),
            RouteNetlinkMessage::SetLink(message),
            CREATE,
        )
        .map(drop)
    }
}

/// How an exchange failed: on the socket, or the kernel refused.
enum Exchange {
    Io(std::io::Error),
    Kernel(rtnetlink::packet_core::ErrorMessage),
}

fn link_name(message: &LinkMessage) -> Option<String> {
    message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
}

pub(crate) fn errno_of(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| -code.get()),
        _ => None,
    }
}

fn netlink_error(op: &'static str, target: &str, source: rtnetlink::Error) -> NetError {
    NetError::Netlink {
        op,
        target: target.to_string(),
        source,
    }
}

/// Kernel interface names: 1..=15 bytes, no '/', no whitespace, not "." or "..".
pub fn check_link_name(name: &str) -> Result<(), NetError> {
    let reason = if name.is_empty() || name.len() >= IFNAMSIZ {
        Some("must be 1 to 15 bytes long")
    } else if name.contains(['/', ':'])
        || name.chars().any(char::is_whitespace)
        || name == "."
        || name == ".."
    {
        Some("must not contain '/', ':' or whitespace, nor be '.' or '..'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetError::InvalidLinkName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}
