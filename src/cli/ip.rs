//! `rkube ip`: the node's address.

use super::exit::Failure;
use crate::cluster::profile;

/// Run `ip`.
pub fn run(profile_name: &str) -> anyhow::Result<()> {
    let s = profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    println!("{}", s.node_ip);
    Ok(())
}
