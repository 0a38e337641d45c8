//! The server side of the WebSocket upgrade used by exec, attach and port-forward: which
//! subprotocol to speak, the 101 answer, and a byte pipe over binary messages for the
//! SPDY tunnel (`SPDY/3.1+portforward.k8s.io`). The framing itself is tungstenite's.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap, Response, StatusCode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Message, Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// A server-side WebSocket over an upgraded HTTP connection.
pub type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Whether the request asks for a WebSocket upgrade.
pub fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && headers.contains_key(header::SEC_WEBSOCKET_KEY)
}

/// Whether the request asks for a SPDY/3.1 upgrade.
pub fn is_spdy(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("spdy/3.1"))
}

/// The subprotocols the client offered (one comma-separated header or several), in order.
pub fn offered(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The first protocol of the client's list that we speak (client preference wins, as
/// in Kubernetes' `httpstream.Handshake`).
pub fn negotiate(offered: &[String], supported: &[&str]) -> Option<String> {
    offered
        .iter()
        .find(|p| supported.contains(&p.as_str()))
        .cloned()
}

/// The `101 Switching Protocols` answer to a WebSocket upgrade.
pub fn accept(headers: &HeaderMap, protocol: &str) -> Response<()> {
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
        .unwrap_or_default();
    let mut b = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, key);
    if !protocol.is_empty() {
        b = b.header(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    b.body(()).unwrap_or_default()
}

/// Wrap an upgraded connection as the server side of a WebSocket.
pub async fn server(upgraded: Upgraded) -> Ws {
    let mut cfg = WebSocketConfig::default();
    // kubectl cp and port-forward send big messages; stay within kube-apiserver's limits.
    cfg.max_message_size = Some(64 << 20);
    cfg.max_frame_size = Some(32 << 20);
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(cfg)).await
}

/// A byte pipe whose far end is the WebSocket: what the client sends in binary messages
/// comes out of the returned stream, what is written to it goes out as binary messages
/// (the tunnelled SPDY of port-forward). Ends when either side closes.
pub fn byte_pipe(ws: Ws) -> DuplexStream {
    let (near, far) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        let (mut sink, mut stream) = ws.split();
        let (mut rd, mut wr) = tokio::io::split(far);
        let inbound = async move {
            while let Some(msg) = stream.next().await {
                match msg {
                    Ok(Message::Binary(b)) => {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    // Text is not part of the tunnel; pings are answered by tungstenite.
                    Ok(_) => {}
                }
            }
            let _ = wr.shutdown().await;
        };
        let outbound = async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let msg = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                        if sink.send(msg).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = sink.send(Message::Close(None)).await;
        };
        // Either direction ending ends the tunnel: SPDY closes both ways at once.
        tokio::select! {
            _ = inbound => {}
            _ = outbound => {}
        }
    });
    near
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn negotiates_in_client_order() {
        let mut h = HeaderMap::new();
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"),
        );
        let o = offered(&h, "sec-websocket-protocol");
        assert_eq!(o, vec!["v5.channel.k8s.io", "v4.channel.k8s.io"]);
        assert_eq!(
            negotiate(&o, &["v4.channel.k8s.io", "v5.channel.k8s.io"]).as_deref(),
            Some("v5.channel.k8s.io")
        );
        assert_eq!(negotiate(&o, &["portforward.k8s.io"]), None);
    }

    #[test]
    fn accepts_with_the_rfc_key() {
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        assert!(is_websocket(&h));
        assert!(!is_spdy(&h));
        let r = accept(&h, "v5.channel.k8s.io");
        assert_eq!(r.status(), 101);
        // RFC 6455 §1.3's example.
        assert_eq!(
            r.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            r.headers()[header::SEC_WEBSOCKET_PROTOCOL],
            "v5.channel.k8s.io"
        );
    }
}
