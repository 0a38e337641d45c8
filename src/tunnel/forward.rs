//! A localhost listener forwarding each connection to the first target that accepts it
//! (a service's ClusterIP, then its NodePort on the node), and its UDP counterpart, which
//! relays each client's datagrams through a socket of its own so replies find their way
//! back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a UDP client's flow lives without a reply (conntrack's UDP timeout is 30 s,
/// its stream timeout 120 s).
const UDP_IDLE: Duration = Duration::from_secs(60);

/// Forward connections accepted on `listener` to `targets` until the task is aborted;
/// connections already forwarded run on in their own tasks.
pub fn spawn(listener: TcpListener, targets: Vec<SocketAddr>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            tokio::spawn(relay(conn, targets.clone()));
        }
    })
}

async fn relay(mut client: TcpStream, targets: Vec<SocketAddr>) {
    let _ = client.set_nodelay(true);
    for target in targets {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
            Ok(Ok(mut upstream)) => {
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                return;
            }
            Ok(Err(e)) => tracing::debug!(%target, error = %e, "tunnel target refused"),
            Err(_) => tracing::debug!(%target, "tunnel target timed out"),
        }
    }
    // Nobody took it: reset, so the client sees a refusal rather than a hang.
    let _ = client.set_zero_linger();
}

/// Relay datagrams arriving on `socket` to `target`, and each reply back to the client that
/// caused it, until the task is aborted (which ends every flow).
pub fn spawn_udp(socket: UdpSocket, target: SocketAddr) -> JoinHandle<()> {
    tokio::spawn(async move {
        let socket = Arc::new(socket);
        let mut flows: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let mut replies: JoinSet<SocketAddr> = JoinSet::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            while let Some(Ok(ended)) = replies.try_join_next() {
                flows.remove(&ended);
            }
            let Ok((n, client)) = socket.recv_from(&mut buf).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let upstream = match flows.get(&client) {
                Some(u) => u.clone(),
                None => {
                    let Ok(u) = open_flow(target).await else {
                        tracing::debug!(%target, "tunnel UDP target unreachable");
                        continue;
                    };
                    let u = Arc::new(u);
                    flows.insert(client, u.clone());
                    replies.spawn(reply_loop(u.clone(), socket.clone(), client));
                    u
                }
            };
            if let Err(e) = upstream.send(&buf[..n]).await {
                tracing::debug!(%target, error = %e, "tunnel UDP send failed");
            }
        }
    })
}

async fn open_flow(target: SocketAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let u = UdpSocket::bind(local).await?;
    u.connect(target).await?;
    Ok(u)
}

/// Replies from `upstream` go to `client` until the flow has been idle for [`UDP_IDLE`].
async fn reply_loop(
    upstream: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
) -> SocketAddr {
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
        let _ = front.send_to(&buf[..n], client).await;
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn falls_over_to_the_next_target() {
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_addr = dead.local_addr().unwrap();
        drop(dead);
        let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = live.accept().await.unwrap();
            s.write_all(b"hello").await.unwrap();
        });
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front_addr = front.local_addr().unwrap();
        let task = spawn(front, vec![dead_addr, live_addr]);
        let mut c = TcpStream::connect(front_addr).await.unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "hello");
        task.abort();
    }

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
        let task = spawn_udp(front, echo_addr);
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
