//! The back-channel endpoints clients call directly: token, revocation, introspection and
//! userinfo, answering as the RFCs say (JSON, `no-store`, `WWW-Authenticate` challenges).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::OidcProvider;
use super::clients::ClientCredentials;
use super::cookies::{Peer, form, posted};
use super::store::ClientRow;
use super::token::{Caller, OAuthError};
use crate::actors::Tenant;
use crate::edge::client::client_info;
use crate::error::ServiceError;

fn oauth_json(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// RFC 6749 §5.2: the error as JSON, with the `Basic` challenge of a 401 (§5.2 `invalid_client`).
impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = oauth_json(
            status,
            json!({"error": self.error, "error_description": self.description}),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"latchkey\""),
            );
        }
        resp
    }
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded id and
/// secret) or the body.
fn credentials(
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(b64) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
        let raw = String::from_utf8(raw)
            .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = raw
            .split_once(':')
            .ok_or(OAuthError::invalid_client("malformed Basic credentials"))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| OAuthError::invalid_client("malformed Basic credentials"))
        };
        if f.contains_key("client_secret") {
            return Err(OAuthError::invalid_request(
                "use one client authentication method",
            ));
        }
        return Ok(ClientCredentials {
            id: Some(decode(id)?),
            secret: Some(secrecy::SecretString::from(decode(secret)?)),
            basic: true,
        });
    }
    Ok(ClientCredentials {
        id: f.get("client_id").cloned(),
        secret: f
            .get("client_secret")
            .map(|s| secrecy::SecretString::from(s.clone())),
        basic: false,
    })
}

/// `application/x-www-form-urlencoded` bodies only (RFC 6749 §3.2), each parameter once.
fn oauth_form(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("malformed form body"))?;
    let mut map = HashMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v).is_some() {
            return Err(OAuthError::invalid_request(format!("`{k}` appears twice")));
        }
    }
    Ok(map)
}

async fn oauth_tenant(st: &OidcProvider, slug: &str) -> Result<Tenant, OAuthError> {
    st.tenant(slug).await.map_err(OAuthError::from_service)
}

/// A client's call to the token, revocation or introspection endpoint, authenticated. What
/// the three handlers did first, in the same order: the parts as `posted` takes them (`P` is
/// `Peer` for the token endpoint, which records the caller, else `()`), then the tenant, the
/// form body and the client's authentication, each failing as RFC 6749 §5.2 JSON.
pub(super) struct ClientCall<P = ()> {
    st: OidcProvider,
    tenant: Tenant,
    client: ClientRow,
    f: HashMap<String, String>,
    headers: HeaderMap,
    peer: P,
}

impl<P: FromRequestParts<OidcProvider> + Send> FromRequest<OidcProvider> for ClientCall<P> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &OidcProvider) -> Result<Self, Response> {
        let (slug, peer, headers, body) = posted(req, st).await?;
        let authenticated = async {
            let tenant = oauth_tenant(st, &slug).await?;
            let f = oauth_form(&headers, &body)?;
            let creds = credentials(&headers, &f)?;
            let client = st.clients.authenticate_client(&tenant, &creds).await?;
            Ok::<_, OAuthError>((tenant, f, client))
        };
        let (tenant, f, client) = authenticated.await.map_err(IntoResponse::into_response)?;
        Ok(Self {
            st: st.clone(),
            tenant,
            client,
            f,
            headers,
            peer,
        })
    }
}

impl<P> ClientCall<P> {
    /// A parameter of the form.
    fn param(&self, name: &str) -> Option<&str> {
        self.f.get(name).map(String::as_str)
    }

    /// The `token` parameter of revocation and introspection.
    fn token(&self) -> Result<&str, OAuthError> {
        self.param("token")
            .ok_or(OAuthError::invalid_request("token is required"))
    }
}

pub(super) async fn token(call: ClientCall<Peer>) -> Result<Response, OAuthError> {
    let info = client_info(call.peer.0, &call.headers, &call.st.config.trusted_proxies);
    let by = Caller {
        tenant: &call.tenant,
        client: &call.client,
        info: &info,
    };
    let get = |k: &str| call.param(k);
    let tokens = &call.st.tokens;
    let body = match get("grant_type") {
        Some("authorization_code") => {
            let code = get("code").ok_or(OAuthError::invalid_request("code is required"))?;
            tokens
                .exchange_code(by, code, get("redirect_uri"), get("code_verifier"))
                .await
        }
        Some("refresh_token") => {
            let rt = get("refresh_token")
                .ok_or(OAuthError::invalid_request("refresh_token is required"))?;
            tokens.refresh_grant(by, rt, get("scope")).await
        }
        Some("client_credentials") => tokens.client_credentials_grant(by, get("scope")).await,
        Some(other) => Err(OAuthError::unsupported_grant_type(format!(
            "`{other}` is not supported"
        ))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }?;
    Ok(oauth_json(StatusCode::OK, body))
}

pub(super) async fn revoke(call: ClientCall) -> Result<Response, OAuthError> {
    let token = call.token()?;
    call.st
        .endpoints
        .revoke_token(&call.tenant, &call.client, token)
        .await
        .map_err(OAuthError::from_service)?;
    // RFC 7009 §2.2: 200 whether or not the token was known.
    Ok(oauth_json(StatusCode::OK, json!({})))
}

pub(super) async fn introspect(call: ClientCall) -> Result<Response, OAuthError> {
    if !call.client.is_confidential() {
        return Err(OAuthError::unauthorized_client(
            "introspection is for confidential clients",
        ));
    }
    let token = call.token()?;
    let answer = call.st.endpoints.introspect(&call.tenant, token).await;
    let body = answer.map_err(OAuthError::from_service)?;
    Ok(oauth_json(StatusCode::OK, body))
}

pub(super) async fn userinfo(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer =
        crate::edge::client::bearer(&headers).or_else(|| form(&body).get("access_token").cloned());
    let challenge = |error: &str| {
        let mut resp = oauth_json(StatusCode::UNAUTHORIZED, json!({"error": error}));
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{error}\"")) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    let tenant = match st.tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return OAuthError::from_service(e).into_response(),
    };
    match st.endpoints.userinfo(&tenant, bearer.as_deref()).await {
        Ok(claims) => oauth_json(StatusCode::OK, claims),
        Err(ServiceError::Forbidden) => {
            let mut resp = oauth_json(
                StatusCode::FORBIDDEN,
                json!({"error": "insufficient_scope"}),
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"openid\""),
            );
            resp
        }
        Err(ServiceError::Unauthenticated(_)) => challenge("invalid_token"),
        Err(e) => OAuthError::from_service(e).into_response(),
    }
}
