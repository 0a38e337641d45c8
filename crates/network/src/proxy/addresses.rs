//! Service addresses held by the node: each ClusterIP becomes a `/32` secondary address on
//! the node's interface, so the other members of the Docker bridge (pods, the host) reach
//! it by ARP on the same segment and the proxy can listen on it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use futures::future::BoxFuture;
use futures::TryStreamExt;

/// Errors changing the interface's addresses.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// The interface does not exist.
    #[error("network interface {0} not found")]
    NoInterface(String),
    /// The netlink socket could not be opened.
    #[error("opening a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The kernel refused a change.
    #[error("netlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
}

/// Where service addresses are claimed: the node's interface, or a test double.
pub trait AddressClaimer: Send + Sync {
    /// Add `ip/32` (already present is fine).
    fn claim(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), AddressError>>;
    /// Remove `ip/32` (already absent is fine).
    fn release(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), AddressError>>;
}

/// Claims addresses on a network interface through rtnetlink.
pub struct Netlink {
    handle: rtnetlink::Handle,
    index: u32,
}

impl Netlink {
    /// Open a netlink connection and find `interface` (e.g. `eth0`).
    pub async fn open(interface: &str) -> Result<Netlink, AddressError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(AddressError::Socket)?;
        tokio::spawn(conn);
        let link = handle
            .link()
            .get()
            .match_name(interface.to_string())
            .execute()
            .try_next()
            .await
            .map_err(|e| match e {
                rtnetlink::Error::NetlinkError(_) => {
                    AddressError::NoInterface(interface.to_string())
                }
                e => AddressError::Netlink(e),
            })?
            .ok_or_else(|| AddressError::NoInterface(interface.to_string()))?;
        Ok(Netlink {
            handle,
            index: link.header.index,
        })
    }

    /// Whether a netlink error is the kernel's EEXIST / EADDRNOTAVAIL (nothing to do).
    fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
        matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == errno)
    }
}

impl AddressClaimer for Netlink {
    fn claim(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), AddressError>> {
        Box::pin(async move {
            match self
                .handle
                .address()
                .add(self.index, IpAddr::V4(ip), 32)
                .execute()
                .await
            {
                Err(e) if Self::is_errno(&e, nix::libc::EEXIST) => Ok(()),
                r => r.map_err(AddressError::from),
            }
        })
    }

    fn release(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), AddressError>> {
        Box::pin(async move {
            let msg = rtnetlink::AddressMessageBuilder::<Ipv4Addr>::new()
                .index(self.index)
                .address(ip, 32)
                .build();
            match self.handle.address().del(msg).execute().await {
                Err(e) if Self::is_errno(&e, nix::libc::EADDRNOTAVAIL) => Ok(()),
                r => r.map_err(AddressError::from),
            }
        })
    }
}

/// The set of addresses claimed, brought to what the Services want.
pub struct Claimed {
    claimer: Box<dyn AddressClaimer>,
    held: BTreeSet<Ipv4Addr>,
    pinned: BTreeSet<Ipv4Addr>,
}

impl Claimed {
    /// Claim `pinned` now and keep it whatever Services say (the DNS address must be
    /// there before the DNS server binds, and before its Service exists).
    pub async fn new(
        claimer: Box<dyn AddressClaimer>,
        pinned: &[Ipv4Addr],
    ) -> Result<Claimed, AddressError> {
        for ip in pinned {
            claimer.claim(*ip).await?;
        }
        Ok(Claimed {
            claimer,
            held: pinned.iter().copied().collect(),
            pinned: pinned.iter().copied().collect(),
        })
    }

    /// Claim what is wanted and not held; release what is held and no longer wanted.
    pub async fn sync(&mut self, wanted: &BTreeSet<Ipv4Addr>) {
        for ip in wanted.difference(&self.held.clone()) {
            match self.claimer.claim(*ip).await {
                Ok(()) => {
                    self.held.insert(*ip);
                }
                Err(e) => tracing::warn!(%ip, error = %e, "cannot claim service address"),
            }
        }
        let gone: Vec<Ipv4Addr> = self
            .held
            .iter()
            .filter(|ip| !wanted.contains(ip) && !self.pinned.contains(ip))
            .copied()
            .collect();
        for ip in gone {
            match self.claimer.release(ip).await {
                Ok(()) => {
                    self.held.remove(&ip);
                }
                Err(e) => tracing::warn!(%ip, error = %e, "cannot release service address"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A test double recording the interface's addresses.
    #[derive(Clone, Default)]
    struct FakeInterface(Arc<Mutex<BTreeSet<Ipv4Addr>>>);

    impl AddressClaimer for FakeInterface {
        fn claim(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), AddressError>> {
            self.0.lock().unwrap().insert(ip);
            Box::pin(async { Ok(()) })
        }
        fn release(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), AddressError>> {
            self.0.lock().unwrap().remove(&ip);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn follows_wanted_and_keeps_pinned() {
        let iface = FakeInterface::default();
        let dns: Ipv4Addr = "10.96.0.10".parse().unwrap();
        let mut c = Claimed::new(Box::new(iface.clone()), &[dns]).await.unwrap();
        assert!(iface.0.lock().unwrap().contains(&dns));
        let a: Ipv4Addr = "10.96.0.1".parse().unwrap();
        let b: Ipv4Addr = "10.96.0.20".parse().unwrap();
        c.sync(&[a, b].into_iter().collect()).await;
        assert_eq!(iface.0.lock().unwrap().len(), 3);
        c.sync(&[a].into_iter().collect()).await;
        let now = iface.0.lock().unwrap().clone();
        assert_eq!(now, [a, dns].into_iter().collect());
    }
}
