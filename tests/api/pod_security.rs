//! Pod Security admission as kube-apiserver's PodSecurity plugin answers real kubectl: the
//! upstream examples of a refused privileged pod, a `warn=restricted` warning, a dry-run
//! label that names the pods a stricter level would refuse, label validation, and the
//! cluster-wide default of `--pod-security`.

use crate::support::{namespace, shared, Kubectl, Server};

const PRIVILEGED: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: priv}
spec:
  containers:
  - name: priv
    image: busybox
    securityContext: {privileged: true}
"#;

const PLAIN: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: nginx}
spec:
  containers:
  - {name: nginx, image: nginx}
"#;

const RESTRICTED_REASONS: &str = r#"allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#;

fn label(k: &Kubectl, ns: &str, pairs: &[&str]) {
    let mut args = vec!["label", "namespace", ns, "--overwrite"];
    args.extend_from_slice(pairs);
    k.run(&args).ok();
}

#[test]
fn a_privileged_pod_is_refused_in_a_baseline_namespace() {
    let k = shared().kubectl();
    let ns = namespace(&k, "psa-baseline");
    label(&k, &ns, &["pod-security.kubernetes.io/enforce=baseline"]);
    let out = k
        .clone()
        .stdin(PRIVILEGED)
        .run(&["-n", &ns, "apply", "-f", "-"]);
    assert_eq!(
        out.fails().trim(),
        r#"Error from server (Forbidden): error when creating "STDIN": pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "priv" must not set securityContext.privileged=true)"#
    );
    // Baseline takes an ordinary pod.
    k.clone()
        .stdin(PLAIN)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
}

#[test]
fn warn_restricted_warns_and_admits() {
    let k = shared().kubectl();
    let ns = namespace(&k, "psa-warn");
    label(
        &k,
        &ns,
        &[
            "pod-security.kubernetes.io/warn=restricted",
            "pod-security.kubernetes.io/warn-version=latest",
        ],
    );
    let out = k.clone().stdin(PLAIN).run(&["-n", &ns, "apply", "-f", "-"]);
    assert_eq!(out.ok().trim(), "pod/nginx created");
    assert_eq!(
        out.stderr.trim(),
        format!(r#"Warning: would violate PodSecurity "restricted:latest": {RESTRICTED_REASONS}"#)
    );
    // Workloads hear it for their pod template.
    let out = k.run(&["-n", &ns, "create", "deployment", "web", "--image=nginx"]);
    assert!(
        out.stderr.contains(r#"Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "nginx" must set"#),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dry_run_label_names_the_pods_a_stricter_level_would_refuse() {
    let k = shared().kubectl();
    let ns = namespace(&k, "psa-dry");
    k.clone()
        .stdin(PLAIN)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    let out = k.run(&[
        "label",
        "--dry-run=server",
        "--overwrite",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    assert_eq!(
        out.ok().trim(),
        format!("namespace/{ns} labeled (server dry run)")
    );
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Warning: existing pods in namespace \"{ns}\" violate the new PodSecurity enforce level \"restricted:latest\"\n\
             Warning: nginx: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
        )
    );
    // A dry run changes nothing.
    let labels = k
        .run(&["get", "namespace", &ns, "-o", "jsonpath={.metadata.labels}"])
        .ok()
        .to_string();
    assert!(!labels.contains("pod-security"), "{labels}");
}

#[test]
fn bad_pod_security_labels_are_invalid() {
    let k = shared().kubectl();
    let ns = namespace(&k, "psa-typo");
    let out = k.run(&[
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=strict",
    ]);
    assert_eq!(
        out.fails().trim(),
        format!(
            r#"The Namespace "{ns}" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#
        )
    );
}

#[test]
fn the_cluster_default_reaches_unlabelled_namespaces_but_not_kube_system() {
    let server = Server::start_with_flags(&["--pod-security", "baseline"]);
    let k = server.kubectl();
    let ns = namespace(&k, "psa-default");
    let out = k
        .clone()
        .stdin(PRIVILEGED)
        .run(&["-n", &ns, "apply", "-f", "-"]);
    assert!(
        out.fails()
            .contains(r#"violates PodSecurity "baseline:latest": privileged"#),
        "{}",
        out.stderr
    );
    // A label relaxes it, and rkube's own namespace is exempt from the default.
    label(&k, &ns, &["pod-security.kubernetes.io/enforce=privileged"]);
    k.clone()
        .stdin(PRIVILEGED)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    k.clone()
        .stdin(PRIVILEGED)
        .run(&["-n", "kube-system", "apply", "-f", "-"])
        .ok();
}
