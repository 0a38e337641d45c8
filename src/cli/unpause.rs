//! `rkube unpause`: thaws what `rkube pause` froze (every frozen pod of the profile, then
//! the control plane).

use anyhow::Context;

use super::exit::Failure;
use crate::cluster::{docker, pause};
use crate::ui;

/// Run `unpause`.
pub fn run(profile_name: &str) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        super::pause::running_node(&d, profile_name, "unpaused").await?;
        println!(
            "{}",
            ui::line("⏸️", &format!("Unpausing node {profile_name} ... "))
        );
        let n = pause::unpause(&d, profile_name).await?;
        println!("{}", ui::line("⏸️", &format!("Unpaused {n} containers")));
        Ok(0)
    })
}
