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
    Ok(serve(UdpSocket::bind(addr).await?, pool))
}

/// Relay datagrams arriving on `socket` to `pool`'s backends until aborted.
pub fn serve(socket: UdpSocket, pool: Arc<Pool>) -> JoinHandle<()> {
    let socket = Arc::new(socket);
    let addr = socket.local_addr().ok();
    tokio::spawn(async move {
        let flows: Flows = Arc::default();
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, client) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors from earlier sends surface here; keep serving.
                    tracing::debug!(?addr, error = %e, "proxy udp receive");
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
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn udp_replies_reach_their_own_client() {
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                let (n, from) = echo.recv_from(&mut buf).await.unwrap();
                let mut reply = b"echo ".to_vec();
                reply.extend_from_slice(&buf[..n]);
                echo.send_to(&reply, from).await.unwrap();
            }
        });
        let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let front_addr = front.local_addr().unwrap();
        let task = serve(front, Arc::new(Pool::new(vec![echo_addr], None)));
        let mut clients = Vec::new();
        for name in ["a", "b"] {
            let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            c.connect(front_addr).await.unwrap();
            c.send(name.as_bytes()).await.unwrap();
            clients.push((name, c));
        }
        for (name, c) in &clients {
            let mut buf = [0u8; 64];
            let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
                .await
                .expect("a reply")
                .unwrap();
            assert_eq!(&buf[..n], format!("echo {name}").as_bytes());
        }
        task.abort();
    }
}
