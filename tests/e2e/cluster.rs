//! End-to-end support: `rkube` on the machine's Docker with its own `RKUBE_HOME` and
//! kubeconfig, one shared cluster for the pod tests, and the test images built locally.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use crate::support::docker;
use crate::support::{root, Kubectl, Run};

/// The busybox image built from Debian's busybox-static.
pub const BUSYBOX: &str = "rkube-test/busybox:1";

/// rkube's home for these tests (profiles live here; `scripts/test` deletes them after).
pub fn home() -> PathBuf {
    let h = root().join("target/e2e-home");
    std::fs::create_dir_all(&h).expect("e2e home");
    h
}

/// The kubeconfig the tests' rkube writes.
pub fn kubeconfig() -> PathBuf {
    home().join("kubeconfig")
}

/// Run `rkube ARGS` as a user would, with the tests' home and kubeconfig; one that has
/// not ended after 10 minutes (a first start builds images) fails the test.
pub fn rkube(args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rkube"));
    command
        .args(args)
        .env("RKUBE_HOME", home())
        .env("KUBECONFIG", kubeconfig())
        .env_remove("RKUBE_PROFILE");
    crate::support::run_within(command, None, Duration::from_secs(600))
}

fn busybox_binary() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        let p = PathBuf::from(p);
        if p.exists() {
            return p;
        }
    }
    panic!("busybox not found: the README's test command installs Debian's busybox-static");
}

/// Build the test images once per run (Docker caches the layers).
pub fn images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let ctx = root().join("target/e2e-images/busybox");
        std::fs::create_dir_all(ctx.join("rootfs/bin")).expect("image dir");
        std::fs::copy(busybox_binary(), ctx.join("rootfs/bin/busybox")).expect("copy busybox");
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\nCMD [\"sh\"]\n",
        )
        .expect("Dockerfile");
        docker(&["build", "-q", "-t", BUSYBOX, ctx.to_str().expect("path")]);
    });
}

/// A cluster started by these tests.
pub struct Cluster {
    /// Its profile.
    pub profile: String,
}

impl Cluster {
    /// `rkube start -p PROFILE` (asserting success).
    pub fn start(profile: &str) -> Cluster {
        images();
        let r = rkube(&["start", "-p", profile]);
        assert_eq!(r.code, 0, "rkube start failed:\n{}\n{}", r.stdout, r.stderr);
        Cluster {
            profile: profile.to_string(),
        }
    }

    /// A kube-rs client on this cluster's context, as the kubeconfig says now.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig()).expect("kubeconfig");
        let opts = kube::config::KubeConfigOptions {
            context: Some(self.profile.clone()),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .expect("client config");
        kube::Client::try_from(cfg).expect("client")
    }

    /// kubectl on this cluster's context.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(
            kubeconfig(),
            home().join(format!("kube-cache-{}", self.profile)),
        )
        .context(&self.profile)
    }
}

/// The cluster the pod tests share.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| Cluster::start(&format!("e2e-{}", std::process::id())))
}

/// Serializes the tests that start their own clusters (a fresh subnet each).
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One field of a pod, by kubectl jsonpath (empty when the pod or field is missing).
pub fn pod_field(k: &Kubectl, ns: &str, pod: &str, path: &str) -> String {
    k.run(&[
        "-n",
        ns,
        "get",
        "pod",
        pod,
        "-o",
        &format!("jsonpath={path}"),
    ])
    .stdout
    .trim()
    .to_string()
}

/// An image with the test's own kubectl (a static binary) and busybox, for in-cluster
/// clients.
pub const KUBECTL_IMAGE: &str = "rkube-test/kubectl:1";

/// Build [`KUBECTL_IMAGE`] once per run.
pub fn kubectl_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let ctx = root().join("target/e2e-images/kubectl");
        std::fs::create_dir_all(ctx.join("rootfs/bin")).expect("image dir");
        std::fs::copy(busybox_binary(), ctx.join("rootfs/bin/busybox")).expect("copy busybox");
        std::fs::copy(crate::support::kubectl_bin(), ctx.join("rootfs/bin/kubectl"))
            .expect("copy kubectl");
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n",
        )
        .expect("Dockerfile");
        docker(&["build", "-q", "-t", KUBECTL_IMAGE, ctx.to_str().expect("path")]);
    });
}
