//! Request routing: health and version, authentication and authorization, discovery,
//! OpenAPI, then the resource handlers.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use serde_json::Value;

use super::authn::{self, UserInfo};
use super::handlers::{self, Ctx};
use super::http::{error_response, json_response, negotiate, read_body, text_response, Body};
use super::request::{self, Query};
use super::status::ApiError;
use super::{
    aggregator, authz, discovery, impersonation, openapi_http, sa_authn, version_info, State,
};

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Route one request to its answer; never fails (errors become Status responses).
pub async fn route(
    state: Arc<State>,
    user: Option<UserInfo>,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // The client-certificate user; bearer-token users are known only further in.
    let cert_user = user.as_ref().map(|u| u.name.clone()).unwrap_or_default();
    let resp = match route_inner(state, user, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, user = %cert_user, "request");
    resp
}

/// How much of a refused request's body is read so its connection can serve the next
/// request: Go's net/http (kube-apiserver) discards up to 256 KiB after a handler returns.
const DISCARD_LIMIT: usize = 256 << 10;

/// Answer `err` after reading the request body, as Go's net/http does for kube-apiserver:
/// hyper closes an HTTP/1.1 connection whose request body was left unread, without a
/// `Connection: close`, so a client that reuses it sees the connection drop mid-request.
/// A longer body is not worth reading (the request may not even be authenticated): the
/// connection then closes, as Go's does.
async fn refuse(req: Request<Incoming>, err: ApiError) -> Result<Response<Body>, ApiError> {
    use http_body_util::BodyExt;
    let mut body = req.into_body();
    let mut read = 0;
    while read <= DISCARD_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
    Err(err)
}

async fn route_inner(
    state: Arc<State>,
    user: Option<UserInfo>,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    // Go's net/http hands kube-apiserver the unescaped path: `a%20b` names the object `a b`.
    let path = percent_encoding::percent_decode_str(req.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let query = Query::parse(req.uri().query());
    if authn::is_public_path(&path) {
        if path.trim_end_matches('/') == "/version" {
            return Ok(json_response(200, &version_info()));
        }
        let checks = state.supervisor.checks();
        return match super::health::answer(&checks, &path, req.uri().query()) {
            Some((code, text)) => Ok(text_response(code, &text)),
            None => Err(ApiError::not_found_path()),
        };
    }
    // Like kube-apiserver's union authenticator: a client certificate first, then a
    // service-account bearer token; anything else is 401.
    let user = match (user, sa_authn::bearer_token(req.headers())) {
        (Some(u), _) => u,
        (None, Some(token)) => match sa_authn::authenticate(&state, token).await {
            Ok(u) => u,
            Err(reason) => {
                tracing::debug!(%path, %reason, "bearer token refused");
                return refuse(req, ApiError::unauthorized()).await;
            }
        },
        (None, None) => return refuse(req, ApiError::unauthorized()).await,
    };
    let user = match impersonation::apply(&state, user, req.headers()) {
        Ok(u) => u,
        Err(e) => return refuse(req, e).await,
    };
    let info = request::parse(req.method(), &path, &query);
    if let Err(e) = authz::authorize(&state, &user, &info.for_authorization(&query)) {
        return refuse(req, e).await;
    }
    if let Some(target) = aggregated_target(&state, &path) {
        let method = req.method().clone();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| path.clone());
        let headers = req.headers().clone();
        let body = read_body(req.into_body()).await?;
        return aggregator::proxy(
            &state,
            &target,
            &user,
            method,
            &path_and_query,
            &headers,
            body,
        )
        .await;
    }
    let accept = header_str(&req, header::ACCEPT).map(str::to_string);

    if !info.is_resource {
        let if_none_match = header_str(&req, header::IF_NONE_MATCH);
        return non_resource(
            &state,
            &path,
            accept.as_deref(),
            if_none_match,
            &query,
            req.method(),
        );
    }
    let Some(res) = state
        .registry
        .lookup(&info.group, &info.version, &info.resource)
    else {
        return refuse(req, ApiError::not_found_path()).await;
    };
    if info.namespace.is_some() && !res.namespaced {
        return refuse(req, ApiError::not_found_path()).await;
    }
    if let Some(sub) = &info.subresource {
        if res.subresource(sub).is_none() {
            return refuse(req, ApiError::not_found_path()).await;
        }
    }
    if handlers::pod_stream::is_stream(&res, &info) {
        // Streams keep the connection: no body to read, the upgrade goes to the kubelet.
        return handlers::pod_stream::connect(state, &res, &info, &user, req).await;
    }
    if handlers::proxy::is_proxy(&res, &info) {
        return handlers::proxy::forward(state, &res, &info, req).await;
    }
    if (!res.stored && info.verb != "create") || !handlers::has_route(&res, &info) {
        return refuse(req, ApiError::method_not_allowed()).await;
    }
    let output = negotiate(accept.as_deref())?;
    let content_type = header_str(&req, header::CONTENT_TYPE)
        .unwrap_or("application/json")
        .to_string();
    let user_agent = header_str(&req, header::USER_AGENT)
        .unwrap_or("")
        .to_string();
    // A browser's watch comes as a WebSocket upgrade (kube-apiserver serves both).
    let websocket =
        (info.verb == "watch" && crate::streams::ws::is_websocket(req.headers())).then(|| {
            (
                hyper::upgrade::on(&mut req),
                crate::streams::ws::accept(req.headers(), ""),
            )
        });
    let body = read_body(req.into_body()).await?;
    let ctx = Ctx {
        state,
        res,
        req: info,
        query,
        output,
        user,
        content_type,
        user_agent,
    };
    let resp = handlers::handle(ctx, body).await?;
    match websocket {
        Some((on, accept)) if resp.status().is_success() => {
            Ok(handlers::watch::over_websocket(resp, on, accept))
        }
        _ => Ok(resp),
    }
}

/// The backend of an aggregated group-version the path falls under.
fn aggregated_target(state: &State, path: &str) -> Option<aggregator::backend::Target> {
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next()? != "apis" {
        return None;
    }
    let (group, version) = (parts.next()?, parts.next()?);
    state.aggregator.target(group, version)
}

fn with_content_type(mut resp: Response<Body>, ct: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    resp
}

fn non_resource(
    state: &State,
    path: &str,
    accept: Option<&str>,
    if_none_match: Option<&str>,
    query: &Query,
    method: &Method,
) -> Result<Response<Body>, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::method_not_allowed());
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let found: Option<Response<Body>> = match parts.as_slice() {
        [""] => Some(json_response(200, &root_paths(state))),
        ["api"] | ["apis"] => {
            let core = parts[0] == "api";
            Some(match discovery::wants_aggregated(accept) {
                Some(v) => with_content_type(
                    json_response(200, &discovery::aggregated(&state.registry, core, v)),
                    &discovery::aggregated_content_type(v),
                ),
                None => with_content_type(
                    json_response(
                        200,
                        &if core {
                            discovery::api_versions(&state.server_address)
                        } else {
                            discovery::api_group_list(&state.registry)
                        },
                    ),
                    "application/json",
                ),
            })
        }
        ["api", v] => {
            discovery::api_resource_list(&state.registry, "", v).map(|d| json_response(200, &d))
        }
        ["apis", g] => discovery::api_group(&state.registry, g).map(|d| json_response(200, &d)),
        ["apis", g, v] => {
            discovery::api_resource_list(&state.registry, g, v).map(|d| json_response(200, &d))
        }
        ["openapi", "v3"] => Some(json_response(
            200,
            &state.openapi.index(&state.registry, &state.crds),
        )),
        ["openapi", "v2"] => return openapi_http::serve_v2(state, accept, if_none_match),
        ["openapi", "v3", rest @ ..] => {
            let gv = rest.join("/");
            state
                .openapi
                .document(&state.registry, &state.crds, &gv)
                .map(|(bytes, hash)| {
                    let mut resp =
                        openapi_http::conditional(bytes, "application/json", &hash, if_none_match);
                    if query.get("hash") == Some(hash.as_str()) {
                        resp.headers_mut().insert(
                            header::CACHE_CONTROL,
                            HeaderValue::from_static("public, immutable"),
                        );
                    }
                    resp
                })
        }
        _ => None,
    };
    found.ok_or_else(ApiError::not_found_path)
}

/// Paths that list what is served (`/`), like kube-apiserver's root listing.
pub fn root_paths(state: &State) -> Value {
    let mut paths = vec![
        "/api".to_string(),
        "/api/v1".to_string(),
        "/apis".to_string(),
    ];
    for (g, vs) in state.registry.groups() {
        if g.is_empty() {
            continue;
        }
        paths.push(format!("/apis/{g}"));
        for v in vs {
            paths.push(format!("/apis/{g}/{v}"));
        }
    }
    paths.extend(
        [
            "/healthz",
            "/livez",
            "/openapi/v2",
            "/openapi/v3",
            "/readyz",
            "/version",
        ]
        .map(String::from),
    );
    serde_json::json!({"paths": paths})
}
