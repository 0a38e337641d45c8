//! The stream protocols of exec, attach and port-forward: SPDY/3.1 frames, their zlib header
//! blocks and a whole server session, plus the WebSocket channel messages and port lists.
//!
//! The first byte picks what the rest is: `f` a run of frames (each header block inflated
//! with one decoder, as a connection does), `h` one header block, `s` the bytes a client
//! sends to a SPDY session, `c` a WebSocket channel message, `p` a port list.
//! Properties: no panic, within the budget, frames and headers survive write/parse round
//! trips, and a session answers only with well-formed frames.
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rkube::streams::spdy::frame::Frame;
use rkube::streams::spdy::headers::{Decoder, Encoder};
use rkube::streams::spdy::session;
use rkube::streams::{channel, portforward};
use rkube_fuzz::{assert_within_budget, BUDGET};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Every whole frame in `bytes`; header blocks inflated in order. Err at the first bad frame.
fn frames(bytes: &[u8], round_trip: bool) -> Result<Vec<Frame>, String> {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    while let Some(frame) = Frame::parse(&mut buf).map_err(|e| e.to_string())? {
        if let Frame::SynStream { block, .. }
        | Frame::SynReply { block, .. }
        | Frame::Headers { block, .. } = &frame
        {
            decoder.decode(block).map_err(|e| e.to_string())?;
        }
        if round_trip {
            let mut wire = BytesMut::new();
            frame.write(&mut wire);
            let again = Frame::parse(&mut wire).expect("our own frame parses");
            assert_eq!(
                again.as_ref(),
                Some(&frame),
                "frame changed in a round trip"
            );
            assert!(wire.is_empty(), "frame written with trailing bytes");
        }
        out.push(frame);
    }
    Ok(out)
}

fn header_block(block: &[u8]) {
    let Ok(headers) = Decoder::default().decode(block) else {
        return;
    };
    let encoded = Encoder::default()
        .encode(&headers)
        .expect("encoding headers");
    let again = Decoder::default()
        .decode(&encoded)
        .expect("our own header block decodes");
    let lower: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    assert_eq!(again, lower, "headers changed in a round trip");
}

/// Feed `input` to a server session as one client would, then hang up; the session must
/// finish and everything it sent must parse.
fn session(input: &[u8]) {
    let sent = runtime().block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut accepted, task) = session::serve(server);
        // Read every stream to its end, as the exec and port-forward handlers do.
        let consumer = tokio::spawn(async move {
            while let Some(mut stream) = accepted.recv().await {
                tokio::spawn(async move { while stream.read().await.is_some() {} });
            }
        });
        let (mut rd, mut wr) = tokio::io::split(client);
        let exchange = async {
            let write = async {
                let _ = wr.write_all(input).await;
                let _ = wr.shutdown().await;
            };
            let mut sent = Vec::new();
            let read = rd.read_to_end(&mut sent);
            let (_, read) = tokio::join!(write, read);
            let _ = read;
            let _ = task.await;
            sent
        };
        let sent = tokio::time::timeout(BUDGET, exchange)
            .await
            .expect("the SPDY session did not finish within the budget");
        consumer.abort();
        sent
    });
    if let Err(e) = frames(&sent, false) {
        panic!("the session sent a malformed frame: {e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let started = Instant::now();
    match mode {
        b'f' => {
            let _ = frames(rest, true);
        }
        b'h' => header_block(rest),
        b's' => session(rest),
        b'c' => {
            if let Ok(channel::Inbound::Stdin(bytes)) = channel::decode(rest) {
                let again = channel::decode(&channel::encode(channel::Channel::Stdin, &bytes));
                assert_eq!(again, Ok(channel::Inbound::Stdin(bytes)));
            }
        }
        b'p' => {
            let text = String::from_utf8_lossy(rest);
            let values: Vec<&str> = text.split('&').collect();
            let _ = portforward::parse_ports(&values);
        }
        _ => {
            let _ = frames(rest, true);
            header_block(rest);
            let _ = channel::decode(rest);
        }
    }
    assert_within_budget(started, "SPDY/channel input");
});
