//! rkube's own images without `docker build`: the shared root (the binary, its libraries, a
//! shell) is imported once per binary as `rkube/base:<tag>`, and each image (node,
//! echo-server, hello-app, addons) is a commit on it that only sets the configuration its
//! Dockerfile gives. One 90 MB layer on disk instead of one per image, and a cold `start`
//! spends well under a second on images instead of seconds per image on the builder.

use std::collections::HashMap;

use bollard::models::{ContainerConfig, ContainerCreateBody};
use bollard::query_parameters::{
    CommitContainerOptions, CreateImageOptions, RemoveContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;

use super::image::{self, BinaryImage, ImageError};

fn label() -> HashMap<String, String> {
    HashMap::from([(
        super::image_gc::LABEL.0.to_string(),
        super::image_gc::LABEL.1.to_string(),
    )])
}

/// The configuration one of rkube's Dockerfiles sets over the root. They are all
/// `FROM scratch` + `COPY rootfs/ /` and then only ENV, EXPOSE, ENTRYPOINT, CMD, USER,
/// WORKDIR and LABEL; anything else is refused rather than silently dropped.
pub fn config_of(name: &str, dockerfile: &str) -> Result<ContainerConfig, ImageError> {
    let bad = |message: String| ImageError::Dockerfile {
        image: name.to_string(),
        message,
    };
    let mut c = ContainerConfig {
        labels: Some(label()),
        ..Default::default()
    };
    for line in dockerfile.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let json_list = |what: &str| -> Result<Vec<String>, ImageError> {
            serde_json::from_str(rest)
                .map_err(|_| bad(format!("{what} must be a JSON list: {line}")))
        };
        let pair = || {
            rest.split_once('=')
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .ok_or_else(|| bad(format!("want KEY=VALUE: {line}")))
        };
        match instr.to_ascii_uppercase().as_str() {
            "FROM" if rest == "scratch" => {}
            "COPY" if rest == "rootfs/ /" => {}
            "ENV" => {
                let (k, v) = pair()?;
                let env = c.env.get_or_insert_with(Vec::new);
                env.retain(|e| !e.starts_with(&format!("{k}=")));
                env.push(format!("{k}={v}"));
            }
            "LABEL" => {
                let (k, v) = pair()?;
                c.labels.get_or_insert_with(HashMap::new).insert(k, v);
            }
            "EXPOSE" => {
                for port in rest.split_whitespace() {
                    let port = if port.contains('/') {
                        port.to_string()
                    } else {
                        format!("{port}/tcp")
                    };
                    c.exposed_ports.get_or_insert_with(Vec::new).push(port);
                }
            }
            "ENTRYPOINT" => c.entrypoint = Some(json_list("ENTRYPOINT")?),
            "CMD" => c.cmd = Some(json_list("CMD")?),
            "USER" => c.user = Some(rest.to_string()),
            "WORKDIR" => c.working_dir = Some(rest.to_string()),
            _ => return Err(bad(format!("unsupported instruction: {line}"))),
        }
    }
    if c.entrypoint.is_none() {
        // A commit would otherwise keep the command of the container it was made from.
        return Err(bad("every image needs an ENTRYPOINT".into()));
    }
    Ok(c)
}

/// Import the shared root as `rkube/base:<tag>` unless it is there; its tag.
pub async fn ensure_base(docker: &Docker) -> Result<String, ImageError> {
    let tag = image::base_tag()?;
    if image::exists(docker, &tag).await? {
        return Ok(tag);
    }
    let (repo, version) = tag.rsplit_once(':').unwrap_or((&tag, "latest"));
    let tar = image::rootfs_tar()?;
    let mut stream = docker.create_image(
        Some(CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.to_string()),
            tag: Some(version.to_string()),
            changes: vec![format!(
                "LABEL {}={}",
                super::image_gc::LABEL.0,
                super::image_gc::LABEL.1
            )],
            ..Default::default()
        }),
        Some(bollard::body_full(tar.into())),
        None,
    );
    while let Some(info) = stream.next().await {
        if let Some(e) = info?.error_detail.and_then(|d| d.message) {
            return Err(ImageError::Build { tag, message: e });
        }
    }
    Ok(tag)
}

/// Commit `config` over the image `from` as `tag`.
pub async fn commit(
    docker: &Docker,
    from: &str,
    config: ContainerConfig,
    tag: &str,
) -> Result<(), ImageError> {
    let scratch = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(from.to_string()),
                // Never started; the commit's ENTRYPOINT replaces it.
                cmd: Some(vec!["/usr/local/bin/rkube".into()]),
                labels: Some(label()),
                ..Default::default()
            },
        )
        .await?;
    let (repo, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    let committed = docker
        .commit_container(
            CommitContainerOptions {
                container: Some(scratch.id.clone()),
                repo: Some(repo.to_string()),
                tag: Some(version.to_string()),
                pause: false,
                ..Default::default()
            },
            config,
        )
        .await;
    let _ = docker
        .remove_container(
            &scratch.id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    committed?;
    Ok(())
}

impl BinaryImage {
    /// This image for the running binary, made if missing; its tag. `made` hears whether it
    /// had to be made, before the work starts.
    pub async fn ensure(
        &self,
        docker: &Docker,
        made: impl FnOnce(&str),
    ) -> Result<String, ImageError> {
        let tag = self.tag()?;
        if !image::exists(docker, &tag).await? {
            made(&tag);
            let config = config_of(self.repository, self.dockerfile)?;
            let base = ensure_base(docker).await?;
            commit(docker, &base, config, &tag).await?;
        }
        Ok(tag)
    }

    /// This image with `env` set over its own ENV (none: the image itself) as `tag`, made
    /// if missing.
    pub async fn ensure_variant(
        &self,
        docker: &Docker,
        env: &[(&str, &str)],
        tag: &str,
    ) -> Result<(), ImageError> {
        if image::exists(docker, tag).await? {
            return Ok(());
        }
        let mut extra = String::new();
        for (k, v) in env {
            extra.push_str(&format!("\nENV {k}={v}"));
        }
        let config = config_of(self.repository, &format!("{}{extra}", self.dockerfile))?;
        let base = ensure_base(docker).await?;
        commit(docker, &base, config, tag).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_of_ours_is_a_config_over_the_root() {
        let mut images = vec![image::NODE, image::ECHO_SERVER, image::HELLO_APP];
        for a in crate::addons::catalog::all() {
            images.extend(
                a.images
                    .iter()
                    .filter_map(|n| crate::addons::catalog::image(n)),
            );
        }
        for i in images {
            let c = config_of(i.repository, i.dockerfile).unwrap();
            assert!(c.entrypoint.is_some(), "{}", i.repository);
            assert_eq!(c.labels.unwrap()["io.rkube.image"], "true");
        }
        let node = config_of("node", image::NODE.dockerfile).unwrap();
        assert_eq!(node.cmd, Some(vec!["node-daemon".to_string()]));
        assert_eq!(
            node.env,
            Some(vec![
                "PATH=/usr/local/bin:/bin".to_string(),
                "MALLOC_ARENA_MAX=2".to_string()
            ])
        );
        let echo = config_of("echo", image::ECHO_SERVER.dockerfile).unwrap();
        assert_eq!(echo.exposed_ports, Some(vec!["8080/tcp".to_string()]));
        assert_eq!(echo.cmd, None);
    }

    #[test]
    fn later_env_wins_and_unknown_instructions_are_refused() {
        let c = config_of(
            "x",
            "FROM scratch\nCOPY rootfs/ /\nENV VERSION=1.0.0\nENTRYPOINT [\"/x\"]\nENV VERSION=2.0.0",
        )
        .unwrap();
        assert_eq!(c.env, Some(vec!["VERSION=2.0.0".to_string()]));
        assert!(config_of("x", "FROM debian\nENTRYPOINT [\"/x\"]").is_err());
        assert!(config_of("x", "FROM scratch\nRUN make\nENTRYPOINT [\"/x\"]").is_err());
        assert!(config_of("x", "FROM scratch\nENTRYPOINT /x").is_err());
        assert!(config_of("x", "FROM scratch\nCMD [\"x\"]").is_err());
    }
}
