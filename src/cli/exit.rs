//! Exit codes: one per kind of failure, so scripts can tell them apart.

use crate::cluster::docker::DockerError;
use crate::cluster::start::StartError;

/// Something went wrong (the default).
pub const FAILURE: i32 = 1;
/// A flag or argument has a value rkube cannot use (nothing was changed).
pub const USAGE: i32 = 64;
/// Docker is not running or not reachable.
pub const DOCKER_UNAVAILABLE: i32 = 69;
/// Docker refused access to its socket.
pub const DOCKER_PERMISSION: i32 = 77;
/// The node container failed to start or become ready.
pub const NODE_FAILED: i32 = 80;
/// The profile does not exist.
pub const PROFILE_NOT_FOUND: i32 = 85;
/// The service named does not exist.
pub const SERVICE_NOT_FOUND: i32 = 91;
/// The service cannot be reached from this host (no node port, or the node's network is
/// out of reach).
pub const SERVICE_UNAVAILABLE: i32 = 92;
/// Another `rkube tunnel` holds the profile.
pub const TUNNEL_RUNNING: i32 = 93;
/// No addon has the name given.
pub const ADDON_UNKNOWN: i32 = 94;
/// The command needs the cluster running, and it is not.
pub const NOT_RUNNING: i32 = 95;
/// The local port asked for is taken.
pub const PORT_IN_USE: i32 = 96;
/// A file, directory or image named on the command line does not exist.
pub const NOT_FOUND: i32 = 97;
/// `rkube config` does not know the key.
pub const CONFIG_KEY_UNKNOWN: i32 = 98;
/// A node command named the control-plane node, which only whole-cluster commands act on.
pub const CONTROL_PLANE_NODE: i32 = 99;

/// A failure with its exit code; the message is one sentence plus what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// Process exit code.
    pub code: i32,
    /// What went wrong and what to do.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// The profile is unknown.
    pub fn profile_not_found(profile: &str) -> Self {
        Failure::new(
            PROFILE_NOT_FOUND,
            format!("Profile \"{profile}\" not found. Run \"rkube profile list\" to view all profiles, or \"rkube start -p {profile}\" to create it."),
        )
    }
}

impl From<DockerError> for Failure {
    fn from(e: DockerError) -> Self {
        let code = match e {
            DockerError::NotRunning { .. } => DOCKER_UNAVAILABLE,
            DockerError::PermissionDenied => DOCKER_PERMISSION,
            DockerError::Api(_) => FAILURE,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<StartError> for Failure {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Docker(d) => d.into(),
            StartError::Invalid(m) => Failure::new(USAGE, m),
            StartError::Network(n @ crate::cluster::network::NetworkError::BadSubnet { .. }) => {
                Failure::new(USAGE, n.to_string())
            }
            e @ StartError::NotReady { .. } => Failure::new(NODE_FAILED, e.to_string()),
            e => Failure::new(FAILURE, e.to_string()),
        }
    }
}

/// The exit code for an error reaching `main`.
pub fn code_of(e: &anyhow::Error) -> i32 {
    e.downcast_ref::<Failure>()
        .map(|f| f.code)
        .unwrap_or(FAILURE)
}
