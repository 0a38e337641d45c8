//! `rkube delete --all --purge`. `scripts/test` runs this tier after every other one: purging
//! removes every rkube image no container uses, which clusters of concurrent tests need.

use std::process::Command;

#[path = "support/mod.rs"]
mod support;

use support::{docker, root};

/// `rkube ARGS` with its own home; exit code and stdout+stderr.
fn rkube(home: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(args)
        .env("RKUBE_HOME", home)
        .env("KUBECONFIG", home.join("kubeconfig"))
        .env_remove("RKUBE_PROFILE")
        .output()
        .expect("run rkube");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A one-file image from scratch, with extra `docker build` flags.
fn build(tag: &str, flags: &[&str]) {
    let ctx = root().join("target/purge-images");
    std::fs::create_dir_all(&ctx).expect("context dir");
    std::fs::write(ctx.join("marker"), tag).expect("marker");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY marker /marker\n",
    )
    .expect("Dockerfile");
    let dir = ctx.to_str().expect("path").to_string();
    let mut args = vec!["build", "-q", "-t", tag];
    args.extend_from_slice(flags);
    args.push(&dir);
    docker(&args);
}

fn present(tag: &str) -> bool {
    !docker(&["images", "-q", tag]).trim().is_empty()
}

#[test]
fn delete_all_purge_leaves_no_rkube_image_and_no_home() {
    let home = root().join(format!("target/purge-home-{}", std::process::id()));
    let old = "rkube/node:0.0.3-0123456789ab";
    let mine = "myorg/rkube-like:purge";
    build(old, &["--label", "io.rkube.image=true"]);
    build(mine, &[]);
    let (code, out) = rkube(&home, &["start", "-p", "purge"]);
    assert_eq!(code, 0, "{out}");

    let (code, out) = rkube(&home, &["delete", "--all", "--purge"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Removed all traces of the \"purge\" cluster."),
        "{out}"
    );
    assert!(out.contains("rkube image tag(s)"), "{out}");
    assert!(!home.exists(), "{} remains", home.display());
    let containers = docker(&["ps", "-aq", "--filter", "label=io.rkube.profile=purge"]);
    assert_eq!(containers.trim(), "", "containers of the profile remain");
    assert!(!present(old), "{old} remains");
    assert!(present(mine), "a user's image was removed");

    // Whatever rkube image remains, a container of another cluster on this engine uses.
    let used: Vec<String> = docker(&["ps", "-aq", "--no-trunc"])
        .lines()
        .map(|id| {
            docker(&["inspect", "-f", "{{.Image}}", id])
                .trim()
                .to_string()
        })
        .collect();
    for id in docker(&[
        "images",
        "-q",
        "--no-trunc",
        "--filter",
        "label=io.rkube.image=true",
    ])
    .lines()
    {
        assert!(
            used.iter().any(|u| u == id),
            "rkube image {id} remains and nothing uses it"
        );
    }
    docker(&["rmi", mine]);
}
