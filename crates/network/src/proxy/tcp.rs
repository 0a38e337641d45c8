//! TCP forwarding for one frontend: accept, connect to a backend (falling over to the
//! next one when a backend refuses), then copy both ways until either side closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::pool::Pool;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Listen on `addr` and forward every connection to `pool`'s backends until aborted;
/// connections already forwarded keep running when the listener stops.
pub async fn listen(addr: SocketAddr, pool: Arc<Pool>) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(tokio::spawn(async move {
        loop {
            let (conn, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let pool = pool.clone();
            tokio::spawn(forward(conn, peer, pool));
        }
    }))
}

async fn forward(mut client: TcpStream, peer: SocketAddr, pool: Arc<Pool>) {
    let _ = client.set_nodelay(true);
    for backend in pool.pick(peer.ip()) {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend)).await {
            Ok(Ok(mut upstream)) => {
                pool.stick(peer.ip(), backend);
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                return;
            }
            Ok(Err(e)) => tracing::debug!(%backend, error = %e, "backend refused; trying the next"),
            Err(_) => tracing::debug!(%backend, "backend connect timed out; trying the next"),
        }
    }
    // Nothing took the connection: reset it rather than leave the client hanging.
    let _ = client.set_zero_linger();
}
