//! The back-channel endpoints clients call directly: token, revocation, introspection and
//! userinfo, answering as the RFCs say (JSON, `no-store`, `WWW-Authenticate` challenges).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::OidcProvider;
use super::clients::ClientCredentials;
use super::cookies::form;
use super::token::OAuthError;
use crate::actors::Tenant;
use crate::edge::client::client_info;
use crate::error::ServiceError;
use crate::infra::ClientInfo;

fn oauth_json(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = oauth_json(
        status,
        json!({"error": e.error, "error_description": e.description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"latchkey\""),
        );
    }
    resp
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

pub(super) async fn token(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = oauth_tenant(&st, &slug).await?;
        let f = oauth_form(&headers, &body)?;
        let creds = credentials(&headers, &f)?;
        let client = st.clients.authenticate_client(&tenant, &creds).await?;
        let info: ClientInfo = client_info(peer, &headers, &st.config.trusted_proxies);
        let get = |k: &str| f.get(k).map(String::as_str);
        match get("grant_type") {
            Some("authorization_code") => {
                let code = get("code").ok_or(OAuthError::invalid_request("code is required"))?;
                st.tokens
                    .exchange_code(
                        &tenant,
                        &client,
                        code,
                        get("redirect_uri"),
                        get("code_verifier"),
                        &info,
                    )
                    .await
            }
            Some("refresh_token") => {
                let rt = get("refresh_token")
                    .ok_or(OAuthError::invalid_request("refresh_token is required"))?;
                st.tokens
                    .refresh_grant(&tenant, &client, rt, get("scope"), &info)
                    .await
            }
            Some("client_credentials") => {
                st.tokens
                    .client_credentials_grant(&tenant, &client, get("scope"))
                    .await
            }
            Some(other) => Err(OAuthError::unsupported_grant_type(format!(
                "`{other}` is not supported"
            ))),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    };
    match run.await {
        Ok(body) => oauth_json(StatusCode::OK, body),
        Err(e) => oauth_error(e),
    }
}

pub(super) async fn revoke(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = oauth_tenant(&st, &slug).await?;
        let f = oauth_form(&headers, &body)?;
        let client = st
            .clients
            .authenticate_client(&tenant, &credentials(&headers, &f)?)
            .await?;
        let token = f
            .get("token")
            .ok_or(OAuthError::invalid_request("token is required"))?;
        st.endpoints
            .revoke_token(&tenant, &client, token)
            .await
            .map_err(OAuthError::from_service)
    };
    match run.await {
        // RFC 7009 §2.2: 200 whether or not the token was known.
        Ok(()) => oauth_json(StatusCode::OK, json!({})),
        Err(e) => oauth_error(e),
    }
}

pub(super) async fn introspect(
    State(st): State<OidcProvider>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = oauth_tenant(&st, &slug).await?;
        let f = oauth_form(&headers, &body)?;
        let client = st
            .clients
            .authenticate_client(&tenant, &credentials(&headers, &f)?)
            .await?;
        if !client.is_confidential() {
            return Err(OAuthError::unauthorized_client(
                "introspection is for confidential clients",
            ));
        }
        let token = f
            .get("token")
            .ok_or(OAuthError::invalid_request("token is required"))?;
        st.endpoints
            .introspect(&tenant, token)
            .await
            .map_err(OAuthError::from_service)
    };
    match run.await {
        Ok(body) => oauth_json(StatusCode::OK, body),
        Err(e) => oauth_error(e),
    }
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
        Err(e) => return oauth_error(OAuthError::from_service(e)),
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
        Err(e) => oauth_error(OAuthError::from_service(e)),
    }
}
