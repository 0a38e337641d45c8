//! `rkube kubectl -- ARGS`: run the kubectl on PATH against the profile's context.

use super::exit::Failure;
use crate::cluster::profile;

/// Run kubectl; returns its exit code.
pub fn run(profile_name: &str, args: Vec<String>) -> anyhow::Result<i32> {
    if profile::load(profile_name)?.is_none() {
        return Err(Failure::profile_not_found(profile_name).into());
    }
    let status = std::process::Command::new("kubectl")
        .arg("--context")
        .arg(profile_name)
        .args(&args)
        .status()
        .map_err(|e| {
            Failure::new(
                super::exit::FAILURE,
                format!("cannot run kubectl ({e}): install kubectl and put it on PATH"),
            )
        })?;
    Ok(status.code().unwrap_or(1))
}
