//! SPDY/3 frames on the wire: an 8-byte header (control bit, version and type, or a data
//! frame's stream id; flags; 24-bit length) and each control frame's fixed fields. Header
//! blocks stay compressed here; `headers` inflates them.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol version we speak.
pub const VERSION: u16 = 3;
/// Flag ending a stream's direction.
pub const FLAG_FIN: u8 = 0x01;
/// Largest frame payload we accept (16 MiB is the format's limit; we take less).
pub const MAX_PAYLOAD: usize = 1 << 20;

/// RST_STREAM and GOAWAY status codes we use.
pub mod status {
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// The stream is unknown.
    pub const INVALID_STREAM: u32 = 2;
    /// The stream was refused.
    pub const REFUSED_STREAM: u32 = 3;
    /// Cancelled.
    pub const CANCEL: u32 = 5;
    /// Something broke on our side.
    pub const INTERNAL_ERROR: u32 = 6;
}

/// Errors reading or writing frames.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes do not form a valid frame.
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
    /// The header block did not (de)compress.
    #[error("SPDY header compression: {0}")]
    Compression(String),
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream (the header block is still compressed).
    SynStream {
        /// Stream id.
        stream_id: u32,
        /// Associated stream (server push; unused here).
        associated_id: u32,
        /// Priority 0-7.
        priority: u8,
        /// Flags (FIN, UNIDIRECTIONAL).
        flags: u8,
        /// Compressed header block.
        block: Bytes,
    },
    /// Accepts a stream.
    SynReply {
        /// Stream id.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// Compressed header block.
        block: Bytes,
    },
    /// Aborts a stream.
    RstStream {
        /// Stream id.
        stream_id: u32,
        /// Status code.
        status: u32,
    },
    /// Connection settings (parsed for validity, otherwise ignored).
    Settings {
        /// (id, value) pairs.
        entries: Vec<(u32, u32)>,
    },
    /// Liveness check, echoed back.
    Ping {
        /// Ping id.
        id: u32,
    },
    /// The sender stops accepting streams.
    GoAway {
        /// Highest stream id the sender handled.
        last_stream_id: u32,
        /// Status code.
        status: u32,
    },
    /// More headers on a stream.
    Headers {
        /// Stream id.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// Compressed header block.
        block: Bytes,
    },
    /// Flow-control credit.
    WindowUpdate {
        /// Stream id.
        stream_id: u32,
        /// Bytes granted.
        delta: u32,
    },
    /// Stream payload.
    Data {
        /// Stream id.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// The bytes.
        data: Bytes,
    },
}

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

fn protocol(msg: impl Into<String>) -> FrameError {
    FrameError::Protocol(msg.into())
}

fn need(payload: &[u8], n: usize, what: &str) -> Result<(), FrameError> {
    if payload.len() < n {
        return Err(protocol(format!("{what} frame too short")));
    }
    Ok(())
}

impl Frame {
    /// Take one whole frame off the front of `buf`; `Ok(None)` when more bytes are needed.
    pub fn parse(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(protocol(format!("frame of {len} bytes exceeds the limit")));
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let head = buf.split_to(8);
        let mut payload = buf.split_to(len).freeze();
        let flags = head[4];
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            return Ok(Some(Frame::Data {
                stream_id,
                flags,
                data: payload,
            }));
        }
        let version = u16::from_be_bytes([head[0] & 0x7f, head[1]]);
        if version != VERSION {
            return Err(protocol(format!("unsupported SPDY version {version}")));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let frame = match kind {
            SYN_STREAM => {
                need(&payload, 10, "SYN_STREAM")?;
                let stream_id = payload.get_u32() & 0x7fff_ffff;
                let associated_id = payload.get_u32() & 0x7fff_ffff;
                let priority = payload.get_u8() >> 5;
                let _slot = payload.get_u8();
                Frame::SynStream {
                    stream_id,
                    associated_id,
                    priority,
                    flags,
                    block: payload,
                }
            }
            SYN_REPLY | HEADERS => {
                need(&payload, 4, "SYN_REPLY/HEADERS")?;
                let stream_id = payload.get_u32() & 0x7fff_ffff;
                if kind == SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        flags,
                        block: payload,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        flags,
                        block: payload,
                    }
                }
            }
            RST_STREAM => {
                need(&payload, 8, "RST_STREAM")?;
                Frame::RstStream {
                    stream_id: payload.get_u32() & 0x7fff_ffff,
                    status: payload.get_u32(),
                }
            }
            SETTINGS => {
                need(&payload, 4, "SETTINGS")?;
                let n = payload.get_u32() as usize;
                if payload.len() != n.saturating_mul(8) {
                    return Err(protocol("SETTINGS length does not match its entries"));
                }
                let entries = (0..n)
                    .map(|_| {
                        let id = payload.get_u32() & 0x00ff_ffff;
                        (id, payload.get_u32())
                    })
                    .collect();
                Frame::Settings { entries }
            }
            PING => {
                need(&payload, 4, "PING")?;
                Frame::Ping {
                    id: payload.get_u32(),
                }
            }
            GOAWAY => {
                need(&payload, 4, "GOAWAY")?;
                let last_stream_id = payload.get_u32() & 0x7fff_ffff;
                let status = if payload.len() >= 4 {
                    payload.get_u32()
                } else {
                    0
                };
                Frame::GoAway {
                    last_stream_id,
                    status,
                }
            }
            WINDOW_UPDATE => {
                need(&payload, 8, "WINDOW_UPDATE")?;
                Frame::WindowUpdate {
                    stream_id: payload.get_u32() & 0x7fff_ffff,
                    delta: payload.get_u32() & 0x7fff_ffff,
                }
            }
            other => return Err(protocol(format!("unknown control frame type {other}"))),
        };
        Ok(Some(frame))
    }

    /// Append this frame's wire form to `out`.
    pub fn write(&self, out: &mut BytesMut) {
        fn control(out: &mut BytesMut, kind: u16, flags: u8, len: usize) {
            out.put_u16(0x8000 | VERSION);
            out.put_u16(kind);
            out.put_u8(flags);
            out.put_uint(len as u64, 3);
        }
        match self {
            Frame::SynStream {
                stream_id,
                associated_id,
                priority,
                flags,
                block,
            } => {
                control(out, SYN_STREAM, *flags, 10 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(associated_id & 0x7fff_ffff);
                out.put_u8((priority & 0x7) << 5);
                out.put_u8(0);
                out.put_slice(block);
            }
            Frame::SynReply {
                stream_id,
                flags,
                block,
            } => {
                control(out, SYN_REPLY, *flags, 4 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_slice(block);
            }
            Frame::Headers {
                stream_id,
                flags,
                block,
            } => {
                control(out, HEADERS, *flags, 4 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_slice(block);
            }
            Frame::RstStream { stream_id, status } => {
                control(out, RST_STREAM, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::Settings { entries } => {
                control(out, SETTINGS, 0, 4 + 8 * entries.len());
                out.put_u32(entries.len() as u32);
                for (id, value) in entries {
                    out.put_u32(id & 0x00ff_ffff);
                    out.put_u32(*value);
                }
            }
            Frame::Ping { id } => {
                control(out, PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_stream_id,
                status,
            } => {
                control(out, GOAWAY, 0, 8);
                out.put_u32(last_stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control(out, WINDOW_UPDATE, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(delta & 0x7fff_ffff);
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u8(*flags);
                out.put_uint(data.len() as u64, 3);
                out.put_slice(data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(f: Frame) {
        let mut buf = BytesMut::new();
        f.write(&mut buf);
        // Arrives in two pieces: nothing until the frame is whole.
        let mut partial = buf.split_to(buf.len() - 1);
        assert_eq!(Frame::parse(&mut partial).unwrap(), None);
        partial.unsplit(buf);
        assert_eq!(Frame::parse(&mut partial).unwrap(), Some(f));
        assert!(partial.is_empty());
    }

    #[test]
    fn every_frame_round_trips() {
        let block = Bytes::from_static(b"\x78\x9c compressed");
        round_trip(Frame::SynStream {
            stream_id: 1,
            associated_id: 0,
            priority: 3,
            flags: FLAG_FIN,
            block: block.clone(),
        });
        round_trip(Frame::SynReply {
            stream_id: 1,
            flags: 0,
            block: block.clone(),
        });
        round_trip(Frame::Headers {
            stream_id: 3,
            flags: 0,
            block,
        });
        round_trip(Frame::RstStream {
            stream_id: 5,
            status: status::CANCEL,
        });
        round_trip(Frame::Settings {
            entries: vec![(7, 65_536), (4, 100)],
        });
        round_trip(Frame::Ping { id: 9 });
        round_trip(Frame::GoAway {
            last_stream_id: 7,
            status: 0,
        });
        round_trip(Frame::WindowUpdate {
            stream_id: 1,
            delta: 1024,
        });
        round_trip(Frame::Data {
            stream_id: 1,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"GET / HTTP/1.1\r\n"),
        });
    }

    #[test]
    fn malformed_frames_are_errors() {
        let parse = |b: &[u8]| Frame::parse(&mut BytesMut::from(b));
        // Wrong version.
        assert!(parse(&[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]).is_err());
        // Unknown control type.
        assert!(parse(&[0x80, 3, 0, 99, 0, 0, 0, 0]).is_err());
        // Too short for its type.
        assert!(parse(&[0x80, 3, 0, 3, 0, 0, 0, 2, 0, 0]).is_err());
        // SETTINGS count that lies.
        assert!(parse(&[0x80, 3, 0, 4, 0, 0, 0, 4, 0, 0, 0, 5]).is_err());
        // Oversized frame is refused before buffering it.
        assert!(parse(&[0, 0, 0, 1, 0, 0xff, 0xff, 0xff]).is_err());
    }
}
