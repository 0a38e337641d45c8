//! The user's images, for `rkube image`: pods run on the same Docker engine as the user's
//! `docker build`, so listing, loading, building and removing here act on exactly the
//! images the cluster sees. None of these carry rkube's own image label, so image
//! clean-up never touches them.

use std::path::{Path, PathBuf};

use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ImportImageOptions, ListImagesOptions,
    RemoveImageOptions, TagImageOptions,
};
use bollard::Docker;
use futures::StreamExt;

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserImageError {
    /// The archive or build directory is not there.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// Reading the archive or directory failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Docker reported a failure in a build, load or pull.
    #[error("{0}")]
    Stream(String),
    /// The Docker API failed.
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
}

/// One image of the engine.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    /// Its ID (`sha256:...`).
    pub id: String,
    /// Its `repo:tag` names.
    pub repo_tags: Vec<String>,
    /// Its digests.
    pub repo_digests: Vec<String>,
    /// Bytes.
    pub size: i64,
}

/// Every tagged image of the engine, by name.
pub async fn list(docker: &Docker) -> Result<Vec<Listed>, UserImageError> {
    let mut out: Vec<Listed> = docker
        .list_images(Some(ListImagesOptions::default()))
        .await?
        .into_iter()
        .map(|i| Listed {
            id: i.id,
            repo_tags: i
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect(),
            repo_digests: i.repo_digests,
            size: i.size,
        })
        .filter(|i| !i.repo_tags.is_empty())
        .collect();
    out.sort_by(|a, b| a.repo_tags.cmp(&b.repo_tags));
    Ok(out)
}

/// Whether `name` is an image of the engine.
pub async fn present(docker: &Docker, name: &str) -> Result<bool, UserImageError> {
    match docker.inspect_image(name).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Follow a Docker progress stream: each line to `progress`, a reported error as `Err`.
async fn follow<S>(
    mut stream: S,
    mut progress: impl FnMut(&str),
) -> Result<Vec<String>, UserImageError>
where
    S: futures::Stream<Item = Result<bollard::models::BuildInfo, bollard::errors::Error>> + Unpin,
{
    let mut lines = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| match e {
            bollard::errors::Error::DockerStreamError { error } => UserImageError::Stream(error),
            e => UserImageError::Docker(e),
        })?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(UserImageError::Stream(err));
        }
        for text in [info.stream, info.status].into_iter().flatten() {
            let line = text.trim();
            if !line.is_empty() {
                progress(line);
                lines.push(line.to_string());
            }
        }
    }
    Ok(lines)
}

/// `docker load` of an image archive (`docker save` output, plain or compressed); the
/// names it loaded.
pub async fn load_archive(
    docker: &Docker,
    archive: &Path,
    progress: impl FnMut(&str),
) -> Result<Vec<String>, UserImageError> {
    if !archive.exists() {
        return Err(UserImageError::Missing(archive.to_path_buf()));
    }
    let bytes = std::fs::read(archive).map_err(|source| UserImageError::Read {
        path: archive.to_path_buf(),
        source,
    })?;
    load_bytes(docker, bytes, progress).await
}

/// `docker load` of archive bytes; the names it loaded.
pub async fn load_bytes(
    docker: &Docker,
    bytes: Vec<u8>,
    progress: impl FnMut(&str),
) -> Result<Vec<String>, UserImageError> {
    let stream = docker.import_image(
        ImportImageOptions::default(),
        bollard::body_full(bytes.into()),
        None,
    );
    let lines = follow(stream, progress).await?;
    Ok(lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("Loaded image: ")
                .or_else(|| l.strip_prefix("Loaded image ID: "))
        })
        .map(str::to_string)
        .collect())
}

/// The directory `dir` as a build context tar (symlinks kept as links).
fn context_tar(dir: &Path) -> Result<Vec<u8>, UserImageError> {
    if !dir.is_dir() {
        return Err(UserImageError::Missing(dir.to_path_buf()));
    }
    let read = |source| UserImageError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir).map_err(read)?;
    builder.into_inner().map_err(read)
}

/// Build `dir` as `tag` with `dockerfile` (relative to `dir`), through the Docker API.
pub async fn build(
    docker: &Docker,
    dir: &Path,
    tag: &str,
    dockerfile: &str,
    progress: impl FnMut(&str),
) -> Result<(), UserImageError> {
    if !dir.join(dockerfile).is_file() {
        return Err(UserImageError::Missing(dir.join(dockerfile)));
    }
    let tar = context_tar(dir)?;
    let options = BuildImageOptions {
        dockerfile: dockerfile.to_string(),
        t: Some(tag.to_string()),
        rm: true,
        ..Default::default()
    };
    let stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
    follow(stream, progress).await.map(|_| ())
}

/// Remove an image by name or ID.
pub async fn remove(docker: &Docker, name: &str, force: bool) -> Result<(), UserImageError> {
    docker
        .remove_image(
            name,
            Some(RemoveImageOptions {
                force,
                ..Default::default()
            }),
            None,
        )
        .await?;
    Ok(())
}

/// Pull `name` from its registry.
pub async fn pull(
    docker: &Docker,
    name: &str,
    mut progress: impl FnMut(&str),
) -> Result<(), UserImageError> {
    let mut stream = docker.create_image(
        Some(CreateImageOptions {
            from_image: Some(name.to_string()),
            ..Default::default()
        }),
        None,
        None,
    );
    while let Some(item) = stream.next().await {
        let info = item?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(UserImageError::Stream(err));
        }
        if let Some(s) = info.status {
            progress(&s);
        }
    }
    Ok(())
}

/// Give `source` the name `target` (`repo:tag`).
pub async fn tag(docker: &Docker, source: &str, target: &str) -> Result<(), UserImageError> {
    let (repo, tag) = match target.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((r, t)) => (r.to_string(), t.to_string()),
        None => (target.to_string(), "latest".to_string()),
    };
    docker
        .tag_image(
            source,
            Some(TagImageOptions {
                repo: Some(repo),
                tag: Some(tag),
            }),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_holds_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "a").unwrap();
        let tar = context_tar(dir.path()).unwrap();
        let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert!(names.iter().any(|n| n.ends_with("Dockerfile")), "{names:?}");
        assert!(names.iter().any(|n| n.ends_with("sub/a.txt")), "{names:?}");
        assert!(matches!(
            context_tar(&dir.path().join("nope")),
            Err(UserImageError::Missing(_))
        ));
    }
}
