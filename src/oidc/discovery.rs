//! Discovery: OpenID Connect Discovery 1.0 §3 and RFC 8414, every REQUIRED field and only
//! what the endpoints really support (no `password` grant: the GraphQL `login` mutation is
//! not an OAuth grant).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::OidcProvider;
use super::clients::STANDARD_SCOPES;
use crate::domain::keys::JWKS_MAX_AGE_SECONDS;

/// `GET /t/{tenant}/.well-known/openid-configuration` (and the RFC 8414 paths).
pub async fn openid_configuration(
    State(st): State<OidcProvider>,
    Path(tenant): Path<String>,
) -> Response {
    let t = match st.tenant(&tenant).await {
        Ok(t) => t,
        Err(e) => return (e.status(), Json(json!({"detail": e.to_string()}))).into_response(),
    };
    let issuer = st.issuer(t.slug());
    let own = t.keys().algorithm().as_str();
    let mut id_algs = vec!["RS256"];
    if own != "RS256" && own != "HS256" {
        id_algs.push(own);
    }
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "graphql_endpoint": format!("{issuer}/graphql"),
        "scopes_supported": STANDARD_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash", "azp", "email", "email_verified", "preferred_username", "name", "organizations", "org_id", "org_roles"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
    });
    (
        [(
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECONDS}"),
        )],
        Json(doc),
    )
        .into_response()
}
