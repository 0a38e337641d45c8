//! `rkube config set|get|unset|view`: start defaults kept per user, as minikube's
//! `config` keeps them; `start` uses them where no flag is given.

use super::exit::{self, Failure};
use crate::cluster::config::{self, ConfigError};
use crate::ui;

/// Subcommands of `rkube config`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Set a start default: cpus, memory, kubernetes-version, addons or ports.
    Set {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// Print a start default.
    Get {
        /// The key.
        key: String,
    },
    /// Remove a start default.
    Unset {
        /// The key.
        key: String,
    },
    /// Print every start default set.
    View,
}

fn failure(e: ConfigError) -> Failure {
    let code = match e {
        ConfigError::UnknownKey(_) => exit::CONFIG_KEY_UNKNOWN,
        ConfigError::Invalid { .. } => exit::USAGE,
        _ => exit::FAILURE,
    };
    Failure::new(code, e.to_string())
}

/// Run `config`.
pub fn run(cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Set { key, value } => {
            config::set(&key, &value).map_err(failure)?;
            println!(
                "{}",
                ui::line(
                    "❗",
                    &format!("{key}={value} is used by the next `rkube start` of a new profile (a flag still wins; an existing profile keeps its settings until `rkube delete`)")
                )
            );
        }
        Command::Get { key } => {
            let key = config::known(&key).map_err(failure)?;
            match config::load().map_err(failure)?.get(key) {
                Some(v) => println!("{v}"),
                None => {
                    return Err(Failure::new(
                        exit::NOT_FOUND,
                        format!("{key} is not set: `rkube config set {key} VALUE` sets it"),
                    )
                    .into())
                }
            }
        }
        Command::Unset { key } => {
            config::unset(&key).map_err(failure)?;
        }
        Command::View => {
            for (k, v) in config::load().map_err(failure)? {
                println!("- {k}: {v}");
            }
        }
    }
    Ok(0)
}
