//! Errors print exactly as on a real cluster.

use crate::support::{namespace, shared, write_file};

#[test]
fn not_found_and_already_exists() {
    let k = shared().kubectl();
    let ns = namespace(&k, "errs");
    let n = ns.as_str();
    assert_eq!(
        k.run(&["-n", n, "get", "deployment", "nope"]).fails(),
        "Error from server (NotFound): deployments.apps \"nope\" not found\n"
    );
    assert_eq!(
        k.run(&["get", "namespace", "missing-ns"]).fails(),
        "Error from server (NotFound): namespaces \"missing-ns\" not found\n"
    );
    k.run(&["-n", n, "create", "configmap", "dup"]).ok();
    assert_eq!(
        k.run(&["-n", n, "create", "configmap", "dup"]).fails(),
        "error: failed to create configmap: configmaps \"dup\" already exists\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "dup.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n",
    );
    let f = f.to_str().unwrap();
    assert_eq!(
        k.run(&["-n", n, "create", "-f", f]).fails(),
        format!("Error from server (AlreadyExists): error when creating \"{f}\": configmaps \"dup\" already exists\n")
    );
    assert_eq!(
        k.run(&["-n", "no-such-namespace", "create", "configmap", "x"])
            .fails(),
        "error: failed to create configmap: namespaces \"no-such-namespace\" not found\n"
    );
}

#[test]
fn invalid_names_the_field() {
    let k = shared().kubectl();
    let ns = namespace(&k, "invalid");
    let n = ns.as_str();
    assert_eq!(
        k.run(&["-n", n, "create", "deployment", "bad", "--image=nginx", "--replicas=-1"]).fails(),
        "error: failed to create deployment: Deployment.apps \"bad\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "bad.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: -1\n  selector:\n    matchLabels:\n      app: x\n  template:\n    metadata:\n      labels:\n        app: other\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
    );
    let err = k
        .run(&["-n", n, "create", "-f", f.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(
        err.starts_with("The Deployment \"bad\" is invalid: \n"),
        "{err}"
    );
    assert!(
        err.contains("* spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        "{err}"
    );
    assert!(err.contains("* spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"), "{err}");
    assert_eq!(
        k.run(&["create", "namespace", "Bad_Name"]).fails(),
        "The Namespace \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n"
    );
}

#[test]
fn strict_decoding_rejects_unknown_fields() {
    let k = shared().kubectl();
    let ns = namespace(&k, "strict");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "unknown.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: u\ndata:\n  a: b\nspecc:\n  x: 1\n",
    );
    let f = f.to_str().unwrap();
    assert_eq!(
        k.run(&["-n", n, "create", "-f", f]).fails(),
        format!("Error from server (BadRequest): error when creating \"{f}\": ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"specc\"\n")
    );
    // With validation relaxed the field is dropped with a warning.
    let out = k.run(&["-n", n, "create", "-f", f, "--validate=warn"]);
    assert_eq!(out.ok(), "configmap/u created\n");
    assert!(
        out.stderr.contains("Warning: unknown field \"specc\""),
        "{}",
        out.stderr
    );
    assert!(!k
        .run(&["-n", n, "get", "cm", "u", "-o", "json"])
        .ok()
        .contains("specc"));
}

#[test]
fn stale_resource_version_conflicts() {
    let k = shared().kubectl();
    let ns = namespace(&k, "conflict");
    let n = ns.as_str();
    k.run(&["-n", n, "create", "configmap", "c", "--from-literal=a=1"])
        .ok();
    let stale = k
        .run(&["-n", n, "get", "cm", "c", "-o", "yaml"])
        .ok()
        .to_string();
    k.run(&[
        "-n",
        n,
        "patch",
        "cm",
        "c",
        "--type=merge",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ])
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "stale.yaml",
        &stale.replace("a: \"1\"", "a: \"3\""),
    );
    let f = f.to_str().unwrap();
    assert_eq!(
        k.run(&["-n", n, "replace", "-f", f]).fails(),
        format!("Error from server (Conflict): error when replacing \"{f}\": Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again\n")
    );
}

#[test]
fn no_credentials_is_unauthorized() {
    let s = shared();
    let out = std::process::Command::new(crate::support::kubectl_bin())
        .args([
            "--server",
            &s.url,
            "--insecure-skip-tls-verify",
            "--token",
            "not-a-valid-token",
            "get",
            "pods",
        ])
        .stdin(std::process::Stdio::null())
        .env_remove("KUBECONFIG")
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""),
        // kubectl's discovery client words a 401 this way (same answer from kube-apiserver).
        "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
    );
}

#[test]
fn bad_input_gets_status_errors_and_never_crashes() {
    let k = shared().kubectl();
    let ns = namespace(&k, "garbage");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let path = format!("/api/v1/namespaces/{n}/configmaps");
    let garbage = write_file(dir.path(), "garbage.json", "{not json at all");
    let out = k.run(&["create", "--raw", &path, "-f", garbage.to_str().unwrap()]);
    assert!(
        out.fails().contains("Error from server (BadRequest)"),
        "{}",
        out.stderr
    );
    let not_object = write_file(dir.path(), "array.json", "[1, 2, 3]");
    let out = k.run(&["create", "--raw", &path, "-f", not_object.to_str().unwrap()]);
    assert!(
        out.fails().contains("Error from server (BadRequest)"),
        "{}",
        out.stderr
    );
    let big = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{}\"}}}}",
        "x".repeat(4 * 1024 * 1024)
    );
    let big = write_file(dir.path(), "big.json", &big);
    let out = k.run(&["create", "--raw", &path, "-f", big.to_str().unwrap()]);
    assert!(
        out.fails()
            .contains("Error from server (RequestEntityTooLarge)"),
        "{}",
        out.stderr
    );
    for (raw, want) in [
        (format!("{path}?limit=abc"), "(BadRequest)"),
        (format!("{path}?labelSelector=a%20in%20(b"), "(BadRequest)"),
        (
            format!("{path}?fieldSelector=spec.nope%3Dx"),
            "(BadRequest)",
        ),
        ("/api/v1/nonexistent".to_string(), "(NotFound)"),
        ("/apis/nope.example.com/v1/things".to_string(), "(NotFound)"),
        (
            format!("{path}?watch=true&sendInitialEvents=true"),
            "is invalid",
        ),
    ] {
        let out = k.run(&["get", "--raw", &raw]);
        assert!(out.fails().contains(want), "{raw}: {}", out.stderr);
    }
    // Still serving.
    k.run(&["get", "namespaces"]).ok();
}

#[test]
fn wrong_types_are_reported_like_go() {
    let k = shared().kubectl();
    let ns = namespace(&k, "types");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "typed.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: typed\nspec:\n  replicas: three\n  selector:\n    matchLabels:\n      app: t\n  template:\n    metadata:\n      labels:\n        app: t\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
    );
    let f = f.to_str().unwrap();
    assert_eq!(
        k.run(&["-n", n, "create", "-f", f]).fails(),
        format!("Error from server (BadRequest): error when creating \"{f}\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32\n")
    );
}

/// Methods with no route at a path get 405 like kube-apiserver's router, before any handler
/// runs: found by scripts/schemathesis, where DELETE /api/v1/namespaces deleted every
/// namespace it could and PUT on a collection answered 404 for an object named "".
#[test]
fn methods_without_a_route_are_405() {
    let k = shared().kubectl();
    let ns = namespace(&k, "noroute");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let body = write_file(
        dir.path(),
        "cm.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}",
    );
    let body = body.to_str().unwrap();
    let not_allowed = "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource\n";
    assert_eq!(
        k.run(&["delete", "--raw", "/api/v1/namespaces"]).fails(),
        not_allowed
    );
    assert_eq!(
        k.run(&[
            "replace",
            "--raw",
            &format!("/api/v1/namespaces/{n}/configmaps"),
            "-f",
            body
        ])
        .fails(),
        not_allowed
    );
    assert_eq!(
        k.run(&[
            "create",
            "--raw",
            &format!("/api/v1/namespaces/{n}/configmaps/x"),
            "-f",
            body
        ])
        .fails(),
        not_allowed
    );
    // The namespace survived, and discovery no longer offers the verb.
    k.run(&["get", "namespace", n]).ok();
    let discovery = k.run(&["get", "--raw", "/api/v1"]).ok().to_string();
    let v: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    let verbs = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .map(|r| r["verbs"].clone())
        .unwrap();
    assert!(
        !verbs
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "deletecollection"),
        "{verbs}"
    );
}

/// A refused request's body is read before the 405, 403 or 401 goes out, so the client can
/// reuse the connection: found by scripts/schemathesis, whose next request on it saw "Remote end closed
/// connection without response" now and then.
#[test]
fn refused_requests_keep_the_connection() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "keepalive");
    let out = std::process::Command::new(crate::support::python_bin())
        .arg(crate::support::root().join("tests/api/keep_alive.py"))
        .arg(&s.kubeconfig)
        .arg(format!("/api/v1/namespaces/{ns}/configmaps"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "keep_alive.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "405 200\n403 200\n401 200\n"
    );
}
