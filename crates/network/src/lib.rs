//! The node's network services: the service proxy and cluster DNS, both fed by the shared
//! caches of Services and EndpointSlices.
#![forbid(unsafe_code)]

pub mod dns;
pub mod proxy;
