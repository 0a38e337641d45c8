//! Images of earlier rkube builds: `start` removes the `rkube/*` images an older binary
//! built, and leaves alone the current ones and every image a user built.

use crate::cluster::{docker, exclusive, images, rkube, Cluster, BUSYBOX};
use crate::support::root;

/// Build a one-layer image from the busybox test image, with extra `docker build` flags.
fn build(tag: &str, flags: &[&str]) {
    let ctx = root().join("target/e2e-images/derived");
    std::fs::create_dir_all(&ctx).expect("context dir");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {BUSYBOX}\nENV MADE_FOR={tag}\n"),
    )
    .expect("Dockerfile");
    let mut args = vec!["build", "-q", "-t", tag];
    args.extend_from_slice(flags);
    let dir = ctx.to_str().expect("path").to_string();
    args.push(&dir);
    docker(&args);
}

fn present(tag: &str) -> bool {
    !docker(&["images", "-q", tag]).trim().is_empty()
}

#[test]
fn start_removes_only_images_of_earlier_builds() {
    let _one = exclusive();
    images();
    // What an older rkube left (its label says rkube built it), and a user's own images,
    // one of them even under the rkube/ name.
    let old = "rkube/node:0.0.1-0123456789ab";
    let old_addon = "rkube/metrics-server:0.0.1-0123456789ab";
    build(old, &["--label", "io.rkube.image=true"]);
    build(old_addon, &["--label", "io.rkube.image=true"]);
    build("myorg/rkube-like:1", &[]);
    build("rkube/made-by-me:1", &[]);

    let c = Cluster::start("e2e-images");
    assert!(!present(old), "{old} is still there");
    assert!(!present(old_addon), "{old_addon} is still there");
    assert!(present("myorg/rkube-like:1"), "a user's image was removed");
    assert!(present("rkube/made-by-me:1"), "a user's image was removed");
    let node_images = docker(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "rkube/node",
    ]);
    assert!(
        !node_images.trim().is_empty(),
        "the current node image is gone"
    );
    let r = rkube(&["delete", "-p", &c.profile]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    docker(&["rmi", "myorg/rkube-like:1", "rkube/made-by-me:1"]);
}
