//! rkube's images with no registry: each holds the running rkube binary and the shared
//! libraries it was linked with on an empty base, configured by its `images/<name>/Dockerfile`
//! and tagged by content, so a changed binary means a new image and an unchanged one is
//! never made again. This module reads the root and names the images; `image_commit` makes
//! them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bollard::Docker;

use super::docker::is_not_found;

/// The node image's repository.
pub const NODE_REPOSITORY: &str = "rkube/node";
const NODE_DOCKERFILE: &str = include_str!("../../images/node/Dockerfile");

/// Errors building an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file for the image could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Docker refused the build.
    #[error("building image {tag}: {message}")]
    Build {
        /// The image.
        tag: String,
        /// Docker's message.
        message: String,
    },
    /// One of rkube's Dockerfiles uses what the image commit does not do.
    #[error("images/{image}/Dockerfile: {message}")]
    Dockerfile {
        /// The image.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// The Docker API failed.
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
}

/// The files of a build context, by path inside the context.
#[derive(Clone, Default)]
pub struct Context {
    files: BTreeMap<String, (Vec<u8>, u32)>,
    links: BTreeMap<String, String>,
}

impl Context {
    /// Add a file with its Unix mode.
    pub fn file(&mut self, path: &str, data: Vec<u8>, mode: u32) {
        self.files
            .insert(path.trim_start_matches('/').to_string(), (data, mode));
    }

    /// Add a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) {
        self.links
            .insert(path.trim_start_matches('/').to_string(), target.to_string());
    }

    /// A short content hash: the image tag, so equal contexts share one image.
    pub fn digest(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for (path, (data, mode)) in &self.files {
            ctx.update(path.as_bytes());
            ctx.update(&mode.to_le_bytes());
            ctx.update(&(data.len() as u64).to_le_bytes());
            ctx.update(data);
        }
        for (path, target) in &self.links {
            ctx.update(path.as_bytes());
            ctx.update(target.as_bytes());
        }
        ctx.finish()
            .as_ref()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn tar(&self) -> Result<Vec<u8>, std::io::Error> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut dirs = std::collections::BTreeSet::new();
        let all_paths = self.files.keys().chain(self.links.keys());
        for path in all_paths {
            let mut p = Path::new(path).parent();
            while let Some(dir) = p.filter(|d| !d.as_os_str().is_empty()) {
                dirs.insert(dir.to_path_buf());
                p = dir.parent();
            }
        }
        for dir in dirs {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            builder.append_data(&mut h, &dir, std::io::empty())?;
        }
        for (path, (data, mode)) in &self.files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_size(data.len() as u64);
            builder.append_data(&mut h, path, data.as_slice())?;
        }
        for (path, target) in &self.links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            builder.append_link(&mut h, path, target)?;
        }
        builder.into_inner()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The shared objects mapped into this process: exactly what the binary needs at run time,
/// wherever this system keeps them (plus the loader under the name the binary asks for).
fn loaded_libraries() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut libs: Vec<PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/') && (p.ends_with(".so") || p.contains(".so.")))
        .map(PathBuf::from)
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

/// One of rkube's own images: a folder under `images/` whose Dockerfile copies a root
/// holding the running binary (multi-call) and its libraries.
#[derive(Clone, Copy, Debug)]
pub struct BinaryImage {
    /// The repository its content tag goes under.
    pub repository: &'static str,
    /// `images/<name>/Dockerfile`.
    pub dockerfile: &'static str,
}

/// The node image (`rkube node-daemon`, `rkube pod-sandbox`).
pub const NODE: BinaryImage = BinaryImage {
    repository: NODE_REPOSITORY,
    dockerfile: NODE_DOCKERFILE,
};

/// The echo-server image of the tutorials (`rkube echo-server`).
pub const ECHO_SERVER: BinaryImage = BinaryImage {
    repository: "rkube/echo-server",
    dockerfile: include_str!("../../images/echo-server/Dockerfile"),
};

/// The ingress tutorial's hello-app (`rkube hello-app`).
pub const HELLO_APP: BinaryImage = BinaryImage {
    repository: "rkube/hello-app",
    dockerfile: include_str!("../../images/hello-app/Dockerfile"),
};

/// The names the ingress tutorial runs hello-app under, and the version each answers.
pub const HELLO_APP_ALIASES: &[(&str, &str)] = &[
    ("gcr.io/google-samples/hello-app:1.0", "1.0.0"),
    ("gcr.io/google-samples/hello-app:2.0", "2.0.0"),
];

/// The name the minikube tutorials use for the echo server.
pub const ECHO_SERVER_ALIAS: &str = "kicbase/echo-server:1.0";

impl BinaryImage {
    /// The content tag under this image's repository: the digest of its Dockerfile and of
    /// the binary's root, which is read and hashed once per process however many images
    /// `start` checks.
    pub fn tag(&self) -> Result<String, ImageError> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(self.dockerfile.as_bytes());
        ctx.update(rootfs_digest()?.as_bytes());
        let digest: String = ctx
            .finish()
            .as_ref()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(format!(
            "{}:{}-{digest}",
            self.repository,
            env!("CARGO_PKG_VERSION")
        ))
    }
}

/// The running binary's root filesystem and its digest.
struct Rootfs {
    ctx: Context,
    digest: String,
}

fn rootfs() -> Result<&'static Rootfs, ImageError> {
    static ROOTFS: std::sync::OnceLock<Rootfs> = std::sync::OnceLock::new();
    if let Some(r) = ROOTFS.get() {
        return Ok(r);
    }
    let ctx = read_rootfs()?;
    let digest = ctx.digest();
    Ok(ROOTFS.get_or_init(|| Rootfs { ctx, digest }))
}

/// What the root is read from, as (path, size, mtime, inode) lines: while these stay the
/// same the root does, so its digest can be remembered instead of re-read (80 MB).
fn rootfs_identity() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut paths = vec![std::env::current_exe().ok()?];
    paths.extend(loaded_libraries());
    paths.extend(BUSYBOX_PATHS.iter().map(PathBuf::from));
    paths.push(PathBuf::from("/bin/sh"));
    let mut lines = String::new();
    for p in paths {
        match std::fs::metadata(&p) {
            Ok(m) => lines.push_str(&format!(
                "{} {} {}.{} {}\n",
                p.display(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino()
            )),
            Err(_) => lines.push_str(&format!("{} absent\n", p.display())),
        }
    }
    Some(lines)
}

/// The root's digest, remembered in `<home>/cache/rootfs-digest` by the files' identity, so
/// a `start` whose images exist reads no binary. A stale or unreadable cache is recomputed.
fn rootfs_digest() -> Result<String, ImageError> {
    let cache = super::profile::home().join("cache").join("rootfs-digest");
    let identity = rootfs_identity();
    if let (Some(id), Ok(saved)) = (&identity, std::fs::read_to_string(&cache)) {
        if let Some((digest, saved_id)) = saved.split_once('\n') {
            if saved_id == id && !digest.is_empty() {
                return Ok(digest.to_string());
            }
        }
    }
    let digest = rootfs()?.digest.clone();
    if let Some(id) = identity {
        // Best effort: without the cache the next start reads the root again.
        let tmp = cache.with_extension("tmp");
        let _ = std::fs::create_dir_all(cache.parent().unwrap_or(Path::new(".")))
            .and_then(|_| std::fs::write(&tmp, format!("{digest}\n{id}")))
            .and_then(|_| std::fs::rename(&tmp, &cache));
    }
    Ok(digest)
}

/// The shared root's tag: `rkube/base:<version>-<digest of the root>`.
pub fn base_tag() -> Result<String, ImageError> {
    Ok(format!(
        "rkube/base:{}-{}",
        env!("CARGO_PKG_VERSION"),
        rootfs_digest()?
    ))
}

/// The shared root as a tar of `/` (what `docker import` takes).
pub(crate) fn rootfs_tar() -> Result<Vec<u8>, ImageError> {
    let all = &rootfs()?.ctx;
    let strip = |p: &String| p.strip_prefix("rootfs/").map(str::to_string);
    let root = Context {
        files: all
            .files
            .iter()
            .filter_map(|(p, f)| Some((strip(p)?, f.clone())))
            .collect(),
        links: all
            .links
            .iter()
            .filter_map(|(p, t)| Some((strip(p)?, t.clone())))
            .collect(),
    };
    root.tar().map_err(|source| ImageError::Read {
        path: PathBuf::from("<root>"),
        source,
    })
}

/// The root every binary image shares, read from the running binary and the host.
fn read_rootfs() -> Result<Context, ImageError> {
    let mut ctx = Context::default();
    let exe = std::env::current_exe().map_err(|source| ImageError::Read {
        path: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    ctx.file("rootfs/usr/local/bin/rkube", read(&exe)?, 0o755);
    for lib in loaded_libraries() {
        let data = read(&lib)?;
        let name = lib.to_string_lossy().to_string();
        if name.contains("/ld-linux") {
            // The path the kernel reads from the binary's PT_INTERP.
            if let Some(base) = lib.file_name().and_then(|n| n.to_str()) {
                let interp = if base.contains("x86-64") {
                    format!("rootfs/lib64/{base}")
                } else {
                    format!("rootfs/lib/{base}")
                };
                ctx.file(&interp, data.clone(), 0o755);
            }
        }
        ctx.file(&format!("rootfs{name}"), data, 0o755);
    }
    ctx.file(
        "rootfs/etc/hosts",
        b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_vec(),
        0o644,
    );
    ctx.file(
        "rootfs/etc/nsswitch.conf",
        b"hosts: files dns\n".to_vec(),
        0o644,
    );
    ctx.file(
        "rootfs/etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n".to_vec(),
        0o644,
    );
    ctx.file(
        "rootfs/etc/group",
        b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
        0o644,
    );
    ctx.file("rootfs/tmp/.keep", Vec::new(), 0o644);
    ctx.file("rootfs/var/lib/rkube/.keep", Vec::new(), 0o644);
    add_shell(&mut ctx)?;
    Ok(ctx)
}

/// Where a statically linked busybox may be on the host (Debian's busybox-static).
const BUSYBOX_PATHS: &[&str] = &["/usr/bin/busybox", "/bin/busybox"];

/// Tools for `rkube ssh`: the host's static busybox with every applet when there is one,
/// otherwise the host's `/bin/sh` (it needs only the C library the binary brought).
fn add_shell(ctx: &mut Context) -> Result<(), ImageError> {
    let busybox = BUSYBOX_PATHS
        .iter()
        .map(Path::new)
        .find(|p| p.is_file() && is_static(p));
    let Some(busybox) = busybox else {
        let sh = std::fs::canonicalize("/bin/sh").unwrap_or_else(|_| PathBuf::from("/bin/sh"));
        ctx.file("rootfs/bin/sh", read(&sh)?, 0o755);
        return Ok(());
    };
    ctx.file("rootfs/bin/busybox", read(busybox)?, 0o755);
    let applets = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for applet in applets.lines().map(str::trim) {
        // Only plain names, and never over the multi-call binary's own entry.
        if !applet.is_empty() && !applet.contains('/') && applet != "busybox" {
            ctx.symlink(&format!("rootfs/bin/{applet}"), "busybox");
        }
    }
    Ok(())
}

/// Whether a 64-bit little-endian ELF file has no program interpreter (PT_INTERP), so it
/// runs without a loader or libraries.
fn is_static(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    // ELF magic, 64-bit class, little-endian.
    if !data.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).all(|i| u32_at(phoff.saturating_add(i * phentsize)).is_some_and(|t| t != PT_INTERP))
}

/// Point `alias` at the image `tag` unless `alias` names an image rkube did not build
/// (a real one the user pulled stays theirs).
pub async fn alias(docker: &Docker, tag: &str, alias: &str) -> Result<(), ImageError> {
    let target = docker.inspect_image(tag).await?;
    match docker.inspect_image(alias).await {
        Ok(existing) => {
            if existing.id == target.id {
                return Ok(());
            }
            let ours = existing
                .config
                .and_then(|c| c.labels)
                .is_some_and(|l| l.contains_key("io.rkube.image"));
            if !ours {
                return Ok(());
            }
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let (repo, version) = alias.rsplit_once(':').unwrap_or((alias, "latest"));
    docker
        .tag_image(
            tag,
            Some(bollard::query_parameters::TagImageOptions {
                repo: Some(repo.to_string()),
                tag: Some(version.to_string()),
            }),
        )
        .await?;
    Ok(())
}

/// Whether an image exists locally.
pub async fn exists(docker: &Docker, tag: &str) -> Result<bool, ImageError> {
    match docker.inspect_image(tag).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_dockerfile_over_one_shared_root() {
        let node = NODE.tag().unwrap();
        assert_eq!(node, NODE.tag().unwrap());
        assert_ne!(
            node.rsplit_once('-').unwrap().1,
            ECHO_SERVER.tag().unwrap().rsplit_once('-').unwrap().1
        );
        assert!(node.starts_with(&format!("{NODE_REPOSITORY}:{}-", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn digest_follows_content() {
        let mut a = Context::default();
        a.file("x", b"1".to_vec(), 0o644);
        let mut b = Context::default();
        b.file("x", b"1".to_vec(), 0o644);
        assert_eq!(a.digest(), b.digest());
        b.file("x", b"2".to_vec(), 0o644);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 12);
    }

    fn entry_names(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect()
    }

    #[test]
    fn tar_has_parent_directories_first() {
        let mut c = Context::default();
        c.file("rootfs/usr/bin/a", b"a".to_vec(), 0o755);
        c.symlink("rootfs/bin/sh", "/usr/bin/a");
        let names = entry_names(&c.tar().unwrap());
        let pos = |n: &str| {
            names
                .iter()
                .position(|x| x.trim_end_matches('/') == n)
                .unwrap()
        };
        assert!(pos("rootfs") < pos("rootfs/usr/bin"));
        assert!(pos("rootfs/usr/bin") < pos("rootfs/usr/bin/a"));
        assert!(names.iter().any(|n| n == "rootfs/bin/sh"));
    }

    #[test]
    fn static_and_dynamic_executables_told_apart() {
        // The test binary itself needs the loader.
        assert!(!is_static(&std::env::current_exe().unwrap()));
        if Path::new("/usr/bin/busybox").is_file() {
            assert!(is_static(Path::new("/usr/bin/busybox")));
        }
    }

    #[test]
    fn the_root_has_the_binary_and_its_libraries_at_slash() {
        let names = entry_names(&rootfs_tar().unwrap());
        assert!(
            names.iter().any(|n| n == "usr/local/bin/rkube"),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.contains("libc.so")), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("rootfs")), "{names:?}");
    }
}
