//! `rkube addons list|enable|disable|images`: minikube's addon commands, on the profile's
//! cluster.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{json, Value};

use super::exit::{self, Failure};
use crate::addons::catalog::{self, Addon};
use crate::cluster::profile::{self, Settings};
use crate::cluster::start::{admin_client, credentials};
use crate::cluster::{addons, docker, node_container};
use crate::ui;

/// Subcommands of `rkube addons`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the addons and whether each is enabled on the profile.
    List {
        /// list or json.
        #[arg(short = 'o', long = "output", default_value = "list")]
        output: String,
    },
    /// Enable an addon on the profile's cluster.
    Enable {
        /// The addon.
        name: String,
    },
    /// Disable an addon, removing exactly the objects it made.
    Disable {
        /// The addon.
        name: String,
    },
    /// List the images an addon runs.
    Images {
        /// The addon.
        name: String,
        /// table or json.
        #[arg(short = 'o', long = "output", default_value = "table")]
        output: String,
    },
}

/// Run `addons`.
pub fn run(profile_name: &str, cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::List { output } => list(profile_name, &output),
        Command::Enable { name } => switch(profile_name, &name, true),
        Command::Disable { name } => switch(profile_name, &name, false),
        Command::Images { name, output } => images(&name, &output),
    }
}

fn find(name: &str) -> Result<&'static Addon, Failure> {
    catalog::find(name).ok_or_else(|| {
        Failure::new(
            exit::ADDON_UNKNOWN,
            format!(
                "{}\nTo see the list of available addons run:\nrkube addons list",
                catalog::unknown(name)
            ),
        )
    })
}

fn list(profile_name: &str, output: &str) -> anyhow::Result<i32> {
    let settings = profile::load(profile_name)?;
    let enabled = settings
        .as_ref()
        .map(Settings::enabled_addons)
        .unwrap_or_default();
    let on = |a: &Addon| enabled.contains(&a.name);
    match output {
        "json" => {
            let map: BTreeMap<&str, Value> = catalog::all()
                .iter()
                .map(|a| {
                    let v = match &settings {
                        Some(_) => json!({
                            "Profile": profile_name,
                            "Status": if on(a) { "enabled" } else { "disabled" },
                        }),
                        None => json!({}),
                    };
                    (a.name.as_str(), v)
                })
                .collect();
            println!("{}", serde_json::to_string(&map)?);
        }
        "list" => {
            let rows: Vec<Vec<String>> = catalog::all()
                .iter()
                .map(|a| match &settings {
                    Some(_) => vec![
                        a.name.clone(),
                        profile_name.to_string(),
                        if on(a) {
                            format!("enabled{}", ui::check())
                        } else {
                            "disabled".into()
                        },
                        a.maintainer.clone(),
                    ],
                    None => vec![a.name.clone(), a.maintainer.clone()],
                })
                .collect();
            let highlight: Vec<bool> = catalog::all().iter().map(on).collect();
            let headers: &[&str] = if settings.is_some() {
                &["Addon Name", "Profile", "Status", "Maintainer"]
            } else {
                &["Addon Name", "Maintainer"]
            };
            print!("{}", ui::table(headers, &rows, &highlight));
            if profile::list().len() > 1 {
                println!(
                    "{}",
                    ui::line(
                        "💡",
                        "To see addons list for other profiles use: `rkube addons -p name list`"
                    )
                );
            }
        }
        other => {
            return Err(Failure::new(
                exit::USAGE,
                format!("invalid output format: {other}. Valid values: 'list', 'json'"),
            )
            .into())
        }
    }
    Ok(0)
}

fn images(name: &str, output: &str) -> anyhow::Result<i32> {
    let addon = find(name)?;
    let rows: Vec<Vec<String>> = addon
        .images
        .iter()
        .map(|i| vec![i.clone(), catalog::image_ref(i), "built locally".into()])
        .collect();
    match output {
        "json" => {
            let map: BTreeMap<&str, String> = addon
                .images
                .iter()
                .map(|i| (i.as_str(), catalog::image_ref(i)))
                .collect();
            println!("{}", serde_json::to_string(&map)?);
        }
        "table" => {
            if rows.is_empty() {
                println!(
                    "{}",
                    ui::line("💡", &format!("{name} doesn't have images."))
                );
            } else {
                println!(
                    "{}",
                    ui::option(&format!("{name} has the following images:"))
                );
                print!(
                    "{}",
                    ui::table(
                        &["Image Name", "Default Image", "Default Registry"],
                        &rows,
                        &[]
                    )
                );
            }
        }
        other => {
            return Err(Failure::new(
                exit::USAGE,
                format!("invalid output format: {other}. Valid values: 'table', 'json'"),
            )
            .into())
        }
    }
    Ok(0)
}

/// The registry addon has nothing to do here: pods run images straight from the user's
/// Docker, so nothing needs pushing anywhere.
const REGISTRY: &str = "rkube needs no registry addon: pods run on the same Docker engine as your `docker build`, so an image you build locally (tag it, and use a tag other than :latest or set imagePullPolicy: IfNotPresent) is usable at once; nothing needs to be pushed.";

fn switch(profile_name: &str, name: &str, on: bool) -> anyhow::Result<i32> {
    if name == "registry" && catalog::find(name).is_none() {
        println!("{}", ui::line("💡", REGISTRY));
        return Ok(0);
    }
    let addon = find(name)?;
    let mut settings =
        profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    let currently = settings.enabled_addons().contains(&addon.name);
    if currently == on {
        let (emoji, word) = if on {
            ("🌟", "enabled")
        } else {
            ("🌑", "disabled")
        };
        println!(
            "{}",
            ui::line(
                emoji,
                &format!("The '{name}' addon is already {word}; nothing changed")
            )
        );
        return Ok(0);
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let (docker, client) =
            connect_running(profile_name, &settings, "its addons cannot be changed").await?;
        if on {
            turn_on(&docker, &client, addon, &|l| println!("{l}")).await?;
        } else {
            addons::disable(&client, addon).await?;
        }
        settings.set_addon(name, on);
        profile::save(&settings)?;
        if on {
            println!(
                "{}",
                ui::line("🌟", &format!("The '{name}' addon is enabled"))
            );
        } else {
            println!(
                "{}",
                ui::line("🌑", &format!("The '{name}' addon is disabled"))
            );
        }
        Ok(0)
    })
}

/// Enable `addon` on a running cluster, with minikube's lines: build its images, apply its
/// objects, wait for its pods.
pub(super) async fn turn_on(
    docker: &bollard::Docker,
    client: &kube::Client,
    addon: &Addon,
    say: &(dyn Fn(String) + Sync),
) -> anyhow::Result<()> {
    let name = addon.name.as_str();
    say(ui::line(
        "💡",
        &format!(
            "{name} is an addon maintained by {}. For any concerns contact rkube on GitHub.",
            addon.maintainer
        ),
    ));
    for i in &addon.images {
        say(ui::option(&format!(
            "Using image {}",
            catalog::image_ref(i)
        )));
    }
    let images = addons::ensure_images(docker, addon, |line| say(ui::line("🚜", line))).await?;
    addons::enable(client, addon, &images, std::time::Duration::from_secs(30)).await?;
    if let Some(v) = &addon.verify {
        say(ui::line("🔎", &format!("Verifying {name} addon...")));
        let six_minutes = std::time::Duration::from_secs(360);
        if !addons::verify(client, addon, six_minutes).await? {
            return Err(Failure::new(
                exit::FAILURE,
                format!("enabling {name}: no pod {} in namespace {} became ready within 6 minutes; see `kubectl -n {} get pods`", v.selector, v.namespace, v.namespace),
            )
            .into());
        }
    }
    Ok(())
}

/// Docker and an admin client for the profile's cluster, or a `NOT_RUNNING` failure saying
/// that `consequence` (what cannot be done) and how to start it.
pub(super) async fn connect_running(
    profile_name: &str,
    settings: &Settings,
    consequence: &str,
) -> anyhow::Result<(bollard::Docker, kube::Client)> {
    let docker = docker::connect().await.map_err(Failure::from)?;
    let running = node_container::inspect(&docker, profile_name)
        .await?
        .is_some_and(|n| n.running);
    if !running {
        return Err(Failure::new(
            exit::NOT_RUNNING,
            format!("The cluster \"{profile_name}\" is not running, so {consequence}. To start it, run: rkube start -p {profile_name}"),
        )
        .into());
    }
    let (_, creds) = credentials(profile_name)?;
    let client = admin_client(settings, &creds).await.map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot reach the API server of \"{profile_name}\": {e}; is it running? (`rkube status -p {profile_name}`)"),
        )
    })?;
    Ok((docker, client))
}
