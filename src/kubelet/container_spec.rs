//! What the runtime is asked to create for a pod: its sandbox, and each container with its
//! command, user, resources, capabilities and mounts. Pure translations of the pod spec,
//! so they are tested without Docker.

use std::path::Path;

use k8s_openapi::api::core::v1::{Container as K8sContainer, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::env;
use super::runtime::{ContainerSpec, Mount, SandboxSpec};
use crate::resources::validation::quantity_nanos;

/// The termination message path when the container names none.
const DEFAULT_TERMINATION_PATH: &str = "/dev/termination-log";

/// Container `c` of `pod` at restart `attempt`, with its environment (`K=V`) and volume
/// mounts already resolved, and `term_file` on the node backing its termination message.
pub fn container(
    pod: &Pod,
    c: &K8sContainer,
    attempt: u32,
    init: bool,
    env: Vec<String>,
    mut mounts: Vec<Mount>,
    term_file: &Path,
) -> ContainerSpec {
    let vars = env::as_map(&env);
    // `$(VAR)` in command and args refers to the container's environment.
    let expand = |v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|a| a.iter().map(|s| env::expand(s, &vars)).collect::<Vec<_>>())
    };
    let term_path = c
        .termination_message_path
        .clone()
        .unwrap_or_else(|| DEFAULT_TERMINATION_PATH.into());
    mounts.retain(|m| m.container_path != term_path);
    let sc = c.security_context.clone().unwrap_or_default();
    let pod_sc = pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.clone())
        .unwrap_or_default();
    let run_as_group = sc.run_as_group.or(pod_sc.run_as_group);
    let user = sc
        .run_as_user
        .or(pod_sc.run_as_user)
        .map(|u| match run_as_group {
            Some(g) => format!("{u}:{g}"),
            None => u.to_string(),
        });
    let resources = c.resources.clone().unwrap_or_default();
    let limits = resources.limits.unwrap_or_default();
    let requests = resources.requests.unwrap_or_default();
    let nanos = |q: &Quantity| quantity_nanos(&q.0);
    let caps = sc.capabilities.clone().unwrap_or_default();
    ContainerSpec {
        pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
        pod_name: pod.metadata.name.clone().unwrap_or_default(),
        pod_namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: c.name.clone(),
        attempt,
        init,
        image: c.image.clone().unwrap_or_default(),
        entrypoint: expand(&c.command),
        cmd: expand(&c.args),
        env,
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
        tty: c.tty.unwrap_or(false),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        mounts,
        user,
        memory_limit: limits
            .get("memory")
            .and_then(nanos)
            .map(|n| (n / 1_000_000_000) as i64),
        nano_cpus: limits.get("cpu").and_then(nanos).map(|n| n as i64),
        // CPU shares as the kubelet derives them: 1024 per CPU requested, at least 2.
        cpu_shares: requests
            .get("cpu")
            .and_then(nanos)
            .map(|n| ((n * 1024 / 1_000_000_000) as i64).max(2)),
        privileged: sc.privileged.unwrap_or(false),
        cap_add: caps.add.unwrap_or_default(),
        cap_drop: caps.drop.unwrap_or_default(),
        read_only_rootfs: sc.read_only_root_filesystem.unwrap_or(false),
        termination_log: Some(Mount {
            node_path: term_file.to_string_lossy().to_string(),
            container_path: term_path,
            read_only: false,
        }),
    }
}

/// The sandbox of `pod` at `attempt`: hostname, host aliases and network mode.
pub fn sandbox(pod: &Pod, attempt: u32) -> SandboxSpec {
    let spec = pod.spec.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let hostname = spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| name.clone());
    let extra_hosts = spec
        .host_aliases
        .iter()
        .flatten()
        .flat_map(|a| {
            a.hostnames
                .iter()
                .flatten()
                .map(move |h| format!("{h}:{}", a.ip))
        })
        .collect();
    SandboxSpec {
        pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
        pod_name: name,
        pod_namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        attempt,
        hostname,
        extra_hosts,
        host_network: spec.host_network == Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn first(p: &Pod) -> K8sContainer {
        p.spec.as_ref().unwrap().containers[0].clone()
    }

    fn build(p: &Pod, env: &[&str], mounts: Vec<Mount>) -> ContainerSpec {
        container(
            p,
            &first(p),
            2,
            false,
            env.iter().map(|s| s.to_string()).collect(),
            mounts,
            Path::new("/state/pods/u-1/containers/c/2.log"),
        )
    }

    fn mount(path: &str) -> Mount {
        Mount {
            node_path: format!("/state{path}"),
            container_path: path.into(),
            read_only: true,
        }
    }

    #[test]
    fn command_and_args_expand_the_containers_environment() {
        let p = pod(json!({"containers": [{"name": "c", "image": "app:1",
            "command": ["/bin/sh", "-c"],
            "args": ["echo $(GREETING) $(MISSING) $$(GREETING)"],
            "workingDir": ""}]}));
        let spec = build(&p, &["GREETING=hello"], vec![]);
        assert_eq!(spec.entrypoint, Some(vec!["/bin/sh".into(), "-c".into()]));
        assert_eq!(
            spec.cmd,
            Some(vec!["echo hello $(MISSING) $(GREETING)".into()])
        );
        assert_eq!(
            (
                spec.pod_uid.as_str(),
                spec.pod_name.as_str(),
                spec.pod_namespace.as_str()
            ),
            ("u-1", "web", "shop")
        );
        assert_eq!(
            (spec.name.as_str(), spec.attempt, spec.init),
            ("c", 2, false)
        );
        assert_eq!(spec.image, "app:1");
        // An empty working directory is the image's own.
        assert_eq!(spec.working_dir, None);
        // Neither given: the image's entrypoint and command run.
        let plain = pod(json!({"containers": [{"name": "c", "image": "app:1"}]}));
        let spec = build(&plain, &[], vec![]);
        assert_eq!((spec.entrypoint, spec.cmd), (None, None));
    }

    #[test]
    fn the_user_comes_from_the_container_then_the_pod() {
        let p = pod(
            json!({"securityContext": {"runAsUser": 1000, "runAsGroup": 3000},
            "containers": [{"name": "c", "image": "i"}]}),
        );
        assert_eq!(build(&p, &[], vec![]).user.as_deref(), Some("1000:3000"));
        let p = pod(
            json!({"securityContext": {"runAsUser": 1000, "runAsGroup": 3000},
            "containers": [{"name": "c", "image": "i", "securityContext": {"runAsUser": 0}}]}),
        );
        assert_eq!(build(&p, &[], vec![]).user.as_deref(), Some("0:3000"));
        let p = pod(json!({"containers": [{"name": "c", "image": "i",
            "securityContext": {"runAsUser": 7}}]}));
        assert_eq!(build(&p, &[], vec![]).user.as_deref(), Some("7"));
        let p = pod(json!({"containers": [{"name": "c", "image": "i"}]}));
        assert_eq!(build(&p, &[], vec![]).user, None);
    }

    #[test]
    fn resources_become_docker_limits_and_shares() {
        let p = pod(
            json!({"containers": [{"name": "c", "image": "i", "resources": {
            "limits": {"memory": "128Mi", "cpu": "1500m"},
            "requests": {"cpu": "250m"}}}]}),
        );
        let spec = build(&p, &[], vec![]);
        assert_eq!(spec.memory_limit, Some(128 << 20));
        assert_eq!(spec.nano_cpus, Some(1_500_000_000));
        assert_eq!(spec.cpu_shares, Some(256));
        // A tiny request still gets the kernel's minimum of 2 shares.
        let p = pod(json!({"containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"cpu": "1m"}}}]}));
        let spec = build(&p, &[], vec![]);
        assert_eq!(spec.cpu_shares, Some(2));
        assert_eq!((spec.memory_limit, spec.nano_cpus), (None, None));
    }

    #[test]
    fn security_context_flags_pass_through() {
        let p = pod(
            json!({"containers": [{"name": "c", "image": "i", "tty": true, "stdin": true,
            "securityContext": {"privileged": true, "readOnlyRootFilesystem": true,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]}),
        );
        let spec = build(&p, &[], vec![]);
        assert!(spec.privileged && spec.read_only_rootfs && spec.tty && spec.stdin);
        assert!(!spec.stdin_once);
        assert_eq!(spec.cap_add, ["NET_ADMIN"]);
        assert_eq!(spec.cap_drop, ["ALL"]);
    }

    #[test]
    fn the_termination_message_file_replaces_a_mount_at_its_path() {
        let p = pod(json!({"containers": [{"name": "c", "image": "i"}]}));
        let spec = build(
            &p,
            &[],
            vec![mount("/dev/termination-log"), mount("/etc/config")],
        );
        let paths: Vec<_> = spec
            .mounts
            .iter()
            .map(|m| m.container_path.as_str())
            .collect();
        assert_eq!(paths, ["/etc/config"]);
        let log = spec.termination_log.unwrap();
        assert_eq!(log.container_path, "/dev/termination-log");
        assert_eq!(log.node_path, "/state/pods/u-1/containers/c/2.log");
        assert!(!log.read_only);

        let p = pod(json!({"containers": [{"name": "c", "image": "i",
            "terminationMessagePath": "/tmp/why"}]}));
        let spec = build(&p, &[], vec![mount("/dev/termination-log")]);
        assert_eq!(spec.mounts.len(), 1);
        assert_eq!(spec.termination_log.unwrap().container_path, "/tmp/why");
    }

    #[test]
    fn the_sandbox_takes_hostname_aliases_and_network_mode() {
        let p = pod(json!({"containers": [{"name": "c", "image": "i"}],
            "hostAliases": [{"ip": "10.0.0.5", "hostnames": ["db", "db.local"]}]}));
        let s = sandbox(&p, 3);
        assert_eq!((s.pod_uid.as_str(), s.attempt), ("u-1", 3));
        assert_eq!(s.hostname, "web");
        assert_eq!(s.extra_hosts, ["db:10.0.0.5", "db.local:10.0.0.5"]);
        assert!(!s.host_network);

        let p = pod(json!({"hostname": "box", "hostNetwork": true,
            "containers": [{"name": "c", "image": "i"}]}));
        let s = sandbox(&p, 0);
        assert_eq!(s.hostname, "box");
        assert!(s.host_network);
    }
}
