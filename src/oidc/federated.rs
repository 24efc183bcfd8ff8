//! The browser paths of a federated sign-in (API.md "Third round"):
//! `GET /t/{tenant}/federation/{provider}/start` binds the sign-in to the browser with a
//! cookie and sends it upstream; `GET|POST /t/{tenant}/federation/{provider}/callback` takes the
//! upstream's answer. They live with the hosted pages because a sign-in started from the
//! hosted sign-in page continues its authorization request here (the browser session, the
//! second factor, consent); the protocol itself is `federation::signin`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::OidcProvider;
use super::browser::{Ctx, ctx, go, unavailable};
use super::cookies::{Peer, cookie, set_cookie, with_cookie};
use crate::edge::client::client_info;
use crate::federation::signin::{
    BINDING_COOKIE, CallbackError, CallbackParams, Finished, StartFrom,
};
use crate::infra::ClientInfo;

/// How long the binding cookie lives: as long as a flow.
const BINDING_SECONDS: i64 = 600;

#[derive(serde::Deserialize)]
pub(super) struct StartQuery {
    /// A flow made by `startFederatedSignIn` or `linkIdentity`.
    flow: Option<String>,
    /// The hosted sign-in page's authorization request.
    request: Option<String>,
}

fn info(st: &OidcProvider, peer: &Peer, headers: &HeaderMap) -> ClientInfo {
    client_info(peer.0, headers, &st.config.trusted_proxies)
}

pub(super) async fn start(
    State(st): State<OidcProvider>,
    Path((slug, provider)): Path<(String, String)>,
    Query(q): Query<StartQuery>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let c = ctx(&st, &slug).await?;
    let from = match (&q.flow, &q.request) {
        (Some(flow), _) => StartFrom::Flow(flow),
        (None, Some(request)) => {
            // The hosted page's request must be live; the flow remembers it.
            c.request(Some(request), None).await?;
            StartFrom::Request(request)
        }
        (None, None) => {
            return Ok(c.message(
                StatusCode::BAD_REQUEST,
                "Cannot sign in",
                "This sign-in link is incomplete.",
            ));
        }
    };
    match st.federation.begin(&c.tenant, &provider, from).await {
        Ok((upstream, binding)) => Ok(with_cookie(
            go(upstream),
            set_cookie(&st, &c.slug, BINDING_COOKIE, &binding, BINDING_SECONDS),
        )),
        Err(e) => Ok(refused(&c, &provider, e, &info(&st, &peer, &headers)).await),
    }
}

pub(super) async fn callback(
    State(st): State<OidcProvider>,
    Path((slug, provider)): Path<(String, String)>,
    Query(params): Query<CallbackParams>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let c = ctx(&st, &slug).await?;
    let client = info(&st, &peer, &headers);
    let binding = cookie(&headers, BINDING_COOKIE);
    let finished = st
        .federation
        .finish(&c.tenant, &provider, params, binding.as_deref(), &client)
        .await;
    let clear = set_cookie(&st, &c.slug, BINDING_COOKIE, "", 0);
    let resp = match finished {
        Ok(Finished::Redirect(to)) => go(to),
        Ok(Finished::Hosted {
            request,
            user,
            method,
            second_step,
        }) => {
            let (r, client_row) = c.request(Some(&request), None).await?;
            if second_step {
                match st
                    .mfa
                    .second_step_after_federation(&c.tenant, &user, &provider)
                    .await
                {
                    Ok(()) => {
                        c.signed_in(&r, &client_row, &user, method, Some(&provider))
                            .await
                    }
                    Err(e) => c.step_failed(&r, "", e).await,
                }
            } else {
                c.signed_in(&r, &client_row, &user, method, Some(&provider))
                    .await
            }
        }
        Err(e) => refused(&c, &provider, e, &client).await,
    };
    Ok(with_cookie(resp, clear))
}

/// A `form_post` answer (Sign in with Apple): a cross-site POST, which carries no `SameSite`
/// cookie, so the binding cannot be checked here. Its fields are kept on the flow and the
/// browser is sent to the callback by GET, a top-level navigation that carries the cookie.
pub(super) async fn callback_posted(
    State(st): State<OidcProvider>,
    Path((slug, provider)): Path<(String, String)>,
    peer: Peer,
    headers: HeaderMap,
    Form(params): Form<CallbackParams>,
) -> Result<Response, Response> {
    let c = ctx(&st, &slug).await?;
    match st.federation.keep_posted(&c.tenant, &params).await {
        Ok(state) => {
            let base = st.federation.callback_url(&c.tenant, &provider);
            let mut u =
                url::Url::parse(&base).map_err(|_| StatusCode::BAD_REQUEST.into_response())?;
            u.query_pairs_mut().append_pair("state", &state);
            Ok(go(u.to_string()))
        }
        Err(e) => Ok(refused(&c, &provider, e, &info(&st, &peer, &headers)).await),
    }
}

/// A refused start or callback: audited, then an error page, or the frontend's redirect URI
/// with `error` (OAuth's words) and the reason.
async fn refused(c: &Ctx, provider: &str, e: CallbackError, client: &ClientInfo) -> Response {
    let fed = &c.st.federation;
    match e {
        CallbackError::Service(e) => unavailable(e),
        CallbackError::Refused(why) => {
            fed.audit_refusal(&c.tenant, provider, &why, client).await;
            c.message(StatusCode::BAD_REQUEST, "Cannot sign in", &why)
        }
        CallbackError::RefusedHosted { request, message } => {
            fed.audit_refusal(&c.tenant, provider, &message, client)
                .await;
            match c.request(Some(&request), None).await {
                Ok((r, _)) => c.again(&r, &message).await,
                Err(page) => page,
            }
        }
        CallbackError::RefusedTo {
            redirect_uri,
            message,
        } => {
            fed.audit_refusal(&c.tenant, provider, &message, client)
                .await;
            match url::Url::parse(&redirect_uri) {
                Ok(mut u) => {
                    u.query_pairs_mut()
                        .append_pair("error", "access_denied")
                        .append_pair("error_description", &message);
                    go(u.to_string())
                }
                Err(_) => c.message(StatusCode::BAD_REQUEST, "Cannot sign in", &message),
            }
        }
    }
}
