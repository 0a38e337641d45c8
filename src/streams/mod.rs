//! Stream protocols of `kubectl exec`, `attach`, `port-forward` and `cp`.

pub mod channel;
pub mod spdy;
