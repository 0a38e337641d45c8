//! `rkube image ls|load|build|rm|pull|tag`: minikube's image commands. rkube's pods run on
//! the user's own Docker engine, so these act on the same images `docker images` shows,
//! and an image built or loaded here is usable by pods at once.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;

use super::exit::{self, Failure};
use crate::cluster::{docker, user_images};
use crate::ui;

/// Subcommands of `rkube image`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the images pods can run.
    #[command(alias = "list")]
    Ls {
        /// short, table or json.
        #[arg(long, default_value = "short")]
        format: String,
    },
    /// Make an image available to the cluster: an image name, a `docker save` archive, or -
    /// for an archive on stdin.
    Load {
        /// IMAGE, ARCHIVE.tar or -.
        source: String,
    },
    /// Build a directory into an image the cluster can run.
    Build {
        /// The image name.
        #[arg(short = 't', long = "tag")]
        tag: String,
        /// The Dockerfile, relative to the directory.
        #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
        file: String,
        /// The build context directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Remove images.
    Rm {
        /// The images.
        #[arg(required = true)]
        images: Vec<String>,
        /// Remove even if a container uses it.
        #[arg(long)]
        force: bool,
    },
    /// Pull an image from its registry into the engine.
    Pull {
        /// The image.
        image: String,
    },
    /// Give an image another name.
    Tag {
        /// The image.
        source: String,
        /// The new name.
        target: String,
    },
}

fn say(emoji: &str, text: &str) {
    println!("{}", ui::line(emoji, text));
}

/// Pods pull an image whose tag is `latest` (or missing) unless told not to.
fn latest_hint(name: &str) {
    let tag = name
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'));
    if tag.is_none_or(|t| t == "latest") {
        say(
            "💡",
            &format!("{name} has the tag latest: set imagePullPolicy: IfNotPresent (or Never) in your pod, or the kubelet tries to pull it from a registry"),
        );
    }
}

/// Run `image`.
pub fn run(cmd: Command) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let d = docker::connect().await.map_err(Failure::from)?;
        match cmd {
            Command::Ls { format } => {
                let images = user_images::list(&d).await?;
                match format.as_str() {
                    "short" => {
                        for i in &images {
                            for t in &i.repo_tags {
                                println!("{t}");
                            }
                        }
                    }
                    "json" => println!("{}", serde_json::to_string(&images)?),
                    "table" => {
                        let rows: Vec<Vec<String>> = images
                            .iter()
                            .flat_map(|i| {
                                i.repo_tags.iter().map(move |t| {
                                    let (repo, tag) = t.rsplit_once(':').unwrap_or((t, ""));
                                    vec![
                                        repo.to_string(),
                                        tag.to_string(),
                                        i.id.trim_start_matches("sha256:").chars().take(13).collect(),
                                        format!("{:.1}MB", i.size as f64 / 1e6),
                                    ]
                                })
                            })
                            .collect();
                        print!(
                            "{}",
                            ui::table(&["Image", "Tag", "Image ID", "Size"], &rows, &[])
                        );
                    }
                    other => {
                        return Err(Failure::new(
                            exit::USAGE,
                            format!("invalid --format {other}: use short, table or json"),
                        )
                        .into())
                    }
                }
                Ok(0)
            }
            Command::Load { source } => load(&d, &source).await,
            Command::Build { tag, file, dir } => {
                say("🚜", &format!("Building {tag} from {} ...", dir.display()));
                user_images::build(&d, &dir, &tag, &file, |line| println!("    {line}"))
                    .await
                    .map_err(|e| match e {
                        user_images::UserImageError::Missing(p) => Failure::new(
                            exit::NOT_FOUND,
                            format!("{} does not exist: give the build directory (and -f for a Dockerfile not named Dockerfile)", p.display()),
                        ),
                        e => Failure::new(exit::FAILURE, format!("building {tag}: {e}")),
                    })?;
                say("✅", &format!("Built {tag}; pods can run it now"));
                latest_hint(&tag);
                Ok(0)
            }
            Command::Rm { images, force } => {
                for name in &images {
                    user_images::remove(&d, name, force).await.map_err(|e| {
                        Failure::new(exit::FAILURE, format!("removing {name}: {e}"))
                    })?;
                    say("🔥", &format!("Removed {name}"));
                }
                Ok(0)
            }
            Command::Pull { image } => {
                user_images::pull(&d, &image, |line| println!("    {line}"))
                    .await
                    .map_err(|e| {
                        Failure::new(
                            exit::FAILURE,
                            format!("pulling {image} failed: {e}. Without a reachable registry, build it (`rkube image build -t {image} DIR`) or load a `docker save` archive (`rkube image load FILE.tar`)"),
                        )
                    })?;
                say("✅", &format!("Pulled {image}"));
                Ok(0)
            }
            Command::Tag { source, target } => {
                user_images::tag(&d, &source, &target)
                    .await
                    .map_err(|e| Failure::new(exit::FAILURE, format!("tagging {source}: {e}")))?;
                say("✅", &format!("Tagged {source} as {target}"));
                Ok(0)
            }
        }
    })
}

/// An archive (a path that exists, or stdin) is loaded; a name is checked, since the
/// cluster already sees every image of the engine.
async fn load(d: &bollard::Docker, source: &str) -> anyhow::Result<i32> {
    let looks_like_file = source == "-"
        || source.ends_with(".tar")
        || source.ends_with(".tar.gz")
        || source.ends_with(".tgz")
        || std::path::Path::new(source).exists();
    if looks_like_file {
        let progress = |line: &str| println!("    {line}");
        let loaded = if source == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the archive from stdin")?;
            user_images::load_bytes(d, bytes, progress).await
        } else {
            user_images::load_archive(d, std::path::Path::new(source), progress).await
        }
        .map_err(|e| match e {
            user_images::UserImageError::Missing(p) => Failure::new(
                exit::NOT_FOUND,
                format!(
                    "{} does not exist: give a `docker save` archive, or an image name",
                    p.display()
                ),
            ),
            e => Failure::new(exit::FAILURE, format!("loading {source}: {e}")),
        })?;
        for name in &loaded {
            say("✅", &format!("Loaded {name}; pods can run it now"));
            latest_hint(name);
        }
        return Ok(0);
    }
    if user_images::present(d, source).await? {
        say(
            "✅",
            &format!("{source} is already available to the cluster: rkube's pods run on the same Docker engine, so there is nothing to load"),
        );
        latest_hint(source);
        Ok(0)
    } else {
        Err(Failure::new(
            exit::NOT_FOUND,
            format!("image {source} is not in your Docker: build it (`rkube image build -t {source} DIR` or `docker build`), or load a `docker save` archive"),
        )
        .into())
    }
}
