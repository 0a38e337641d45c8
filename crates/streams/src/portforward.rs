//! The server side of port-forward, like the kubelet's `cri/streaming/portforward`:
//!
//! * SPDY (plain upgrade, or tunnelled in WebSocket binary messages): per forwarded
//!   connection the client opens an `error` and a `data` stream with the same `requestID`
//!   and a `port`; we dial the port, copy bytes on `data`, and report a failure as text on
//!   `error` — the session goes on for the other connections.
//! * WebSocket channels (`v4.channel.k8s.io`, with `?ports=`; what kube-rs speaks): port i
//!   uses data channel 2i and error channel 2i+1, each first announced with the port in
//!   two little-endian bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::spdy::session::{self, Stream};

/// The SPDY stream protocol of port-forward.
pub const SPDY_PROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol of tunnelled SPDY (kubectl's default since 1.31).
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// WebSocket channel protocols we speak for port-forward (kube-rs offers v5 then v4; the
/// kubelet's port-forward only has v4).
pub const CHANNEL_PROTOCOLS: &[&str] = &["v4.channel.k8s.io"];

/// A connection to one of the pod's ports (a TCP connection, or a relay inside the pod).
pub trait PodConn: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> PodConn for T {}

/// Opens a connection to a port of the pod; the error text is what the client is shown.
pub type Dial =
    Arc<dyn Fn(u16) -> BoxFuture<'static, Result<Box<dyn PodConn>, String>> + Send + Sync>;

/// Parse `ports=80,8080&ports=9090` (kube-rs' query) into ports.
pub fn parse_ports(values: &[&str]) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match v.parse::<u16>() {
            Ok(p) if p > 0 => ports.push(p),
            _ => return Err(format!("invalid port {v:?}: must be between 1 and 65535")),
        }
    }
    Ok(ports)
}

/// How long the client has to open both streams of a request (the kubelet's default).
const STREAM_PAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// The streams of one forwarded connection, as they arrive.
#[derive(Default)]
struct Pair {
    data: Option<Stream>,
    error: Option<Stream>,
    since: Option<Instant>,
}

/// Serve port-forward on a SPDY connection until the client ends it.
pub async fn serve_spdy<IO>(io: IO, dial: Dial)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut accepted, task) = session::serve(io);
    let mut pending: HashMap<String, Pair> = HashMap::new();
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    loop {
        let s = tokio::select! {
            s = accepted.recv() => match s {
                Some(s) => s,
                None => break,
            },
            _ = sweep.tick() => {
                expire(&mut pending, STREAM_PAIR_TIMEOUT).await;
                continue;
            }
        };
        let kind = s.header("streamType").unwrap_or("").to_ascii_lowercase();
        // Old clients send no requestID: pair the error stream with the data stream
        // opened right after it, as the kubelet does.
        let request = match s.header("requestID") {
            Some(r) => r.to_string(),
            None if kind == "data" => s.id.saturating_sub(2).to_string(),
            None => s.id.to_string(),
        };
        let entry = pending.entry(request.clone()).or_default();
        entry.since.get_or_insert_with(Instant::now);
        match kind.as_str() {
            "error" if entry.error.is_none() => entry.error = Some(s),
            "data" if entry.data.is_none() => entry.data = Some(s),
            _ => {
                tracing::debug!(%kind, %request, "port-forward: unexpected stream");
                s.writer().reset().await;
                continue;
            }
        }
        if entry.data.is_some() && entry.error.is_some() {
            if let Some(Pair {
                data: Some(data),
                error: Some(error),
                ..
            }) = pending.remove(&request)
            {
                tokio::spawn(forward(data, error, dial.clone()));
            }
        }
    }
    let _ = task.await;
}

/// Give up on requests whose second stream never came, telling the client why.
async fn expire(pending: &mut HashMap<String, Pair>, limit: Duration) {
    let late: Vec<String> = pending
        .iter()
        .filter(|(_, p)| p.since.is_some_and(|t| t.elapsed() >= limit))
        .map(|(r, _)| r.clone())
        .collect();
    for request in late {
        let Some(p) = pending.remove(&request) else {
            continue;
        };
        if let Some(e) = p.error {
            let w = e.writer();
            let msg = format!("request {request}: timed out waiting for streams");
            let _ = w.write(msg.as_bytes()).await;
            let _ = w.close().await;
        }
        if let Some(d) = p.data {
            d.writer().reset().await;
        }
    }
}

async fn forward(data: Stream, error: Stream, dial: Dial) {
    let err = error.writer();
    let port = data.header("port").and_then(|p| p.parse::<u16>().ok());
    let Some(port) = port.filter(|p| *p > 0) else {
        let raw = data.header("port").unwrap_or("").to_string();
        let _ = err
            .write(format!("invalid port {raw:?}: must be between 1 and 65535").as_bytes())
            .await;
        let _ = err.close().await;
        let _ = data.writer().close().await;
        return;
    };
    let tcp = match dial(port).await {
        Ok(t) => t,
        Err(msg) => {
            let _ = err.write(msg.as_bytes()).await;
            let _ = err.close().await;
            let _ = data.writer().close().await;
            return;
        }
    };
    let (mut rd, mut wr) = tokio::io::split(tcp);
    let (mut inbound, out) = data.split();
    let to_pod = tokio::spawn(async move {
        while let Some(b) = inbound.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.write(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = out.close().await;
    // Nothing went wrong: an empty error stream tells the client so.
    let _ = err.close().await;
    let _ = to_pod.await;
}

/// Serve port-forward over WebSocket channels for `ports`.
pub async fn serve_websocket<S>(ws: WebSocketStream<S>, ports: Vec<u16>, dial: Dial)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut inbound) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let mut to_pods: Vec<Option<mpsc::Sender<Bytes>>> = Vec::new();
    let mut tasks = Vec::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let data_ch = (2 * i) as u8;
        let err_ch = data_ch + 1;
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        to_pods.push(Some(tx));
        let out = out_tx.clone();
        let dial = dial.clone();
        tasks.push(tokio::spawn(async move {
            let p = port.to_le_bytes();
            let _ = out.send(vec![data_ch, p[0], p[1]]).await;
            let _ = out.send(vec![err_ch, p[0], p[1]]).await;
            match dial(port).await {
                Err(msg) => {
                    let mut m = vec![err_ch];
                    m.extend_from_slice(msg.as_bytes());
                    let _ = out.send(m).await;
                }
                Ok(tcp) => pipe_channel(tcp, data_ch, rx, out).await,
            }
        }));
    }
    drop(out_tx);
    let reader = async {
        while let Some(msg) = inbound.next().await {
            let data = match msg {
                Ok(Message::Binary(b)) => b,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            let Some((&ch, rest)) = data.split_first() else {
                continue;
            };
            // Client data goes on a data channel (even); anything else is dropped.
            let idx = (ch / 2) as usize;
            if ch % 2 != 0 || rest.is_empty() {
                continue;
            }
            if let Some(slot) = to_pods.get_mut(idx) {
                if let Some(tx) = slot {
                    if tx.send(Bytes::copy_from_slice(rest)).await.is_err() {
                        *slot = None;
                    }
                }
            }
        }
    };
    let writer = async {
        while let Some(m) = out_rx.recv().await {
            if sink.send(Message::Binary(m.into())).await.is_err() {
                return;
            }
        }
        // Every port's connection has ended.
        let _ = sink.send(Message::Close(None)).await;
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
    for t in tasks {
        t.abort();
    }
}

async fn pipe_channel(
    conn: Box<dyn PodConn>,
    ch: u8,
    mut from_client: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Vec<u8>>,
) {
    let (mut rd, mut wr) = tokio::io::split(conn);
    let to_pod = tokio::spawn(async move {
        while let Some(b) = from_client.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut m = Vec::with_capacity(n + 1);
                m.push(ch);
                m.extend_from_slice(&buf[..n]);
                if out.send(m).await.is_err() {
                    break;
                }
            }
        }
    }
    to_pod.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spdy::frame::{Frame, FLAG_FIN};
    use crate::spdy::headers::{Decoder, Encoder, Headers};
    use bytes::BytesMut;
    use tokio::io::DuplexStream;
    use tokio::net::TcpListener;
    use tokio::net::TcpStream;

    #[test]
    fn ports_parse() {
        assert_eq!(
            parse_ports(&["80,8080", "9090"]).unwrap(),
            vec![80, 8080, 9090]
        );
        assert!(parse_ports(&["0"]).is_err());
        assert!(parse_ports(&["http"]).is_err());
        assert!(parse_ports(&[]).unwrap().is_empty());
    }

    struct Client {
        io: DuplexStream,
        enc: Encoder,
        dec: Decoder,
        buf: BytesMut,
    }

    impl Client {
        async fn send(&mut self, f: Frame) {
            let mut b = BytesMut::new();
            f.write(&mut b);
            self.io.write_all(&b).await.unwrap();
        }
        async fn open(&mut self, id: u32, kind: &str, port: &str, request: &str) {
            let h: Headers = vec![
                ("streamtype".into(), kind.into()),
                ("port".into(), port.into()),
                ("requestid".into(), request.into()),
            ];
            let block = self.enc.encode(&h).unwrap().into();
            self.send(Frame::SynStream {
                stream_id: id,
                associated_id: 0,
                priority: 0,
                flags: 0,
                block,
            })
            .await;
        }
        /// Collect DATA per stream until every stream in `ids` has sent FIN.
        async fn until_fin(&mut self, ids: &[u32]) -> HashMap<u32, Vec<u8>> {
            let mut got: HashMap<u32, Vec<u8>> = HashMap::new();
            let mut done = 0;
            while done < ids.len() {
                let f = loop {
                    if let Some(f) = Frame::parse(&mut self.buf).unwrap() {
                        break f;
                    }
                    assert!(self.io.read_buf(&mut self.buf).await.unwrap() > 0);
                };
                match f {
                    Frame::SynReply { block, .. } => {
                        self.dec.decode(&block).unwrap();
                    }
                    Frame::Data {
                        stream_id,
                        flags,
                        data,
                    } if ids.contains(&stream_id) => {
                        got.entry(stream_id).or_default().extend_from_slice(&data);
                        if flags & FLAG_FIN != 0 {
                            done += 1;
                        }
                    }
                    _ => {}
                }
            }
            got
        }
    }

    async fn echo_server() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = vec![0u8; 1024];
                    let n = c.read(&mut b).await.unwrap_or(0);
                    let _ = c.write_all(&b[..n]).await;
                });
            }
        });
        port
    }

    fn loopback_dial() -> Dial {
        Arc::new(|port| {
            Box::pin(async move {
                TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map(|c| Box::new(c) as Box<dyn PodConn>)
                    .map_err(|e| format!("error forwarding port {port}: {e}"))
            })
        })
    }

    #[tokio::test]
    async fn a_lone_error_stream_times_out_with_a_message() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut accepted, _task) = session::serve(b);
        let mut c = Client {
            io: a,
            enc: Encoder::default(),
            dec: Decoder::default(),
            buf: BytesMut::new(),
        };
        c.open(1, "error", "80", "5").await;
        let s = accepted.recv().await.unwrap();
        let mut pending = HashMap::new();
        pending.insert(
            "5".to_string(),
            Pair {
                error: Some(s),
                since: Some(Instant::now()),
                ..Default::default()
            },
        );
        expire(&mut pending, Duration::from_secs(3600)).await;
        assert_eq!(pending.len(), 1, "not yet due");
        expire(&mut pending, Duration::ZERO).await;
        assert!(pending.is_empty());
        let got = c.until_fin(&[1]).await;
        assert_eq!(got[&1], b"request 5: timed out waiting for streams");
    }

    #[tokio::test]
    async fn websocket_channels_announce_ports_and_carry_data() {
        use tokio_tungstenite::tungstenite::protocol::Role;

        let port = echo_server().await;
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let (a, b) = tokio::io::duplex(1 << 16);
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        tokio::spawn(serve_websocket(server, vec![port, closed], loopback_dial()));
        let mut by_channel: HashMap<u8, Vec<Vec<u8>>> = HashMap::new();
        let next = async |c: &mut WebSocketStream<DuplexStream>| match c.next().await {
            Some(Ok(Message::Binary(b))) => Some(b.to_vec()),
            _ => None,
        };
        // Four announcements and the refused port's error, in some order.
        while by_channel.values().map(Vec::len).sum::<usize>() < 5 {
            let m = next(&mut client).await.expect("a frame");
            by_channel.entry(m[0]).or_default().push(m[1..].to_vec());
        }
        assert_eq!(by_channel[&0], vec![port.to_le_bytes().to_vec()]);
        assert_eq!(by_channel[&2], vec![closed.to_le_bytes().to_vec()]);
        assert_eq!(by_channel[&3][0], closed.to_le_bytes().to_vec());
        assert!(String::from_utf8_lossy(&by_channel[&3][1]).contains("refused"));

        client
            .send(Message::Binary(b"\x00ping".to_vec().into()))
            .await
            .unwrap();
        // Frames for the error channel or unknown ports are ignored.
        client
            .send(Message::Binary(b"\x07junk".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(next(&mut client).await, Some(b"\x00ping".to_vec()));
        // The echo server hangs up: with every port done, the session closes.
        assert_eq!(next(&mut client).await, None);
    }

    #[tokio::test]
    async fn refused_port_is_reported_and_the_session_goes_on() {
        let port = echo_server().await;
        // A port nothing listens on: bind then drop.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let (a, b) = tokio::io::duplex(1 << 20);
        tokio::spawn(serve_spdy(b, loopback_dial()));
        let mut c = Client {
            io: a,
            enc: Encoder::default(),
            dec: Decoder::default(),
            buf: BytesMut::new(),
        };
        c.open(1, "error", &closed.to_string(), "0").await;
        c.open(3, "data", &closed.to_string(), "0").await;
        let got = c.until_fin(&[1, 3]).await;
        let msg = String::from_utf8_lossy(&got[&1]).to_string();
        assert!(
            msg.contains(&format!("error forwarding port {closed}")),
            "{msg}"
        );
        assert!(msg.to_lowercase().contains("refused"), "{msg}");

        // A malformed port header gets its own error, not a dead session.
        c.open(5, "error", "http", "1").await;
        c.open(7, "data", "http", "1").await;
        let got = c.until_fin(&[5, 7]).await;
        assert!(String::from_utf8_lossy(&got[&5]).contains("invalid port"));

        // The same session still forwards.
        c.open(9, "error", &port.to_string(), "2").await;
        c.open(11, "data", &port.to_string(), "2").await;
        c.send(Frame::Data {
            stream_id: 11,
            flags: 0,
            data: Bytes::from_static(b"ping"),
        })
        .await;
        let got = c.until_fin(&[9, 11]).await;
        assert_eq!(got[&11], b"ping");
        assert!(got.get(&9).is_none_or(|e| e.is_empty()));
    }
}
