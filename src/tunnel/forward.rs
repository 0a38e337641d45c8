//! A localhost listener forwarding each connection to the first target that accepts it
//! (a service's ClusterIP, then its NodePort on the node).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

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
}
