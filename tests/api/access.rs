//! Who am I and what may I do: `kubectl auth whoami` and `auth can-i`, answered by the
//! server's own authenticator and authorizer; and pod binding.

use crate::support::{namespace, shared, write_file};

#[test]
fn whoami_and_can_i() {
    let k = shared().kubectl();
    let who = k.run(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
    ]);
    assert_eq!(
        who.ok(),
        "rkube-user [\"system:masters\",\"system:authenticated\"]"
    );
    assert_eq!(
        k.run(&["auth", "can-i", "create", "deployments"]).ok(),
        "yes\n"
    );
    assert_eq!(k.run(&["auth", "can-i", "get", "/healthz"]).ok(), "yes\n");
    let list = k.run(&["auth", "can-i", "--list"]).ok().to_string();
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["*.*", "[]", "[]", "[*]"]),
        "{list}"
    );
    // Reviews are answered, never stored.
    let get = k.run(&[
        "get",
        "--raw",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    ]);
    assert!(get.fails().contains("MethodNotAllowed"), "{}", get.stderr);
}

#[test]
fn binding_assigns_a_node_once() {
    let k = shared().kubectl();
    let ns = namespace(&k, "bind");
    let n = ns.as_str();
    k.run(&["-n", n, "run", "p", "--image=nginx"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let b = write_file(
        dir.path(),
        "binding.json",
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"apiVersion":"v1","kind":"Node","name":"node-1"}}"#,
    );
    let path = format!("/api/v1/namespaces/{n}/pods/p/binding");
    k.run(&["create", "--raw", &path, "-f", b.to_str().unwrap()])
        .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "pod",
            "p",
            "-o",
            "jsonpath={.spec.nodeName} {.status.conditions[?(@.type==\"PodScheduled\")].status}"
        ])
        .ok(),
        "node-1 True"
    );
    let again = k.run(&["create", "--raw", &path, "-f", b.to_str().unwrap()]);
    assert!(
        again
            .fails()
            .contains("is already assigned to node \"node-1\""),
        "{}",
        again.stderr
    );
}
