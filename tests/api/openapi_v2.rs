//! `kind: List` manifests (what `kubectl get -o yaml` prints for several objects), which
//! kubectl validates client-side against `/openapi/v2`; and that document itself, in JSON
//! and in the gnostic protobuf client-go decodes.

use prost_reflect::{DynamicMessage, ReflectMessage, Value as PValue};
use serde_json::Value;

use crate::support::{eventually, namespace, shared, write_file, Server};

const LIST: &str = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
  data:
    mode: fast
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    labels: {app: web}
  spec:
    replicas: 1
    selector:
      matchLabels: {app: web}
    template:
      metadata:
        labels: {app: web}
      spec:
        containers:
        - name: web
          image: nginx
          ports: [{containerPort: 80}]
          resources: {limits: {cpu: 1, memory: 64Mi}}
- apiVersion: v1
  kind: Service
  metadata:
    name: web
  spec:
    selector: {app: web}
    ports: [{port: 80, targetPort: 80}]
"#;

#[test]
fn apply_of_a_list_creates_every_item() {
    let k = shared().kubectl();
    let ns = namespace(&k, "list-apply");
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "list.yaml", LIST);
    let out = k
        .run(&["-n", &ns, "apply", "-f", file.to_str().unwrap()])
        .ok()
        .to_string();
    assert_eq!(
        out,
        "configmap/settings created\ndeployment.apps/web created\nservice/web created\n"
    );
    k.run(&[
        "-n",
        &ns,
        "get",
        "configmap/settings",
        "deployment/web",
        "service/web",
    ])
    .ok();
    // Applying the same List again patches nothing it does not have to.
    let again = k
        .run(&["-n", &ns, "apply", "-f", file.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(again.contains("configmap/settings unchanged"), "{again}");
    assert!(again.contains("service/web unchanged"), "{again}");
}

#[test]
fn create_of_a_list_creates_every_item() {
    let k = shared().kubectl();
    let ns = namespace(&k, "list-create");
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "list.yaml", LIST);
    let out = k
        .run(&["-n", &ns, "create", "-f", file.to_str().unwrap()])
        .ok()
        .to_string();
    assert_eq!(
        out,
        "configmap/settings created\ndeployment.apps/web created\nservice/web created\n"
    );
    // What `get -o yaml` prints for several objects is itself a List kubectl takes back.
    let dumped = k
        .run(&[
            "-n",
            &ns,
            "get",
            "configmap/settings",
            "service/web",
            "-o",
            "yaml",
        ])
        .ok()
        .to_string();
    assert!(dumped.starts_with("apiVersion: v1\nitems:"), "{dumped}");
    assert!(dumped.contains("kind: List"), "{dumped}");
    let dump = write_file(dir.path(), "dump.yaml", &dumped);
    let out = k
        .run(&["-n", &ns, "apply", "-f", dump.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(out.contains("configmap/settings"), "{out}");
    assert!(out.contains("service/web"), "{out}");
}

#[test]
fn unknown_field_in_a_list_item_fails_client_side_validation() {
    let k = shared().kubectl();
    let ns = namespace(&k, "list-invalid");
    let dir = tempfile::tempdir().unwrap();
    let bad = LIST.replace("    replicas: 1\n", "    replicas: 1\n    foo: bar\n");
    let file = write_file(dir.path(), "list.yaml", &bad);
    let err = k
        .run(&["-n", &ns, "apply", "-f", file.to_str().unwrap()])
        .fails()
        .to_string();
    // kube-openapi's wording, as kubectl prints it against kube-apiserver.
    assert_eq!(
        err.trim_end(),
        format!(
            "error: error validating \"{}\": error validating data: ValidationError(Deployment.spec): \
             unknown field \"foo\" in io.k8s.api.apps.v1.DeploymentSpec; if you choose to ignore \
             these errors, turn validation off with --validate=false",
            file.display()
        )
    );
    // Any authenticated user may read the document (system:discovery), so a service
    // account without any other rights gets the same answer.
    let token = k
        .run(&["-n", &ns, "create", "token", "default"])
        .ok()
        .trim()
        .to_string();
    let sa = shared().kubectl_as(Some(&token));
    let err = sa
        .run(&["-n", &ns, "apply", "-f", file.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(
        err.contains("ValidationError(Deployment.spec): unknown field \"foo\""),
        "{err}"
    );
    // Validation runs before any request: nothing of the List was created.
    let none = k.run(&["-n", &ns, "get", "configmap", "settings"]);
    assert!(none.fails().contains("NotFound"), "{}", none.stderr);
    // A type mismatch is caught the same way.
    let typo = LIST.replace("replicas: 1", "replicas: [1]");
    let file2 = write_file(dir.path(), "typo.yaml", &typo);
    let err = k
        .run(&["-n", &ns, "create", "-f", file2.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(
        err.contains(
            "ValidationError(Deployment.spec.replicas): invalid type for \
             io.k8s.api.apps.v1.DeploymentSpec.replicas: got \"array\", expected \"integer\""
        ),
        "{err}"
    );
    // Without validation the server drops the unknown field and takes the rest.
    let out = k
        .run(&[
            "-n",
            &ns,
            "apply",
            "--validate=false",
            "-f",
            file.to_str().unwrap(),
        ])
        .ok()
        .to_string();
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let spec = k
        .run(&["-n", &ns, "get", "deployment/web", "-o", "jsonpath={.spec}"])
        .ok()
        .to_string();
    assert!(!spec.contains("foo"), "{spec}");
}

#[test]
fn custom_resources_in_a_list_are_validated_by_their_schema() {
    let k = shared().kubectl();
    let ns = namespace(&k, "list-crd");
    let dir = tempfile::tempdir().unwrap();
    let crd = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.listv2.example.com
spec:
  group: listv2.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
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
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
              port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
              note: {type: string, nullable: true}
"#;
    let crd_file = write_file(dir.path(), "crd.yaml", crd);
    k.run(&["apply", "-f", crd_file.to_str().unwrap()]).ok();
    eventually("gadgets served", 20, || {
        (k.run(&["-n", &ns, "get", "gadgets"]).code == 0).then_some(())
    });
    let list = |spec: &str| {
        format!(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: listv2.example.com/v1\n  kind: Gadget\n  \
             metadata: {{name: g1}}\n  spec: {spec}\n"
        )
    };
    let bad = write_file(dir.path(), "bad.yaml", &list("{size: 1, colour: red}"));
    let err = eventually("the v2 document knows Gadget", 20, || {
        let r = k.run(&["-n", &ns, "apply", "-f", bad.to_str().unwrap()]);
        (r.code != 0 && r.stderr.contains("ValidationError")).then_some(r.stderr)
    });
    assert!(
        err.contains(
            "ValidationError(Gadget.spec): unknown field \"colour\" in com.example.listv2.v1.Gadget.spec"
        ),
        "{err}"
    );
    // Opaque, int-or-string and nullable fields take what their v3 schema allows.
    let good = write_file(
        dir.path(),
        "good.yaml",
        &list("{size: 1, extra: {any: [thing]}, port: http, note: null}"),
    );
    let out = k
        .run(&["-n", &ns, "apply", "-f", good.to_str().unwrap()])
        .ok()
        .to_string();
    assert_eq!(out, "gadget.listv2.example.com/g1 created\n");
    k.run(&["delete", "crd", "gadgets.listv2.example.com"]).ok();
}

#[tokio::test]
async fn openapi_v2_json_has_definitions_and_operations() {
    // kube-rs rather than `kubectl get --raw`: the megabyte would fill the test's pipe.
    let client = crate::support::kube_client(&shared().kubeconfig).await;
    let req = http::Request::get("/openapi/v2")
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    let doc: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(doc["swagger"], "2.0");
    let pod = &doc["definitions"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "", "version": "v1", "kind": "Pod"}])
    );
    assert_eq!(
        pod["properties"]["spec"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.PodSpec"
    );
    let containers = &doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "Deployment"
    );
    assert!(patch["consumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "application/strategic-merge-patch+json"));
    assert!(patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
    // Every reference resolves (kubectl refuses the whole document otherwise).
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("non-definition reference {r}"));
        assert!(doc["definitions"].get(name).is_some(), "unresolved {r}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r.to_string());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn field<'a>(m: &'a DynamicMessage, name: &str) -> std::borrow::Cow<'a, PValue> {
    m.get_field_by_name(name)
        .unwrap_or_else(|| panic!("{} has no {name}", m.descriptor().full_name()))
}

/// The `(name, value)` pairs of a gnostic map message.
fn pairs(m: &DynamicMessage, list: &str) -> Vec<(String, DynamicMessage)> {
    field(m, list)
        .as_list()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_message().unwrap();
            let name = field(p, "name").as_str().unwrap().to_string();
            let value = field(p, "value").as_message().unwrap().clone();
            (name, value)
        })
        .collect()
}

#[tokio::test]
async fn openapi_v2_protobuf_decodes_and_honours_etags() {
    // A server of its own: other tests' CRDs would change the document between requests.
    let server = Server::start();
    let client = crate::support::kube_client(&server.kubeconfig).await;
    let get = |accept: &str, etag: Option<&str>| {
        let mut req = http::Request::get("/openapi/v2").header("Accept", accept);
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        req.body(kube::client::Body::empty()).unwrap()
    };
    // The Accept header client-go's discovery client sends (OpenAPISchema()).
    let resp = client
        .send(get(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    let desc = rkube::apiserver::openapi::gnostic::pool()
        .unwrap()
        .get_message_by_name("openapi.v2.Document")
        .unwrap();
    let doc = DynamicMessage::decode(desc, bytes.as_ref()).expect("gnostic Document");
    assert_eq!(field(&doc, "swagger").as_str(), Some("2.0"));
    let defs = pairs(
        field(&doc, "definitions").as_message().unwrap(),
        "additional_properties",
    );
    let (_, pod) = defs
        .iter()
        .find(|(n, _)| n == "io.k8s.api.core.v1.Pod")
        .expect("Pod definition");
    let ext = field(pod, "vendor_extension");
    let gvk = ext
        .as_list()
        .unwrap()
        .iter()
        .map(|e| e.as_message().unwrap())
        .find(|e| field(e, "name").as_str() == Some("x-kubernetes-group-version-kind"))
        .expect("GVK extension");
    let any = field(gvk, "value");
    let yaml = field(any.as_message().unwrap(), "yaml");
    let gvk: serde_yaml::Value = serde_yaml::from_str(yaml.as_str().unwrap()).unwrap();
    assert_eq!(gvk[0]["group"].as_str(), Some(""));
    assert_eq!(gvk[0]["version"].as_str(), Some("v1"));
    assert_eq!(gvk[0]["kind"].as_str(), Some("Pod"));
    // The same document as the JSON, with the same entity tag.
    let resp = client.send(get("application/json", None)).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    let json: Value =
        serde_json::from_slice(&resp.into_body().collect_bytes().await.unwrap()).unwrap();
    assert_eq!(
        json["definitions"].as_object().unwrap().len(),
        defs.len(),
        "definitions in JSON and protobuf"
    );
    // A client holding that version is told so.
    let resp = client
        .send(get(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
            Some(&etag),
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
}

#[test]
fn explain_reads_the_v2_document_when_asked() {
    let k = shared().kubectl();
    let out = k
        .run(&[
            "explain",
            "deployment.spec.strategy",
            "--output=plaintext-openapiv2",
        ])
        .ok()
        .to_string();
    assert!(
        out.starts_with("KIND:     Deployment\nVERSION:  apps/v1\n"),
        "{out}"
    );
    assert!(out.contains("RESOURCE: strategy <Object>"), "{out}");
    assert!(out.contains("   rollingUpdate\t<Object>"), "{out}");
    assert!(out.contains("   type\t<string>"), "{out}");
}

#[test]
fn edit_of_several_objects_validates_the_list_it_opens() {
    use std::os::unix::fs::PermissionsExt;
    let k = shared().kubectl();
    let ns = namespace(&k, "list-edit");
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        k.run(&[
            "-n",
            &ns,
            "create",
            "configmap",
            name,
            "--from-literal=mode=fast",
        ])
        .ok();
    }
    // The editor kubectl opens holds a List of both objects.
    let editor = |name: &str, script: &str| {
        let p = write_file(dir.path(), name, script);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = editor(
        "good.sh",
        "#!/bin/sh\ngrep -q '^kind: List' \"$1\" || exit 1\nsed -i 's/mode: fast/mode: slow/' \"$1\"\n",
    );
    let out = k
        .clone()
        .env("KUBE_EDITOR", &good)
        .run(&["-n", &ns, "edit", "configmap", "a", "b"])
        .ok()
        .to_string();
    assert_eq!(out, "configmap/a edited\nconfigmap/b edited\n");
    let modes = k
        .run(&[
            "-n",
            &ns,
            "get",
            "configmap",
            "a",
            "b",
            "-o",
            "jsonpath={.items[*].data.mode}",
        ])
        .ok()
        .to_string();
    assert_eq!(modes, "slow slow");
    // An unknown field is caught on the client, before anything is saved.
    let bad = editor(
        "bad.sh",
        "#!/bin/sh\nsed -i 's/mode: slow/mode: fast/; s/^  kind: ConfigMap/  kind: ConfigMap\\n  colour: red/' \"$1\"\n",
    );
    let r = k
        .clone()
        .env("KUBE_EDITOR", &bad)
        .run(&["-n", &ns, "edit", "configmap", "a", "b"]);
    let err = r.fails();
    assert!(
        err.contains("Edit cancelled, no valid changes were saved."),
        "{err}"
    );
    // kubectl keeps the attempt with the validation error as comments on top.
    let copy = err
        .split("A copy of your changes has been stored to \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no copy in {err}"));
    let kept = std::fs::read_to_string(copy).unwrap();
    let _ = std::fs::remove_file(copy);
    assert!(
        kept.contains(
            "ValidationError(ConfigMap): unknown field \"colour\" in io.k8s.api.core.v1.ConfigMap"
        ),
        "{kept}"
    );
    let modes = k
        .run(&[
            "-n",
            &ns,
            "get",
            "configmap",
            "a",
            "b",
            "-o",
            "jsonpath={.items[*].data.mode}",
        ])
        .ok()
        .to_string();
    assert_eq!(modes, "slow slow");
}
