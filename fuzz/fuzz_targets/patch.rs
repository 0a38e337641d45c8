//! Patches as the PATCH handler applies them: JSON patch, merge patch, strategic merge patch
//! and server-side apply, plus the managedFields bookkeeping of a plain update.
//!
//! Input: a mode byte (`j` JSON patch, `m` merge, `s` strategic, `a` apply, `u` update), a
//! kind byte (`P` Pod, `D` Deployment, `C` ConfigMap, `S` Service, `N` Node, `X` a kind
//! without schema), then `original` JSON, a `\n---\n` line and the patch body. Without the
//! separator everything is the patch and the original is a minimal object of the kind.
//! Properties: no panic, within the budget, merge patches idempotent, a manager never
//! conflicts with its own apply.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rkube::apiserver::http::decode_body;
use rkube::apiserver::openapi::{self, Definitions};
use rkube::apiserver::patch::{self, FieldOwner, SchemaRef};
use rkube_fuzz::{assert_within_budget, split_once};
use serde_json::{json, Value};

/// (group, version, kind, apiVersion, reset fields of the main resource).
const KINDS: [(&str, &str, &str, &str, &[&str]); 6] = [
    ("", "v1", "Pod", "v1", &["status"]),
    ("apps", "v1", "Deployment", "apps/v1", &["status"]),
    ("", "v1", "ConfigMap", "v1", &[]),
    ("", "v1", "Service", "v1", &["status"]),
    ("", "v1", "Node", "v1", &["status"]),
    ("example.com", "v1", "Widget", "example.com/v1", &[]),
];

fn kind(pick: u8) -> usize {
    match pick {
        b'P' => 0,
        b'D' => 1,
        b'C' => 2,
        b'S' => 3,
        b'N' => 4,
        b'X' => 5,
        other => usize::from(other) % KINDS.len(),
    }
}

fn schema(group: &str, version: &str, kind: &str) -> SchemaRef<'static> {
    let defs = openapi::definitions();
    match openapi::definition_name(group, version, kind).and_then(|n| defs.schema(n)) {
        Some(root) => SchemaRef::new(defs, root),
        None => SchemaRef::unknown(),
    }
}

fuzz_target!(
    init: {
        // Indexing the OpenAPI schemas takes a while once; not part of any input's budget
        // (each schema is then parsed when a patch first reaches it, in microseconds).
        let _ = openapi::definitions();
    },
    |data: &[u8]| {
        let [mode, pick, rest @ ..] = data else {
            return;
        };
        let (group, version, kind_name, api_version, reset_fields) = KINDS[kind(*pick)];
        let (original, patch_bytes) = match split_once(rest, b"\n---\n") {
            (original, Some(p)) => match serde_json::from_slice::<Value>(original) {
                // Stored objects are always JSON objects.
                Ok(o) if o.is_object() => (o, p),
                _ => return,
            },
            (p, None) => (
                json!({"apiVersion": api_version, "kind": kind_name, "metadata": {"name": "x", "namespace": "default"}}),
                p,
            ),
        };
        let schema = schema(group, version, kind_name);
        let owner = FieldOwner {
            manager: "kubectl",
            api_version,
            subresource: None,
            now: "2026-12-04T00:00:00Z",
            reset_fields,
        };
        let started = Instant::now();
        match mode {
            b'j' | b'm' | b's' => {
                let ct = match mode {
                    b'j' => "application/json-patch+json",
                    b'm' => "application/merge-patch+json",
                    _ => "application/strategic-merge-patch+json",
                };
                let Ok(p) = decode_body(ct, patch_bytes) else {
                    return;
                };
                let patched = match mode {
                    b'j' => patch::json_patch(&original, &p),
                    b'm' => patch::merge_patch(&original, &p),
                    _ => patch::strategic_merge_patch(&original, &p, schema),
                };
                if let (b'm', Ok(once)) = (mode, &patched) {
                    // RFC 7386: applying the same merge patch again changes nothing.
                    let twice = patch::merge_patch(once, &p).expect("second merge patch");
                    assert_eq!(once, &twice, "merge patch is not idempotent");
                }
                if let Ok(p) = patched {
                    assert!(p.is_object(), "a patch produced a non-object: {p}");
                }
            }
            b'a' => {
                let Ok(applied) = decode_body("application/apply-patch+yaml", patch_bytes) else {
                    return;
                };
                // `{}` as the original stands for "no live object": apply creates it.
                let live = original
                    .as_object()
                    .is_some_and(|m| !m.is_empty())
                    .then_some(&original);
                if let Ok(out) = patch::server_side_apply(live, &applied, false, schema, &owner) {
                    // A manager never conflicts with what it applied itself.
                    if let Err(e) =
                        patch::server_side_apply(Some(&out), &applied, false, schema, &owner)
                    {
                        assert!(
                            !matches!(e, patch::PatchError::Conflict { .. }),
                            "re-applying the same configuration conflicts: {e}"
                        );
                    }
                }
                let _ = patch::server_side_apply(live, &applied, true, schema, &owner);
            }
            _ => {
                let Ok(new) = decode_body("application/json", patch_bytes) else {
                    return;
                };
                let tracked = patch::track_update(Some(&original), &new, schema, &owner);
                let _ = patch::track_update(None, &tracked, schema, &owner);
            }
        }
        assert_within_budget(started, "patch");
    }
);
