//! The tenant tables of federation (schema/surreal/tenant/011_federation.surql):
//! `identity_provider`, `federated_identity`, `federation_flow`, `federation_code`. Flows and
//! codes are spent by conditional updates, so each is used once however many requests race.
//! Written straight by the federation service, never through the tenant actor: no actor
//! caches these rows (every node reads a provider from the database when a sign-in starts or
//! returns, so disabling one takes effect on every node at once).

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::domain::events::EventKind;
use crate::store::outbox::{self, QueuedMail};
use crate::store::{Db, StoreError, StoreResult, events};

/// A configured upstream provider.
#[derive(Clone, Debug, SurrealValue)]
pub struct ProviderRow {
    /// Its id (record key; the callback path's segment).
    pub id: String,
    /// `oidc`, `google`, ... (lower case).
    pub kind: String,
    /// Display name.
    pub name: String,
    /// The sign-in button's words, when not "Continue with {name}".
    pub button_label: Option<String>,
    /// Offered and accepted at all.
    pub enabled: bool,
    /// The issuer, exactly as discovery confirmed it.
    pub issuer: String,
    /// latchkey's client id at the upstream.
    pub client_id: String,
    /// The client secret, sealed (never returned).
    pub client_secret_sealed: Option<String>,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Just-in-time sign-up.
    pub may_create: bool,
    /// `never`, `prove` or `automatic`.
    pub link_policy: String,
    /// Whether its `email_verified` is believed.
    pub trusts_email: bool,
    /// Whether its own multi-factor sign-in (its `amr`) stands for latchkey's second factor.
    pub trusts_mfa: bool,
    /// Whether a trusted verified identity may take over a never-verified local account.
    pub take_over_unverified: bool,
    /// From discovery.
    pub authorization_endpoint: String,
    /// From discovery.
    pub token_endpoint: String,
    /// From discovery.
    pub jwks_uri: String,
    /// Its key set as last read (JSON), read again on an unknown `kid`.
    pub jwks: String,
    /// Whether it sends `iss` with the authorization response (RFC 9207).
    pub iss_parameter: bool,
    /// Userinfo (OAuth2 and GitHub: where the user's facts are read).
    pub userinfo_endpoint: String,
    /// GitHub-shaped list of addresses (the primary verified one is taken).
    pub emails_endpoint: Option<String>,
    /// The claim mapping as JSON (`mapping::ClaimMapping`), when not the OpenID names.
    pub claim_mapping: Option<String>,
    /// Microsoft: `common`, `organizations`, `consumers` or a directory id.
    pub directory: Option<String>,
    /// Microsoft: the cloud's sign-in host.
    pub authority_host: Option<String>,
    /// Microsoft: the directories accepted (empty: any the `directory` allows).
    pub allowed_directories: Vec<String>,
    /// Apple: the team id (the client secret's issuer).
    pub apple_team_id: Option<String>,
    /// Apple: the private key's id.
    pub apple_key_id: Option<String>,
    /// Upstream claims copied onto its linked identities.
    pub copy_claims: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const PROVIDER_FIELDS: &str = "record::id(id) AS id, kind, name, button_label, enabled, issuer, \
    client_id, client_secret_sealed, scopes, may_create, link_policy, trusts_email, trusts_mfa, \
    take_over_unverified, authorization_endpoint, token_endpoint, jwks_uri, jwks, iss_parameter, \
    userinfo_endpoint, emails_endpoint, claim_mapping, directory, authority_host, \
    allowed_directories, apple_team_id, apple_key_id, copy_claims, created_at";

/// Reads a record by a key that came from a URL or an argument: a made-up key of a shape the
/// engine refuses is simply unknown.
async fn one<R: SurrealValue>(db: &Db, sql: String, rid: RecordId) -> StoreResult<Option<R>> {
    match db.query(sql).bind(("rid", rid)).await {
        Ok(mut r) => Ok(r.take(0)?),
        Err(StoreError::Other(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A provider by id.
pub async fn provider(db: &Db, id: &str) -> StoreResult<Option<ProviderRow>> {
    let sql = format!("SELECT {PROVIDER_FIELDS} FROM ONLY $rid");
    one(db, sql, RecordId::new("identity_provider", id)).await
}

/// Every provider, by id (a tenant has a handful).
pub async fn providers(db: &Db) -> StoreResult<Vec<ProviderRow>> {
    db.query(format!(
        "SELECT {PROVIDER_FIELDS} FROM identity_provider ORDER BY id"
    ))
    .take(0)
    .await
}

/// Stores a provider (new or changed).
pub async fn put_provider(db: &Db, p: &ProviderRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "UPSERT $rid SET kind = $kind, name = $name, button_label = $label, enabled = $enabled,
             issuer = $issuer, client_id = $client_id, client_secret_sealed = $secret,
             scopes = $scopes, may_create = $may_create, link_policy = $link,
             trusts_email = $trusts_email, trusts_mfa = $trusts_mfa,
             take_over_unverified = $take_over, authorization_endpoint = $authz,
             token_endpoint = $token_url, jwks_uri = $jwks_uri, jwks = $jwks,
             iss_parameter = $iss_parameter, userinfo_endpoint = $userinfo,
             emails_endpoint = $emails, claim_mapping = $mapping, directory = $directory,
             authority_host = $authority_host, allowed_directories = $allowed,
             apple_team_id = $team_id, apple_key_id = $key_id, copy_claims = $copy,
             created_at = $created, updated_at = $now",
    )
    .bind(("rid", RecordId::new("identity_provider", p.id.as_str())))
    .bind(("kind", p.kind.clone()))
    .bind(("name", p.name.clone()))
    .bind(("label", p.button_label.clone()))
    .bind(("enabled", p.enabled))
    .bind(("issuer", p.issuer.clone()))
    .bind(("client_id", p.client_id.clone()))
    .bind(("secret", p.client_secret_sealed.clone()))
    .bind(("scopes", p.scopes.clone()))
    .bind(("may_create", p.may_create))
    .bind(("link", p.link_policy.clone()))
    .bind(("trusts_email", p.trusts_email))
    .bind(("trusts_mfa", p.trusts_mfa))
    .bind(("take_over", p.take_over_unverified))
    .bind(("authz", p.authorization_endpoint.clone()))
    .bind(("token_url", p.token_endpoint.clone()))
    .bind(("jwks_uri", p.jwks_uri.clone()))
    .bind(("jwks", p.jwks.clone()))
    .bind(("iss_parameter", p.iss_parameter))
    .bind(("userinfo", p.userinfo_endpoint.clone()))
    .bind(("emails", p.emails_endpoint.clone()))
    .bind(("mapping", p.claim_mapping.clone()))
    .bind(("directory", p.directory.clone()))
    .bind(("authority_host", p.authority_host.clone()))
    .bind(("allowed", p.allowed_directories.clone()))
    .bind(("team_id", p.apple_team_id.clone()))
    .bind(("key_id", p.apple_key_id.clone()))
    .bind(("copy", p.copy_claims.clone()))
    .bind(("created", p.created_at))
    .bind(("now", now))
    .exec()
    .await
}

/// Keeps a key set read again after an unknown `kid`.
pub async fn put_jwks(db: &Db, id: &str, jwks: String) -> StoreResult<()> {
    db.query("UPDATE $rid SET jwks = $jwks")
        .bind(("rid", RecordId::new("identity_provider", id)))
        .bind(("jwks", jwks))
        .exec()
        .await
}

/// Deletes a provider with its linked identities and the sign-ins in progress through it, and
/// takes it (with its sign-in policy) from an organization that had it as its own; `false`
/// when there was none.
pub async fn delete_provider(db: &Db, id: &str) -> StoreResult<bool> {
    let gone: Option<i64> = db
        .query(
            "BEGIN TRANSACTION;
             LET $gone = (DELETE $rid RETURN BEFORE);
             DELETE federated_identity WHERE provider = $id;
             DELETE federation_flow WHERE provider = $id;
             DELETE federation_code WHERE provider = $id;
             UPDATE organization SET idp = NONE, sso_required = false WHERE idp = $id;
             COMMIT TRANSACTION;
             RETURN array::len($gone);",
        )
        .bind(("rid", RecordId::new("identity_provider", id)))
        .bind(("id", id.to_string()))
        .take_last()
        .await?;
    Ok(gone.unwrap_or(0) > 0)
}

/// Whether an OAuth client of the tenant registered `uri` as a redirect URI (exact match).
/// Read from the OpenID provider's `oauth_client` table: a federated sign-in answers its code
/// only to an address the tenant's admins registered, as for OIDC clients.
pub async fn redirect_registered(db: &Db, uri: &str) -> StoreResult<bool> {
    let n = db
        .query("SELECT count() AS n FROM oauth_client WHERE redirect_uris CONTAINS $uri GROUP ALL")
        .bind(("uri", uri.to_string()))
        .count()
        .await?;
    Ok(n > 0)
}

/// An upstream identity linked to an account.
#[derive(Clone, Debug, SurrealValue)]
pub struct IdentityRow {
    /// Its id.
    pub id: String,
    /// The account.
    pub user: String,
    /// The provider's id.
    pub provider: String,
    /// The upstream subject (for Microsoft Entra `tid/oid`).
    pub subject: String,
    /// The address the upstream gave when it was linked.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: DateTime<Utc>,
    /// The claims its provider copies, as of the last sign-in (JSON object).
    pub claims: Option<String>,
}

const IDENTITY_FIELDS: &str =
    "record::id(id) AS id, user, provider, subject, email, linked_at, claims";

/// The identity (provider, subject), if linked.
pub async fn identity_by_subject(
    db: &Db,
    provider: &str,
    subject: &str,
) -> StoreResult<Option<IdentityRow>> {
    let rows: Vec<IdentityRow> = db
        .query(format!(
            "SELECT {IDENTITY_FIELDS} FROM federated_identity
             WHERE provider = $provider AND subject = $subject LIMIT 1"
        ))
        .bind(("provider", provider.to_string()))
        .bind(("subject", subject.to_string()))
        .take(0)
        .await?;
    Ok(rows.into_iter().next())
}

/// Whether any identity is linked through `provider`.
pub async fn provider_has_identities(db: &Db, provider: &str) -> StoreResult<bool> {
    let ids: Vec<String> = db
        .query(
            "SELECT VALUE record::id(id) FROM federated_identity WHERE provider = $provider LIMIT 1",
        )
        .bind(("provider", provider.to_string()))
        .take(0)
        .await?;
    Ok(!ids.is_empty())
}

/// An account's linked identities, oldest first.
pub async fn identities_of(db: &Db, user: &str) -> StoreResult<Vec<IdentityRow>> {
    db.query(format!(
        "SELECT {IDENTITY_FIELDS} FROM federated_identity WHERE user = $user ORDER BY linked_at"
    ))
    .bind(("user", user.to_string()))
    .take(0)
    .await
}

/// Links (provider, subject) to `user`, queueing `notice` to the owner in the same
/// transaction. The unique index decides a race between two links of the same identity: the
/// loser gets `StoreError::Conflict`.
pub async fn link(db: &Db, row: &IdentityRow, notice: Option<QueuedMail>) -> StoreResult<()> {
    let (queue, oid, mail) = match notice {
        Some(n) => (
            "CREATE $oid CONTENT $mail;",
            Some(outbox::rid(&n.id)),
            Some(n.mail),
        ),
        None => ("", None, None),
    };
    let emit = events::emit(
        EventKind::UserIdentityLinked,
        "{ user_id: $user, identity_id: $key, provider_id: $provider, email: $email }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
         LET $now = $at;
         CREATE $rid SET user = $user, provider = $provider, subject = $subject,
             email = $email, linked_at = $at, claims = $claims;
         {queue}
         {emit}
         COMMIT TRANSACTION;"
    ))
    .bind(("key", row.id.clone()))
    .bind(("rid", RecordId::new("federated_identity", row.id.as_str())))
    .bind(("user", row.user.clone()))
    .bind(("provider", row.provider.clone()))
    .bind(("subject", row.subject.clone()))
    .bind(("email", row.email.clone()))
    .bind(("at", row.linked_at))
    .bind(("claims", row.claims.clone()))
    .bind(("oid", oid))
    .bind(("mail", mail))
    .exec()
    .await
}

/// Notes a sign-in through an identity.
pub async fn touch_identity(
    db: &Db,
    id: &str,
    claims: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.query("UPDATE $rid SET last_used_at = $now, claims = $claims")
        .bind(("rid", RecordId::new("federated_identity", id)))
        .bind(("claims", claims))
        .bind(("now", now))
        .exec()
        .await
}

/// Removes identity `id` of `user` and queues `notice`; `false` when the user has no such
/// identity (nothing is queued then).
pub async fn unlink(db: &Db, user: &str, id: &str, notice: QueuedMail) -> StoreResult<bool> {
    let emit = events::emit(
        EventKind::UserIdentityUnlinked,
        "{ user_id: $user, identity_id: $key, provider_id: $gone[0].provider }",
    );
    let res = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $now = time::now();
             LET $gone = (DELETE $rid WHERE user = $user RETURN BEFORE);
             IF array::len($gone) > 0 {{ CREATE $oid CONTENT $mail; {emit} }};
             COMMIT TRANSACTION;
             RETURN array::len($gone);"
        ))
        .bind(("key", id.to_string()))
        .bind(("rid", RecordId::new("federated_identity", id)))
        .bind(("user", user.to_string()))
        .bind(("oid", outbox::rid(&notice.id)))
        .bind(("mail", notice.mail))
        .take_last::<Option<i64>>()
        .await;
    match res {
        Ok(n) => Ok(n.unwrap_or(0) > 0),
        Err(StoreError::Other(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A sign-in in progress.
#[derive(Clone, Debug, SurrealValue)]
pub struct FlowRow {
    /// The provider.
    pub provider: String,
    /// `hosted` (the hosted sign-in page, inside an authorization request), `api` (a
    /// frontend, through `startFederatedSignIn`) or `link` (a signed-in user linking).
    pub purpose: String,
    /// The authorization request (hosted).
    pub request: Option<String>,
    /// Where the frontend gets its code (api, link).
    pub redirect_uri: Option<String>,
    /// The signed-in user (link).
    pub user: Option<String>,
    /// Sent upstream, checked in the id_token.
    pub nonce: String,
    /// PKCE S256 verifier.
    pub code_verifier: String,
    /// Keyed hash of the browser cookie the flow is bound to (set by /start).
    pub binding: Option<String>,
    /// The fields of a `form_post` answer, kept until the browser comes back with its cookie.
    pub posted: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once the callback used it.
    pub used_at: Option<DateTime<Utc>>,
}

const FLOW_FIELDS: &str = "provider, purpose, request, redirect_uri, user, nonce, code_verifier, \
    binding, posted, expires_at, used_at";

/// Stores a flow under the hash of its `state`.
pub async fn put_flow(db: &Db, hash: &str, f: &FlowRow, now: DateTime<Utc>) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET provider = $provider, purpose = $purpose, request = $request,
             redirect_uri = $redirect, user = $user, nonce = $nonce, code_verifier = $verifier,
             binding = $binding, created_at = $now, expires_at = $exp",
    )
    .bind(("rid", RecordId::new("federation_flow", hash)))
    .bind(("provider", f.provider.clone()))
    .bind(("purpose", f.purpose.clone()))
    .bind(("request", f.request.clone()))
    .bind(("redirect", f.redirect_uri.clone()))
    .bind(("user", f.user.clone()))
    .bind(("nonce", f.nonce.clone()))
    .bind(("verifier", f.code_verifier.clone()))
    .bind(("binding", f.binding.clone()))
    .bind(("now", now))
    .bind(("exp", f.expires_at))
    .exec()
    .await
}

/// A live flow (unspent, unexpired) by the hash of its `state`.
pub async fn live_flow(db: &Db, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<FlowRow>> {
    let sql = format!("SELECT {FLOW_FIELDS} FROM ONLY $rid");
    let row: Option<FlowRow> = one(db, sql, RecordId::new("federation_flow", hash)).await?;
    Ok(row.filter(|f| f.used_at.is_none() && f.expires_at > now))
}

/// Binds a live flow to the browser cookie whose hash is `binding` (once).
pub async fn bind_flow(
    db: &Db,
    hash: &str,
    binding: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    db.query(
        "UPDATE $rid SET binding = $binding
         WHERE binding IS NONE AND used_at IS NONE AND expires_at > $now RETURN AFTER",
    )
    .bind(("rid", RecordId::new("federation_flow", hash)))
    .bind(("binding", binding.to_string()))
    .bind(("now", now))
    .changed()
    .await
}

/// Keeps the fields of a `form_post` answer on its live flow (once).
pub async fn keep_posted(
    db: &Db,
    hash: &str,
    posted: String,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    db.query(
        "UPDATE $rid SET posted = $posted
         WHERE posted IS NONE AND used_at IS NONE AND expires_at > $now RETURN AFTER",
    )
    .bind(("rid", RecordId::new("federation_flow", hash)))
    .bind(("posted", posted))
    .bind(("now", now))
    .changed()
    .await
}

/// Spends a flow; `false` when it was spent already (a replayed `state`).
pub async fn spend_flow(db: &Db, hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    db.query("UPDATE $rid SET used_at = $now WHERE used_at IS NONE RETURN AFTER")
        .bind(("rid", RecordId::new("federation_flow", hash)))
        .bind(("now", now))
        .changed()
        .await
}

/// A finished sign-in waiting for the frontend.
#[derive(Clone, Debug, SurrealValue)]
pub struct CodeRow {
    /// The account.
    pub user: String,
    /// The provider.
    pub provider: String,
    /// Whether the upstream's own multi-factor sign-in counts as the second factor.
    pub upstream_mfa: bool,
}

/// Stores a code under the hash of its value.
pub async fn put_code(
    db: &Db,
    hash: &str,
    c: &CodeRow,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET user = $user, provider = $provider, upstream_mfa = $mfa,
             created_at = $now, expires_at = $exp",
    )
    .bind(("rid", RecordId::new("federation_code", hash)))
    .bind(("user", c.user.clone()))
    .bind(("provider", c.provider.clone()))
    .bind(("mfa", c.upstream_mfa))
    .bind(("now", now))
    .bind(("exp", expires_at))
    .exec()
    .await
}

/// Spends a live code: its row, or `None` when it is unknown, spent or expired.
pub async fn spend_code(db: &Db, hash: &str, now: DateTime<Utc>) -> StoreResult<Option<CodeRow>> {
    let res = db
        .query(
            "UPDATE $rid SET used_at = $now WHERE used_at IS NONE AND expires_at > $now
             RETURN user, provider, upstream_mfa",
        )
        .bind(("rid", RecordId::new("federation_code", hash)))
        .bind(("now", now))
        .await;
    let rows: Vec<CodeRow> = match res {
        Ok(mut r) => r.take(0)?,
        Err(StoreError::Other(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(rows.into_iter().next())
}
