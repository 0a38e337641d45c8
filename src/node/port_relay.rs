//! `rkube port-relay PORT`: the kubelet runs it as an exec in a pod's sandbox (the pause
//! container, which shares the pod's network namespace) when a port-forward finds nothing
//! on the pod's IP. It connects to the pod's own localhost, as the kubelet's port-forward
//! does inside the namespace, and relays its stdin and stdout to that connection.
//!
//! Protocol with the kubelet: one [`CONNECTED`] byte on stdout once connected, then the
//! connection's bytes; a failure is one line on stderr and exit code 1, with nothing on
//! stdout.

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

/// The byte that tells the kubelet the connection is up.
pub const CONNECTED: u8 = 0;

/// Connect to `localhost:port` in this network namespace and relay stdio to it; returns the
/// exit code.
pub fn run(port: u16) -> std::io::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let code = rt.block_on(async move {
        let conn = match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(c) => c,
            Err(v4) => match TcpStream::connect(("::1", port)).await {
                Ok(c) => c,
                Err(_) => {
                    eprintln!("dial tcp 127.0.0.1:{port}: {v4}");
                    return Ok(1);
                }
            },
        };
        let _ = conn.set_nodelay(true);
        let mut stdout = BufWriter::new(tokio::io::stdout());
        stdout.write_all(&[CONNECTED]).await?;
        stdout.flush().await?;
        let (mut from_pod, mut to_pod) = conn.into_split();
        let up = async {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut to_pod).await;
            let _ = to_pod.shutdown().await;
        };
        let down = async {
            let mut out = stdout.into_inner();
            let _ = tokio::io::copy(&mut from_pod, &mut out).await;
            let _ = out.flush().await;
        };
        // The pod closing its side ends the relay; the client closing its side only
        // half-closes the connection, so the pod's answer still comes back.
        tokio::pin!(up, down);
        tokio::select! {
            _ = &mut down => {}
            _ = &mut up => down.await,
        }
        Ok(0)
    });
    // The stdin reader blocks on a thread that dropping the runtime would wait for.
    rt.shutdown_background();
    code
}
