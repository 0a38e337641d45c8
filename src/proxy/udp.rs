//! UDP forwarding for one frontend: each client address gets its own upstream socket
//! connected to a backend, so replies find their way back; idle flows expire.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::pool::Pool;

/// How long a flow lives without traffic (kube-proxy's UDP idle timeout is of this order).
const IDLE: Duration = Duration::from_secs(30);

type Flows = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

/// Listen on `addr` and relay datagrams to `pool`'s backends until aborted.
pub async fn listen(addr: SocketAddr, pool: Arc<Pool>) -> std::io::Result<JoinHandle<()>> {
    let socket = Arc::new(UdpSocket::bind(addr).await?);
    Ok(tokio::spawn(async move {
        let flows: Flows = Arc::default();
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, client) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors from earlier sends surface here; keep serving.
                    tracing::debug!(%addr, error = %e, "proxy udp receive");
                    continue;
                }
            };
            let existing = flows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&client)
                .cloned();
            let upstream = match existing {
                Some(u) => u,
                None => match open_flow(&socket, &pool, &flows, client).await {
                    Some(u) => u,
                    None => continue,
                },
            };
            let _ = upstream.send(&buf[..n]).await;
        }
    }))
}

async fn open_flow(
    frontend: &Arc<UdpSocket>,
    pool: &Pool,
    flows: &Flows,
    client: SocketAddr,
) -> Option<Arc<UdpSocket>> {
    let backend = *pool.pick(client.ip()).first()?;
    let bind: SocketAddr = if backend.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let upstream = Arc::new(UdpSocket::bind(bind).await.ok()?);
    upstream.connect(backend).await.ok()?;
    flows
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(client, upstream.clone());
    let (frontend, flows, reply) = (frontend.clone(), flows.clone(), upstream.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        // Until idle, or the backend is gone (ICMP refused): then the flow ends.
        while let Ok(Ok(n)) = tokio::time::timeout(IDLE, reply.recv(&mut buf)).await {
            let _ = frontend.send_to(&buf[..n], client).await;
        }
        flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client);
    });
    Some(upstream)
}
