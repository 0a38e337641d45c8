//! The small parsers of a request's URL and headers: label selectors (`app in (a,b),!x`),
//! field selectors, resource quantities (`1.5Gi`, `500m`, `2e3`), query strings, request
//! paths and Accept headers. Every parser sees the whole input as text.
//! Properties: no panic, within the budget, and a parsed selector prints to text that
//! parses back to the same selector (Go's `labels.Parse(sel.String())`).
#![no_main]

use std::time::Instant;

use http::Method;
use libfuzzer_sys::fuzz_target;
use rkube::apiserver::http::negotiate;
use rkube::apiserver::request::{self, Query};
use rkube::apiserver::selectors::{FieldSelector, LabelSelector, Op};
use rkube::resources::validation::quantity_nanos;
use rkube_fuzz::assert_within_budget;
use serde_json::{json, Map, Value};

fn labels() -> Map<String, Value> {
    json!({"app": "web", "tier": "fe", "version": "10", "x": ""})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// Requirements in a canonical order.
fn sorted(reqs: &[(String, Op, String)]) -> Vec<(String, bool, String)> {
    let mut v: Vec<_> = reqs
        .iter()
        .map(|(f, op, val)| (f.clone(), op.is_eq(), val.clone()))
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let started = Instant::now();

    if let Ok(sel) = LabelSelector::parse(&text) {
        let _ = sel.matches(&labels());
        let printed = sel.to_string();
        let again = LabelSelector::parse(&printed).unwrap_or_else(|e| {
            panic!("label selector {printed:?} (from {text:?}) does not parse: {e}")
        });
        assert_eq!(sel, again, "label selector {text:?} printed as {printed:?}");
    }
    if let Ok(sel) = FieldSelector::parse(&text) {
        let _ = sel.matches(|f| (f == "metadata.name").then(|| "web".to_string()));
        let printed = sel.to_string();
        let again = FieldSelector::parse(&printed).unwrap_or_else(|e| {
            panic!("field selector {printed:?} (from {text:?}) does not parse: {e}")
        });
        // Like fields.ParseSelector, terms are sorted as written, so `a=\u{4},a==` and its
        // printed `a=\u{4},a=` list the same terms in another order: compare them as sets.
        assert_eq!(
            sorted(sel.requirements()),
            sorted(again.requirements()),
            "field selector {text:?} printed as {printed:?}"
        );
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        if let Ok(sel) = LabelSelector::from_label_selector_json(&v) {
            let _ = sel.matches(&labels());
        }
    }
    let _ = quantity_nanos(&text);
    let query = Query::parse(Some(&text));
    let _ = query.to_map();
    for method in [Method::GET, Method::DELETE] {
        let _ = request::parse(&method, &text, &query);
    }
    let _ = negotiate(Some(&text));
    assert_within_budget(started, "parsing");
});
