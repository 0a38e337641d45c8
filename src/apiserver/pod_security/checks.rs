//! The individual Pod Security Standards checks, one function per upstream check ID, each
//! reproducing pod-security-admission's ForbiddenReason and ForbiddenDetail texts.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Violation;
use crate::resources::validation::go_quote;

/// The object a check looks at: its metadata and its PodSpec, both as loose JSON.
pub(super) struct Pod<'a> {
    pub meta: &'a Value,
    pub spec: &'a Value,
}

/// One check: `None` when the pod passes.
pub(super) type Check = fn(&Pod) -> Option<Violation>;

// Upstream runs checks sorted by check ID, baseline IDs before restricted ones; the restricted
// level drops the baseline checks that a restricted check overrides (capabilities_baseline,
// hostPathVolumes, procMount, seccompProfile_baseline).

/// Baseline checks, in upstream's order.
pub(super) const BASELINE: &[Check] = &[
    app_armor_profile,
    capabilities_baseline,
    host_namespaces,
    host_path_volumes,
    host_ports,
    host_probes_and_host_lifecycle,
    privileged,
    proc_mount_baseline,
    se_linux_options,
    seccomp_profile_baseline,
    sysctls,
    windows_host_process,
];

/// Restricted checks (including the baseline checks not overridden), in upstream's order.
pub(super) const RESTRICTED: &[Check] = &[
    app_armor_profile,
    host_namespaces,
    host_ports,
    host_probes_and_host_lifecycle,
    privileged,
    se_linux_options,
    sysctls,
    windows_host_process,
    allow_privilege_escalation,
    capabilities_restricted,
    proc_mount_restricted,
    restricted_volumes,
    run_as_non_root,
    run_as_user,
    seccomp_profile_restricted,
];

// ---- JSON access: a missing key, a null and a wrong type all read as "unset", as a nil
// pointer would upstream; no accessor can panic.

/// The non-null value at `path`, walking objects only.
fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |cur, key| cur.get(*key))
        .filter(|v| !v.is_null())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    field(v, path).and_then(Value::as_str).unwrap_or("")
}

fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    field(v, path).and_then(Value::as_bool)
}

fn array_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    field(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn strings_at<'a>(v: &'a Value, path: &[&str]) -> impl Iterator<Item = &'a str> {
    array_at(v, path).iter().filter_map(Value::as_str)
}

fn name(v: &Value) -> String {
    str_at(v, &["name"]).to_string()
}

/// Init, regular and ephemeral containers, in the order upstream visits them.
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |key| array_at(spec, &[key]))
}

fn is_windows(spec: &Value) -> bool {
    str_at(spec, &["os", "name"]) == "windows"
}

/// A pod in its own user namespace (`hostUsers: false`) gets the relaxations of policy 1.35+.
fn in_user_namespace(spec: &Value) -> bool {
    bool_at(spec, &["hostUsers"]) == Some(false)
}

// ---- Message helpers mirroring upstream's joinQuote / pluralize.

fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    quoted.join(", ")
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 {
        singular
    } else {
        plural
    }
}

/// `container "a"` or `containers "a", "b"`.
fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// The violation `reason` for the containers named in `bad` (none when `bad` is empty),
/// its detail made from their phrase (`container "a"`, `containers "a", "b"`).
fn containers_violation<S: AsRef<str>>(
    reason: &str,
    bad: &[S],
    detail: impl FnOnce(&str) -> String,
) -> Option<Violation> {
    if bad.is_empty() {
        return None;
    }
    violation(reason, detail(&containers_phrase(bad)))
}

/// The violation `reason` for the setters in `setters` (`pod and container "a"`), none when
/// there are none.
fn setters_violation(
    reason: &str,
    setters: &[String],
    detail: impl FnOnce(&str) -> String,
) -> Option<Violation> {
    if setters.is_empty() {
        return None;
    }
    violation(reason, detail(&setters.join(" and ")))
}

fn violation(reason: &str, detail: String) -> Option<Violation> {
    Some(Violation {
        reason: reason.to_string(),
        detail,
    })
}

/// Upstream's "who set it" list: `pod` if the pod's securityContext is `bad`, then
/// `container(s) "…"` for the containers whose securityContext is.
fn bad_setters<'a>(spec: &'a Value, mut bad: impl FnMut(&'a Value) -> bool) -> Vec<String> {
    let mut setters = Vec::new();
    if field(spec, &["securityContext"]).is_some_and(&mut bad) {
        setters.push("pod".to_string());
    }
    let names = names_where(spec, |c| {
        field(c, &["securityContext"]).is_some_and(&mut bad)
    });
    if !names.is_empty() {
        setters.push(containers_phrase(&names));
    }
    setters
}

/// Names of the containers matching `pred`, in visit order.
fn names_where<'a>(spec: &'a Value, mut pred: impl FnMut(&'a Value) -> bool) -> Vec<String> {
    containers(spec).filter(|c| pred(c)).map(name).collect()
}

// ---- Baseline checks.

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_app_armor_annotation(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

/// appArmorProfile: profile types other than RuntimeDefault/Localhost, and the deprecated
/// per-container annotations with values other than runtime/default or localhost/*.
fn app_armor_profile(pod: &Pod) -> Option<Violation> {
    let mut bad_values = BTreeSet::new();
    let mut setters = bad_setters(pod.spec, |sc| {
        let Some(profile) = field(sc, &["appArmorProfile"]) else {
            return false;
        };
        let t = str_at(profile, &["type"]);
        let bad = !matches!(t, "RuntimeDefault" | "Localhost");
        if bad {
            bad_values.insert(t.to_string());
        }
        bad
    });

    let mut annotations: Vec<String> = pod
        .meta
        .get("annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k, v.as_str()?)))
        .filter(|(k, v)| {
            k.starts_with(APPARMOR_ANNOTATION_PREFIX) && !allowed_app_armor_annotation(v)
        })
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    let mut values: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }

    if setters.is_empty() {
        return None;
    }
    let reason = pluralize(
        "forbidden AppArmor profile",
        "forbidden AppArmor profiles",
        values.len(),
    );
    violation(
        reason,
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
    )
}

const DEFAULT_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// capabilities_baseline: only the container runtime's default set may be added.
fn capabilities_baseline(pod: &Pod) -> Option<Violation> {
    let mut bad_caps = BTreeSet::new();
    let bad = names_where(pod.spec, |c| {
        let mut found = false;
        for cap in strings_at(c, &["securityContext", "capabilities", "add"])
            .filter(|cap| !DEFAULT_CAPABILITIES.contains(cap))
        {
            found = true;
            bad_caps.insert(cap);
        }
        found
    });
    containers_violation("non-default capabilities", &bad, |who| {
        format!(
            "{who} must not include {} in securityContext.capabilities.add",
            join_quote(&bad_caps)
        )
    })
}

/// hostNamespaces: hostNetwork, hostPID and hostIPC must not be true.
fn host_namespaces(pod: &Pod) -> Option<Violation> {
    let set: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|key| bool_at(pod.spec, &[key]) == Some(true))
        .map(|key| format!("{key}=true"))
        .collect();
    if set.is_empty() {
        return None;
    }
    violation("host namespaces", set.join(", "))
}

/// hostPathVolumes: no hostPath volumes.
fn host_path_volumes(pod: &Pod) -> Option<Violation> {
    let bad: Vec<String> = array_at(pod.spec, &["volumes"])
        .iter()
        .filter(|v| field(v, &["hostPath"]).is_some())
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    let volumes = pluralize("volume", "volumes", bad.len());
    violation(
        "hostPath volumes",
        format!("{volumes} {}", join_quote(&bad)),
    )
}

/// hostPorts: every container port's hostPort must be unset or 0.
fn host_ports(pod: &Pod) -> Option<Violation> {
    // Upstream keeps the ports as a set of strings, so they sort as text ("443" < "80").
    let mut ports = BTreeSet::new();
    let bad = names_where(pod.spec, |c| {
        let mut found = false;
        for port in array_at(c, &["ports"]) {
            let host_port = field(port, &["hostPort"]).and_then(Value::as_i64);
            if let Some(p) = host_port.filter(|p| *p != 0) {
                found = true;
                ports.insert(p.to_string());
            }
        }
        found
    });
    containers_violation("hostPort", &bad, |who| {
        format!(
            "{who} {} {} {}",
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// hostProbesAndHostLifecycle: probes and lifecycle handlers must not name a host.
fn host_probes_and_host_lifecycle(pod: &Pod) -> Option<Violation> {
    // Both are sets upstream: names come out sorted and deduplicated, not in visit order.
    let mut bad_containers = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let handlers: [&[&str]; 5] = [
        &["livenessProbe"],
        &["readinessProbe"],
        &["startupProbe"],
        &["lifecycle", "postStart"],
        &["lifecycle", "preStop"],
    ];
    for c in containers(pod.spec) {
        for handler in handlers.into_iter().filter_map(|path| field(c, path)) {
            for kind in ["httpGet", "tcpSocket"] {
                let host = str_at(handler, &[kind, "host"]);
                if !host.is_empty() {
                    bad_containers.insert(name(c));
                    hosts.insert(host);
                }
            }
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let n = bad_containers.len();
    violation(
        "probe or lifecycle host",
        format!(
            "{} {} {} {} {}",
            pluralize("container", "containers", n),
            join_quote(&bad_containers),
            pluralize("uses", "use", n),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
    )
}

/// privileged: no container may be privileged.
fn privileged(pod: &Pod) -> Option<Violation> {
    let bad = names_where(pod.spec, |c| {
        bool_at(c, &["securityContext", "privileged"]) == Some(true)
    });
    containers_violation("privileged", &bad, |who| {
        format!("{who} must not set securityContext.privileged=true")
    })
}

/// procMount at baseline: the default /proc masks are required unless the pod has its own
/// user namespace.
fn proc_mount_baseline(pod: &Pod) -> Option<Violation> {
    if in_user_namespace(pod.spec) {
        return None;
    }
    proc_mount_restricted(pod)
}

/// seLinuxOptions: only container types may be set; user and role never.
fn se_linux_options(pod: &Pod) -> Option<Violation> {
    const ALLOWED_TYPES: [&str; 5] = [
        "",
        "container_t",
        "container_init_t",
        "container_kvm_t",
        "container_engine_t",
    ];
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let setters = bad_setters(pod.spec, |sc| {
        let Some(opts) = field(sc, &["seLinuxOptions"]) else {
            return false;
        };
        let t = str_at(opts, &["type"]);
        let bad_type = !ALLOWED_TYPES.contains(&t);
        if bad_type {
            bad_types.insert(t.to_string());
        }
        let user = !str_at(opts, &["user"]).is_empty();
        let role = !str_at(opts, &["role"]).is_empty();
        set_user |= user;
        set_role |= role;
        bad_type || user || role
    });
    if setters.is_empty() {
        return None;
    }

    let mut bad_data = Vec::new();
    if !bad_types.is_empty() {
        let types = pluralize("type", "types", bad_types.len());
        bad_data.push(format!("{types} {}", join_quote(&bad_types)));
    }
    if set_user {
        bad_data.push("user may not be set".to_string());
    }
    if set_role {
        bad_data.push("role may not be set".to_string());
    }
    violation(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            bad_data.join("; ")
        ),
    )
}

fn valid_seccomp(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// seccompProfile_baseline: a profile, where set, must be RuntimeDefault or Localhost.
fn seccomp_profile_baseline(pod: &Pod) -> Option<Violation> {
    let mut bad_values = BTreeSet::new();
    let setters = bad_setters(pod.spec, |sc| {
        let Some(profile) = field(sc, &["seccompProfile"]) else {
            return false;
        };
        let t = str_at(profile, &["type"]);
        let bad = !valid_seccomp(t);
        if bad {
            bad_values.insert(t);
        }
        bad
    });
    if setters.is_empty() {
        return None;
    }
    violation(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&bad_values)
        ),
    )
}

const SAFE_SYSCTLS: [&str; 14] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

/// sysctls: only the namespaced, isolated "safe" set.
fn sysctls(pod: &Pod) -> Option<Violation> {
    let bad: Vec<&str> = array_at(pod.spec, &["securityContext", "sysctls"])
        .iter()
        .map(|s| str_at(s, &["name"]))
        .filter(|n| !SAFE_SYSCTLS.contains(n))
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation("forbidden sysctls", bad.join(", "))
}

/// windowsHostProcess: neither pod nor containers may be Windows host-process.
fn windows_host_process(pod: &Pod) -> Option<Violation> {
    let setters = bad_setters(pod.spec, |sc| {
        bool_at(sc, &["windowsOptions", "hostProcess"]) == Some(true)
    });
    setters_violation("hostProcess", &setters, |who| {
        format!("{who} must not set securityContext.windowsOptions.hostProcess=true")
    })
}

// ---- Restricted checks.

/// allowPrivilegeEscalation: every container must set it to false (Windows pods exempt).
fn allow_privilege_escalation(pod: &Pod) -> Option<Violation> {
    if is_windows(pod.spec) {
        return None;
    }
    let bad = names_where(pod.spec, |c| {
        bool_at(c, &["securityContext", "allowPrivilegeEscalation"]) != Some(false)
    });
    containers_violation("allowPrivilegeEscalation != false", &bad, |who| {
        format!("{who} must set securityContext.allowPrivilegeEscalation=false")
    })
}

/// capabilities_restricted: drop ALL, add at most NET_BIND_SERVICE (Windows pods exempt).
fn capabilities_restricted(pod: &Pod) -> Option<Violation> {
    if is_windows(pod.spec) {
        return None;
    }
    fn caps(c: &Value) -> Option<&Value> {
        field(c, &["securityContext", "capabilities"])
    }
    let missing_drop_all = names_where(pod.spec, |c| {
        caps(c).is_none_or(|caps| !strings_at(caps, &["drop"]).any(|d| d == "ALL"))
    });
    let mut forbidden = BTreeSet::new();
    let adding_forbidden = names_where(pod.spec, |c| {
        let added = caps(c).map(|caps| strings_at(caps, &["add"]));
        let mut found = false;
        for cap in added
            .into_iter()
            .flatten()
            .filter(|a| *a != "NET_BIND_SERVICE")
        {
            found = true;
            forbidden.insert(cap);
        }
        found
    });
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    violation("unrestricted capabilities", details.join("; "))
}

/// procMount at restricted: the default /proc masks are required, user namespace or not.
fn proc_mount_restricted(pod: &Pod) -> Option<Violation> {
    let mut bad_types = BTreeSet::new();
    let bad = names_where(pod.spec, |c| {
        let proc_mount = field(c, &["securityContext", "procMount"]).and_then(Value::as_str);
        let bad = proc_mount.filter(|t| *t != "Default");
        bad_types.extend(bad);
        bad.is_some()
    });
    containers_violation("procMount", &bad, |who| {
        format!(
            "{who} must not set securityContext.procMount to {}",
            join_quote(&bad_types)
        )
    })
}

const ALLOWED_VOLUME_SOURCES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

// In upstream's precedence order; the JSON field names double as the reported type names.
const RESTRICTED_VOLUME_SOURCES: [&str; 21] = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// restrictedVolumes: only the core ephemeral/projected/claim volume types.
fn restricted_volumes(pod: &Pod) -> Option<Violation> {
    let mut bad_volumes = Vec::new();
    let mut bad_types = BTreeSet::new();
    for v in array_at(pod.spec, &["volumes"]) {
        let has = |key: &str| field(v, &[key]).is_some();
        if ALLOWED_VOLUME_SOURCES.into_iter().any(has) {
            continue;
        }
        bad_volumes.push(name(v));
        let kind = RESTRICTED_VOLUME_SOURCES.into_iter().find(|k| has(k));
        bad_types.insert(kind.unwrap_or("unknown"));
    }
    if bad_volumes.is_empty() {
        return None;
    }
    let n = bad_volumes.len();
    let types = pluralize(
        "restricted volume type",
        "restricted volume types",
        bad_types.len(),
    );
    violation(
        "restricted volume types",
        format!(
            "{} {} {} {types} {}",
            pluralize("volume", "volumes", n),
            join_quote(&bad_volumes),
            pluralize("uses", "use", n),
            join_quote(&bad_types)
        ),
    )
}

/// runAsNonRoot: pod or every container must set it true (relaxed in a user namespace).
fn run_as_non_root(pod: &Pod) -> Option<Violation> {
    if in_user_namespace(pod.spec) {
        return None;
    }
    let setting = |v: &Value| bool_at(v, &["securityContext", "runAsNonRoot"]);
    let setters = bad_setters(pod.spec, |sc| bool_at(sc, &["runAsNonRoot"]) == Some(false));
    if !setters.is_empty() {
        let who = setters.join(" and ");
        return violation(
            "runAsNonRoot != true",
            format!("{who} must not set securityContext.runAsNonRoot=false"),
        );
    }
    if setting(pod.spec) == Some(true) {
        return None;
    }
    let unset = names_where(pod.spec, |c| setting(c).is_none());
    containers_violation("runAsNonRoot != true", &unset, |who| {
        format!("pod or {who} must set securityContext.runAsNonRoot=true")
    })
}

/// runAsUser: nobody may set runAsUser=0 (relaxed in a user namespace).
fn run_as_user(pod: &Pod) -> Option<Violation> {
    if in_user_namespace(pod.spec) {
        return None;
    }
    let setters = bad_setters(pod.spec, |sc| {
        field(sc, &["runAsUser"]).and_then(Value::as_i64) == Some(0)
    });
    if setters.is_empty() {
        return None;
    }
    let who = setters.join(" and ");
    violation("runAsUser=0", format!("{who} must not set runAsUser=0"))
}

/// seccompProfile_restricted: a valid profile must be set on the pod or on every container
/// (Windows pods exempt).
fn seccomp_profile_restricted(pod: &Pod) -> Option<Violation> {
    if is_windows(pod.spec) {
        return None;
    }
    if let Some(v) = seccomp_profile_baseline(pod) {
        return Some(v);
    }
    fn profile(v: &Value) -> Option<&Value> {
        field(v, &["securityContext", "seccompProfile"])
    }
    // Past the baseline check, any pod-level profile is a valid one and covers every container.
    if profile(pod.spec).is_some() {
        return None;
    }
    let unset = names_where(pod.spec, |c| profile(c).is_none());
    if unset.is_empty() {
        return None;
    }
    let who = containers_phrase(&unset);
    violation(
        "seccompProfile",
        format!(
            "pod or {who} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\""
        ),
    )
}
