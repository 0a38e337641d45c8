//! Compiles the Kubernetes protobuf schemas (shipped in the k8s-rs-pb package) into a
//! descriptor set, so the API server can decode `application/vnd.kubernetes.protobuf`
//! request bodies by reflection; and gnostic's OpenAPI v2 schema (vendored under proto/),
//! so it can encode `/openapi/v2` as the protobuf client-go asks for.

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
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("kubernetes.fds");
    std::fs::write(&out, fds.encode_to_vec()).expect("writing descriptor set");

    println!("cargo:rerun-if-changed=proto/gnostic");
    let gnostic = protox::compile(["openapiv2/OpenAPIv2.proto"], ["proto/gnostic"])
        .unwrap_or_else(|e| panic!("compiling proto/gnostic/openapiv2/OpenAPIv2.proto: {e}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapiv2.fds");
    std::fs::write(&out, gnostic.encode_to_vec()).expect("writing gnostic descriptor set");
}
