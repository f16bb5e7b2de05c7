//! A small synchronous wrapper over rtnetlink.
//!
//! rtnetlink is async; each `Netlink` owns a current-thread tokio runtime and
//! blocks on every request. The socket belongs to the network namespace of the
//! thread that called [`Netlink::open`], so a `Netlink` must be used in that
//! namespace only (it is `!Send` through the runtime handle it keeps).

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use tokio::runtime::Runtime;

use crate::error::NetError;

const ENODEV: i32 = 19;
const IFNAMSIZ: usize = 16;

/// A netlink route socket in the calling thread's network namespace.
#[derive(Debug)]
pub struct Netlink {
    runtime: Runtime,
    handle: Handle,
    /// For SIOCGIFINDEX: a name lookup by ioctl takes microseconds where
    /// a netlink RTM_GETLINK round trip through the runtime takes ~0.3 ms.
    ioctl_socket: OwnedFd,
    // Keeps the type !Send: the socket is tied to this thread's namespace.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Netlink {
    /// Opens a socket in the current thread's network namespace.
    pub fn open() -> Result<Self, NetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(NetError::Socket)?;
        let (connection, handle, _) = runtime
            .block_on(async { rtnetlink::new_connection() })
            .map_err(NetError::Socket)?;
        runtime.spawn(connection);
        let ioctl_socket = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| NetError::Socket(e.into()))?;
        Ok(Netlink {
            runtime,
            handle,
            ioctl_socket,
            _not_send: std::marker::PhantomData,
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
        let request = self
            .handle
            .address()
            .add(index, address, prefix_len)
            .execute();
        self.runtime.block_on(request).map_err(|source| {
            netlink_error(
                "add address",
                &format!("{address}/{prefix_len} on #{index}"),
                source,
            )
        })
    }

    /// Adds a default route via `gateway` out of link `index`.
    pub fn add_default_route(&self, index: u32, gateway: IpAddr) -> Result<(), NetError> {
        let message = match gateway {
            IpAddr::V4(gw) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build(),
            IpAddr::V6(gw) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build(),
        };
        let request = self.handle.route().add(message).execute();
        self.runtime
            .block_on(request)
            .map_err(|source| netlink_error("add default route via", &gateway.to_string(), source))
    }

    /// Deletes link `index`; deleting one end of a veth deletes both.
    pub fn delete_link(&self, index: u32) -> Result<(), NetError> {
        let request = self.handle.link().del(index).execute();
        match self.runtime.block_on(request) {
            Err(error) if errno_of(&error) == Some(ENODEV) => Ok(()),
            other => {
                other.map_err(|source| netlink_error("delete link", &format!("#{index}"), source))
            }
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
        let request = self.handle.link().get().execute();
        let messages: Vec<LinkMessage> = self
            .runtime
            .block_on(request.try_collect())
            .map_err(|source| netlink_error("list links", "", source))?;
        Ok(messages.iter().filter_map(link_name).collect())
    }

    fn add_link(&self, op: &'static str, name: &str, message: LinkMessage) -> Result<(), NetError> {
        let request = self.handle.link().add(message).execute();
        self.runtime
            .block_on(request)
            .map_err(|source| netlink_error(op, name, source))
    }

    fn set_link(&self, op: &'static str, index: u32, message: LinkMessage) -> Result<(), NetError> {
        let request = self.handle.link().set(message).execute();
        self.runtime
            .block_on(request)
            .map_err(|source| netlink_error(op, &format!("#{index}"), source))
    }
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
