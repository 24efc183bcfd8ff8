//! The tenant tables of the OpenID Connect provider (schema/surreal/tenant/008_oidc.surql):
//! `oauth_client`, `auth_request`, `auth_code`, `sso_session`, `consent`. Codes and requests
//! are spent by conditional updates, so each is used once however many requests race.
//! Written straight by the provider's services, never through the tenant actor: no actor
//! caches these rows, and sessions it revokes reach every node's cache through the change feed.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::domain::events::EventKind;
use crate::store::{Db, StoreError, StoreResult, events};

/// A registered client.
#[derive(Clone, Debug, SurrealValue)]
pub struct ClientRow {
    /// The client_id (record key).
    pub id: String,
    /// Name shown on the consent page.
    pub name: String,
    /// `public` or `confidential`.
    pub kind: String,
    /// Keyed hash of the secret (confidential clients).
    pub secret_hash: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// OAuth grant types it may use.
    pub grant_types: Vec<String>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Skips the consent page.
    pub first_party: bool,
    /// The JOSE algorithm of its id_tokens.
    pub id_token_alg: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl ClientRow {
    /// A confidential client authenticates with a secret.
    pub fn is_confidential(&self) -> bool {
        self.kind == "confidential"
    }

    /// Whether it may use `grant`.
    pub fn allows(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

const CLIENT_FIELDS: &str = "record::id(id) AS id, name, kind, secret_hash, redirect_uris, \
    post_logout_redirect_uris, grant_types, scopes, first_party, id_token_alg, created_at";

/// A client by id.
pub async fn client(db: &Db, id: &str) -> StoreResult<Option<ClientRow>> {
    db.query(format!("SELECT {CLIENT_FIELDS} FROM ONLY $rid"))
        .bind(("rid", RecordId::new("oauth_client", id)))
        .take(0)
        .await
}

/// A page of clients by creation, after the client `after`.
pub async fn clients(db: &Db, limit: usize, after: Option<&str>) -> StoreResult<Vec<ClientRow>> {
    let filter = if after.is_some() {
        "WHERE record::id(id) > $after"
    } else {
        ""
    };
    db.query(format!(
        "SELECT {CLIENT_FIELDS} FROM oauth_client {filter} ORDER BY id LIMIT $limit"
    ))
    .bind(("after", after.unwrap_or("").to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Number of clients.
pub async fn count_clients(db: &Db) -> StoreResult<usize> {
    db.query("SELECT count() AS n FROM oauth_client GROUP ALL")
        .count()
        .await
}

/// Stores a client (new or changed).
pub async fn put_client(db: &Db, c: &ClientRow, now: DateTime<Utc>) -> StoreResult<()> {
    // The event's data: what a client is, never its secret's hash.
    const DATA: &str = "{ client_id: $key, name: $name, type: $kind, redirect_uris: $redirects,
        post_logout_redirect_uris: $logouts, grant_types: $grants, scopes: $scopes, first_party: $first }";
    let created = events::emit(EventKind::ClientCreated, DATA);
    let updated = events::emit(EventKind::ClientUpdated, DATA);
    db.query(format!(
        "BEGIN TRANSACTION;
         LET $existed = (SELECT VALUE id FROM ONLY $rid);
         UPSERT $rid SET name = $name, kind = $kind, secret_hash = $secret, redirect_uris = $redirects,
             post_logout_redirect_uris = $logouts, grant_types = $grants, scopes = $scopes,
             first_party = $first, id_token_alg = $alg, created_at = $created, updated_at = $now;
         IF $existed = NONE {{ {created} }} ELSE {{ {updated} }};
         COMMIT TRANSACTION;"
    ))
    .bind(("key", c.id.clone()))
    .bind(("rid", RecordId::new("oauth_client", c.id.as_str())))
    .bind(("name", c.name.clone()))
    .bind(("kind", c.kind.clone()))
    .bind(("secret", c.secret_hash.clone()))
    .bind(("redirects", c.redirect_uris.clone()))
    .bind(("logouts", c.post_logout_redirect_uris.clone()))
    .bind(("grants", c.grant_types.clone()))
    .bind(("scopes", c.scopes.clone()))
    .bind(("first", c.first_party))
    .bind(("alg", c.id_token_alg.clone()))
    .bind(("created", c.created_at))
    .bind(("now", now))
    .exec()
    .await
}

/// Deletes a client, its consents and its codes, and revokes the sessions it holds (their ids
/// returned, for the auth cache); `None`
/// when there was none.
pub async fn delete_client(
    db: &Db,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Vec<String>>> {
    #[derive(SurrealValue)]
    struct Outcome {
        gone: i64,
        revoked: Vec<String>,
    }
    let emit = events::emit(EventKind::ClientDeleted, "{ client_id: $id }");
    let o: Option<Outcome> = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $gone = (DELETE $rid RETURN BEFORE);
             DELETE consent WHERE client_id = $id;
             UPDATE auth_code SET used_at = $now WHERE client_id = $id AND used_at IS NONE;
             LET $revoked = (UPDATE session SET revoked_at = $now, revoked_reason = 'client_deleted'
                 WHERE client_id = $id AND revoked_at IS NONE RETURN VALUE record::id(id));
             IF array::len($gone) > 0 {{ {emit} }};
             COMMIT TRANSACTION;
             RETURN {{ gone: array::len($gone), revoked: $revoked }};"
        ))
        .bind(("rid", RecordId::new("oauth_client", id)))
        .bind(("id", id.to_string()))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(o.filter(|o| o.gone > 0).map(|o| o.revoked))
}

/// An authorization request in progress.
#[derive(Clone, Debug, SurrealValue)]
pub struct RequestRow {
    /// Its id.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The (checked) redirect URI.
    pub redirect_uri: String,
    /// Scopes asked for (allowed ones only).
    pub scope: Vec<String>,
    /// Echoed to the client.
    pub state: Option<String>,
    /// Put into the id_token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `none`, `login` or `consent`.
    pub prompt: Option<String>,
    /// Longest acceptable age of the user's authentication, seconds.
    pub max_age: Option<i64>,
    /// The identifier to prefill.
    pub login_hint: Option<String>,
    /// The organization the tokens are to be scoped to (the `organization` parameter).
    pub organization: Option<String>,
    /// The form token of its pages.
    pub csrf: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once a code was issued (or the request ended in an error).
    pub used_at: Option<DateTime<Utc>>,
}

/// Stores a request.
pub async fn put_request(db: &Db, r: &RequestRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET client_id = $client, redirect_uri = $redirect, scope = $scope,
             state = $state, nonce = $nonce, code_challenge = $challenge, prompt = $prompt,
             max_age = $max_age, login_hint = $hint, organization = $org, csrf = $csrf,
             created_at = $now, expires_at = $exp",
    )
    .bind(("rid", RecordId::new("auth_request", r.id.as_str())))
    .bind(("client", r.client_id.clone()))
    .bind(("redirect", r.redirect_uri.clone()))
    .bind(("scope", r.scope.clone()))
    .bind(("state", r.state.clone()))
    .bind(("nonce", r.nonce.clone()))
    .bind(("challenge", r.code_challenge.clone()))
    .bind(("prompt", r.prompt.clone()))
    .bind(("max_age", r.max_age))
    .bind(("hint", r.login_hint.clone()))
    .bind(("org", r.organization.clone()))
    .bind(("csrf", r.csrf.clone()))
    .bind(("now", now))
    .bind(("exp", r.expires_at))
    .exec()
    .await
}

/// A live request (unspent, unexpired).
pub async fn live_request(
    db: &Db,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<RequestRow>> {
    let res = db
        .query(
            "SELECT record::id(id) AS id, client_id, redirect_uri, scope, state, nonce,
                 code_challenge, prompt, max_age, login_hint, organization, csrf, expires_at,
                 used_at
             FROM ONLY $rid",
        )
        .bind(("rid", RecordId::new("auth_request", id)))
        .await;
    let row: Option<RequestRow> = match res {
        Ok(mut r) => r.take(0)?,
        // A made-up id of a shape the engine refuses to read is simply unknown.
        Err(StoreError::Other(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(row.filter(|r| r.used_at.is_none() && r.expires_at > now))
}

/// Ends a request; `false` when it had ended already.
pub async fn spend_request(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    db.query("UPDATE $rid SET used_at = $now WHERE used_at IS NONE RETURN AFTER")
        .bind(("rid", RecordId::new("auth_request", id)))
        .bind(("now", now))
        .changed()
        .await
}

/// An issued authorization code.
#[derive(Clone, Debug, SurrealValue)]
pub struct CodeRow {
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user: String,
    /// The redirect URI it was sent to (must be presented again).
    pub redirect_uri: String,
    /// Granted scopes.
    pub scope: Vec<String>,
    /// For the id_token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// How (RFC 8176).
    pub amr: Vec<String>,
    /// The browser session's public id (`sid`).
    pub sso: String,
    /// The identity provider the user signed in through, if any (the tokens' `idp`).
    pub idp: Option<String>,
    /// The organization the session is scoped to, if any (a member's, checked at issue).
    pub org: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once exchanged.
    pub used_at: Option<DateTime<Utc>>,
    /// The session its exchange started (revoked if the code comes back).
    pub session: Option<String>,
}

/// Stores a code under the hash of its value.
pub async fn put_code(db: &Db, hash: &str, c: &CodeRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET client_id = $client, user = $user, redirect_uri = $redirect, scope = $scope,
             nonce = $nonce, code_challenge = $challenge, auth_time = $auth_time, amr = $amr,
             sso = $sso, idp = $idp, org = $org, created_at = $now, expires_at = $exp",
    )
    .bind(("rid", RecordId::new("auth_code", hash)))
    .bind(("client", c.client_id.clone()))
    .bind(("user", c.user.clone()))
    .bind(("redirect", c.redirect_uri.clone()))
    .bind(("scope", c.scope.clone()))
    .bind(("nonce", c.nonce.clone()))
    .bind(("challenge", c.code_challenge.clone()))
    .bind(("auth_time", c.auth_time))
    .bind(("amr", c.amr.clone()))
    .bind(("sso", c.sso.clone()))
    .bind(("idp", c.idp.clone()))
    .bind(("org", c.org.clone()))
    .bind(("now", now))
    .bind(("exp", c.expires_at))
    .exec()
    .await
}

/// A code by hash, spent or not.
pub async fn code(db: &Db, hash: &str) -> StoreResult<Option<CodeRow>> {
    db.query(
        "SELECT client_id, user, redirect_uri, scope, nonce, code_challenge, auth_time, amr,
                 sso, idp, org, expires_at, used_at, session FROM ONLY $rid",
    )
    .bind(("rid", RecordId::new("auth_code", hash)))
    .take(0)
    .await
}

/// Spends a code; `false` when it was spent meanwhile.
pub async fn spend_code(db: &Db, hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    db.query(
        "UPDATE $rid SET used_at = $now WHERE used_at IS NONE AND expires_at > $now RETURN AFTER",
    )
    .bind(("rid", RecordId::new("auth_code", hash)))
    .bind(("now", now))
    .changed()
    .await
}

/// Records the session a code's exchange started.
pub async fn code_issued(db: &Db, hash: &str, session: &str) -> StoreResult<()> {
    // `$session` is one of SurrealDB's protected parameters (with access, auth, token): a
    // binding of that name is silently ignored, so the value goes in as `$started`.
    db.query("UPDATE $rid SET session = $started")
        .bind(("rid", RecordId::new("auth_code", hash)))
        .bind(("started", session.to_string()))
        .exec()
        .await
}

/// A browser session.
#[derive(Clone, Debug, SurrealValue)]
pub struct SsoRow {
    /// Public id (`sid` in id_tokens).
    pub sid: String,
    /// The user.
    pub user: String,
    /// When they authenticated.
    pub auth_time: DateTime<Utc>,
    /// How (RFC 8176).
    pub amr: Vec<String>,
    /// The identity provider the user signed in through, if any.
    pub idp: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once ended.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Starts a browser session under the hash of its cookie value.
pub async fn put_sso(db: &Db, hash: &str, s: &SsoRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET sid = $sid, user = $user, auth_time = $auth_time, amr = $amr,
             idp = $idp, created_at = $now, expires_at = $exp",
    )
    .bind(("rid", RecordId::new("sso_session", hash)))
    .bind(("sid", s.sid.clone()))
    .bind(("user", s.user.clone()))
    .bind(("auth_time", s.auth_time))
    .bind(("amr", s.amr.clone()))
    .bind(("idp", s.idp.clone()))
    .bind(("now", now))
    .bind(("exp", s.expires_at))
    .exec()
    .await
}

/// A live browser session by cookie hash.
pub async fn live_sso(db: &Db, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<SsoRow>> {
    let row: Option<SsoRow> = db
        .query("SELECT sid, user, auth_time, amr, idp, expires_at, revoked_at FROM ONLY $rid")
        .bind(("rid", RecordId::new("sso_session", hash)))
        .take(0)
        .await?;
    Ok(row.filter(|s| s.revoked_at.is_none() && s.expires_at > now))
}

/// Ends a browser session and the client sessions started from it: its user and the ids of
/// those sessions (for the auth cache), `None` when it had ended already.
pub async fn end_sso(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(String, Vec<String>)>> {
    #[derive(SurrealValue)]
    struct Ended {
        user: String,
        revoked: Vec<String>,
    }
    let e: Option<Ended> = db
        .query(
            "BEGIN TRANSACTION;
             LET $s = (UPDATE $rid SET revoked_at = $now WHERE revoked_at IS NONE RETURN AFTER);
             LET $revoked = IF array::len($s) > 0 {
                 (UPDATE session SET revoked_at = $now, revoked_reason = 'sso_logout'
                     WHERE sso = $s[0].sid AND revoked_at IS NONE RETURN VALUE record::id(id))
             } ELSE { [] };
             COMMIT TRANSACTION;
             RETURN IF array::len($s) > 0 { { user: $s[0].user, revoked: $revoked } } ELSE { NONE };",
        )
        .bind(("rid", RecordId::new("sso_session", hash)))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(e.map(|e| (e.user, e.revoked)))
}

/// The scopes a user consented to for a client.
pub async fn consent(db: &Db, user: &str, client: &str) -> StoreResult<Vec<String>> {
    // A row, not `SELECT VALUE`: the SDK reads a bare array as several results.
    #[derive(SurrealValue)]
    struct Given {
        scopes: Vec<String>,
    }
    let given: Option<Given> = db
        .query("SELECT scopes FROM ONLY $rid")
        .bind(("rid", RecordId::new("consent", format!("{user}/{client}"))))
        .take(0)
        .await?;
    Ok(given.map(|g| g.scopes).unwrap_or_default())
}

/// Records consent (adding to what was given before).
pub async fn put_consent(
    db: &Db,
    user: &str,
    client: &str,
    scopes: &[String],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.query(
        "UPSERT $rid SET user = $user, client_id = $client,
             scopes = array::union(scopes ?? [], $scopes), created_at = created_at ?? $now",
    )
    .bind(("rid", RecordId::new("consent", format!("{user}/{client}"))))
    .bind(("user", user.to_string()))
    .bind(("client", client.to_string()))
    .bind(("scopes", scopes.to_vec()))
    .bind(("now", now))
    .exec()
    .await
}
