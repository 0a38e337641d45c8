//! Access control as on a real cluster: RBAC with the bootstrap roles, service-account
//! tokens from `kubectl create token` and legacy token Secrets, impersonation, and 401s
//! for missing or forged credentials.

use crate::support::{
    eventually, namespace, shared, shared_with_node, write_file, Kubectl, Server,
};

fn token_for(k: &Kubectl, ns: &str, sa: &str) -> String {
    k.run(&["-n", ns, "create", "token", sa])
        .ok()
        .trim()
        .to_string()
}

/// A service account in `ns` bound to `clusterrole` there, and a token for it.
fn account_with(k: &Kubectl, ns: &str, sa: &str, clusterrole: &str) -> String {
    k.run(&["-n", ns, "create", "serviceaccount", sa]).ok();
    let binding = format!("{sa}-{clusterrole}");
    let subject = format!("--serviceaccount={ns}:{sa}");
    let role = format!("--clusterrole={clusterrole}");
    k.run(&["-n", ns, "create", "rolebinding", &binding, &role, &subject])
        .ok();
    token_for(k, ns, sa)
}

#[test]
fn service_account_bound_to_view_in_one_namespace() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "rbac-view");
    let other = namespace(&k, "rbac-other");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "configmap",
        "settings",
        "--from-literal=a=b",
    ])
    .ok();
    let token = account_with(&k, n, "ci", "view");
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let ci = s.kubectl_as(Some(&token));
    let user = format!("system:serviceaccount:{n}:ci");

    let listed = eventually("the binding to take effect", 10, || {
        let r = ci.run(&["-n", n, "get", "configmaps", "-o", "name"]);
        (r.code == 0).then_some(r.stdout)
    });
    assert!(listed.contains("configmap/settings"), "{listed}");
    ci.run(&["-n", n, "get", "pods"]).ok();

    let create = ci.run(&["-n", n, "create", "configmap", "x"]);
    assert!(
        create.fails().contains(&format!(
            "configmaps is forbidden: User \"{user}\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"{n}\""
        )),
        "{}",
        create.stderr
    );
    let elsewhere = ci.run(&["-n", &other, "get", "pods"]);
    assert!(
        elsewhere.fails().contains(&format!(
            "pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" in the namespace \"{other}\""
        )),
        "{}",
        elsewhere.stderr
    );
    // view does not include secrets.
    let secrets = ci.run(&["-n", n, "get", "secrets"]);
    assert!(secrets.fails().contains("cannot list resource \"secrets\""));

    let who = ci.run(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
    ]);
    assert_eq!(
        who.ok(),
        format!("{user} [\"system:serviceaccounts\",\"system:serviceaccounts:{n}\",\"system:authenticated\"]")
    );

    // The admin asks on the account's behalf; the account asks for itself.
    let can = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        k.run(&all)
    };
    let as_flag = format!("--as={user}");
    let r = can(&["create", "deployments", &as_flag, "-n", n]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "no\n"));
    let r = can(&["list", "deployments.apps", &as_flag, "-n", n]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "yes\n"));
    let r = can(&["list", "pods", &as_flag, "-n", &other]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "no\n"));
    assert_eq!(
        ci.run(&["auth", "can-i", "get", "pods", "-n", n]).ok(),
        "yes\n"
    );
    let list = ci
        .run(&["auth", "can-i", "--list", "-n", n])
        .ok()
        .to_string();
    let row = |cols: &[&str]| {
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == cols)
    };
    assert!(
        row(&["pods", "[]", "[]", "[get", "list", "watch]"]),
        "{list}"
    );
    assert!(
        row(&[
            "selfsubjectaccessreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]"
        ]),
        "{list}"
    );
    assert!(row(&["[/api/*]", "[]", "[get]"]), "{list}");
    let list_other = ci
        .run(&["auth", "can-i", "--list", "-n", &other])
        .ok()
        .to_string();
    assert!(
        !list_other.lines().any(|l| l.starts_with("pods ")),
        "{list_other}"
    );

    // Deleting the account revokes its tokens.
    k.run(&["-n", n, "delete", "serviceaccount", "ci"]).ok();
    let r = ci.run(&["-n", n, "get", "configmaps"]);
    assert!(r.fails().contains("You must be logged in"), "{}", r.stderr);
}

#[test]
fn missing_forged_and_garbage_credentials_get_401() {
    let s = shared();
    let k = s.kubectl();
    // No credentials at all (kubectl would prompt for a password, so plain HTTPS here).
    let script = r#"
import base64, json, ssl, sys, tempfile, urllib.request, urllib.error, yaml
kc = yaml.safe_load(open(sys.argv[1]))
cluster = kc["clusters"][0]["cluster"]
ca = tempfile.NamedTemporaryFile(delete=False, suffix=".crt")
ca.write(base64.b64decode(cluster["certificate-authority-data"])); ca.close()
ctx = ssl.create_default_context(cafile=ca.name)
for path in sys.argv[2:]:
    try:
        with urllib.request.urlopen(cluster["server"] + path, context=ctx) as r:
            print(path, r.status, "")
    except urllib.error.HTTPError as e:
        print(path, e.code, json.loads(e.read()).get("reason"))
"#;
    let paths = [
        "/api/v1/pods",
        "/api/v1/namespaces/default/configmaps",
        "/apis/apps/v1/deployments",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "/api",
        "/apis",
        "/openapi/v3",
        "/openapi/v2",
        "/healthz",
        "/version",
    ];
    let out = std::process::Command::new(crate::support::python_bin())
        .arg("-c")
        .arg(script)
        .arg(&s.kubeconfig)
        .args(paths)
        .output()
        .expect("python");
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    for path in &paths[..8] {
        assert!(out.contains(&format!("{path} 401 Unauthorized")), "{out}");
    }
    assert!(out.contains("/healthz 200"), "{out}");
    assert!(out.contains("/version 200"), "{out}");

    // A well-formed token for a real account, signed by a key this server never had.
    let ns = namespace(&k, "rbac-forged");
    let uid = k
        .run(&[
            "-n",
            &ns,
            "get",
            "sa",
            "default",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .ok()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let foreign = rkube::apiserver::tokens::TokenIssuer::load_or_create(dir.path()).unwrap();
    let now = rkube::apiserver::tokens::now();
    let claims = rkube::apiserver::tokens::Claims {
        iss: rkube::apiserver::tokens::ISSUER.into(),
        sub: format!("system:serviceaccount:{ns}:default"),
        aud: vec![rkube::apiserver::tokens::ISSUER.into()],
        exp: Some(now + 600),
        iat: Some(now),
        nbf: Some(now),
        kubernetes: Some(rkube::apiserver::tokens::KubeClaims {
            namespace: ns.clone(),
            serviceaccount: rkube::apiserver::tokens::AccountRef {
                name: "default".into(),
                uid,
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let forged = foreign.sign(&claims).unwrap();
    for token in [forged.as_str(), "garbage", "a.b.c"] {
        let r = s.kubectl_as(Some(token)).run(&["-n", &ns, "get", "pods"]);
        assert!(
            r.fails().contains("You must be logged in to the server"),
            "{token}: {}",
            r.stderr
        );
    }
    // The same claims signed by the server's own key are accepted (bound tokens of a real
    // account work), so the 401 above is the signature's doing.
    let real = token_for(&k, &ns, "default");
    let r = s.kubectl_as(Some(&real)).run(&["auth", "whoami"]);
    assert!(r
        .ok()
        .contains(&format!("system:serviceaccount:{ns}:default")));
}

#[test]
fn token_requests_validate_and_bind() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "rbac-token");
    let n = ns.as_str();
    let r = k.run(&["-n", n, "create", "token", "nobody"]);
    assert!(
        r.fails().contains("serviceaccounts \"nobody\" not found"),
        "{}",
        r.stderr
    );
    let r = k.run(&["-n", n, "create", "token", "default", "--duration=1m"]);
    assert!(
        r.fails()
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        r.stderr
    );
    // A token bound to a pod dies with the pod.
    k.run(&["-n", n, "run", "holder", "--image=busybox"]).ok();
    let token = k
        .run(&[
            "-n",
            n,
            "create",
            "token",
            "default",
            "--bound-object-kind=Pod",
            "--bound-object-name=holder",
            "--audience=https://kubernetes.default.svc.cluster.local",
            "--audience=vault",
        ])
        .ok()
        .trim()
        .to_string();
    let tk = s.kubectl_as(Some(&token));
    tk.run(&["auth", "whoami"]).ok();
    // TokenReview answers for other audiences too.
    let dir = tempfile::tempdir().unwrap();
    let review = write_file(
        dir.path(),
        "review.json",
        &format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{token}","audiences":["vault"]}}}}"#
        ),
    );
    let out = k
        .run(&[
            "create",
            "--raw",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            "-f",
            review.to_str().unwrap(),
        ])
        .ok()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"]["authenticated"], true, "{out}");
    assert_eq!(v["status"]["audiences"], serde_json::json!(["vault"]));
    assert_eq!(
        v["status"]["user"]["username"],
        format!("system:serviceaccount:{n}:default")
    );
    k.run(&[
        "-n",
        n,
        "delete",
        "pod",
        "holder",
        "--grace-period=0",
        "--force",
    ]);
    eventually("the pod-bound token to die", 10, || {
        let r = tk.run(&["auth", "whoami"]);
        (r.code != 0).then_some(())
    });
}

#[test]
fn legacy_token_secret_is_filled_and_works() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "rbac-legacy");
    let n = ns.as_str();
    k.run(&["-n", n, "create", "serviceaccount", "robot"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let secret = write_file(
        dir.path(),
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token\n  annotations:\n    kubernetes.io/service-account.name: robot\ntype: kubernetes.io/service-account-token\n",
    );
    k.run(&["-n", n, "apply", "-f", secret.to_str().unwrap()])
        .ok();
    let token = eventually("the token controller to fill the secret", 10, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "secret",
            "robot-token",
            "-o",
            "jsonpath={.data.token}",
        ]);
        (r.code == 0 && !r.stdout.is_empty()).then(|| r.stdout.clone())
    });
    use base64::Engine;
    let token = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap(),
    )
    .unwrap();
    let described = k
        .run(&["-n", n, "describe", "secret", "robot-token"])
        .ok()
        .to_string();
    assert!(described.contains("ca.crt:"), "{described}");
    assert!(described.contains("namespace:"), "{described}");
    let who = s.kubectl_as(Some(&token)).run(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(who.ok(), format!("system:serviceaccount:{n}:robot"));
    // Deleting the Secret revokes the token.
    k.run(&["-n", n, "delete", "secret", "robot-token"]).ok();
    let r = s.kubectl_as(Some(&token)).run(&["auth", "whoami"]);
    assert!(r.fails().contains("You must be logged in"), "{}", r.stderr);
}

#[test]
fn impersonation_needs_permission() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "rbac-imp");
    let n = ns.as_str();
    // The admin may impersonate anyone; bob has no rights.
    let r = k.run(&["-n", n, "get", "pods", "--as=bob"]);
    assert!(
        r.fails().contains(&format!(
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"{n}\""
        )),
        "{}",
        r.stderr
    );
    let r = k.run(&[
        "-n",
        n,
        "get",
        "pods",
        "--as=bob",
        "--as-group=system:masters",
    ]);
    r.ok();
    // An account with only view rights may not impersonate.
    let ci = s.kubectl_as(Some(&account_with(&k, n, "ci", "view")));
    let path = format!("/api/v1/namespaces/{n}/pods");
    let r = ci.run(&["get", "--raw", &path, "--as=admin"]);
    assert!(
        r.fails().contains(&format!(
            "users \"admin\" is forbidden: User \"system:serviceaccount:{n}:ci\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        )),
        "{}",
        r.stderr
    );
    ci.run(&["get", "--raw", &path]).ok();
    // Granting impersonation of one user lets the account act as that user, and only it.
    k.run(&[
        "create",
        "clusterrole",
        &format!("{n}-impersonate-alice"),
        "--verb=impersonate",
        "--resource=users",
        "--resource-name=alice",
    ])
    .ok();
    k.run(&[
        "create",
        "clusterrolebinding",
        &format!("{n}-ci-impersonates"),
        &format!("--clusterrole={n}-impersonate-alice"),
        &format!("--serviceaccount={n}:ci"),
    ])
    .ok();
    let who = eventually("impersonation rights", 10, || {
        let r = ci.run(&[
            "auth",
            "whoami",
            "--as=alice",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ]);
        (r.code == 0).then_some(r.stdout)
    });
    assert_eq!(who, "alice");
    ci.run(&["auth", "whoami", "--as=carol"]).fails();
}

#[test]
fn bootstrap_policy_and_aggregation() {
    let k = shared().kubectl();
    let view = k
        .run(&["get", "clusterrole", "view", "-o", "json"])
        .ok()
        .to_string();
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(
        view["metadata"]["labels"]["kubernetes.io/bootstrapping"],
        "rbac-defaults"
    );
    assert_eq!(
        view["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
        "true"
    );
    assert!(view["rules"].as_array().is_some_and(|r| r.len() > 5));
    let bindings = k.run(&["get", "clusterrolebindings"]).ok().to_string();
    for name in [
        "cluster-admin",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:node",
    ] {
        assert!(
            bindings.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} missing:\n{bindings}"
        );
    }
    // A role labelled aggregate-to-view extends view, edit and admin.
    let dir = tempfile::tempdir().unwrap();
    let role = write_file(
        dir.path(),
        "agg.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: crontab-viewer\n  labels:\n    rbac.authorization.k8s.io/aggregate-to-view: \"true\"\nrules:\n- apiGroups: [stable.example.com]\n  resources: [crontabs]\n  verbs: [get, list, watch]\n",
    );
    k.run(&["apply", "-f", role.to_str().unwrap()]).ok();
    for agg in ["view", "edit", "admin"] {
        eventually("aggregation", 10, || {
            let r = k.run(&["get", "clusterrole", agg, "-o", "json"]);
            r.stdout.contains("crontabs").then_some(())
        });
    }
    k.run(&["delete", "clusterrole", "crontab-viewer"]).ok();
    eventually("de-aggregation", 10, || {
        let r = k.run(&["get", "clusterrole", "admin", "-o", "json"]);
        (!r.stdout.contains("crontabs")).then_some(())
    });
}

#[test]
fn namespace_admins_cannot_escalate() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "rbac-esc");
    let n = ns.as_str();
    let lead = s.kubectl_as(Some(&account_with(&k, n, "lead", "admin")));
    eventually("the admin binding", 10, || {
        (lead.run(&["-n", n, "get", "pods"]).code == 0).then_some(())
    });
    // Roles and bindings within what the admin holds are fine.
    lead.run(&[
        "-n",
        n,
        "create",
        "role",
        "pod-reader",
        "--verb=get,list",
        "--resource=pods",
    ])
    .ok();
    lead.run(&[
        "-n",
        n,
        "create",
        "rolebinding",
        "dev-edit",
        "--clusterrole=edit",
        "--user=dev",
    ])
    .ok();
    // Granting more than they hold is refused with the real message.
    let r = lead.run(&[
        "-n",
        n,
        "create",
        "role",
        "nodes",
        "--verb=get",
        "--resource=nodes",
    ]);
    assert!(
        r.fails().contains(&format!(
            "roles.rbac.authorization.k8s.io \"nodes\" is forbidden: user \"system:serviceaccount:{n}:lead\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:{n}\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\"]}}"
        )),
        "{}",
        r.stderr
    );
    let r = lead.run(&[
        "-n",
        n,
        "create",
        "rolebinding",
        "me-root",
        "--clusterrole=cluster-admin",
        "--user=dev",
    ]);
    assert!(
        r.fails()
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{}",
        r.stderr
    );
    let r = lead.run(&[
        "create",
        "clusterrole",
        "x",
        "--verb=get",
        "--resource=pods",
    ]);
    assert!(
        r.fails()
            .contains("cannot create resource \"clusterroles\""),
        "{}",
        r.stderr
    );
}

#[test]
fn a_node_reads_only_what_its_pods_use() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "node-authz");
    let n = ns.as_str();
    for s in ["mounted", "unused"] {
        k.run(&[
            "-n",
            n,
            "create",
            "secret",
            "generic",
            s,
            "--from-literal=k=v",
        ])
        .ok();
    }
    k.run(&[
        "-n",
        n,
        "create",
        "configmap",
        "settings",
        "--from-literal=k=v",
    ])
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let pod = write_file(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: user\nspec:\n  containers:\n  - name: c\n    image: busybox\n    envFrom:\n    - configMapRef:\n        name: settings\n    volumeMounts:\n    - name: s\n      mountPath: /s\n  volumes:\n  - name: s\n    secret:\n      secretName: mounted\n",
    );
    k.run(&["-n", n, "apply", "-f", pod.to_str().unwrap()]).ok();
    eventually("the pod is bound", 20, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "pod",
            "user",
            "-o",
            "jsonpath={.spec.nodeName}",
        ]);
        (r.stdout == "node-1").then_some(())
    });
    let as_node = |node: &str, args: &[&str]| {
        let user = format!("--as=system:node:{node}");
        let mut all = vec!["-n", n, &user, "--as-group=system:nodes"];
        all.extend_from_slice(args);
        k.run(&all)
    };
    eventually("the node may read what its pod uses", 10, || {
        let secret = as_node("node-1", &["get", "secret", "mounted"]);
        let config = as_node("node-1", &["get", "configmap", "settings"]);
        (secret.code == 0 && config.code == 0).then_some(())
    });
    let r = as_node("node-1", &["get", "secret", "unused"]);
    assert!(
        r.fails().contains(&format!(
            "secrets \"unused\" is forbidden: User \"system:node:node-1\" cannot get resource \"secrets\" in API group \"\" in the namespace \"{n}\": no relationship found between node 'node-1' and this object"
        )),
        "{}",
        r.stderr
    );
    as_node("node-1", &["get", "secrets"]).fails();
    as_node("node-2", &["get", "secret", "mounted"]).fails();
    // A list naming one object by field selector is a read of that object, as the
    // kubelet's per-object watches need; the refusal names it as upstream's does.
    let by_name = |name: &str| format!("--field-selector=metadata.name={name}");
    let r = as_node(
        "node-1",
        &["get", "secrets", &by_name("mounted"), "-o", "name"],
    );
    assert_eq!(r.ok().trim(), "secret/mounted");
    let r = as_node("node-1", &["get", "secrets", &by_name("unused")]);
    assert!(
        r.fails().contains(&format!(
            "secrets \"unused\" is forbidden: User \"system:node:node-1\" cannot list resource \"secrets\" in API group \"\" in the namespace \"{n}\""
        )),
        "{}",
        r.stderr
    );
    // Without the group, the name alone is nobody in particular.
    let r = k.run(&[
        "-n",
        n,
        "get",
        "secret",
        "mounted",
        "--as=system:node:node-1",
    ]);
    r.fails();
    // The node role still covers what every kubelet needs.
    as_node("node-1", &["get", "pods"]).ok();

    k.run(&[
        "-n",
        n,
        "delete",
        "pod",
        "user",
        "--grace-period=0",
        "--force",
    ]);
    eventually("the edge goes with the pod", 20, || {
        (as_node("node-1", &["get", "secret", "mounted"]).code != 0).then_some(())
    });

    // The bootstrap binding no longer grants the role to every node.
    let binding = k
        .run(&["get", "clusterrolebinding", "system:node", "-o", "json"])
        .ok()
        .to_string();
    let binding: serde_json::Value = serde_json::from_str(&binding).unwrap();
    assert!(binding.get("subjects").is_none(), "{binding}");
}

#[test]
fn an_upgraded_cluster_stops_binding_the_node_role_to_every_node() {
    // Earlier rkube versions bound system:node to the whole group.
    let server = Server::start();
    let k = server.kubectl();
    let old_subject = r#"[{"op":"add","path":"/subjects","value":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"system:nodes"},{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"kept"}]}]"#;
    k.run(&[
        "patch",
        "clusterrolebinding",
        "system:node",
        "--type=json",
        "-p",
        old_subject,
    ])
    .ok();
    let server = Server::start_in(server.stop());
    let k = server.kubectl();
    let subjects = k
        .run(&[
            "get",
            "clusterrolebinding",
            "system:node",
            "-o",
            "jsonpath={.subjects[*].name}",
        ])
        .ok()
        .to_string();
    assert_eq!(subjects, "kept", "only the retired subject goes");
}
