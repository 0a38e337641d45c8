//! Stream protocols of `kubectl exec`, `attach`, `port-forward` and `cp`.
#![forbid(unsafe_code)]

pub mod channel;
pub mod portforward;
pub mod remotecommand;
pub mod spdy;
pub mod ws;
