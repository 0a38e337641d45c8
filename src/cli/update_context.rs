//! `rkube update-context`: point the kubeconfig at the profile again (after it was edited
//! or the file replaced).

use super::exit::Failure;
use crate::cluster::{profile, start};

/// Run `update-context`.
pub fn run(profile_name: &str) -> anyhow::Result<()> {
    let s = profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    let (_, creds) = start::credentials(profile_name)?;
    start::write_kubeconfig(&s, &creds)?;
    println!(
        "🎉  \"{profile_name}\" context has been updated to point to {}",
        start::server_url(&s)
    );
    Ok(())
}
