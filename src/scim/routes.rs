//! SCIM 2.0's HTTP endpoints under `/t/{tenant}/scim/v2/` (RFC 7644): thin handlers that
//! authenticate the token, call the service and answer in SCIM's shape (`application/scim+json`,
//! errors as `urn:ietf:params:scim:api:messages:2.0:Error`). Bodies are read as JSON whatever
//! their content type says (directories send `application/json` as often as SCIM's type).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

use super::ScimService;
use super::error::ScimError;
use super::listing::{ListQuery, MAX_RESULTS};
use super::patch;
use super::resource::Change;
use super::schema::{self, Projection};
use super::service::{ScimAuthError, ScimCaller};
use crate::actors::Tenant;
use crate::edge::client::{bearer, client_info};
use crate::infra::ClientInfo;

/// SCIM's media type (RFC 7644 §3.1).
const SCIM_JSON: &str = "application/scim+json";

/// The routes.
pub fn routes() -> Router<ScimService> {
    let base = "/t/{tenant}/scim/v2";
    Router::new()
        .route(
            &format!("{base}/ServiceProviderConfig"),
            any(service_provider_config),
        )
        .route(&format!("{base}/ResourceTypes"), any(resource_types))
        .route(&format!("{base}/ResourceTypes/{{id}}"), any(resource_type))
        .route(&format!("{base}/Schemas"), any(schemas))
        .route(&format!("{base}/Schemas/{{id}}"), any(schema_by_id))
        .route(&format!("{base}/Users"), get(list_users).post(create_user))
        .route(&format!("{base}/Users/.search"), post(search_users))
        .route(
            &format!("{base}/Users/{{id}}"),
            get(get_user)
                .put(put_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route(
            &format!("{base}/Groups"),
            get(list_groups).post(create_group),
        )
        .route(&format!("{base}/Groups/.search"), post(search_groups))
        .route(
            &format!("{base}/Groups/{{id}}"),
            get(get_group)
                .put(put_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route(&format!("{base}/.search"), post(search_all))
        .route(&format!("{base}/{{*rest}}"), any(unknown))
        .route(base, any(unknown_root))
}

/// A SCIM answer: `body` as `application/scim+json` with `status`.
fn scim(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    r
}

/// An error in SCIM's shape (RFC 7644 §3.12).
pub fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> Response {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut r = scim(status, body);
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim\""),
        );
    }
    r
}

// The one place a SCIM error becomes an HTTP status (RFC 7644 §3.12).
impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let (status, scim_type, detail) = match self {
            ScimError::Invalid(t, d) => (StatusCode::BAD_REQUEST, Some(t), d),
            ScimError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                None,
                "a valid SCIM token is required (Authorization: Bearer scim_...)".to_string(),
            ),
            ScimError::Forbidden(d) => (StatusCode::FORBIDDEN, None, d),
            ScimError::NotFound(d) => (StatusCode::NOT_FOUND, None, d),
            ScimError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                None,
                "this endpoint is read-only".to_string(),
            ),
            ScimError::Taken(d) => (StatusCode::CONFLICT, Some("uniqueness"), d),
            ScimError::Body(status, d) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                None,
                d,
            ),
            ScimError::Unavailable(d) => {
                tracing::warn!(detail = %d, "SCIM request answered 503");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "service unavailable, retry later".to_string(),
                )
            }
            ScimError::Internal(d) => {
                tracing::error!(detail = %d, "SCIM request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "internal error".to_string(),
                )
            }
        };
        scim_error(status, scim_type, &detail)
    }
}

/// What a handler answers.
type Answer = Result<Response, ScimError>;

/// The request's tenant, caller and client, or the answer that refuses them.
struct Ctx {
    tenant: Tenant,
    caller: ScimCaller,
    client: ClientInfo,
}

async fn ctx(
    s: &ScimService,
    slug: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Ctx, ScimError> {
    let tenant = s.tenant(slug).await?;
    match s.authenticate(&tenant, bearer(headers).as_deref()).await {
        Ok(caller) => Ok(Ctx {
            tenant,
            caller,
            client: client_info(peer, headers, &s.config.trusted_proxies),
        }),
        Err(ScimAuthError::Unauthenticated) => Err(ScimError::Unauthenticated),
        Err(ScimAuthError::Service(e)) => Err(e.into()),
    }
}

/// The body as JSON.
fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let bytes = body.map_err(|e| ScimError::Body(e.status().as_u16(), e.body_text()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

/// A discovery endpoint is read-only (RFC 7644 §4).
fn read_only(method: &Method) -> Result<(), ScimError> {
    if method == Method::GET {
        Ok(())
    } else {
        Err(ScimError::MethodNotAllowed)
    }
}

/// `attributes` / `excludedAttributes` and the list parameters.
#[derive(Deserialize, Default)]
struct Params {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

impl Params {
    fn projection(&self) -> Projection {
        Projection::new(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }

    fn list(&self) -> Result<ListQuery, ScimError> {
        ListQuery::from_params(
            self.filter.as_deref(),
            self.start_index.as_deref(),
            self.count.as_deref(),
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }
}

/// The answer to a create: 201 with `Location`.
fn created(resource: Value) -> Response {
    let location = resource["meta"]["location"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut r = scim(StatusCode::CREATED, resource);
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn ok(resource: Value) -> Response {
    scim(StatusCode::OK, resource)
}

fn patch_ops(body: &Value) -> Result<Vec<patch::Operation>, ScimError> {
    patch::operations(body).map_err(|e| ScimError::bad(e.scim_type, e.detail))
}

macro_rules! handler {
    ($name:ident, |$s:ident, $c:ident, $path:ident : $pty:ty, $params:ident, $body:ident| $e:expr) => {
        async fn $name(
            State($s): State<ScimService>,
            Path($path): Path<$pty>,
            params: Result<Query<Params>, QueryRejection>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
            headers: HeaderMap,
            $body: Result<Bytes, BytesRejection>,
        ) -> Response {
            #[allow(unused_variables)]
            let $body = $body;
            let run = async {
                let slug = tenant_of(&$path);
                let $c = ctx(&$s, slug, &headers, peer).await?;
                // A malformed query string (a repeated or badly encoded parameter).
                #[allow(unused_variables)]
                let Query($params) =
                    params.map_err(|e| ScimError::bad("invalidSyntax", e.body_text()))?;
                let r: Answer = $e;
                r
            };
            run.await.unwrap_or_else(IntoResponse::into_response)
        }
    };
}

trait TenantOf {
    fn slug(&self) -> &str;
}
impl TenantOf for String {
    fn slug(&self) -> &str {
        self
    }
}
impl TenantOf for (String, String) {
    fn slug(&self) -> &str {
        &self.0
    }
}
fn tenant_of<T: TenantOf>(p: &T) -> &str {
    p.slug()
}

// Users.
handler!(list_users, |s, c, p: String, q, _b| {
    let q = q.list()?;
    Ok(ok(q.answer(s.find_users(&c.tenant, &c.caller, &q).await?)))
});
handler!(search_users, |s, c, p: String, q, b| {
    let q = ListQuery::from_search(&json_body(b)?)?;
    Ok(ok(q.answer(s.find_users(&c.tenant, &c.caller, &q).await?)))
});
handler!(create_user, |s, c, p: String, q, b| {
    let r = s
        .create_user(&c.tenant, &c.caller, &json_body(b)?, &c.client)
        .await?;
    Ok(created(q.projection().apply(r)))
});
handler!(get_user, |s, c, p: (String, String), q, b| {
    Ok(ok(q
        .projection()
        .apply(s.get_user(&c.tenant, &c.caller, &p.1).await?)))
});
handler!(put_user, |s, c, p: (String, String), q, b| {
    let body = json_body(b)?;
    let r = s
        .write_user(
            &c.tenant,
            &c.caller,
            &p.1,
            Change::Replace(&body),
            &c.client,
        )
        .await?;
    Ok(ok(q.projection().apply(r)))
});
handler!(patch_user, |s, c, p: (String, String), q, b| {
    let ops = patch_ops(&json_body(b)?)?;
    let r = s
        .write_user(&c.tenant, &c.caller, &p.1, Change::Patch(&ops), &c.client)
        .await?;
    Ok(ok(q.projection().apply(r)))
});
handler!(delete_user, |s, c, p: (String, String), q, b| {
    s.delete_user(&c.tenant, &c.caller, &p.1, &c.client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
});

// Groups.
handler!(list_groups, |s, c, p: String, q, _b| {
    let q = q.list()?;
    Ok(ok(q.answer(s.find_groups(&c.tenant, &c.caller, &q).await?)))
});
handler!(search_groups, |s, c, p: String, q, b| {
    let q = ListQuery::from_search(&json_body(b)?)?;
    Ok(ok(q.answer(s.find_groups(&c.tenant, &c.caller, &q).await?)))
});
handler!(create_group, |s, c, p: String, q, b| {
    let r = s
        .create_group(&c.tenant, &c.caller, &json_body(b)?, &c.client)
        .await?;
    Ok(created(q.projection().apply(r)))
});
handler!(get_group, |s, c, p: (String, String), q, b| {
    Ok(ok(q
        .projection()
        .apply(s.get_group(&c.tenant, &c.caller, &p.1).await?)))
});
handler!(put_group, |s, c, p: (String, String), q, b| {
    let body = json_body(b)?;
    let r = s
        .write_group(
            &c.tenant,
            &c.caller,
            &p.1,
            Change::Replace(&body),
            &c.client,
        )
        .await?;
    Ok(ok(q.projection().apply(r)))
});
handler!(patch_group, |s, c, p: (String, String), q, b| {
    let ops = patch_ops(&json_body(b)?)?;
    let r = s
        .write_group(&c.tenant, &c.caller, &p.1, Change::Patch(&ops), &c.client)
        .await?;
    Ok(ok(q.projection().apply(r)))
});
handler!(delete_group, |s, c, p: (String, String), q, b| {
    s.delete_group(&c.tenant, &c.caller, &p.1, &c.client)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
});

// `POST /.search` at the root: users, then groups (RFC 7644 §3.4.3), paged over both.
handler!(search_all, |s, c, p: String, q, b| {
    let mut q = ListQuery::from_search(&json_body(b)?)?;
    // Every resource: matched here and paged over the two lists together.
    q.filter
        .get_or_insert(super::filter::Filter::Present("id".into()));
    let mut all = s.find_users(&c.tenant, &c.caller, &q).await?;
    all.resources
        .extend(s.find_groups(&c.tenant, &c.caller, &q).await?.resources);
    Ok(ok(q.answer(all)))
});

/// Any other path: 404 in SCIM's shape (after authentication, so a stranger learns nothing).
async fn unknown(
    State(s): State<ScimService>,
    Path((slug, _)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match ctx(&s, &slug, &headers, peer).await {
        Ok(_) => ScimError::not_found("endpoint").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn unknown_root(
    State(s): State<ScimService>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match ctx(&s, &slug, &headers, peer).await {
        Ok(_) => ScimError::not_found("endpoint").into_response(),
        Err(e) => e.into_response(),
    }
}

/// Discovery endpoints take the method, the tenant and (for one entry) its id.
macro_rules! discovery {
    ($name:ident, |$s:ident, $base:ident, $path:ident : $pty:ty| $e:expr) => {
        async fn $name(
            State($s): State<ScimService>,
            method: Method,
            Path($path): Path<$pty>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
            headers: HeaderMap,
        ) -> Response {
            let run = async {
                let c = ctx(&$s, tenant_of(&$path), &headers, peer).await?;
                read_only(&method)?;
                let $base = $s.base(&c.tenant);
                let r: Answer = $e;
                r
            };
            run.await.unwrap_or_else(IntoResponse::into_response)
        }
    };
}

fn list_of(items: Vec<Value>) -> Value {
    json!({
        "schemas": [schema::LIST_SCHEMA],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

fn one_of(items: Vec<Value>, id: &str, what: &str) -> Answer {
    items
        .into_iter()
        .find(|i| i["id"].as_str() == Some(id))
        .map(ok)
        .ok_or_else(|| ScimError::not_found(what))
}

discovery!(resource_types, |s, base, p: String| Ok(ok(list_of(
    schema::resource_types(&base)
))));
discovery!(resource_type, |s, base, p: (String, String)| one_of(
    schema::resource_types(&base),
    &p.1,
    "resource type"
));
discovery!(schemas, |s, base, p: String| Ok(ok(list_of(
    schema::schemas(&base)
))));
discovery!(schema_by_id, |s, base, p: (String, String)| one_of(
    schema::schemas(&base),
    &p.1,
    "schema"
));

// `GET /ServiceProviderConfig` (RFC 7643 §5): what this server supports. Only what is built
// is advertised, so a client (and scim2-tester) tries nothing else.
discovery!(service_provider_config, |s, base, p: String| Ok(ok(
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A bearer token a tenant admin makes with createScimToken (shown once).",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
)));
