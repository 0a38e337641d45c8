//! The server side of an exec or attach session: the client's stdin and terminal sizes
//! go to the process, its output comes back, and how it ended is reported as a Status on
//! the error stream. Spoken over WebSocket (`v4`/`v5.channel.k8s.io`, what kubectl uses
//! first) or over SPDY streams (kubectl's fallback), like the kubelet's
//! `cri/streaming/remotecommand`.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::channel::{self, Channel, Inbound};
use super::spdy::session::{self, Stream, StreamWriter};

/// SPDY stream-protocol versions we speak for exec/attach, preferred first.
pub const SPDY_PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// How long the client has to open its SPDY streams (the kubelet's default).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Which of the process's streams the client wants (query parameters `stdin`, `stdout`,
/// `stderr`, `tty` and, for exec, `command`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Send the client's input to the process.
    pub stdin: bool,
    /// Return the process's stdout.
    pub stdout: bool,
    /// Return its stderr (never with a TTY: the terminal merges them).
    pub stderr: bool,
    /// The process runs on a terminal the client resizes.
    pub tty: bool,
    /// The command (exec only).
    pub command: Vec<String>,
}

impl Options {
    /// Read the options from query pairs, with the kubelet's checks.
    pub fn from_query(pairs: &[(String, String)]) -> Result<Options, String> {
        let flag = |k: &str| {
            pairs
                .iter()
                .any(|(n, v)| n == k && (v == "1" || v.eq_ignore_ascii_case("true")))
        };
        let mut o = Options {
            stdin: flag("stdin"),
            stdout: flag("stdout"),
            stderr: flag("stderr"),
            tty: flag("tty"),
            command: pairs
                .iter()
                .filter(|(n, _)| n == "command")
                .map(|(_, v)| v.clone())
                .collect(),
        };
        if !(o.stdin || o.stdout || o.stderr) {
            return Err("you must specify at least 1 of stdin, stdout, stderr".into());
        }
        // A terminal merges stderr into stdout.
        if o.tty {
            o.stderr = false;
        }
        Ok(o)
    }
}

/// The process end of a session, as the runtime started it.
pub struct Process {
    /// Its stdin (when the client sends input); shut down when the client closes it.
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    /// What it writes, as (Stdout | Stderr, bytes), until it ends.
    pub output: BoxStream<'static, (Channel, Bytes)>,
    /// Where terminal sizes go (width, height).
    pub resize: Option<mpsc::Sender<(u16, u16)>>,
    /// Fires once the terminal has the client's first size. Input waits for it (briefly):
    /// the runtime can only resize a started process, and a command typed at once
    /// (`stty size`) must not see a 0x0 terminal.
    pub sized: Option<oneshot::Receiver<()>>,
    /// Once the output has ended: the Status for the error stream.
    pub finish: BoxFuture<'static, Value>,
}

/// How long input waits for the terminal's first size when the client sends none.
const FIRST_SIZE_WAIT: Duration = Duration::from_secs(1);

/// Feed the client's stdin to the process; `None` input closes it.
struct StdinPump {
    w: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    sized: Option<oneshot::Receiver<()>>,
}

impl StdinPump {
    async fn write(&mut self, data: &[u8]) {
        if let Some(sized) = self.sized.take() {
            let _ = tokio::time::timeout(FIRST_SIZE_WAIT, sized).await;
        }
        if let Some(w) = self.w.as_mut() {
            if w.write_all(data).await.is_err() || w.flush().await.is_err() {
                self.w = None;
            }
        }
    }

    async fn close(&mut self) {
        if let Some(mut w) = self.w.take() {
            let _ = w.shutdown().await;
        }
    }
}

/// Serve one session over a WebSocket that negotiated `protocol`.
pub async fn serve_websocket<S>(ws: WebSocketStream<S>, protocol: &str, opts: &Options, p: Process)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let v5 = protocol.starts_with("v5.");
    let (mut sink, mut inbound) = ws.split();
    // Like the kubelet, an empty frame on the first writable channel tells the client the
    // session is up.
    let first = if opts.stdout {
        Channel::Stdout
    } else if opts.stderr {
        Channel::Stderr
    } else {
        Channel::Error
    };
    if sink
        .send(Message::Binary(channel::encode(first, &[]).into()))
        .await
        .is_err()
    {
        return;
    }
    let Process {
        stdin,
        mut output,
        resize,
        sized,
        finish,
    } = p;
    let reader = async move {
        let mut stdin = StdinPump { w: stdin, sized };
        while let Some(msg) = inbound.next().await {
            let data = match msg {
                Ok(Message::Binary(b)) => b,
                Ok(Message::Close(_)) | Err(_) => break,
                // Pings are answered by tungstenite; text is not part of the protocol.
                Ok(_) => continue,
            };
            match channel::decode(&data) {
                Ok(Inbound::Stdin(d)) => stdin.write(&d).await,
                Ok(Inbound::Resize { width, height }) => {
                    if let Some(r) = &resize {
                        let _ = r.try_send((width, height));
                    }
                }
                Ok(Inbound::CloseStdin) if v5 => stdin.close().await,
                Ok(Inbound::CloseStdin) => {}
                // A malformed frame is dropped; the session goes on (as wsstream does).
                Err(e) => tracing::debug!(error = %e, "ignoring a malformed stream frame"),
            }
        }
        stdin.close().await;
    };
    let writer = async move {
        while let Some((ch, data)) = output.next().await {
            if data.is_empty() {
                continue;
            }
            let msg = Message::Binary(channel::encode(ch, &data).into());
            if sink.send(msg).await.is_err() {
                return;
            }
        }
        let status = finish.await;
        let bytes = serde_json::to_vec(&status).unwrap_or_default();
        let _ = sink
            .send(Message::Binary(
                channel::encode(Channel::Error, &bytes).into(),
            ))
            .await;
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })))
            .await;
    };
    tokio::pin!(reader);
    tokio::select! {
        _ = writer => {
            // Let the client answer the close; it may also still be sending.
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut reader).await;
        }
        _ = &mut reader => {}
    }
}

/// Serve one session over a SPDY connection that negotiated `protocol` (kubectl's
/// fallback): the client opens `error`, `stdin`, `stdout`, `stderr` and `resize` streams.
pub async fn serve_spdy<IO>(io: IO, protocol: &str, opts: &Options, p: Process)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut accepted, task) = session::serve(io);
    let mut want: Vec<&str> = vec!["error"];
    if opts.stdin {
        want.push("stdin");
    }
    if opts.stdout {
        want.push("stdout");
    }
    if opts.stderr {
        want.push("stderr");
    }
    if opts.tty && !protocol.is_empty() {
        want.push("resize");
    }
    let mut streams: HashMap<String, Stream> = HashMap::new();
    let collect = async {
        while streams.len() < want.len() {
            let Some(s) = accepted.recv().await else {
                return false;
            };
            let kind = s.header("streamType").unwrap_or("").to_ascii_lowercase();
            if want.contains(&kind.as_str()) {
                streams.insert(kind, s);
            } else {
                s.writer().reset().await;
            }
        }
        true
    };
    match tokio::time::timeout(STREAM_CREATION_TIMEOUT, collect).await {
        Ok(true) => {}
        _ => {
            tracing::debug!("exec/attach client did not open its streams");
            task.abort();
            return;
        }
    }
    let Process {
        stdin,
        mut output,
        resize,
        sized,
        finish,
    } = p;
    let error = streams.remove("error").map(|s| s.writer());
    let stdout = streams.remove("stdout").map(|s| s.writer());
    let stderr = streams.remove("stderr").map(|s| s.writer());
    if let Some(mut s) = streams.remove("stdin") {
        let mut pump = StdinPump { w: stdin, sized };
        tokio::spawn(async move {
            while let Some(d) = s.read().await {
                pump.write(&d).await;
            }
            pump.close().await;
        });
    }
    if let (Some(mut s), Some(r)) = (streams.remove("resize"), resize) {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            while let Some(d) = s.read().await {
                buf.extend_from_slice(&d);
                for (w, h) in drain_sizes(&mut buf) {
                    let _ = r.try_send((w, h));
                }
            }
        });
    }
    let send = |w: &Option<StreamWriter>, d: Bytes| {
        let w = w.clone();
        async move {
            if let Some(w) = w {
                let _ = w.write(&d).await;
            }
        }
    };
    while let Some((ch, data)) = output.next().await {
        match ch {
            Channel::Stderr => send(&stderr, data).await,
            _ => send(&stdout, data).await,
        }
    }
    let status = finish.await;
    // v4 and v5 carry the Status itself, success included.
    if let Some(e) = &error {
        let _ = e
            .write(&serde_json::to_vec(&status).unwrap_or_default())
            .await;
    }
    for w in [&stdout, &stderr, &error].into_iter().flatten() {
        let _ = w.close().await;
    }
    // The client closes the connection once it has read everything.
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

/// Take the complete `{"Width":w,"Height":h}` objects off the front of a SPDY resize
/// stream's buffer (the client writes them back to back).
fn drain_sizes(buf: &mut Vec<u8>) -> Vec<(u16, u16)> {
    let mut sizes = Vec::new();
    let mut consumed = 0;
    let mut it = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
    loop {
        match it.next() {
            Some(Ok(v)) => {
                consumed = it.byte_offset();
                let dim = |k: &str| v[k].as_u64().and_then(|n| u16::try_from(n).ok());
                if let (Some(w), Some(h)) = (dim("Width"), dim("Height")) {
                    sizes.push((w, h));
                }
            }
            Some(Err(e)) if e.is_eof() => break,
            Some(Err(_)) => {
                // Garbage: drop what we have, keep the session.
                consumed = buf.len();
                break;
            }
            None => break,
        }
    }
    buf.drain(..consumed);
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn options_like_the_kubelet() {
        let o = Options::from_query(&q(&[
            ("command", "sh"),
            ("command", "-c"),
            ("command", "echo hi"),
            ("stdout", "true"),
            ("stderr", "1"),
        ]))
        .unwrap();
        assert_eq!(o.command, vec!["sh", "-c", "echo hi"]);
        assert!(o.stdout && o.stderr && !o.stdin && !o.tty);
        let t = Options::from_query(&q(&[
            ("stdin", "true"),
            ("tty", "true"),
            ("stderr", "true"),
        ]))
        .unwrap();
        assert!(t.tty && !t.stderr);
        assert_eq!(
            Options::from_query(&q(&[("command", "ls")])).unwrap_err(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
    }

    async fn next(c: &mut WebSocketStream<DuplexStream>) -> Message {
        c.next().await.expect("a message").expect("no error")
    }

    #[tokio::test]
    async fn websocket_session_survives_malformed_frames() {
        use tokio::io::AsyncReadExt;
        use tokio_tungstenite::tungstenite::protocol::Role;

        let (a, b) = tokio::io::duplex(1 << 16);
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let (stdin_w, mut stdin_r) = tokio::io::duplex(1024);
        let (out_tx, out_rx) = mpsc::channel::<(Channel, Bytes)>(4);
        let (resize_tx, mut resize_rx) = mpsc::channel(4);
        let process = Process {
            stdin: Some(Box::pin(stdin_w)),
            output: futures::stream::unfold(out_rx, |mut rx| async move {
                rx.recv().await.map(|m| (m, rx))
            })
            .boxed(),
            resize: Some(resize_tx),
            sized: None,
            finish: Box::pin(async { channel::exit_status(3) }),
        };
        let opts = Options {
            stdin: true,
            stdout: true,
            ..Default::default()
        };
        let session = tokio::spawn(async move {
            serve_websocket(server, "v5.channel.k8s.io", &opts, process).await
        });
        // The session announces itself with an empty stdout frame.
        assert_eq!(next(&mut client).await, Message::Binary(vec![1u8].into()));
        for junk in [
            Message::Binary(Vec::new().into()),
            Message::Binary(b"\x01not mine".to_vec().into()),
            Message::Binary(b"\x04{\"Width\":".to_vec().into()),
            Message::Binary(vec![9u8, 1, 2].into()),
            Message::Text("0hello".into()),
        ] {
            client.send(junk).await.unwrap();
        }
        client
            .send(Message::Binary(
                b"\x04{\"Width\":80,\"Height\":24}".to_vec().into(),
            ))
            .await
            .unwrap();
        assert_eq!(resize_rx.recv().await, Some((80, 24)));
        client
            .send(Message::Binary(b"\x00hello".to_vec().into()))
            .await
            .unwrap();
        client
            .send(Message::Binary(vec![255u8, 0].into()))
            .await
            .unwrap();
        let mut got = Vec::new();
        stdin_r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello", "stdin, then EOF from the v5 close");

        out_tx
            .send((Channel::Stdout, Bytes::from_static(b"out")))
            .await
            .unwrap();
        drop(out_tx);
        assert_eq!(
            next(&mut client).await,
            Message::Binary(b"\x01out".to_vec().into())
        );
        let Message::Binary(status) = next(&mut client).await else {
            panic!("expected the status frame");
        };
        assert_eq!(status[0], 3);
        let v: Value = serde_json::from_slice(&status[1..]).unwrap();
        assert_eq!(v["reason"], "NonZeroExitCode");
        assert!(matches!(next(&mut client).await, Message::Close(_)));
        drop(client);
        session.await.unwrap();
    }

    #[tokio::test]
    async fn input_waits_for_the_terminal_size() {
        use tokio::io::AsyncReadExt;
        use tokio_tungstenite::tungstenite::protocol::Role;

        let (a, b) = tokio::io::duplex(1 << 16);
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let (stdin_w, mut stdin_r) = tokio::io::duplex(1024);
        let (resize_tx, _resize_rx) = mpsc::channel(4);
        let (sized_tx, sized_rx) = oneshot::channel();
        let process = Process {
            stdin: Some(Box::pin(stdin_w)),
            output: futures::stream::pending().boxed(),
            resize: Some(resize_tx),
            sized: Some(sized_rx),
            finish: Box::pin(async { channel::exit_status(0) }),
        };
        let opts = Options {
            stdin: true,
            stdout: true,
            tty: true,
            ..Default::default()
        };
        tokio::spawn(
            async move { serve_websocket(server, "v5.channel.k8s.io", &opts, process).await },
        );
        assert_eq!(next(&mut client).await, Message::Binary(vec![1u8].into()));
        client
            .send(Message::Binary(b"\x00stty size\r".to_vec().into()))
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let early = tokio::time::timeout(Duration::from_millis(200), stdin_r.read(&mut buf)).await;
        assert!(
            early.is_err(),
            "input reached the process before its terminal size"
        );
        sized_tx.send(()).unwrap();
        let n = stdin_r.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"stty size\r");
    }

    #[test]
    fn resize_stream_is_split_into_sizes() {
        let mut buf = br#"{"Width":80,"Height":24}{"Width":100,"#.to_vec();
        assert_eq!(drain_sizes(&mut buf), vec![(80, 24)]);
        assert_eq!(buf, br#"{"Width":100,"#.to_vec());
        buf.extend_from_slice(br#""Height":50}"#);
        assert_eq!(drain_sizes(&mut buf), vec![(100, 50)]);
        assert!(buf.is_empty());
        let mut junk = b"nope".to_vec();
        assert!(drain_sizes(&mut junk).is_empty());
        assert!(junk.is_empty());
    }
}
