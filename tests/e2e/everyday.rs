//! minikube's everyday commands on a cluster: `image load` of a `docker save` archive and
//! `image build`, each then run by a pod; `docker-env` evaluated by bash; `config`; `pause`;
//! and `mount`, whose host directory a pod reads and writes.

use std::process::Command;

use crate::cluster::{docker, home, kubeconfig, pod_field, rkube, shared, BUSYBOX};
use crate::support::{eventually, namespace, root, Kubectl};

/// Run `image` as a pod that exits; its log.
fn run_to_completion(k: &Kubectl, ns: &str, pod: &str, image: &str, cmd: &[&str]) -> String {
    let mut args = vec![
        "-n",
        ns,
        "run",
        pod,
        "--restart=Never",
        "--image-pull-policy=IfNotPresent",
    ];
    let image = format!("--image={image}");
    args.push(&image);
    args.push("--");
    args.extend_from_slice(cmd);
    k.run(&args).ok();
    eventually(&format!("{pod} succeeded"), 90, || {
        let phase = pod_field(k, ns, pod, "{.status.phase}");
        assert_ne!(phase, "Failed", "{pod} failed");
        (phase == "Succeeded").then_some(())
    });
    k.run(&["-n", ns, "logs", pod]).ok().to_string()
}

#[test]
fn image_load_and_build_make_images_pods_run() {
    let c = shared();
    let k = c.kubectl();
    let ns = namespace(&k, "images");
    let id = std::process::id();

    // An archive from `docker save`, of an image the engine no longer has.
    let loaded = format!("rkube-test/loaded-{id}:1");
    let tar = root().join(format!("target/e2e-images/loaded-{id}.tar"));
    docker(&["tag", BUSYBOX, &loaded]);
    docker(&["save", "-o", tar.to_str().expect("path"), &loaded]);
    docker(&["rmi", &loaded]);
    let r = rkube(&["image", "load", tar.to_str().expect("path")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("Loaded {loaded}")),
        "{}",
        r.stdout
    );
    let log = run_to_completion(
        &k,
        &ns,
        "from-archive",
        &loaded,
        &["echo", "ran from the archive"],
    );
    assert_eq!(log, "ran from the archive\n");
    // A name the engine has needs no loading; one it lacks is a clear error.
    let r = rkube(&["image", "load", &loaded]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already available"), "{}", r.stdout);
    let r = rkube(&["image", "load", "rkube-test/never-built:1"]);
    assert_eq!(r.code, 97, "{}", r.stderr);
    let r = rkube(&["image", "load", "/nonexistent/archive.tar"]);
    assert_eq!(r.code, 97, "{}", r.stderr);

    // `image build` of a directory.
    let ctx = root().join(format!("target/e2e-images/build-{id}"));
    std::fs::create_dir_all(&ctx).expect("context");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {BUSYBOX}\nCOPY greeting /greeting\n"),
    )
    .expect("Dockerfile");
    std::fs::write(ctx.join("greeting"), "built by rkube image build\n").expect("file");
    let built = format!("rkube-test/built-{id}:1");
    let r = rkube(&["image", "build", "-t", &built, ctx.to_str().expect("path")]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let log = run_to_completion(&k, &ns, "from-build", &built, &["cat", "/greeting"]);
    assert_eq!(log, "built by rkube image build\n");
    let listed = rkube(&["image", "ls"]);
    assert!(
        listed.stdout.lines().any(|l| l == built),
        "{}",
        listed.stdout
    );

    k.run(&["delete", "namespace", &ns, "--wait=false"]).ok();
    let r = rkube(&["image", "rm", "--force", &loaded, &built]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn docker_env_evaluates_in_bash_to_the_same_engine() {
    let c = shared();
    let script = format!(
        "eval \"$('{}' docker-env -p '{}')\" && echo \"$RKUBE_ACTIVE_DOCKERD\" && docker version --format '{{{{.Server.Version}}}}' >/dev/null && echo same-engine",
        env!("CARGO_BIN_EXE_rkube"),
        c.profile
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("RKUBE_HOME", home())
        .env("KUBECONFIG", kubeconfig())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, format!("{}\nsame-engine\n", c.profile));
    let r = rkube(&["docker-env", "--unset", "-p", &c.profile]);
    assert_eq!(r.stdout, "unset RKUBE_ACTIVE_DOCKERD\n");
}

#[test]
fn config_defaults_are_used_by_start_and_flags_win() {
    // The shared cluster first, so that it never starts with this test's defaults.
    let _ = shared();
    let _one = crate::cluster::exclusive();
    let r = rkube(&["config", "set", "cpu", "1"]);
    assert_eq!(r.code, 98, "{}", r.stderr);
    assert!(r.stderr.contains("cpus"), "{}", r.stderr);
    let r = rkube(&["config", "set", "cpus", "none"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    let r = rkube(&["config", "set", "cpus", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let start = rkube(&["start", "-p", "e2e-config"]);
    // Whatever happens, the defaults go before the next test starts a cluster.
    let unset = rkube(&["config", "unset", "cpus"]);
    assert_eq!(start.code, 0, "{}{}", start.stdout, start.stderr);
    assert_eq!(unset.code, 0, "{}", unset.stderr);
    let k = crate::cluster::Cluster {
        profile: "e2e-config".into(),
    }
    .kubectl();
    let cpus = k
        .run(&[
            "get",
            "node",
            "e2e-config",
            "-o",
            "jsonpath={.status.capacity.cpu}",
        ])
        .ok()
        .to_string();
    assert_eq!(cpus, "1");
    let r = rkube(&["config", "get", "cpus"]);
    assert_eq!(r.code, 97, "{}", r.stderr);
    let r = rkube(&["delete", "-p", "e2e-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn pause_freezes_the_cluster_and_unpause_brings_back_the_same_pods() {
    // Its own cluster: a frozen API server would fail the tests sharing one.
    let _one = crate::cluster::exclusive();
    let c = crate::cluster::Cluster::start("e2e-pause");
    let k = c.kubectl();
    let ns = namespace(&k, "pause");
    k.run(&[
        "-n",
        &ns,
        "run",
        "sleeper",
        &format!("--image={BUSYBOX}"),
        "--",
        "sleep",
        "3600",
    ])
    .ok();
    eventually("sleeper Running", 60, || {
        (pod_field(&k, &ns, "sleeper", "{.status.phase}") == "Running").then_some(())
    });
    let uid = pod_field(&k, &ns, "sleeper", "{.metadata.uid}");
    let r = rkube(&["pause", "-A", "-p", &c.profile]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Paused"), "{}", r.stdout);
    let frozen = k.run(&["--request-timeout=2s", "-n", &ns, "get", "pods"]);
    let status = rkube(&["status", "-p", &c.profile]);
    let unpause = rkube(&["unpause", "-p", &c.profile]);
    assert_eq!(unpause.code, 0, "{}{}", unpause.stdout, unpause.stderr);
    assert_ne!(
        frozen.code, 0,
        "the API answered while paused: {}",
        frozen.stdout
    );
    assert!(
        status.stdout.contains("apiserver: Paused"),
        "{}",
        status.stdout
    );
    assert_eq!(status.code, 6, "{}", status.stdout);

    eventually("the API answers again", 30, || {
        (pod_field(&k, &ns, "sleeper", "{.metadata.uid}") == uid).then_some(())
    });
    assert_eq!(pod_field(&k, &ns, "sleeper", "{.status.phase}"), "Running");
    assert_eq!(
        pod_field(
            &k,
            &ns,
            "sleeper",
            "{.status.containerStatuses[0].restartCount}"
        ),
        "0"
    );
    let r = rkube(&["unpause", "-p", "e2e-no-such-profile"]);
    assert_eq!(r.code, 85, "{}", r.stderr);
    let r = rkube(&["delete", "-p", &c.profile]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A pod in `ns` with the node path `node_dir` at /data, running `script` to completion;
/// its log.
fn with_host_path(k: &Kubectl, ns: &str, pod: &str, node_dir: &str, script: &str) -> String {
    let manifest = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "data", "hostPath": {"path": node_dir}}],
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", script],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        },
    });
    k.clone()
        .stdin(&manifest.to_string())
        .run(&["-n", ns, "apply", "-f", "-"])
        .ok();
    eventually(&format!("{pod} finished"), 90, || {
        let phase = pod_field(k, ns, pod, "{.status.phase}");
        matches!(phase.as_str(), "Succeeded" | "Failed").then_some(())
    });
    k.run(&["-n", ns, "logs", pod]).ok().to_string()
}

#[test]
fn mount_shows_a_host_directory_to_pods_until_stopped() {
    use std::io::BufRead;
    let c = shared();
    let k = c.kubectl();
    let ns = namespace(&k, "mount");
    let id = std::process::id();
    let dir = root().join(format!("target/e2e-images/mount-{id}"));
    std::fs::create_dir_all(&dir).expect("host dir");
    std::fs::write(dir.join("greeting.txt"), "hello from the host\n").expect("host file");
    let node_dir = format!("/mnt/e2e-{id}");

    let missing = rkube(&["mount", "-p", &c.profile, "/no/such/dir:/mnt/x"]);
    assert_eq!(missing.code, 97, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("/no/such/dir"),
        "{}",
        missing.stderr
    );

    let mut mount = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args([
            "mount",
            "-p",
            &c.profile,
            &format!("{}:{node_dir}", dir.display()),
        ])
        .env("RKUBE_HOME", home())
        .env("KUBECONFIG", kubeconfig())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rkube mount");
    let mut out = std::io::BufReader::new(mount.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("Successfully mounted") {
        line.clear();
        assert!(
            out.read_line(&mut line).expect("mount output") > 0,
            "rkube mount ended early"
        );
    }

    let log = with_host_path(
        &k,
        &ns,
        "reader",
        &node_dir,
        "cat /data/greeting.txt && echo written by the pod > /data/reply.txt",
    );
    assert_eq!(log, "hello from the host\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("reply.txt")).expect("the pod's file on the host"),
        "written by the pod\n"
    );

    // Ctrl+C ends the mount: pods made afterwards see the node's own directory. Its reader
    // has gone first, as `rkube mount … | head -3` leaves it: the goodbye line it cannot
    // print must not stop it from unmounting.
    drop(out);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(mount.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("interrupt rkube mount");
    let status = mount.wait().expect("rkube mount exit");
    assert!(status.success(), "rkube mount ended with {status}");
    let log = with_host_path(&k, &ns, "after", &node_dir, "ls /data; echo listed");
    assert_eq!(log, "listed\n", "the host directory is still mounted");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    // As `rkube completion bash | head -1`: the reader goes after one line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["completion", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rkube completion");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("_rkube()"), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}
