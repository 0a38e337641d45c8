//! Compiles the Kubernetes protobuf schemas (shipped in the k8s-rs-pb package) into a
//! descriptor set, so the API server can decode `application/vnd.kubernetes.protobuf`
//! request bodies by reflection; reads the OpenAPI extensions (patch strategies, merge
//! keys, list and map types, defaults) off the `+` markers their comments carry; and
//! compiles gnostic's OpenAPI v2 schema (vendored under proto/), so the server can encode
//! `/openapi/v2` as the protobuf client-go asks for.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;

/// The packages whose objects clients send as protobuf.
const PROTOS: &[&str] = &[
    "api/core/v1/generated.proto",
    "api/apps/v1/generated.proto",
    "api/batch/v1/generated.proto",
    "api/autoscaling/v1/generated.proto",
    "api/autoscaling/v2/generated.proto",
    "api/networking/v1/generated.proto",
    "api/storage/v1/generated.proto",
    "api/rbac/v1/generated.proto",
    "api/coordination/v1/generated.proto",
    "api/discovery/v1/generated.proto",
    "api/events/v1/generated.proto",
    "api/policy/v1/generated.proto",
    "api/scheduling/v1/generated.proto",
    "api/authentication/v1/generated.proto",
    "api/authorization/v1/generated.proto",
    "apiextensions_apiserver/pkg/apis/apiextensions/v1/generated.proto",
    "apimachinery/pkg/apis/meta/v1/generated.proto",
    "apimachinery/pkg/runtime/generated.proto",
];

/// Where cargo unpacked the k8s-rs-pb package.
fn package_dir() -> PathBuf {
    // Offline first: cargo has already fetched what the build needs. Metadata also wants
    // dev- and build-only packages a plain `cargo build` never downloaded, so on a fresh
    // machine it may have to fetch them.
    let meta = cargo_metadata(true)
        .or_else(|offline| cargo_metadata(false).map_err(|online| format!("{offline}\n{online}")));
    let meta = meta.unwrap_or_else(|e| panic!("cargo metadata failed: {e}"));
    let manifest = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "k8s-rs-pb"))
        .and_then(|p| p["manifest_path"].as_str())
        .expect("k8s-rs-pb in cargo metadata");
    Path::new(manifest)
        .parent()
        .expect("package dir")
        .to_path_buf()
}

/// `cargo metadata` filtered to the target being built, so other platforms' dependencies
/// are not needed.
fn cargo_metadata(offline: bool) -> Result<serde_json::Value, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(std::env::var("TARGET").expect("TARGET"))
        .current_dir(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    if offline {
        cmd.arg("--offline");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata JSON: {e}"))
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = package_dir().join("src/v1_33");
    let fds = protox::compile(PROTOS, [&root])
        .unwrap_or_else(|e| panic!("compiling Kubernetes protos in {}: {e}", root.display()));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let markers = serde_json::to_vec(&openapi_extensions(&fds)).expect("markers JSON");
    std::fs::write(out_dir.join("openapi_extensions.json"), markers)
        .expect("writing OpenAPI extensions");
    // Comments are only for the extensions: the descriptor set the binary carries has none.
    let mut fds = fds;
    for file in &mut fds.file {
        file.source_code_info = None;
    }
    std::fs::write(out_dir.join("kubernetes.fds"), fds.encode_to_vec())
        .expect("writing descriptor set");

    println!("cargo:rerun-if-changed=proto/gnostic");
    let gnostic = protox::compile(["openapiv2/OpenAPIv2.proto"], ["proto/gnostic"])
        .unwrap_or_else(|e| panic!("compiling proto/gnostic/openapiv2/OpenAPIv2.proto: {e}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapiv2.fds");
    std::fs::write(&out, gnostic.encode_to_vec()).expect("writing gnostic descriptor set");
}

/// The OpenAPI definition prefix of a protobuf package (`api.core.v1` → `io.k8s.api.core.v1`).
fn definition_prefix(package: &str) -> Option<String> {
    if let Some(rest) = package.strip_prefix("apiextensions_apiserver.") {
        return Some(format!("io.k8s.apiextensions-apiserver.{rest}"));
    }
    (package.starts_with("api.") || package.starts_with("apimachinery.pkg.apis."))
        .then(|| format!("io.k8s.{package}"))
}

/// The OpenAPI extensions kube-openapi derives from the `+` markers of k8s.io/api's Go
/// types, read off the comments go-to-protobuf copied into the protos: definition →
/// {"": the type's own, field: the field's}.
fn openapi_extensions(fds: &prost_types::FileDescriptorSet) -> serde_json::Value {
    use serde_json::{Map, Value};
    let mut out = Map::new();
    for file in &fds.file {
        let Some(prefix) = definition_prefix(file.package()) else {
            continue;
        };
        let comments: std::collections::HashMap<&[i32], &str> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .filter_map(|l| Some((l.path.as_slice(), l.leading_comments.as_deref()?)))
            .collect();
        // Source paths: 4 = message_type, 2 = field (descriptor.proto's field numbers).
        for (m, message) in file.message_type.iter().enumerate() {
            let mut entry = Map::new();
            let own = comments
                .get([4, m as i32].as_slice())
                .map(|c| marker_extensions(c))
                .unwrap_or_default();
            if !own.is_empty() {
                entry.insert(String::new(), Value::Object(own));
            }
            for (f, field) in message.field.iter().enumerate() {
                let ext = comments
                    .get([4, m as i32, 2, f as i32].as_slice())
                    .map(|c| marker_extensions(c))
                    .unwrap_or_default();
                if !ext.is_empty() {
                    entry.insert(field.name().to_string(), Value::Object(ext));
                }
            }
            if !entry.is_empty() {
                out.insert(format!("{prefix}.{}", message.name()), Value::Object(entry));
            }
        }
    }
    Value::Object(out)
}

/// The extensions one comment's markers give.
fn marker_extensions(comment: &str) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut ext = serde_json::Map::new();
    for line in comment.lines() {
        let Some((name, value)) = line
            .trim()
            .strip_prefix('+')
            .and_then(|m| m.split_once('='))
        else {
            continue;
        };
        let value = value.trim();
        let key = match name {
            "patchStrategy" => "x-kubernetes-patch-strategy",
            "patchMergeKey" => "x-kubernetes-patch-merge-key",
            "listType" => "x-kubernetes-list-type",
            "mapType" | "structType" => "x-kubernetes-map-type",
            "listMapKey" => {
                let keys = ext
                    .entry("x-kubernetes-list-map-keys")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(keys) = keys {
                    keys.push(Value::String(value.to_string()));
                }
                continue;
            }
            // `+default=` holds JSON; `+default=ref(...)` names a Go constant and is skipped,
            // as it is for any value that does not parse.
            "default" => {
                if let Ok(v) = serde_json::from_str::<Value>(value) {
                    ext.insert("default".into(), v);
                }
                continue;
            }
            _ => continue,
        };
        ext.insert(key.into(), Value::String(value.to_string()));
    }
    ext
}
