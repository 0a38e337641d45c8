//! CustomResourceDefinitions as an operator's install YAML uses them: served at once,
//! printed with their columns, validated and pruned by their schema, explained, scaled,
//! and deleted together with their objects.

use crate::support::{eventually, namespace, shared, write_file, Kubectl};

/// A CRD in the style of the Kubernetes docs' CronTab (as projects ship in install YAML).
const CRONTAB_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [example]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    additionalPrinterColumns:
    - name: Spec
      type: string
      description: The cron spec defining the interval a CronJob is run
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      description: The number of jobs launched by the CronJob
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs an image on a schedule.
        properties:
          spec:
            type: object
            description: What to run and when.
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                description: The schedule in cron format.
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
          status:
            type: object
            properties:
              replicas:
                type: integer
              labelSelector:
                type: string
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

fn apply(
    k: &Kubectl,
    dir: &std::path::Path,
    name: &str,
    yaml: &str,
    extra: &[&str],
) -> crate::support::Run {
    let f = write_file(dir, name, yaml);
    let mut args = vec!["apply", "-f", f.to_str().unwrap()];
    args.extend_from_slice(extra);
    k.run(&args)
}

#[test]
fn crontab_crd_is_served_validated_printed_and_deleted() {
    let k = shared().kubectl();
    let ns = namespace(&k, "crd");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    apply(&k, dir.path(), "crd.yaml", CRONTAB_CRD, &[]).ok();
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
        "--timeout=20s",
    ])
    .ok();
    let crd = k
        .run(&["get", "crd", "crontabs.stable.example.com", "-o", "json"])
        .ok()
        .to_string();
    let crd: serde_json::Value = serde_json::from_str(&crd).unwrap();
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "CronTab");
    assert_eq!(crd["status"]["storedVersions"], serde_json::json!(["v1"]));
    let conds = crd["status"]["conditions"].to_string();
    assert!(
        conds.contains("NamesAccepted") && conds.contains("Established"),
        "{conds}"
    );

    let resources = eventually("discovery", 15, || {
        let r = k.run(&["api-resources", "--api-group=stable.example.com"]);
        r.stdout.contains("crontabs").then_some(r.stdout)
    });
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]),
        "{resources}"
    );

    let good = format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: my-cron\n  namespace: {n}\nspec:\n  cronSpec: \"* * * * */5\"\n  image: my-awesome-cron-image\n"
    );
    apply(&k, dir.path(), "ct.yaml", &good, &[]).ok();
    let table = k.run(&["-n", n, "get", "crontabs"]).ok().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SPEC", "REPLICAS", "AGE"],
        "{table}"
    );
    assert!(lines[1].starts_with("my-cron"), "{table}");
    assert!(lines[1].contains("* * * * */5"), "{table}");
    // The schema default filled replicas.
    assert_eq!(lines[1].split_whitespace().nth(6), Some("1"), "{table}");
    k.run(&["-n", n, "get", "ct", "my-cron"]).ok();
    // A changed manifest applies as a merge patch: custom resources take no strategic
    // merge patch, and their OpenAPI documents (v3 and v2) say so.
    let changed = good.replace("my-awesome-cron-image", "my-better-cron-image");
    let out = apply(&k, dir.path(), "ct.yaml", &changed, &[])
        .ok()
        .to_string();
    assert_eq!(out, "crontab.stable.example.com/my-cron configured\n");
    let image = k
        .run(&[
            "-n",
            n,
            "get",
            "ct",
            "my-cron",
            "-o",
            "jsonpath={.spec.image}",
        ])
        .ok()
        .to_string();
    assert_eq!(image, "my-better-cron-image");
    apply(&k, dir.path(), "ct.yaml", &good, &[]).ok();

    // Violations name the field.
    let bad = format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: bad-cron\n  namespace: {n}\nspec:\n  cronSpec: \"every minute\"\n  replicas: 20\n"
    );
    let r = apply(&k, dir.path(), "bad.yaml", &bad, &[]);
    let err = r.fails();
    assert!(err.contains("The CronTab \"bad-cron\" is invalid"), "{err}");
    assert!(
        err.contains(
            "spec.cronSpec: Invalid value: \"every minute\": spec.cronSpec in body should match"
        ),
        "{err}"
    );
    assert!(err.contains("spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10"), "{err}");
    let missing = format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: empty\n  namespace: {n}\nspec:\n  image: x\n"
    );
    let r = apply(&k, dir.path(), "missing.yaml", &missing, &[]);
    assert!(
        r.fails().contains("spec.cronSpec: Required value"),
        "{}",
        r.stderr
    );

    // Unknown fields: strict (kubectl's default) refuses them, otherwise they are pruned.
    let extra = format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: extra\n  namespace: {n}\nspec:\n  cronSpec: \"0 * * * *\"\n  colour: blue\n"
    );
    let r = apply(&k, dir.path(), "extra.yaml", &extra, &[]);
    assert!(
        r.fails().contains("unknown field \"spec.colour\""),
        "{}",
        r.stderr
    );
    apply(&k, dir.path(), "extra.yaml", &extra, &["--validate=false"]).ok();
    let stored = k
        .run(&["-n", n, "get", "ct", "extra", "-o", "jsonpath={.spec}"])
        .ok()
        .to_string();
    assert!(!stored.contains("colour"), "{stored}");
    assert!(stored.contains("cronSpec"), "{stored}");

    // explain reads the schema from OpenAPI.
    let explain = k.run(&["explain", "crontab.spec"]).ok().to_string();
    assert!(explain.contains("KIND:       CronTab"), "{explain}");
    assert!(
        explain.contains("cronSpec\t<string> -required-"),
        "{explain}"
    );
    assert!(
        explain.contains("The schedule in cron format."),
        "{explain}"
    );

    // The scale subresource.
    k.run(&["-n", n, "scale", "crontab/my-cron", "--replicas=3"])
        .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "ct",
            "my-cron",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .ok(),
        "3"
    );
    let scale = k
        .run(&[
            "get",
            "--raw",
            &format!("/apis/stable.example.com/v1/namespaces/{n}/crontabs/my-cron/scale"),
        ])
        .ok()
        .to_string();
    assert!(scale.contains("\"replicas\":3"), "{scale}");

    // Status is its own subresource: a main-resource write cannot set it.
    let with_status = format!("{good}status:\n  replicas: 9\n");
    apply(
        &k,
        dir.path(),
        "ct.yaml",
        &with_status,
        &["--server-side", "--force-conflicts"],
    )
    .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "ct",
            "my-cron",
            "-o",
            "jsonpath={.status.replicas}"
        ])
        .ok(),
        ""
    );

    // The other served version answers too.
    k.run(&[
        "-n",
        n,
        "get",
        "crontabs.v1beta1.stable.example.com",
        "my-cron",
    ])
    .ok();

    // Deleting the CRD deletes its objects and the resource.
    k.run(&[
        "delete",
        "crd",
        "crontabs.stable.example.com",
        "--timeout=30s",
    ])
    .ok();
    // kubectl's discovery cache may still name the resource; the server has let it go.
    let r = k.run(&["-n", n, "get", "crontabs"]);
    let err = r.fails();
    assert!(
        err.contains("the server doesn't have a resource type \"crontabs\"")
            || err.contains("the server could not find the requested resource"),
        "{err}"
    );
    let raw = k.run(&[
        "get",
        "--raw",
        &format!("/apis/stable.example.com/v1/namespaces/{n}/crontabs"),
    ]);
    assert!(raw.fails().contains("NotFound"), "{}", raw.stderr);
    // Recreated, it starts empty.
    apply(&k, dir.path(), "crd.yaml", CRONTAB_CRD, &[]).ok();
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
    ])
    .ok();
    let after = eventually("the recreated resource", 15, || {
        let r = k.run(&["-n", n, "get", "crontabs", "-o", "name"]);
        (r.code == 0).then_some(r.stdout)
    });
    assert_eq!(after.trim(), "", "objects survived their CRD");
    k.run(&["delete", "crd", "crontabs.stable.example.com"])
        .ok();
}

#[test]
fn cluster_scoped_crd_and_invalid_crds() {
    let k = shared().kubectl();
    let dir = tempfile::tempdir().unwrap();
    let crd = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterthings.things.example.org
spec:
  group: things.example.org
  scope: Cluster
  names: {plural: clusterthings, singular: clusterthing, kind: ClusterThing}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
"#;
    apply(&k, dir.path(), "c.yaml", crd, &[]).ok();
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd/clusterthings.things.example.org",
    ])
    .ok();
    let obj = "apiVersion: things.example.org/v1alpha1\nkind: ClusterThing\nmetadata:\n  name: big\nspec:\n  size: 3\n";
    eventually("the cluster-scoped resource", 15, || {
        (apply(&k, dir.path(), "o.yaml", obj, &[]).code == 0).then_some(())
    });
    let table = k.run(&["get", "clusterthings"]).ok().to_string();
    assert_eq!(
        table
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "AGE"]
    );
    assert!(table.contains("big"));
    k.run(&["delete", "crd", "clusterthings.things.example.org"])
        .ok();

    let bad = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: wrong.things.example.org\nspec:\n  group: things.example.org\n  scope: Namespaced\n  names: {plural: gadgets, kind: Gadget}\n  versions:\n  - {name: v1, served: true, storage: false, schema: {openAPIV3Schema: {type: object}}}\n";
    let r = apply(&k, dir.path(), "bad.yaml", bad, &[]);
    let err = r.fails();
    assert!(err.contains("metadata.name: Invalid value: \"wrong.things.example.org\": must be spec.names.plural+\".\"+spec.group"), "{err}");
    assert!(
        err.contains("must have exactly one version marked as storage version"),
        "{err}"
    );
    let _ = namespace;
}

#[test]
fn python_client_uses_custom_objects_and_rbac() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "crd-py");
    let dir = tempfile::tempdir().unwrap();
    // Its own kind and plural: tests share the server, and two `crontabs` would make
    // kubectl's short names ambiguous for the other CRD test.
    let crd = CRONTAB_CRD
        .replace("crontabs.stable.example.com", "pycrontabs.py.example.com")
        .replace("group: stable.example.com", "group: py.example.com")
        .replace("plural: crontabs", "plural: pycrontabs")
        .replace("singular: crontab", "singular: pycrontab")
        .replace("kind: CronTab", "kind: PyCronTab")
        .replace("shortNames: [ct]", "shortNames: [pyct]");
    apply(&k, dir.path(), "crd.yaml", &crd, &[]).ok();
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd/pycrontabs.py.example.com",
    ])
    .ok();
    k.run(&["-n", &ns, "create", "serviceaccount", "reader"])
        .ok();
    k.run(&[
        "-n",
        &ns,
        "create",
        "role",
        "crontab-reader",
        "--verb=get,list",
        "--resource=pycrontabs.py.example.com",
    ])
    .ok();
    k.run(&[
        "-n",
        &ns,
        "create",
        "rolebinding",
        "reader",
        "--role=crontab-reader",
        &format!("--serviceaccount={ns}:reader"),
    ])
    .ok();
    let token = k
        .run(&["-n", &ns, "create", "token", "reader"])
        .ok()
        .trim()
        .to_string();
    // The admin creates at v1beta1; the object is stored at v1 and read at either.
    let script = r#"
import sys, time, kubernetes
from kubernetes import client, config
kubeconfig, ns, token = sys.argv[1], sys.argv[2], sys.argv[3]
admin = config.new_client_from_config(config_file=kubeconfig)
co = client.CustomObjectsApi(admin)
co.create_namespaced_custom_object("py.example.com", "v1beta1", ns, "pycrontabs",
    {"apiVersion": "py.example.com/v1beta1", "kind": "PyCronTab", "metadata": {"name": "nightly"},
     "spec": {"cronSpec": "0 3 * * *"}})
got = co.get_namespaced_custom_object("py.example.com", "v1", ns, "pycrontabs", "nightly")
print("read", got["apiVersion"], got["spec"]["cronSpec"])
conf = client.Configuration()
conf.host = admin.configuration.host
conf.ssl_ca_cert = admin.configuration.ssl_ca_cert
conf.api_key = {"authorization": "Bearer " + token}
reader = client.CustomObjectsApi(client.ApiClient(conf))
items = reader.list_namespaced_custom_object("py.example.com", "v1", ns, "pycrontabs")["items"]
print("listed", [i["metadata"]["name"] for i in items])
try:
    reader.delete_namespaced_custom_object("py.example.com", "v1", ns, "pycrontabs", "nightly")
    print("delete allowed")
except client.exceptions.ApiException as e:
    print("delete", e.status, e.reason)
"#;
    let out = std::process::Command::new(crate::support::python_bin())
        .arg("-c")
        .arg(script)
        .arg(&s.kubeconfig)
        .arg(&ns)
        .arg(&token)
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("read py.example.com/v1 0 3 * * *"),
        "{stdout}"
    );
    assert!(stdout.contains("listed ['nightly']"), "{stdout}");
    assert!(stdout.contains("delete 403 Forbidden"), "{stdout}");
    k.run(&["delete", "crd", "pycrontabs.py.example.com"]).ok();
}

#[test]
fn crds_and_their_objects_survive_a_restart() {
    let server = crate::support::Server::start();
    let k = server.kubectl();
    let dir = tempfile::tempdir().unwrap();
    apply(&k, dir.path(), "crd.yaml", CRONTAB_CRD, &[]).ok();
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
    ])
    .ok();
    let obj = "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: keep\n  namespace: default\nspec:\n  cronSpec: \"0 0 * * *\"\n";
    eventually("the resource", 15, || {
        (apply(&k, dir.path(), "o.yaml", obj, &[]).code == 0).then_some(())
    });
    let data = server.stop();
    let server = crate::support::Server::start_in(data);
    let k = server.kubectl();
    assert_eq!(
        k.run(&["get", "ct", "keep", "-o", "jsonpath={.spec.cronSpec}"])
            .ok(),
        "0 0 * * *"
    );
}
