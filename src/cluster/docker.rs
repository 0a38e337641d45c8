//! The connection to the user's Docker engine, with failures that say what to do.

use std::collections::HashMap;

use bollard::Docker;

/// Label carried by everything rkube creates on Docker; its value is the profile.
pub const PROFILE_LABEL: &str = "io.rkube.profile";
/// Label telling what a container is (`node`, `sandbox`, `container`).
pub const ROLE_LABEL: &str = "io.rkube.role";
/// Label on node and pod containers: the node (container) they belong to.
pub const NODE_LABEL: &str = "io.rkube.node";
/// Label on node containers: the rkube home (profiles directory) that made them, so
/// `delete --all` clears its own leftovers and not those of another home on this engine.
pub const HOME_LABEL: &str = "io.rkube.home";

/// Why Docker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// Nothing answers on the socket.
    #[error("cannot reach the Docker engine ({detail}); start Docker (for example `sudo systemctl start docker`) and try again")]
    NotRunning {
        /// What failed.
        detail: String,
    },
    /// The socket exists but this user may not use it.
    #[error("permission denied on the Docker socket; add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as a user that can use Docker")]
    PermissionDenied,
    /// The engine answered with an error.
    #[error("Docker: {0}")]
    Api(#[from] bollard::errors::Error),
}

/// Connect to Docker (honouring `DOCKER_HOST`) and agree on an API version.
pub async fn connect() -> Result<Docker, DockerError> {
    let docker = Docker::connect_with_defaults().map_err(classify)?;
    docker.negotiate_version().await.map_err(classify)
}

fn classify(e: bollard::errors::Error) -> DockerError {
    use bollard::errors::Error as E;
    let text = format!("{e}");
    let lower = text.to_lowercase();
    match e {
        E::SocketNotFoundError(path) => DockerError::NotRunning {
            detail: format!("no socket at {path}"),
        },
        _ if lower.contains("permission denied") => DockerError::PermissionDenied,
        E::IOError { .. } | E::HyperResponseError { .. } | E::RequestTimeoutError => {
            DockerError::NotRunning { detail: text }
        }
        _ if lower.contains("connection refused") || lower.contains("no such file") => {
            DockerError::NotRunning { detail: text }
        }
        e => DockerError::Api(e),
    }
}

/// Whether the engine answered 404 (no such container, image, network or volume).
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Whether the engine refused a removal because another one of the same container is
/// under way (409 "removal of container … is already in progress").
pub fn is_removal_in_progress(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
            if message.contains("already in progress")
    )
}

/// Whether the engine answered 409 (conflict: exists already, or in use).
pub fn is_conflict(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

/// Whether the engine answered 304 (already started or stopped).
pub fn is_not_modified(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 304,
            ..
        }
    )
}

/// A `label=` filter for list calls.
pub fn label_filter(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let values = labels
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    HashMap::from([("label".to_string(), values)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_under_way_is_told_from_other_conflicts() {
        let engine =
            |status_code, message: &str| bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.into(),
            };
        let busy = engine(
            409,
            "removal of container 76e805ec3c39 is already in progress",
        );
        assert!(is_removal_in_progress(&busy));
        assert!(is_conflict(&busy));
        let in_use = engine(409, "conflict: unable to remove repository reference");
        assert!(!is_removal_in_progress(&in_use));
        assert!(!is_removal_in_progress(&engine(404, "already in progress")));
    }
}
