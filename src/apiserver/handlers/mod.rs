//! REST handlers for registered resources: one file per family of verbs.

mod admission;
mod delete;
mod eviction;
mod fields;
mod patch;
mod pod_log;
mod pod_security_admission;
pub mod pod_stream;
pub mod proxy;
mod read;
mod reviews;
mod sa_admission;
mod scale;
mod token_request;
pub mod watch;
mod write;

use std::sync::Arc;

use http::Response;
use serde_json::Value;

use super::authn::UserInfo;
use super::http::{decode_body, Body, Output};
use super::object;
use super::request::{Query, RequestInfo};
use super::status::ApiError;
use super::State;
use crate::resources::registry::ResourceInfo;
use crate::store::KeyValue;

pub use admission::Allocators;

/// Everything a handler needs about one request.
pub struct Ctx {
    /// Shared server state.
    pub state: Arc<State>,
    /// The resource addressed.
    pub res: ResourceInfo,
    /// Parsed request path.
    pub req: RequestInfo,
    /// Query parameters.
    pub query: Query,
    /// Negotiated output.
    pub output: Output,
    /// Who is asking.
    pub user: UserInfo,
    /// The `Content-Type` of the body.
    pub content_type: String,
    /// The `User-Agent`, for the default field manager.
    pub user_agent: String,
}

impl Ctx {
    /// The namespace of the request, for namespaced resources.
    pub fn namespace(&self) -> Option<&str> {
        if self.res.namespaced {
            self.req.namespace.as_deref()
        } else {
            None
        }
    }

    /// The object's datastore key.
    pub fn key(&self, name: &str) -> String {
        self.res.key(self.namespace(), name)
    }

    /// `fieldManager`, or the user agent's product name like kube-apiserver does.
    pub fn field_manager(&self) -> Result<String, ApiError> {
        if let Some(m) = self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            if m.len() > 128 {
                return Err(ApiError::bad_request(
                    "fieldManager: Too long: may not be more than 128 bytes",
                ));
            }
            return Ok(m.to_string());
        }
        let ua = self.user_agent.split('/').next().unwrap_or("").trim();
        Ok(if ua.is_empty() {
            "unknown".to_string()
        } else {
            ua.chars().take(128).collect()
        })
    }

    /// Whether `dryRun=All` was asked; other values are rejected like the real server.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        let values = self.query.all("dryRun");
        for v in &values {
            if *v != "All" {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value: {v}; supported values are: All"
                )));
            }
        }
        Ok(!values.is_empty())
    }

    /// Decode a stored object and render it at the requested version.
    pub fn decode(&self, kv: &KeyValue) -> Result<Value, ApiError> {
        let mut v: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| ApiError::internal(format!("decoding {}: {e}", kv.key)))?;
        object::set_resource_version(&mut v, kv.mod_revision);
        crate::resources::convert::to_version(&self.res, &mut v);
        Ok(v)
    }
}

/// Whether kube-apiserver registers a route for this verb at this path. It installs one
/// route per verb the resource serves, each on its own path shape (list, create and
/// deletecollection on the collection; get, update, patch and delete on the object); a
/// request that matches none, such as PUT on a collection, POST on an object or DELETE on
/// the namespace collection, gets 405 from its router before any handler runs.
pub fn has_route(res: &ResourceInfo, info: &RequestInfo) -> bool {
    let verbs = match &info.subresource {
        Some(sub) => match res.subresource(sub) {
            Some(s) => &s.verbs,
            None => return false,
        },
        None => &res.verbs,
    };
    let on_path = match (info.verb.as_str(), info.name.is_some(), &info.subresource) {
        // `?watch` is a GET on either shape; the watch handler answers for itself.
        ("watch", ..) => return true,
        ("list" | "create" | "deletecollection", false, None) => true,
        ("create", true, Some(_)) => true,
        ("get" | "update" | "patch" | "delete", true, _) => true,
        _ => false,
    };
    on_path && verbs.contains(&info.verb)
}

/// Dispatch a resource request to its handler.
pub async fn handle(ctx: Ctx, body: bytes::Bytes) -> Result<Response<Body>, ApiError> {
    let verb = ctx.req.verb.clone();
    let sub = ctx.req.subresource.clone();
    match (sub.as_deref(), verb.as_str()) {
        (None, "create") if !ctx.res.stored => reviews::create(&ctx, body).await,
        (Some("token"), "create") if ctx.res.kind == "ServiceAccount" => {
            token_request::create(&ctx, body).await
        }
        (Some("binding"), "create") if ctx.res.kind == "Pod" => {
            let binding = decode_body(&ctx.content_type, &body)?;
            reviews::bind(&ctx, &binding).await
        }
        (Some("log"), "get") if ctx.res.kind == "Pod" => pod_log::get(&ctx).await,
        (Some("eviction"), "create") if ctx.res.kind == "Pod" => eviction::create(&ctx, body).await,
        (None, "get") => read::get(&ctx).await,
        (None, "list") => read::list(&ctx).await,
        (None, "watch") | (Some(_), "watch") => watch::watch(ctx).await,
        (None, "create") => write::create(&ctx, body).await,
        (None, "update") => write::update(&ctx, body, None).await,
        (None, "patch") => patch::patch(&ctx, body, None).await,
        (None, "delete") => delete::delete(&ctx, body).await,
        (None, "deletecollection") => delete::delete_collection(&ctx, body).await,
        (Some("status"), "get") => read::get(&ctx).await,
        (Some("status"), "update") => write::update(&ctx, body, Some("status")).await,
        (Some("status"), "patch") => patch::patch(&ctx, body, Some("status")).await,
        (Some("finalize"), "update") if ctx.res.kind == "Namespace" => {
            write::update(&ctx, body, Some("finalize")).await
        }
        (Some("scale"), "get") => scale::get(&ctx).await,
        (Some("scale"), "update") => scale::update(&ctx, body).await,
        (Some("scale"), "patch") => scale::patch(&ctx, body).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

pub(crate) use write::{create_object, guaranteed_update, Change};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::request::{parse, Query};
    use crate::resources::registry::Registry;
    use http::Method;

    fn routed(method: Method, path: &str) -> bool {
        let info = parse(&method, path, &Query::default());
        let res = Registry::builtin()
            .lookup(&info.group, &info.version, &info.resource)
            .expect("served resource");
        has_route(&res, &info)
    }

    #[test]
    fn verbs_route_only_on_their_path_shape() {
        let cms = "/api/v1/namespaces/d/configmaps";
        assert!(routed(Method::GET, cms));
        assert!(routed(Method::POST, cms));
        assert!(routed(Method::DELETE, cms));
        assert!(!routed(Method::PUT, cms));
        assert!(!routed(Method::PATCH, cms));
        let cm = "/api/v1/namespaces/d/configmaps/x";
        for m in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(routed(m, cm));
        }
        assert!(!routed(Method::POST, cm));
        assert!(!routed(Method::TRACE, cm));
    }

    #[test]
    fn subresources_route_their_own_verbs() {
        assert!(routed(Method::POST, "/api/v1/namespaces/d/pods/p/eviction"));
        assert!(!routed(Method::GET, "/api/v1/namespaces/d/pods/p/eviction"));
        assert!(routed(Method::PUT, "/api/v1/namespaces/d/pods/p/status"));
        assert!(!routed(
            Method::DELETE,
            "/api/v1/namespaces/d/pods/p/status"
        ));
        assert!(!routed(Method::POST, "/api/v1/namespaces/d/pods/p/status"));
        assert!(routed(Method::PUT, "/api/v1/namespaces/n/finalize"));
        assert!(!routed(Method::GET, "/api/v1/namespaces/n/finalize"));
    }

    #[test]
    fn namespaces_have_no_deletecollection() {
        assert!(!routed(Method::DELETE, "/api/v1/namespaces"));
        assert!(routed(Method::DELETE, "/api/v1/namespaces/n"));
    }
}
