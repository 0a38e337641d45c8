//! Client machinery shared by every component of the node process, as client-go's
//! `tools/cache` and `tools/record`: caches of whole kinds kept by list and watch, and the
//! Event recorder.
#![forbid(unsafe_code)]

pub mod events;
pub mod informer;
