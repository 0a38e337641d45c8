//! SPDY/3 name/value header blocks: the wire layout (counts and lengths as 32-bit big
//! endian) and the zlib compression with the protocol's fixed dictionary. Each direction of
//! a connection keeps one zlib stream for all its header blocks, so the codec is stateful.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::frame::FrameError;

/// Header names the SPDY/3 dictionary lists, each stored with a 32-bit length prefix.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The dictionary's tail, appended without length prefixes.
const DICTIONARY_TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1).
pub fn dictionary() -> Vec<u8> {
    let mut d = Vec::with_capacity(1423);
    for w in DICTIONARY_WORDS {
        d.extend_from_slice(&(w.len() as u32).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    }
    d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    d
}

/// Header pairs in wire order; names are lowercase, a value may hold several NUL-separated
/// values.
pub type Headers = Vec<(String, String)>;

/// The value of `name` in `headers`.
pub fn get<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Compresses header blocks for one direction of a connection.
pub struct Encoder {
    z: Compress,
}

impl Default for Encoder {
    fn default() -> Self {
        let mut z = Compress::new(Compression::default(), true);
        // Setting the dictionary on a fresh stream cannot fail.
        let _ = z.set_dictionary(&dictionary());
        Encoder { z }
    }
}

impl Encoder {
    /// The compressed block for `headers`.
    pub fn encode(&mut self, headers: &Headers) -> Result<Vec<u8>, FrameError> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (n, v) in headers {
            raw.extend_from_slice(&(n.len() as u32).to_be_bytes());
            raw.extend_from_slice(n.to_ascii_lowercase().as_bytes());
            raw.extend_from_slice(&(v.len() as u32).to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = &raw[..];
        loop {
            out.reserve(256);
            let before_in = self.z.total_in();
            let status = self
                .z
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| FrameError::Compression(e.to_string()))?;
            let used = (self.z.total_in() - before_in) as usize;
            input = &input[used..];
            // A sync flush is complete when input is used up and output space remained.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            if status == Status::StreamEnd {
                break;
            }
        }
        Ok(out)
    }
}

/// Decompresses header blocks for one direction of a connection.
pub struct Decoder {
    z: Decompress,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            z: Decompress::new(true),
        }
    }
}

/// Most header data one block may inflate to (a defence against zlib bombs).
const MAX_HEADER_BYTES: usize = 1 << 20;

impl Decoder {
    /// The headers of one compressed block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Headers, FrameError> {
        let raw = self.inflate(block)?;
        parse_block(&raw)
    }

    fn inflate(&mut self, block: &[u8]) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            if out.len() > MAX_HEADER_BYTES {
                return Err(FrameError::Protocol("header block too large".into()));
            }
            out.reserve(1024);
            let before_in = self.z.total_in();
            let before_out = out.len();
            let mut dictionary_set = false;
            let mut ended = false;
            match self
                .z
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
            {
                Ok(status) => ended = status == Status::StreamEnd,
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z
                        .set_dictionary(&dictionary())
                        .map_err(|e| FrameError::Compression(e.to_string()))?;
                    dictionary_set = true;
                }
                Err(e) => return Err(FrameError::Compression(e.to_string())),
            }
            let used = (self.z.total_in() - before_in) as usize;
            input = input.get(used..).unwrap_or_default();
            let produced = out.len() - before_out;
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            // Nothing more can come of the input: a finished stream with bytes after it, or
            // a call that neither read nor wrote with room to write.
            if !input.is_empty() && (ended || (used == 0 && produced == 0 && !dictionary_set)) {
                return Err(FrameError::Compression(
                    "header block has data the zlib stream cannot take".into(),
                ));
            }
            if used == 0 && produced == 0 && input.is_empty() {
                return Ok(out);
            }
        }
    }
}

fn read_u32(buf: &[u8], at: &mut usize) -> Result<usize, FrameError> {
    let bytes = buf
        .get(*at..*at + 4)
        .ok_or_else(|| FrameError::Protocol("truncated header block".into()))?;
    *at += 4;
    Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
}

fn read_str(buf: &[u8], at: &mut usize) -> Result<String, FrameError> {
    let len = read_u32(buf, at)?;
    let bytes = buf
        .get(*at..at.saturating_add(len))
        .ok_or_else(|| FrameError::Protocol("truncated header block".into()))?;
    *at += len;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| FrameError::Protocol("header is not UTF-8".into()))
}

fn parse_block(raw: &[u8]) -> Result<Headers, FrameError> {
    let mut at = 0;
    let count = read_u32(raw, &mut at)?;
    if count > raw.len() / 8 {
        return Err(FrameError::Protocol("header count exceeds block".into()));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let name = read_str(raw, &mut at)?;
        let value = read_str(raw, &mut at)?;
        if name.is_empty() {
            return Err(FrameError::Protocol("empty header name".into()));
        }
        headers.push((name.to_ascii_lowercase(), value));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\x00\x00\x00\x07options");
        assert!(d.ends_with(b",*,enq=0."));
        // zlib identifies a preset dictionary by its Adler-32, which peers check.
        let mut z = Decompress::new(true);
        let mut enc = Encoder::default();
        let block = enc.encode(&vec![("a".into(), "b".into())]).unwrap();
        let mut out = Vec::with_capacity(64);
        let err = z
            .decompress_vec(&block, &mut out, FlushDecompress::Sync)
            .unwrap_err();
        assert_eq!(err.needs_dictionary(), Some(adler32(&d)));
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for byte in data {
            a = (a + *byte as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn blocks_round_trip_across_one_stream() {
        let mut enc = Encoder::default();
        let mut dec = Decoder::default();
        for i in 0..5 {
            let h: Headers = vec![
                ("streamtype".into(), "data".into()),
                ("port".into(), format!("80{i}")),
                ("requestid".into(), i.to_string()),
            ];
            let block = enc.encode(&h).unwrap();
            assert_eq!(dec.decode(&block).unwrap(), h);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut dec = Decoder::default();
        assert!(dec.decode(b"\x78\xbb\x00\x00\x00\x00garbage").is_err());
        assert!(parse_block(&[0, 0, 0, 9, 0, 0]).is_err());
        assert!(parse_block(&[0, 0, 0, 1, 0, 0, 0, 200, b'x']).is_err());
        assert!(parse_block(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    /// A block whose zlib stream ends with bytes left over: the decoder must refuse it,
    /// not spin on the shared runtime.
    #[test]
    fn input_after_the_stream_end_is_an_error_not_a_loop() {
        let mut z = Compress::new(Compression::default(), true);
        z.set_dictionary(&dictionary()).unwrap();
        let mut block = Vec::with_capacity(256);
        z.compress_vec(&[0, 0, 0, 0], &mut block, FlushCompress::Finish)
            .unwrap();
        block.extend_from_slice(b"left over");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(Decoder::default().decode(&block).is_err());
        });
        let refused = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the decoder returned");
        assert!(refused);
    }
}
