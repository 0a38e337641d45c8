//! What the cluster serves: the registry of kinds, their defaulting, validation,
//! version conversion and table printers.
#![forbid(unsafe_code)]

pub mod convert;
pub mod defaults;
pub mod kinds;
pub mod lifecycle;
pub mod printers;
pub mod registry;
pub mod strategy;
pub mod validation;
