//! SPDY/3.1, the framing kubectl still uses for port-forward (tunnelled in a WebSocket or
//! over a plain upgrade) and as the exec/attach fallback. No maintained Rust crate speaks
//! it, so this is a small implementation of what Kubernetes' streaming needs: frames,
//! compressed header blocks, and the server side of a session.

pub mod frame;
pub mod headers;
pub mod session;
