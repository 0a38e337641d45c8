//! The server side of a SPDY/3.1 connection, as Kubernetes' streaming servers use it: the
//! client opens streams (SYN_STREAM with headers such as `streamType`, `port` and
//! `requestID`), each accepted stream is answered with SYN_REPLY and handed to the
//! application, DATA flows both ways until FIN or RST_STREAM, PINGs are echoed. A protocol
//! error ends the connection with GOAWAY; it never takes the server down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::frame::{status, Frame, FrameError, FLAG_FIN};
use super::headers::{Decoder, Encoder, Headers};

/// Largest DATA frame we send.
const MAX_DATA: usize = 32 * 1024;
/// Frames buffered per stream before the connection's reader waits for the application.
const STREAM_BUFFER: usize = 64;

/// What the writer task sends; header blocks are compressed there, in send order.
enum Out {
    Frame(Frame),
    Reply { stream_id: u32 },
    Close,
}

/// The stream was reset or the connection ended.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("SPDY stream closed")]
pub struct Closed;

/// One stream the client opened.
pub struct Stream {
    /// Stream id.
    pub id: u32,
    /// The headers the client opened it with.
    pub headers: Headers,
    inbound: mpsc::Receiver<Bytes>,
    writer: StreamWriter,
}

/// The sending half of a stream.
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    out: mpsc::Sender<Out>,
    reset: Arc<AtomicBool>,
}

impl StreamWriter {
    /// Send bytes (split into frames as needed).
    pub async fn write(&self, data: &[u8]) -> Result<(), Closed> {
        for chunk in data.chunks(MAX_DATA) {
            self.send(Frame::Data {
                stream_id: self.id,
                flags: 0,
                data: Bytes::copy_from_slice(chunk),
            })
            .await?;
        }
        Ok(())
    }

    /// End our direction of the stream (FIN).
    pub async fn close(&self) -> Result<(), Closed> {
        self.send(Frame::Data {
            stream_id: self.id,
            flags: FLAG_FIN,
            data: Bytes::new(),
        })
        .await
    }

    /// Abort the stream (RST_STREAM CANCEL).
    pub async fn reset(&self) {
        let _ = self
            .send(Frame::RstStream {
                stream_id: self.id,
                status: status::CANCEL,
            })
            .await;
        self.reset.store(true, Ordering::SeqCst);
    }

    async fn send(&self, f: Frame) -> Result<(), Closed> {
        if self.reset.load(Ordering::SeqCst) {
            return Err(Closed);
        }
        self.out.send(Out::Frame(f)).await.map_err(|_| Closed)
    }
}

impl Stream {
    /// The value of a header the client sent (names are matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::headers::get(&self.headers, name)
    }

    /// The next bytes from the client; None at FIN, reset or connection end.
    pub async fn read(&mut self) -> Option<Bytes> {
        self.inbound.recv().await
    }

    /// A handle for sending on this stream.
    pub fn writer(&self) -> StreamWriter {
        self.writer.clone()
    }

    /// Split into the receiving channel and the sending half.
    pub fn split(self) -> (mpsc::Receiver<Bytes>, StreamWriter) {
        (self.inbound, self.writer)
    }
}

struct Open {
    tx: Option<mpsc::Sender<Bytes>>,
    reset: Arc<AtomicBool>,
}

/// Serve SPDY on `io`: returns the streams the client opens, in order; the connection
/// task ends when the client goes away or breaks the protocol.
pub fn serve<IO>(io: IO) -> (mpsc::Receiver<Stream>, JoinHandle<()>)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (accepted_tx, accepted_rx) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        let (rd, wr) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::channel::<Out>(256);
        let writer = tokio::spawn(write_loop(wr, out_rx));
        if let Err(e) = read_loop(rd, out_tx.clone(), accepted_tx).await {
            tracing::debug!(error = %e, "SPDY session ended with an error");
            let _ = out_tx
                .send(Out::Frame(Frame::GoAway {
                    last_stream_id: 0,
                    status: status::PROTOCOL_ERROR,
                }))
                .await;
        }
        let _ = out_tx.send(Out::Close).await;
        drop(out_tx);
        let _ = writer.await;
    });
    (accepted_rx, task)
}

async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::Receiver<Out>) {
    let mut encoder = Encoder::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Batch whatever is queued into one write.
        while let Some(item) = next.take() {
            match item {
                Out::Frame(f) => f.write(&mut buf),
                Out::Reply { stream_id } => match encoder.encode(&Vec::new()) {
                    Ok(block) => Frame::SynReply {
                        stream_id,
                        flags: 0,
                        block: block.into(),
                    }
                    .write(&mut buf),
                    Err(e) => tracing::warn!(error = %e, "SPDY header compression failed"),
                },
                Out::Close => {
                    let _ = wr.write_all(&buf).await;
                    let _ = wr.shutdown().await;
                    return;
                }
            }
            if buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        buf.clear();
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut rd: R,
    out: mpsc::Sender<Out>,
    accepted: mpsc::Sender<Stream>,
) -> Result<(), FrameError> {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut open: HashMap<u32, Open> = HashMap::new();
    let mut last_id = 0u32;
    loop {
        while let Some(frame) = Frame::parse(&mut buf)? {
            match frame {
                Frame::SynStream {
                    stream_id,
                    flags,
                    block,
                    ..
                } => {
                    // Decode even if we refuse: the zlib stream spans all header blocks.
                    let headers = decoder.decode(&block)?;
                    if stream_id == 0 || stream_id % 2 == 0 || stream_id <= last_id {
                        return Err(FrameError::Protocol(format!(
                            "client opened invalid stream id {stream_id}"
                        )));
                    }
                    last_id = stream_id;
                    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
                    let reset = Arc::new(AtomicBool::new(false));
                    let stream = Stream {
                        id: stream_id,
                        headers,
                        inbound: rx,
                        writer: StreamWriter {
                            id: stream_id,
                            out: out.clone(),
                            reset: reset.clone(),
                        },
                    };
                    let _ = out.send(Out::Reply { stream_id }).await;
                    if accepted.send(stream).await.is_err() {
                        let _ = out
                            .send(Out::Frame(Frame::RstStream {
                                stream_id,
                                status: status::REFUSED_STREAM,
                            }))
                            .await;
                        continue;
                    }
                    let tx = (flags & FLAG_FIN == 0).then_some(tx);
                    open.insert(stream_id, Open { tx, reset });
                }
                Frame::Data {
                    stream_id,
                    flags,
                    data,
                } => {
                    let Some(s) = open.get_mut(&stream_id) else {
                        let _ = out
                            .send(Out::Frame(Frame::RstStream {
                                stream_id,
                                status: status::INVALID_STREAM,
                            }))
                            .await;
                        continue;
                    };
                    if !data.is_empty() {
                        let len = data.len() as u32;
                        if let Some(tx) = &s.tx {
                            // The application went away: drop its data, keep the session.
                            if tx.send(data).await.is_err() {
                                s.tx = None;
                            }
                        }
                        let _ = out
                            .send(Out::Frame(Frame::WindowUpdate {
                                stream_id,
                                delta: len,
                            }))
                            .await;
                    }
                    if flags & FLAG_FIN != 0 {
                        s.tx = None;
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    if let Some(s) = open.remove(&stream_id) {
                        s.reset.store(true, Ordering::SeqCst);
                    }
                }
                Frame::Headers { block, .. } | Frame::SynReply { block, .. } => {
                    decoder.decode(&block)?;
                }
                Frame::Ping { id } => {
                    let _ = out.send(Out::Frame(Frame::Ping { id })).await;
                }
                Frame::GoAway { .. } => return Ok(()),
                Frame::Settings { .. } | Frame::WindowUpdate { .. } => {}
            }
        }
        buf.reserve(16 * 1024);
        if rd
            .read_buf(&mut buf)
            .await
            .map_err(|e| FrameError::Protocol(e.to_string()))?
            == 0
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spdy::headers::Decoder as ClientDecoder;
    use crate::spdy::headers::Encoder as ClientEncoder;
    use tokio::io::DuplexStream;

    struct Client {
        io: DuplexStream,
        enc: ClientEncoder,
        dec: ClientDecoder,
        buf: BytesMut,
    }

    impl Client {
        async fn send(&mut self, f: Frame) {
            let mut b = BytesMut::new();
            f.write(&mut b);
            self.io.write_all(&b).await.unwrap();
        }
        async fn open(&mut self, id: u32, headers: Headers) {
            let block = self.enc.encode(&headers).unwrap().into();
            self.send(Frame::SynStream {
                stream_id: id,
                associated_id: 0,
                priority: 0,
                flags: 0,
                block,
            })
            .await;
        }
        async fn next(&mut self) -> Option<Frame> {
            loop {
                if let Some(f) = Frame::parse(&mut self.buf).unwrap() {
                    if let Frame::SynReply { block, .. } = &f {
                        self.dec.decode(block).unwrap();
                    }
                    return Some(f);
                }
                if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                    return None;
                }
            }
        }
        /// The next frame that is not flow-control bookkeeping.
        async fn next_significant(&mut self) -> Option<Frame> {
            loop {
                match self.next().await? {
                    Frame::WindowUpdate { .. } => continue,
                    f => return Some(f),
                }
            }
        }
    }

    fn pair() -> (Client, mpsc::Receiver<Stream>) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (streams, _task) = serve(b);
        (
            Client {
                io: a,
                enc: ClientEncoder::default(),
                dec: ClientDecoder::default(),
                buf: BytesMut::new(),
            },
            streams,
        )
    }

    #[tokio::test]
    async fn streams_are_accepted_and_carry_data_both_ways() {
        let (mut c, mut streams) = pair();
        let h = |t: &str| {
            vec![
                ("streamtype".to_string(), t.to_string()),
                ("port".into(), "80".into()),
                ("requestid".into(), "0".into()),
            ]
        };
        c.open(1, h("error")).await;
        c.open(3, h("data")).await;
        let s1 = streams.recv().await.unwrap();
        let mut s3 = streams.recv().await.unwrap();
        assert_eq!((s1.id, s1.header("streamType")), (1, Some("error")));
        assert_eq!((s3.id, s3.header("port")), (3, Some("80")));
        assert!(matches!(
            c.next().await,
            Some(Frame::SynReply { stream_id: 1, .. })
        ));
        assert!(matches!(
            c.next().await,
            Some(Frame::SynReply { stream_id: 3, .. })
        ));

        c.send(Frame::Data {
            stream_id: 3,
            flags: 0,
            data: Bytes::from_static(b"GET /"),
        })
        .await;
        assert_eq!(s3.read().await.unwrap(), Bytes::from_static(b"GET /"));
        c.send(Frame::Data {
            stream_id: 3,
            flags: FLAG_FIN,
            data: Bytes::new(),
        })
        .await;
        assert_eq!(s3.read().await, None);

        let big = vec![7u8; 100_000];
        s3.writer().write(&big).await.unwrap();
        s3.writer().close().await.unwrap();
        let mut got = Vec::new();
        loop {
            match c.next_significant().await.unwrap() {
                Frame::Data {
                    stream_id: 3,
                    flags,
                    data,
                } => {
                    got.extend_from_slice(&data);
                    if flags & FLAG_FIN != 0 {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, big);

        c.send(Frame::Ping { id: 41 }).await;
        assert_eq!(c.next_significant().await, Some(Frame::Ping { id: 41 }));

        // A reset stream refuses further writes.
        c.send(Frame::RstStream {
            stream_id: 1,
            status: status::CANCEL,
        })
        .await;
        c.send(Frame::Ping { id: 43 }).await;
        assert_eq!(c.next_significant().await, Some(Frame::Ping { id: 43 }));
        assert_eq!(s1.writer().write(b"x").await, Err(Closed));
    }

    #[tokio::test]
    async fn protocol_errors_end_the_session_with_goaway() {
        let (mut c, mut streams) = pair();
        c.io.write_all(&[0x80, 3, 0, 99, 0, 0, 0, 0]).await.unwrap();
        assert_eq!(
            c.next_significant().await,
            Some(Frame::GoAway {
                last_stream_id: 0,
                status: status::PROTOCOL_ERROR
            })
        );
        assert_eq!(c.next().await, None);
        assert!(streams.recv().await.is_none());

        // Even stream ids are the server's to open.
        let (mut c, _streams) = pair();
        c.open(2, vec![]).await;
        assert_eq!(
            c.next_significant().await,
            Some(Frame::GoAway {
                last_stream_id: 0,
                status: status::PROTOCOL_ERROR
            })
        );
    }
}
