//! The HTTP side of the OpenAPI endpoints as kube-openapi's handler answers them: content
//! negotiation for `/openapi/v2` (JSON or gnostic protobuf) and conditional requests
//! (`ETag` / `If-None-Match` → 304), which client-go's disk cache relies on.

use http::{header, HeaderValue, Response, StatusCode};

use super::http::{full, Body};
use super::status::ApiError;
use super::State;

/// The protobuf media type kube-apiserver answers with.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The formats `/openapi/v2` serves, in the order a wildcard picks them.
const V2_FORMATS: &[(&str, V2Format)] = &[
    ("json", V2Format::Json),
    // What client-go's discovery client sends (`OpenAPISchema()`).
    (
        "com.github.proto-openapi.spec.v2@v1.0+protobuf",
        V2Format::Protobuf,
    ),
    (
        "com.github.proto-openapi.spec.v2.v1.0+protobuf",
        V2Format::Protobuf,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V2Format {
    Json,
    Protobuf,
}

/// One `type/subtype;q=x` clause of an Accept header.
struct Clause<'a> {
    ty: &'a str,
    subtype: &'a str,
    q: f32,
}

/// Accept clauses best first, like goautoneg: by quality, then specific before wildcard;
/// refused (`q=0`) clauses dropped.
fn accept_clauses(accept: &str) -> Vec<Clause<'_>> {
    let mut clauses: Vec<Clause<'_>> = accept
        .split(',')
        .filter_map(|c| {
            let mut parts = c.split(';');
            let media = parts.next()?.trim();
            let (ty, subtype) = media.split_once('/').unwrap_or((media, "*"));
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty() && q > 0.0).then_some(Clause {
                ty: ty.trim(),
                subtype: subtype.trim(),
                q,
            })
        })
        .collect();
    let specificity = |c: &Clause<'_>| match (c.ty, c.subtype) {
        ("*", _) => 0,
        (_, "*") => 1,
        _ => 2,
    };
    clauses.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then_with(|| specificity(b).cmp(&specificity(a)))
    });
    clauses
}

fn v2_format(accept: Option<&str>) -> Option<V2Format> {
    let accept = accept.filter(|a| !a.trim().is_empty()).unwrap_or("*/*");
    accept_clauses(accept).iter().find_map(|c| {
        if c.ty != "application" && c.ty != "*" {
            return None;
        }
        V2_FORMATS
            .iter()
            .find(|(sub, _)| c.subtype == *sub || c.subtype == "*")
            .map(|(_, f)| *f)
    })
}

/// Whether `If-None-Match` names the entity tag (`"<hash>"`), weakly compared as
/// net/http's `ServeContent` does.
fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t).trim_matches('"') == etag)
    })
}

/// A response carrying `bytes` with its content type and ETag, or 304 when the client
/// already holds that version.
pub fn conditional(
    bytes: bytes::Bytes,
    content_type: &'static str,
    etag: &str,
    if_none_match: Option<&str>,
) -> Response<Body> {
    let not_modified = etag_matches(if_none_match, etag);
    let mut resp = if not_modified {
        let mut r = Response::new(full(bytes::Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(full(bytes));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    resp
}

/// `GET /openapi/v2`: JSON unless the client asks for gnostic's protobuf.
pub fn serve_v2(
    state: &State,
    accept: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let Some(format) = v2_format(accept) else {
        return Err(ApiError::not_acceptable(format!(
            "only application/json and {V2_PROTOBUF} are served at /openapi/v2"
        )));
    };
    let doc = state
        .openapi
        .v2(&state.registry, &state.crds)
        .map_err(|e| {
            tracing::error!(error = %e, "building the OpenAPI v2 document");
            ApiError::unavailable(format!("the OpenAPI v2 document is not available: {e}"))
        })?;
    let (bytes, content_type) = match format {
        V2Format::Json => (doc.json.clone(), "application/json"),
        V2Format::Protobuf => (doc.protobuf.clone(), V2_PROTOBUF),
    };
    let mut resp = conditional(bytes, content_type, &doc.etag, if_none_match);
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_kube_openapi() {
        use V2Format::*;
        assert_eq!(v2_format(None), Some(Json));
        assert_eq!(v2_format(Some("application/json, */*")), Some(Json));
        assert_eq!(
            v2_format(Some(
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )),
            Some(Protobuf)
        );
        assert_eq!(
            v2_format(Some(
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
            )),
            Some(Protobuf)
        );
        assert_eq!(
            v2_format(Some(
                "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
            )),
            Some(Protobuf)
        );
        assert_eq!(
            v2_format(Some(
                "*/*;q=0.8, application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )),
            Some(Protobuf)
        );
        assert_eq!(v2_format(Some("text/html")), None);
        assert_eq!(v2_format(Some("application/json;q=0")), None);
    }

    #[test]
    fn if_none_match_compares_entity_tags() {
        assert!(etag_matches(Some("\"ABC\""), "ABC"));
        assert!(etag_matches(Some("W/\"ABC\", \"DEF\""), "DEF"));
        assert!(etag_matches(Some("*"), "ABC"));
        assert!(!etag_matches(Some("\"ABD\""), "ABC"));
        assert!(!etag_matches(None, "ABC"));
        let r = conditional(
            bytes::Bytes::from_static(b"{}"),
            "application/json",
            "ABC",
            Some("\"ABC\""),
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], "\"ABC\"");
    }
}
