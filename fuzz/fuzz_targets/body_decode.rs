//! Request bodies as the API server decodes them (`http::decode_body`): JSON, YAML and
//! Kubernetes protobuf. The first byte picks the content type; the rest is the body.
//! Properties: no panic, an answer within the budget, only 400/413/415 as errors, and what
//! decodes survives a JSON round trip unchanged.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rkube::apiserver::http::decode_body;
use rkube_fuzz::{assert_within_budget, json_eq};

/// Content types clients send bodies in; `j`, `y`, `p`, `a` pick the first four in seeds.
const CONTENT_TYPES: [&str; 8] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/apply-patch+yaml",
    "application/merge-patch+json",
    "text/yaml; charset=utf-8",
    "application/json;stream=watch",
    "application/cbor",
];

fn content_type(pick: u8) -> &'static str {
    match pick {
        b'j' => CONTENT_TYPES[0],
        b'y' => CONTENT_TYPES[1],
        b'p' => CONTENT_TYPES[2],
        b'a' => CONTENT_TYPES[3],
        other => CONTENT_TYPES[usize::from(other) % CONTENT_TYPES.len()],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ct = content_type(pick);
    let started = Instant::now();
    let decoded = decode_body(ct, body);
    assert_within_budget(started, ct);
    match decoded {
        Ok(value) => {
            let json = serde_json::to_vec(&value).expect("a decoded body encodes as JSON");
            let again = decode_body("application/json", &json).expect("re-decoding our JSON");
            assert!(json_eq(&value, &again), "JSON round trip changed {value}");
        }
        Err(e) => assert!(
            matches!(e.code, 400 | 413 | 415),
            "unexpected {} for {ct}: {}",
            e.code,
            e.message
        ),
    }
});
