//! Pod Security Standards policy checks as upstream pod-security-admission evaluates them at
//! its latest policy version, as pure functions over a pod's metadata and spec JSON.

mod checks;

use serde_json::Value;

use checks::Pod;

/// A Pod Security Standards level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    /// "privileged" | "baseline" | "restricted" → Level (None for anything else).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    /// The label value: "privileged", "baseline", "restricted".
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// One failed check: upstream's ForbiddenReason and ForbiddenDetail.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub reason: String,
    pub detail: String,
}

/// Every check of `level` (baseline checks included in restricted) that the pod spec fails, in upstream's check order.
/// `meta` is the object's `metadata` JSON (annotations matter for AppArmor), `spec` a PodSpec JSON.
pub fn evaluate(level: Level, meta: &Value, spec: &Value) -> Vec<Violation> {
    let checks = match level {
        Level::Privileged => &[][..],
        Level::Baseline => checks::BASELINE,
        Level::Restricted => checks::RESTRICTED,
    };
    let pod = Pod { meta, spec };
    checks.iter().filter_map(|check| check(&pod)).collect()
}

/// Upstream's aggregated text: `reason1 (detail1), reason2 (detail2)` (a reason with an empty detail is printed alone).
pub fn describe(violations: &[Violation]) -> String {
    let parts: Vec<String> = violations
        .iter()
        .map(|v| {
            // Upstream substitutes this for a check that forbids without saying why.
            let reason = if v.reason.is_empty() {
                "unknown forbidden reason"
            } else {
                &v.reason
            };
            if v.detail.is_empty() {
                reason.to_string()
            } else {
                format!("{reason} ({})", v.detail)
            }
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(level: Level, spec: Value) -> Vec<Violation> {
        evaluate(level, &json!({}), &spec)
    }

    /// The detail of the one violation with `reason` (panics if there is not exactly one).
    fn detail_with(level: Level, meta: Value, spec: Value, reason: &str) -> String {
        let found: Vec<Violation> = evaluate(level, &meta, &spec)
            .into_iter()
            .filter(|v| v.reason == reason)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "violations with reason {reason:?}: {found:?}"
        );
        found[0].detail.clone()
    }

    fn detail(level: Level, spec: Value, reason: &str) -> String {
        detail_with(level, json!({}), spec, reason)
    }

    fn reasons(level: Level, meta: Value, spec: Value) -> Vec<String> {
        evaluate(level, &meta, &spec)
            .into_iter()
            .map(|v| v.reason)
            .collect()
    }

    fn has(level: Level, spec: Value, reason: &str) -> bool {
        reasons(level, json!({}), spec).iter().any(|r| r == reason)
    }

    /// A container that passes every restricted check.
    fn good(name: &str) -> Value {
        json!({
            "name": name,
            "image": "nginx",
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "runAsNonRoot": true,
                "seccompProfile": {"type": "RuntimeDefault"}
            }
        })
    }

    /// A restricted-clean container with `extra` merged into its securityContext.
    fn good_with(name: &str, extra: Value) -> Value {
        let mut c = good(name);
        if let (Some(sc), Some(extra)) = (c["securityContext"].as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                sc.insert(k.clone(), v.clone());
            }
        }
        c
    }

    #[test]
    fn level_round_trips_and_orders() {
        for l in [Level::Privileged, Level::Baseline, Level::Restricted] {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
        assert_eq!(Level::parse("Baseline"), None);
        assert_eq!(Level::parse(""), None);
        assert!(Level::Privileged < Level::Baseline && Level::Baseline < Level::Restricted);
    }

    #[test]
    fn upstream_privileged_example() {
        let spec = json!({"containers": [{"name": "nginx", "image": "nginx",
            "securityContext": {"privileged": true}}]});
        let v = eval(Level::Baseline, spec.clone());
        assert_eq!(v.len(), 1);
        assert_eq!(
            describe(&v),
            r#"privileged (container "nginx" must not set securityContext.privileged=true)"#
        );
        assert!(eval(Level::Privileged, spec).is_empty());
    }

    #[test]
    fn upstream_plain_pod_example() {
        let spec = json!({"containers": [{"name": "nginx", "image": "nginx"}]});
        assert!(eval(Level::Baseline, spec.clone()).is_empty());
        assert_eq!(
            describe(&eval(Level::Restricted, spec)),
            r#"allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
        );
    }

    #[test]
    fn restricted_clean_pod_passes() {
        let spec = json!({"initContainers": [good("i")], "containers": [good("a")],
            "ephemeralContainers": [good("e")], "volumes": [{"name": "v", "emptyDir": {}}]});
        assert!(eval(Level::Restricted, spec).is_empty());
    }

    #[test]
    fn describe_formats_like_upstream() {
        let v = |r: &str, d: &str| Violation {
            reason: r.into(),
            detail: d.into(),
        };
        assert_eq!(describe(&[]), "");
        assert_eq!(
            describe(&[
                v("host ports", "8080, 9090"),
                v("privileged containers", ""),
                v("", "x")
            ]),
            "host ports (8080, 9090), privileged containers, unknown forbidden reason (x)"
        );
    }

    #[test]
    fn baseline_order_follows_sorted_check_ids() {
        let spec = json!({
            "hostNetwork": true,
            "securityContext": {"sysctls": [{"name": "kernel.msgmax"}],
                "seccompProfile": {"type": "Unconfined"},
                "seLinuxOptions": {"user": "u"},
                "appArmorProfile": {"type": "Unconfined"},
                "windowsOptions": {"hostProcess": true}},
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}],
                "livenessProbe": {"httpGet": {"host": "example.com", "port": 80}},
                "securityContext": {"privileged": true, "procMount": "Unmasked",
                    "capabilities": {"add": ["SYS_ADMIN"]}}}]
        });
        assert_eq!(
            reasons(Level::Baseline, json!({}), spec.clone()),
            [
                "forbidden AppArmor profile",
                "non-default capabilities",
                "host namespaces",
                "hostPath volumes",
                "hostPort",
                "probe or lifecycle host",
                "privileged",
                "procMount",
                "seLinuxOptions",
                "seccompProfile",
                "forbidden sysctls",
                "hostProcess",
            ]
        );
        // Restricted swaps the overridden baseline checks for their stricter versions.
        assert_eq!(
            reasons(Level::Restricted, json!({}), spec),
            [
                "forbidden AppArmor profile",
                "host namespaces",
                "hostPort",
                "probe or lifecycle host",
                "privileged",
                "seLinuxOptions",
                "forbidden sysctls",
                "hostProcess",
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "procMount",
                "restricted volume types",
                "runAsNonRoot != true",
                "seccompProfile",
            ]
        );
    }

    #[test]
    fn privileged_check() {
        let spec = json!({
            "initContainers": [{"name": "i", "securityContext": {"privileged": true}}],
            "containers": [{"name": "a", "securityContext": {"privileged": false}},
                {"name": "b", "securityContext": {"privileged": true}}],
            "ephemeralContainers": [{"name": "e", "securityContext": {"privileged": true}}]
        });
        assert_eq!(
            detail(Level::Baseline, spec, "privileged"),
            r#"containers "i", "b", "e" must not set securityContext.privileged=true"#
        );
        let ok = json!({"containers": [{"name": "a", "securityContext": {"privileged": false}}]});
        assert!(eval(Level::Baseline, ok).is_empty());
    }

    #[test]
    fn host_namespaces_check() {
        let all = json!({"hostNetwork": true, "hostPID": true, "hostIPC": true, "containers": []});
        assert_eq!(
            detail(Level::Baseline, all, "host namespaces"),
            "hostNetwork=true, hostPID=true, hostIPC=true"
        );
        assert_eq!(
            detail(
                Level::Restricted,
                json!({"hostNetwork": true}),
                "host namespaces"
            ),
            "hostNetwork=true"
        );
        assert_eq!(
            detail(Level::Baseline, json!({"hostIPC": true}), "host namespaces"),
            "hostIPC=true"
        );
        let off = json!({"hostNetwork": false, "hostPID": false, "hostIPC": false});
        assert!(eval(Level::Baseline, off).is_empty());
    }

    #[test]
    fn host_path_volumes_check() {
        let spec = json!({"volumes": [{"name": "a", "hostPath": {"path": "/"}},
            {"name": "b", "emptyDir": {}}, {"name": "c", "hostPath": {"path": "/tmp"}}]});
        assert_eq!(
            detail(Level::Baseline, spec, "hostPath volumes"),
            r#"volumes "a", "c""#
        );
        let one = json!({"volumes": [{"name": "a", "hostPath": {"path": "/"}}]});
        assert_eq!(
            detail(Level::Baseline, one.clone(), "hostPath volumes"),
            r#"volume "a""#
        );
        // At restricted, restrictedVolumes reports hostPath instead.
        assert!(!has(Level::Restricted, one, "hostPath volumes"));
        let ok = json!({"volumes": [{"name": "a", "hostPath": null, "emptyDir": {}}]});
        assert!(eval(Level::Baseline, ok).is_empty());
    }

    #[test]
    fn host_ports_check() {
        let one = json!({"containers": [{"name": "a", "ports": [{"containerPort": 20}]},
            {"name": "b", "ports": [{"containerPort": 20, "hostPort": 20}]}]});
        assert_eq!(
            detail(Level::Baseline, one, "hostPort"),
            r#"container "b" uses hostPort 20"#
        );
        let many = json!({
            "initContainers": [{"name": "b", "ports": [{"hostPort": 10}, {"hostPort": 0}]}],
            "containers": [{"name": "a", "ports": [{"hostPort": 0}]},
                {"name": "c", "ports": [{"hostPort": 30}, {"hostPort": 20}]}]
        });
        assert_eq!(
            detail(Level::Baseline, many, "hostPort"),
            r#"containers "b", "c" use hostPorts 10, 20, 30"#
        );
        // Upstream sorts the ports as strings.
        let text = json!({"containers": [{"name": "a", "ports": [{"hostPort": 8080}, {"hostPort": 443}]}]});
        assert_eq!(
            detail(Level::Restricted, text, "hostPort"),
            r#"container "a" uses hostPorts 443, 8080"#
        );
    }

    #[test]
    fn capabilities_baseline_check() {
        let spec = json!({"containers": [
            {"name": "a", "securityContext": {"capabilities": {"add": ["CHOWN", "NET_RAW"]}}},
            {"name": "b", "securityContext": {"capabilities": {"add": ["KILL"]}}},
            {"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_RAW"]}}}
        ]});
        assert_eq!(
            detail(Level::Baseline, spec, "non-default capabilities"),
            r#"containers "a", "c" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add"#
        );
        let one = json!({"containers": [{"name": "a",
            "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]});
        assert_eq!(
            detail(Level::Baseline, one, "non-default capabilities"),
            r#"container "a" must not include "NET_ADMIN" in securityContext.capabilities.add"#
        );
        let defaults = json!({"containers": [{"name": "a", "securityContext": {"capabilities": {
            "add": ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]}}}]});
        assert!(eval(Level::Baseline, defaults).is_empty());
    }

    #[test]
    fn app_armor_profile_check() {
        let pod = json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}});
        assert_eq!(
            detail(Level::Baseline, pod, "forbidden AppArmor profile"),
            r#"pod must not set AppArmor profile type to "Unconfined""#
        );
        let container = json!({
            "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "foo"}],
            "initContainers": [{"name": "bar",
                "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]
        });
        assert_eq!(
            detail(Level::Baseline, container, "forbidden AppArmor profile"),
            r#"container "bar" must not set AppArmor profile type to "Unconfined""#
        );
        let meta = json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/": "bogus",
            "container.apparmor.security.beta.kubernetes.io/a": "",
            "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
            "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
            "container.apparmor.security.beta.kubernetes.io/d": "localhost/foo",
            "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/f": "unknown",
            "other/annotation": "unconfined"
        }});
        assert_eq!(
            detail_with(
                Level::Baseline,
                meta,
                json!({}),
                "forbidden AppArmor profiles"
            ),
            concat!(
                r#"annotations must not set AppArmor profile type to "#,
                r#""container.apparmor.security.beta.kubernetes.io/="bogus"", "#,
                r#""container.apparmor.security.beta.kubernetes.io/e="unconfined"", "#,
                r#""container.apparmor.security.beta.kubernetes.io/f="unknown"""#
            )
        );
        let mixed_meta = json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/x": "say \"hi\"\n"}});
        let mixed = json!({
            "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "Bogus"}}},
                {"name": "b", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]
        });
        assert_eq!(
            detail_with(
                Level::Restricted,
                mixed_meta,
                mixed,
                "forbidden AppArmor profiles"
            ),
            concat!(
                r#"pod and containers "a", "b" and annotation must not set AppArmor profile type to "#,
                r#""Bogus", "Unconfined", "container.apparmor.security.beta.kubernetes.io/x="say \"hi\"\n"""#
            )
        );
        let ok = json!({"securityContext": {"appArmorProfile": {"type": "Localhost",
            "localhostProfile": "p"}}, "containers": [{"name": "a",
            "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}]});
        assert!(eval(Level::Baseline, ok).is_empty());
    }

    #[test]
    fn app_armor_annotation_values_are_quoted_like_go() {
        let meta = json!({"annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "\u{0}\u{7}\u{a0}\u{200b}é\\"}});
        let reason = "forbidden AppArmor profile";
        let got = detail_with(Level::Baseline, meta, json!({}), reason);
        assert_eq!(
            got,
            r#"annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a="\x00\a\u00a0\u200bé\\"""#
        );
    }

    #[test]
    fn host_probes_and_lifecycle_check() {
        let one = json!({"containers": [{"name": "a",
            "livenessProbe": {"httpGet": {"host": "localhost", "port": 80}},
            "readinessProbe": {"tcpSocket": {"host": "127.0.0.1", "port": 80}},
            "startupProbe": {"httpGet": {"host": "::1", "port": 80}}}]});
        assert_eq!(
            detail(Level::Baseline, one, "probe or lifecycle host"),
            r#"container "a" uses probe or lifecycle hosts "127.0.0.1", "::1", "localhost""#
        );
        // Containers are a set upstream: sorted and unique, whatever the visit order.
        let many = json!({
            "initContainers": [{"name": "invalid2",
                "lifecycle": {"preStop": {"tcpSocket": {"host": "b.com", "port": 1}}}}],
            "containers": [{"name": "invalid1",
                "lifecycle": {"postStart": {"httpGet": {"host": "a.com", "port": 1}},
                    "preStop": {"httpGet": {"host": "a.com", "port": 1}}}},
                {"name": "valid", "livenessProbe": {"httpGet": {"host": "", "port": 1}}}]
        });
        assert_eq!(
            detail(Level::Restricted, many, "probe or lifecycle host"),
            r#"containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com""#
        );
        let ok = json!({"containers": [{"name": "a",
            "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}]});
        assert!(eval(Level::Baseline, ok).is_empty());
    }

    #[test]
    fn proc_mount_checks() {
        let spec = json!({"containers": [
            {"name": "a", "securityContext": {"procMount": "Default"}},
            {"name": "b", "securityContext": {"procMount": "Unmasked"}},
            {"name": "c", "securityContext": {"procMount": "Other"}}
        ]});
        let want =
            r#"containers "b", "c" must not set securityContext.procMount to "Other", "Unmasked""#;
        assert_eq!(detail(Level::Baseline, spec.clone(), "procMount"), want);
        assert_eq!(detail(Level::Restricted, spec.clone(), "procMount"), want);
        // A user-namespaced pod may unmask /proc at baseline, but not at restricted.
        let mut userns = spec;
        userns["hostUsers"] = json!(false);
        assert!(!has(Level::Baseline, userns.clone(), "procMount"));
        assert_eq!(detail(Level::Restricted, userns, "procMount"), want);
        let one = json!({"containers": [{"name": "b", "securityContext": {"procMount": "Unmasked"}}],
            "hostUsers": true});
        assert_eq!(
            detail(Level::Baseline, one, "procMount"),
            r#"container "b" must not set securityContext.procMount to "Unmasked""#
        );
    }

    #[test]
    fn se_linux_options_check() {
        let all = json!({
            "securityContext": {"seLinuxOptions": {"type": "foo", "user": "u", "role": "r"}},
            "containers": [
                {"name": "d", "securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0"}}},
                {"name": "e", "securityContext": {"seLinuxOptions": {"type": "bar"}}},
                {"name": "f", "securityContext": {"seLinuxOptions": {"user": "u"}}},
                {"name": "g", "securityContext": {"seLinuxOptions": {"role": "r"}}}
            ]
        });
        assert_eq!(
            detail(Level::Baseline, all, "seLinuxOptions"),
            r#"pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set"#
        );
        let pod_type = json!({"securityContext": {"seLinuxOptions": {"type": "bad"}}});
        assert_eq!(
            detail(Level::Baseline, pod_type, "seLinuxOptions"),
            r#"pod set forbidden securityContext.seLinuxOptions: type "bad""#
        );
        let role = json!({"securityContext": {"seLinuxOptions": {"role": "r"}}});
        assert_eq!(
            detail(Level::Restricted, role, "seLinuxOptions"),
            "pod set forbidden securityContext.seLinuxOptions: role may not be set"
        );
        let ok = json!({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}},
            "containers": [{"name": "a", "securityContext": {"seLinuxOptions": {
                "type": "container_kvm_t", "level": "s0:c1"}}},
                {"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_init_t"}}}]});
        assert!(eval(Level::Baseline, ok).is_empty());
    }

    #[test]
    fn seccomp_profile_baseline_check() {
        let spec = json!({
            "securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [
                {"name": "a", "securityContext": {"seccompProfile": {"type": "Localhost",
                    "localhostProfile": "p.json"}}},
                {"name": "b", "securityContext": {"seccompProfile": {"type": "Bogus"}}},
                {"name": "c"}
            ]
        });
        assert_eq!(
            detail(Level::Baseline, spec, "seccompProfile"),
            r#"pod and container "b" must not set securityContext.seccompProfile.type to "Bogus", "Unconfined""#
        );
        // Unset is fine at baseline; so are the deprecated annotations at policy 1.19+.
        let meta =
            json!({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}});
        assert!(evaluate(
            Level::Baseline,
            &meta,
            &json!({"containers": [{"name": "c"}]})
        )
        .is_empty());
    }

    #[test]
    fn seccomp_profile_restricted_check() {
        let explicit = json!({"containers": [
            good_with("a", json!({"seccompProfile": {"type": "Unconfined"}})),
            good_with("b", json!({"seccompProfile": {"type": "Unconfined"}}))]});
        assert_eq!(
            detail(Level::Restricted, explicit, "seccompProfile"),
            r#"containers "a", "b" must not set securityContext.seccompProfile.type to "Unconfined""#
        );
        let mut missing = json!({"containers": [good("a"), good("b"), good("c")]});
        missing["containers"][0]["securityContext"]["seccompProfile"] = Value::Null;
        missing["containers"][2]["securityContext"]["seccompProfile"] = Value::Null;
        assert_eq!(
            detail(Level::Restricted, missing.clone(), "seccompProfile"),
            r#"pod or containers "a", "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost""#
        );
        // A valid pod-level profile covers containers that set none.
        missing["securityContext"] = json!({"seccompProfile": {"type": "Localhost"}});
        assert!(eval(Level::Restricted, missing.clone()).is_empty());
        // An invalid pod-level one is reported as explicit, ahead of the unset containers.
        missing["securityContext"] = json!({"seccompProfile": {"type": "Unconfined"}});
        assert_eq!(
            detail(Level::Restricted, missing, "seccompProfile"),
            r#"pod must not set securityContext.seccompProfile.type to "Unconfined""#
        );
    }

    #[test]
    fn sysctls_check() {
        let spec = json!({"securityContext": {"sysctls": [{"name": "a", "value": "1"},
            {"name": "kernel.shm_rmid_forced", "value": "0"}, {"name": "b", "value": "2"}]}});
        assert_eq!(detail(Level::Baseline, spec, "forbidden sysctls"), "a, b");
        let safe: Vec<Value> = concat!(
            "kernel.shm_rmid_forced net.ipv4.ip_local_port_range net.ipv4.tcp_syncookies ",
            "net.ipv4.ping_group_range net.ipv4.ip_unprivileged_port_start ",
            "net.ipv4.ip_local_reserved_ports net.ipv4.tcp_keepalive_time net.ipv4.tcp_fin_timeout ",
            "net.ipv4.tcp_keepalive_intvl net.ipv4.tcp_keepalive_probes net.ipv4.tcp_rmem ",
            "net.ipv4.tcp_wmem net.ipv4.tcp_slow_start_after_idle net.ipv4.tcp_notsent_lowat"
        )
        .split_whitespace()
        .map(|n| json!({"name": n, "value": "1"}))
        .collect();
        assert!(eval(
            Level::Baseline,
            json!({"securityContext": {"sysctls": safe}})
        )
        .is_empty());
    }

    #[test]
    fn windows_host_process_check() {
        let hp = json!({"windowsOptions": {"hostProcess": true}});
        let spec = json!({"securityContext": hp,
            "containers": [{"name": "a", "securityContext": hp}, {"name": "b"},
                {"name": "c", "securityContext": hp}]});
        assert_eq!(
            detail(Level::Baseline, spec, "hostProcess"),
            r#"pod and containers "a", "c" must not set securityContext.windowsOptions.hostProcess=true"#
        );
        let container = json!({"containers": [{"name": "a", "securityContext": hp}]});
        assert_eq!(
            detail(Level::Baseline, container, "hostProcess"),
            r#"container "a" must not set securityContext.windowsOptions.hostProcess=true"#
        );
        let off = json!({"securityContext": {"windowsOptions": {"hostProcess": false}}});
        assert!(eval(Level::Baseline, off).is_empty());
    }

    #[test]
    fn allow_privilege_escalation_check() {
        let spec = json!({"containers": [
            good("a"),
            good_with("b", json!({"allowPrivilegeEscalation": true})),
            good_with("c", json!({"allowPrivilegeEscalation": null}))
        ]});
        assert_eq!(
            detail(
                Level::Restricted,
                spec.clone(),
                "allowPrivilegeEscalation != false"
            ),
            r#"containers "b", "c" must set securityContext.allowPrivilegeEscalation=false"#
        );
        assert!(eval(Level::Baseline, spec).is_empty());
    }

    #[test]
    fn capabilities_restricted_check() {
        let spec = json!({"containers": [
            good("a"),
            good_with("b", json!({"capabilities": {"drop": ["NET_RAW"]}})),
            good_with("c", json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}})),
            good_with("d", json!({"capabilities": null})),
            good_with("e", json!({"capabilities": {"add": ["SYS_ADMIN"]}}))
        ]});
        assert_eq!(
            detail(Level::Restricted, spec, "unrestricted capabilities"),
            r#"containers "b", "d", "e" must set securityContext.capabilities.drop=["ALL"]; containers "c", "e" must not include "CHOWN", "SYS_ADMIN" in securityContext.capabilities.add"#
        );
        let ok = json!({"containers": [good_with("a",
            json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}))]});
        assert!(eval(Level::Restricted, ok).is_empty());
    }

    #[test]
    fn restricted_volumes_check() {
        let allowed = "emptyDir secret persistentVolumeClaim downwardAPI configMap projected csi \
            ephemeral image";
        let restricted = "hostPath gcePersistentDisk awsElasticBlockStore gitRepo nfs iscsi \
            glusterfs rbd flexVolume cinder cephfs flocker fc azureFile vsphereVolume quobyte \
            azureDisk photonPersistentDisk portworxVolume scaleIO storageos";
        let named = |prefix: &str, kinds: &str| -> Vec<Value> {
            let kinds = kinds.split_whitespace().enumerate();
            kinds
                .map(|(i, k)| json!({"name": format!("{prefix}{}", i + 1), k: {}}))
                .collect()
        };
        let mut volumes = named("a", allowed);
        volumes.extend(named("b", restricted));
        volumes.push(json!({"name": "c1"}));
        assert_eq!(
            detail(
                Level::Restricted,
                json!({"volumes": volumes}),
                "restricted volume types"
            ),
            concat!(
                r#"volumes "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "b13", "b14", "b15", "b16", "b17", "b18", "b19", "b20", "b21", "c1""#,
                r#" use restricted volume types "#,
                r#""awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "fc", "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "#,
                r#""hostPath", "iscsi", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "unknown", "vsphereVolume""#
            )
        );
        let one = json!({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]});
        assert_eq!(
            detail(Level::Restricted, one, "restricted volume types"),
            r#"volume "h" uses restricted volume type "hostPath""#
        );
    }

    #[test]
    fn run_as_non_root_check() {
        let mut spec = json!({"containers": [
            good("a"),
            good_with("b", json!({"runAsNonRoot": false})),
            good_with("c", json!({"runAsNonRoot": null}))
        ]});
        assert_eq!(
            detail(Level::Restricted, spec.clone(), "runAsNonRoot != true"),
            r#"container "b" must not set securityContext.runAsNonRoot=false"#
        );
        spec["securityContext"] = json!({"runAsNonRoot": false});
        assert_eq!(
            detail(Level::Restricted, spec.clone(), "runAsNonRoot != true"),
            r#"pod and container "b" must not set securityContext.runAsNonRoot=false"#
        );
        spec["containers"][1]["securityContext"]["runAsNonRoot"] = json!(true);
        assert_eq!(
            detail(Level::Restricted, spec.clone(), "runAsNonRoot != true"),
            r#"pod must not set securityContext.runAsNonRoot=false"#
        );
        // Pod-level true covers containers that set nothing.
        spec["securityContext"] = json!({"runAsNonRoot": true});
        assert!(eval(Level::Restricted, spec.clone()).is_empty());
        spec["securityContext"] = json!({});
        spec["containers"][0]["securityContext"]["runAsNonRoot"] = Value::Null;
        assert_eq!(
            detail(Level::Restricted, spec.clone(), "runAsNonRoot != true"),
            r#"pod or containers "a", "c" must set securityContext.runAsNonRoot=true"#
        );
        spec["hostUsers"] = json!(false);
        assert!(eval(Level::Restricted, spec).is_empty());
    }

    #[test]
    fn run_as_user_check() {
        let mut spec = json!({"securityContext": {"runAsUser": 0}, "containers": [
            good_with("a", json!({"runAsUser": 1000})),
            good_with("b", json!({"runAsUser": 0})),
            good_with("c", json!({"runAsUser": 0}))
        ]});
        assert_eq!(
            detail(Level::Restricted, spec.clone(), "runAsUser=0"),
            r#"pod and containers "b", "c" must not set runAsUser=0"#
        );
        assert!(!has(Level::Baseline, spec.clone(), "runAsUser=0"));
        spec["hostUsers"] = json!(false);
        assert!(eval(Level::Restricted, spec.clone()).is_empty());
        spec["hostUsers"] = json!(true);
        spec["securityContext"]["runAsUser"] = json!(1000);
        spec["containers"][1]["securityContext"]["runAsUser"] = json!(1);
        assert_eq!(
            detail(Level::Restricted, spec.clone(), "runAsUser=0"),
            r#"container "c" must not set runAsUser=0"#
        );
        spec["containers"][2]["securityContext"]["runAsUser"] = Value::Null;
        assert!(eval(Level::Restricted, spec).is_empty());
    }

    #[test]
    fn windows_pods_skip_linux_only_restricted_checks() {
        let spec = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "w", "image": "mcr.microsoft.com/windows/nanoserver"}]});
        assert!(eval(Level::Restricted, spec.clone()).is_empty());
        let mut linux = spec;
        linux["os"]["name"] = json!("linux");
        assert_eq!(
            reasons(Level::Restricted, json!({}), linux),
            [
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "seccompProfile"
            ]
        );
    }

    #[test]
    fn malformed_input_never_panics() {
        let junk = [
            json!(null),
            json!(1),
            json!("spec"),
            json!([]),
            json!({"containers": "x", "initContainers": 3, "volumes": {"a": 1}}),
            json!({"containers": [null, 1, "a", [], {"name": 5, "securityContext": 7}]}),
            json!({"containers": [{"securityContext": {"capabilities": {"add": "ALL", "drop": [1]},
                "seLinuxOptions": [], "seccompProfile": "x", "procMount": 3, "runAsUser": "0",
                "windowsOptions": null}, "ports": [null, {"hostPort": "80"}, {"hostPort": 1.5}],
                "livenessProbe": {"httpGet": {"host": 1}}, "lifecycle": []}]}),
            json!({"securityContext": {"sysctls": [1, {"name": null}], "seLinuxOptions": null,
                "appArmorProfile": 1}, "volumes": [null, 1, {"hostPath": null}], "os": 1,
                "hostNetwork": "true", "hostUsers": "false"}),
        ];
        let metas = [
            json!(null),
            json!({"annotations": 1}),
            json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": 1}}),
        ];
        for spec in &junk {
            for meta in &metas {
                for level in [Level::Privileged, Level::Baseline, Level::Restricted] {
                    let v = evaluate(level, meta, spec);
                    let _ = describe(&v);
                }
            }
        }
        // Wrong types read as unset: a string "true" is not hostNetwork=true.
        assert!(eval(Level::Baseline, json!({"hostNetwork": "true"})).is_empty());
    }
}
