//! The `session` and `refresh_token` tables: sessions, rotation and revocation.
//! Written through the tenant actor (rotation batches, revocation); read by anyone. Two
//! revocations are written straight, inside the OIDC provider's own transactions (a deleted
//! client's sessions, an SSO logout's: `oidc/store.rs`); the change feed brings them to every
//! node's cache like the actor's.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::{Db, StoreError, StoreResult, events};
use crate::domain::events::EventKind;

/// A session as stored.
#[derive(Clone, Debug, SurrealValue)]
pub struct SessionRow {
    /// Record key (UUIDv7); the `sid` claim.
    pub id: String,
    /// Owner's user id.
    pub user: String,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// How it was authenticated (RFC 8176 `amr`); NONE for sessions from before it was kept.
    pub amr: Option<Vec<String>>,
    /// The OAuth client it was started for (the token endpoint's sessions).
    pub client_id: Option<String>,
    /// The scopes granted to that client.
    pub scope: Option<Vec<String>>,
    /// When a refresh last touched it (see [`SESSION_TOUCH_EVERY`]); NONE before the first.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The upstream identity provider of a federated sign-in (the `idp` claim).
    pub idp: Option<String>,
    /// The organization it is scoped to (the `org_id` claim); NONE: the tenant.
    pub org: Option<String>,
}

/// How stale a session's `last_seen_at` may get before a refresh writes it again. Writing it
/// on every rotation was one of a rotation's three record writes, all on the tenant's single
/// write lane, for a field kept to the minute is as useful as to the millisecond.
pub const SESSION_TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A refresh token row, looked up by hash.
#[derive(Clone, Debug, SurrealValue)]
pub struct RefreshRow {
    /// Record key.
    pub id: String,
    /// The session (rotation family).
    pub session: String,
    /// Owner's user id.
    pub user: String,
    /// Sliding expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once rotated; presenting it again is reuse.
    pub used_at: Option<DateTime<Utc>>,
}

/// What a new session starts with.
pub struct NewSession {
    /// Session id.
    pub id: String,
    /// Owner.
    pub user: String,
    /// Hash of the first refresh token.
    pub refresh_hash: String,
    /// Refresh token expiry.
    pub refresh_expires_at: DateTime<Utc>,
    /// Absolute session expiry.
    pub expires_at: DateTime<Utc>,
    /// Client address.
    pub client_ip: Option<String>,
    /// Client user agent (truncated).
    pub user_agent: Option<String>,
    /// How the user authenticated (RFC 8176 `amr`).
    pub amr: Vec<String>,
    /// The OAuth client, scope and browser session (`sid`) of a token-endpoint session.
    pub client: Option<(String, Vec<String>, String)>,
    /// The upstream identity provider of a federated sign-in.
    pub idp: Option<String>,
    /// The organization it is scoped to.
    pub org: Option<String>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Creates a session and its first refresh token, and records the login time, in one
/// transaction.
pub async fn create(db: &Db, s: NewSession) -> StoreResult<()> {
    let emit = events::emit(
        EventKind::SessionCreated,
        "{ session_id: $sid_key, user_id: $user, amr: $amr, client_id: $client, ip: $ip, idp: $idp }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
         UPDATE $uid SET last_login_at = $now;
         CREATE $sid SET user = $user, created_at = $now, last_seen_at = $now, expires_at = $exp,
             client_ip = $ip, user_agent = $ua, amr = $amr, client_id = $client,
             scope = $scope, sso = $sso, idp = $idp, org = $org;
         CREATE $rtid SET hash = $hash, session = $sid_key, user = $user, created_at = $now,
             expires_at = $rexp;
         {emit}
         COMMIT TRANSACTION;"
    ))
    .bind(("sid", RecordId::new("session", s.id.as_str())))
    .bind(("uid", RecordId::new("user", s.user.as_str())))
    .bind(("sid_key", s.id))
    .bind(("rtid", refresh_token_id(&s.refresh_hash)))
    .bind(("user", s.user))
    .bind(("now", s.now))
    .bind(("exp", s.expires_at))
    .bind(("ip", s.client_ip))
    .bind(("ua", s.user_agent))
    .bind(("amr", s.amr))
    .bind(("client", s.client.as_ref().map(|c| c.0.clone())))
    .bind(("scope", s.client.as_ref().map(|c| c.1.clone())))
    .bind(("sso", s.client.as_ref().map(|c| c.2.clone())))
    .bind(("idp", s.idp))
    .bind(("org", s.org))
    .bind(("hash", s.refresh_hash))
    .bind(("rexp", s.refresh_expires_at))
    .exec()
    .await
}

/// A refresh token's record id: its hash. Reading a record by id costs SurrealDB about half
/// of an index lookup (`latchkey-bench store-costs`: 0.155 against 0.335 ms of CPU), and every
/// refresh, logout and introspection starts with this read. The hash is a keyed HMAC of 256
/// random bits, so it is unique and tells nothing about the token.
fn refresh_token_id(hash: &str) -> RecordId {
    RecordId::new("refresh_token", hash)
}

/// Looks up a refresh token by its hash.
pub async fn find_refresh(db: &Db, hash: &str) -> StoreResult<Option<RefreshRow>> {
    const FIELDS: &str = "record::id(id) AS id, session, user, expires_at, used_at";
    let by_key: Option<RefreshRow> = db
        .query(format!("SELECT {FIELDS} FROM $rid"))
        .bind(("rid", refresh_token_id(hash)))
        .take(0)
        .await?;
    if by_key.is_some() {
        return Ok(by_key);
    }
    // Tokens issued before they were keyed by their hash have a UUID key; the unique index on
    // `hash` still finds them (and answers unknown tokens).
    db.query(format!(
        "SELECT {FIELDS} FROM refresh_token WHERE hash = $hash LIMIT 1"
    ))
    .bind(("hash", hash.to_string()))
    .take(0)
    .await
}

/// Loads a session.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<SessionRow>> {
    db.query("SELECT record::id(id) AS id, user, expires_at, revoked_at, amr, client_id, scope, last_seen_at, idp, org FROM $sid")
        .bind(("sid", RecordId::new("session", id)))
        .take(0)
        .await
}

/// A live session as an admin or its owner sees it (the sessions list).
#[derive(Clone, Debug, SurrealValue)]
pub struct SessionInfo {
    /// Record key; the `sid` claim.
    pub id: String,
    /// When it started (the sign-in).
    pub created_at: DateTime<Utc>,
    /// When a refresh last touched it (to the minute: [`SESSION_TOUCH_EVERY`]).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Absolute expiry.
    pub expires_at: DateTime<Utc>,
    /// The address it signed in from.
    pub client_ip: Option<String>,
    /// The browser or program it signed in with (truncated).
    pub user_agent: Option<String>,
    /// The OAuth client it was started for.
    pub client_id: Option<String>,
    /// How it was authenticated (RFC 8176 `amr`).
    pub amr: Option<Vec<String>>,
    /// The upstream identity provider of a federated sign-in.
    pub idp: Option<String>,
}

/// A user's sessions that are neither revoked nor expired, newest first (the `session_user`
/// index; a user has a handful).
pub async fn active_of(db: &Db, user: &str, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
    db.query(
        "SELECT record::id(id) AS id, created_at, last_seen_at, expires_at, client_ip, user_agent,
             client_id, amr, idp FROM session
         WHERE user = $user AND revoked_at IS NONE AND expires_at > $now ORDER BY created_at DESC",
    )
    .bind(("user", user.to_string()))
    .bind(("now", now))
    .take(0)
    .await
}

/// One refresh-token rotation: spend `old`, issue `new_hash` in the same session.
#[derive(Debug)]
pub struct Rotation {
    /// The presented token, as looked up.
    pub old: RefreshRow,
    /// Hash of the token that replaces it.
    pub new_hash: String,
    /// Its expiry.
    pub new_expires_at: DateTime<Utc>,
    /// Whether the session's `last_seen_at` is written too ([`SESSION_TOUCH_EVERY`]).
    pub touch_session: bool,
    /// Now.
    pub now: DateTime<Utc>,
}

/// One rotation of a batch as SurrealQL sees it (`$rows` of [`rotate_batch`]).
#[derive(SurrealValue)]
struct RotationRow {
    old: RecordId,
    new: RecordId,
    sid: RecordId,
    skey: String,
    user: String,
    hash: String,
    exp: DateTime<Utc>,
    touch: bool,
    now: DateTime<Utc>,
}

/// Applies `batch` in one transaction (one commit, one fsync, however many rotations) and
/// answers, per rotation, whether it happened: each marks its old token used and issues the
/// new one only if the old token was still unused at that point (inside the transaction, so
/// two rotations of the same token in one batch spend it once). `false` means the token was
/// spent meanwhile: by an earlier rotation, possibly in another process, i.e. reuse.
///
/// The batch is one `FOR` over one array parameter, so the text is the same for every batch:
/// unrolled into statements and parameters per rotation (as it was), SurrealDB parsed a
/// statement list that grew with the batch and carried 8 parameters per rotation into every
/// statement's context (the benchmark's refresh went from 805 to 1,019/s with this alone).
pub async fn rotate_batch(db: &Db, batch: &[Rotation]) -> StoreResult<Vec<bool>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<RotationRow> = batch
        .iter()
        .map(|r| RotationRow {
            old: RecordId::new("refresh_token", r.old.id.as_str()),
            new: refresh_token_id(&r.new_hash),
            sid: RecordId::new("session", r.old.session.as_str()),
            skey: r.old.session.clone(),
            user: r.old.user.clone(),
            hash: r.new_hash.clone(),
            exp: r.new_expires_at,
            touch: r.touch_session,
            now: r.now,
        })
        .collect();
    let done: Vec<bool> = db
        .query(
            "BEGIN TRANSACTION;
             FOR $r IN $rows {
                 LET $old = $r.old;
                 IF array::len((UPDATE $old SET used_at = $r.now WHERE used_at IS NONE RETURN AFTER)) > 0 {
                     LET $new = $r.new;
                     CREATE $new SET hash = $r.hash, session = $r.skey, user = $r.user,
                         created_at = $r.now, expires_at = $r.exp;
                     IF $r.touch {
                         LET $sid = $r.sid;
                         UPDATE $sid SET last_seen_at = $r.now;
                     };
                 };
             };
             COMMIT TRANSACTION;
             RETURN array::map($rows, |$r| record::exists($r.new));",
        )
        .bind(("rows", rows))
        // Read back after the commit, as the last statement: which new tokens exist.
        .take_last()
        .await?;
    if done.len() != batch.len() {
        return Err(StoreError::Other(format!(
            "rotation batch of {} answered {} results",
            batch.len(),
            done.len()
        )));
    }
    Ok(done)
}

/// Revokes one session (no-op if already revoked); returns whether it was active.
pub async fn revoke(db: &Db, id: &str, reason: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    // A spent refresh token presented again revokes its session: that is its own event too.
    let emit = format!(
        "{} IF $reason = '{REUSE}' {{ {} }};",
        events::emit(EventKind::SessionRevoked, REVOKED_DATA),
        events::emit(
            EventKind::SessionTokenReuseDetected,
            "{ session_id: $s.id, user_id: $s.user }"
        )
    );
    let ids: Vec<String> = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $revoked = (UPDATE $sid SET revoked_at = $now, revoked_reason = $reason
                 WHERE revoked_at IS NONE RETURN record::id(id) AS id, user);
             FOR $s IN $revoked {{ {emit} }};
             COMMIT TRANSACTION;
             RETURN $revoked.id;"
        ))
        .bind(("sid", RecordId::new("session", id)))
        .bind(("reason", reason.to_string()))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(!ids.is_empty())
}

/// The revocation reason of refresh-token reuse (the sessions service's).
pub const REUSE: &str = "refresh_token_reuse";

/// `session.revoked`'s data, for each `$s` of the revoked sessions (`{id, user}`); also the
/// organizations store's, whose ended memberships revoke sessions.
pub const REVOKED_DATA: &str = "{ session_id: $s.id, user_id: $s.user, reason: $reason }";

/// Revokes all active sessions of a user except `keep`; returns how many were revoked.
pub async fn revoke_all(
    db: &Db,
    user: &str,
    keep: Option<&str>,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    // Browser sign-in sessions (the hosted pages') end with the rest: signing out everywhere,
    // a disabled account or an admin's revocation leaves no way back in without a password.
    let emit = events::emit(EventKind::SessionRevoked, REVOKED_DATA);
    let ids: Vec<String> = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $revoked = (UPDATE session SET revoked_at = $now, revoked_reason = $reason
                 WHERE user = $user AND revoked_at IS NONE AND record::id(id) != $keep
                 RETURN record::id(id) AS id, user);
             UPDATE sso_session SET revoked_at = $now WHERE user = $user AND revoked_at IS NONE;
             FOR $s IN $revoked {{ {emit} }};
             COMMIT TRANSACTION;
             RETURN $revoked.id;"
        ))
        .bind(("user", user.to_string()))
        .bind(("keep", keep.unwrap_or("").to_string()))
        .bind(("reason", reason.to_string()))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(ids.len())
}

/// Active sessions of a user.
pub async fn count_active(db: &Db, user: &str, now: DateTime<Utc>) -> StoreResult<usize> {
    db.query("SELECT count() AS n FROM session WHERE user = $user AND revoked_at IS NONE AND expires_at > $now GROUP ALL")
        .bind(("user", user.to_string()))
        .bind(("now", now))
        .count()
        .await
}

/// Points a session at an organization (or the tenant, `None`) and replaces its refresh
/// token: every unused token of the session is spent (presenting one again is reuse, as
/// after a rotation) and `new_hash` issued, in one transaction. False when the session is
/// revoked or gone.
pub async fn switch_org(
    db: &Db,
    sid: &str,
    org_id: Option<&str>,
    new_hash: &str,
    new_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let done: Vec<RecordId> = db
        .query(
            "BEGIN TRANSACTION;
             LET $s = (UPDATE $sid SET org = $org WHERE revoked_at IS NONE RETURN user);
             IF array::len($s) > 0 {
                 UPDATE refresh_token SET used_at = $now WHERE session = $skey AND used_at IS NONE;
                 CREATE $rtid SET hash = $hash, session = $skey, user = $s[0].user,
                     created_at = $now, expires_at = $rexp;
             };
             COMMIT TRANSACTION;
             RETURN IF record::exists($rtid) { [$rtid] } ELSE { [] };",
        )
        .bind(("sid", RecordId::new("session", sid)))
        .bind(("skey", sid.to_string()))
        .bind(("org", org_id.map(str::to_string)))
        .bind(("rtid", refresh_token_id(new_hash)))
        .bind(("hash", new_hash.to_string()))
        .bind(("rexp", new_expires_at))
        .bind(("now", now))
        .take_last()
        .await?;
    Ok(!done.is_empty())
}
