//! The seed's REST API (FastAPI-compatible), on the default tenant at `/api/auth/*` and per
//! tenant at `/t/{tenant}/api/auth/*`. Thin handlers: parse, call one service function, map
//! the result; every rule lives in the service layer, shared with GraphQL.

pub mod body;
pub mod error;
pub mod password_reset;
pub mod types;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::AppState;
use crate::actors::Tenant;
use crate::edge::client::bearer;
use crate::edge::client::client_info;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use body::Fields;
use error::{RestError, issue};
use types::{HttpError, HttpValidationError, LoginForm, LogoutIn, RegisterIn, TokenOut, UserOut};

/// The REST routes under both prefixes.
pub fn routes() -> Router<AppState> {
    let auth = Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/password-reset/request", post(password_reset::request))
        .route("/password-reset/confirm", post(password_reset::confirm))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/api/auth", auth.clone())
        .nest("/t/{tenant}/api/auth", auth)
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(HttpError {
            detail: "Method Not Allowed".into(),
        }),
    )
        .into_response()
}

/// The tenant of the path, or the default tenant for `/api/auth/*`. An extractor, so every
/// handler resolves it alike and refuses an unknown tenant before reading the body.
pub struct PathTenant(pub Tenant);

impl FromRequestParts<AppState> for PathTenant {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let slug = match RawPathParams::from_request_parts(parts, st).await {
            Ok(p) => p
                .iter()
                .find(|(k, _)| *k == "tenant")
                .map(|(_, v)| v.to_string()),
            // Undecodable percent-escapes cannot name a tenant.
            Err(_) => return Err(ServiceError::TenantNotFound.into()),
        };
        let slug = slug.unwrap_or_else(|| st.services.config.default_tenant.to_string());
        Ok(PathTenant(st.services.tenant(&slug).await?))
    }
}

/// The tenant and the client (address and user agent, for throttling and audit) of a request:
/// one extractor for the start the handlers of throttled services share.
pub struct Caller {
    /// The tenant of the path.
    pub tenant: Tenant,
    /// Who is calling.
    pub client: ClientInfo,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        // ConnectInfo first: the handlers extracted it before they looked the tenant up.
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let PathTenant(tenant) = PathTenant::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let client = client_info(peer, &parts.headers, &st.services.config.trusted_proxies);
        Ok(Caller { tenant, client })
    }
}

/// Register a new account.
///
/// Creates the account and answers with it; sign in with `POST /api/auth/login`.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = RegisterIn,
    responses(
        (status = 201, description = "Account created", body = UserOut),
        (status = 404, description = "Unknown tenant", body = HttpError),
        (status = 409, description = "Email or username already taken", body = HttpError),
        (status = 413, description = "Body over 64 KiB", body = HttpError),
        (status = 422, description = "Missing, mistyped or invalid field", body = HttpValidationError),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = HttpError,
            headers(("Retry-After" = u64, description = "Seconds until a retry may succeed"))),
        (status = 503, description = "Overloaded or database down; retry later", body = HttpError),
    )
)]
pub async fn register(
    State(st): State<AppState>,
    Caller { tenant, client }: Caller,
    mut f: Fields,
) -> Result<(StatusCode, Json<UserOut>), RestError> {
    let (email, username, password) = (
        f.string("email"),
        f.string("username"),
        f.string("password"),
    );
    f.finish()?;
    let user = st
        .services
        .accounts
        .register_account(&tenant, &email, &username, &password, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Log in with email or username.
///
/// OAuth 2.0 password grant as FastAPI's `OAuth2PasswordRequestForm`: a form with `username`
/// (email address or username) and `password`.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed in", body = TokenOut),
        (status = 401, description = "Wrong username or password (one message for both)", body = HttpError),
        (status = 403, description = "Account disabled (only after a correct password)", body = HttpError),
        (status = 404, description = "Unknown tenant", body = HttpError),
        (status = 413, description = "Body over 64 KiB", body = HttpError),
        (status = 422, description = "Missing field or not a form", body = HttpValidationError),
        (status = 429, description = "Too many attempts; see Retry-After", body = HttpError,
            headers(("Retry-After" = u64, description = "Seconds until a retry may succeed"))),
        (status = 503, description = "Overloaded or database down; retry later", body = HttpError),
    )
)]
pub async fn login(
    State(st): State<AppState>,
    Caller { tenant, client }: Caller,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<TokenOut>, RestError> {
    let bytes = body::read(&headers, body).await?;
    let form = body::form(&headers, &bytes)?;
    let mut issues = Vec::new();
    for name in ["username", "password"] {
        if !form.contains_key(name) {
            issues.push(issue(name, "missing", "Field required"));
        }
    }
    if form.get("grant_type").is_some_and(|g| g != "password") {
        issues.push(issue(
            "grant_type",
            "string_pattern_mismatch",
            "String should match pattern '^password$'",
        ));
    }
    if !issues.is_empty() {
        return Err(RestError::Invalid(issues));
    }
    let tokens = st
        .services
        .accounts
        .login(&tenant, &form["username"], &form["password"], None, &client)
        .await
        .map_err(|e| RestError::from(e).rename_field("identifier", "username"))?;
    Ok(Json(tokens.into()))
}

/// The signed-in user.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserOut),
        (status = 401, description = "Missing, malformed, expired or revoked access token", body = HttpError),
        (status = 404, description = "Unknown tenant", body = HttpError),
    )
)]
pub async fn me(
    State(st): State<AppState>,
    PathTenant(t): PathTenant,
    headers: HeaderMap,
) -> Result<Json<UserOut>, RestError> {
    let principal = st
        .services
        .sessions
        .authenticate(&t, bearer(&headers).as_deref())
        .await?;
    Ok(Json(principal.user.into()))
}

/// Exchange a refresh token for a new pair.
///
/// Send the **refresh** token as `Authorization: Bearer <refresh_token>`. It is spent by this
/// call; presenting it again is treated as theft and ends the whole session.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    security(("RefreshToken" = [])),
    responses(
        (status = 200, description = "A new token pair", body = TokenOut),
        (status = 401, description = "Refresh token missing, unknown, spent, expired or revoked", body = HttpError),
        (status = 403, description = "The tenant requires a confirmed email address first", body = HttpError),
        (status = 404, description = "Unknown tenant", body = HttpError),
    )
)]
pub async fn refresh(
    State(st): State<AppState>,
    Caller { tenant, client }: Caller,
    headers: HeaderMap,
) -> Result<Json<TokenOut>, RestError> {
    let token = bearer(&headers).ok_or(ServiceError::Unauthenticated("authentication required"))?;
    Ok(Json(
        st.services
            .sessions
            .refresh(&tenant, &token, &client)
            .await?
            .into(),
    ))
}

/// Log out.
///
/// Ends the session of the Bearer access token and, when the body names one, the session of
/// that refresh token (which must belong to the same user).
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("OAuth2PasswordBearer" = [])),
    request_body(content = Option<LogoutIn>, description = "Optional"),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Access token or refresh token invalid", body = HttpError),
        (status = 404, description = "Unknown tenant", body = HttpError),
        (status = 413, description = "Body over 64 KiB", body = HttpError),
        (status = 422, description = "Body present but not the documented JSON", body = HttpValidationError),
    )
)]
pub async fn logout(
    State(st): State<AppState>,
    PathTenant(t): PathTenant,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, RestError> {
    let bytes = body::read(&headers, body).await?;
    // No body, or JSON `null` (what the document allows: the body is optional), is "no
    // refresh token".
    let empty = bytes.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.is_null());
    let refresh_token = if empty {
        None
    } else {
        let mut f = Fields::new(body::json_object(&headers, &bytes)?);
        let token = f.optional_string("refresh_token");
        f.finish()?;
        token
    };
    st.services
        .sessions
        .logout(
            &t,
            bearer(&headers).as_deref(),
            refresh_token.as_deref(),
            false,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
