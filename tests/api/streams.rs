//! The streaming subresources' checks that need no node: RBAC (a WebSocket handshake is a
//! GET, yet exec needs `create` on pods/exec) and a pod that has no node yet.

use crate::support::{eventually, namespace, shared};

#[test]
fn exec_needs_create_on_pods_exec_and_a_node() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "execauth");
    let n = ns.as_str();
    // No node on this server: the pod stays unscheduled.
    k.run(&[
        "-n",
        n,
        "run",
        "idle",
        "--image=busybox",
        "--",
        "sleep",
        "1d",
    ])
    .ok();
    k.run(&["-n", n, "create", "serviceaccount", "dev"]).ok();
    k.run(&[
        "-n",
        n,
        "create",
        "role",
        "peek",
        "--verb=get,list",
        "--resource=pods,pods/exec",
    ])
    .ok();
    k.run(&[
        "-n",
        n,
        "create",
        "rolebinding",
        "dev-peek",
        "--role=peek",
        &format!("--serviceaccount={n}:dev"),
    ])
    .ok();
    let token = k
        .run(&["-n", n, "create", "token", "dev"])
        .ok()
        .trim()
        .to_string();
    let dev = s.kubectl_as(Some(&token));
    let user = format!("system:serviceaccount:{n}:dev");
    let denied = eventually("the binding to take effect", 10, || {
        let r = dev.run(&["-n", n, "exec", "idle", "--", "true"]);
        r.stderr.contains("forbidden").then_some(r)
    });
    assert_ne!(denied.code, 0);
    assert!(
        denied.stderr.contains(&format!(
            "User \"{user}\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"{n}\""
        )),
        "{}",
        denied.stderr
    );

    // With `create` the request gets through to the pod, which has no node to run on.
    k.run(&[
        "-n",
        n,
        "create",
        "role",
        "shell",
        "--verb=create",
        "--resource=pods/exec",
    ])
    .ok();
    k.run(&[
        "-n",
        n,
        "create",
        "rolebinding",
        "dev-shell",
        "--role=shell",
        &format!("--serviceaccount={n}:dev"),
    ])
    .ok();
    let r = eventually("the second binding to take effect", 10, || {
        let r = dev.run(&["-n", n, "exec", "idle", "--", "true"]);
        (!r.stderr.contains("forbidden")).then_some(r)
    });
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("pod idle does not have a host assigned"),
        "{}",
        r.stderr
    );
}
