//! The `user` table.
//! Written through the tenant actor (`actors/tenant`); read by anyone.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::events;
use super::one_time_tokens::{CREATE_TOKEN, NewToken, bind_token};
use super::outbox::{self, QueuedMail};
use super::{Db, StoreResult};
use crate::domain::events::EventKind;

/// A user as stored.
#[derive(Clone, Debug, SurrealValue)]
pub struct UserRow {
    /// Record key (UUIDv7).
    pub id: String,
    /// Address as given.
    pub email: String,
    /// Username as chosen.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Disabled by an admin.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
}

/// Fields of a new user.
#[derive(Clone, Debug, SurrealValue)]
pub struct NewUser {
    /// Address as given.
    pub email: String,
    /// Lower-cased address (unique).
    pub email_norm: String,
    /// Username as chosen.
    pub username: String,
    /// Lower-cased username (unique).
    pub username_norm: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Whether the address is already confirmed.
    pub email_verified: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Same as `created_at` at first.
    pub updated_at: DateTime<Utc>,
}

const FIELDS: &str = "record::id(id) AS id, email, username, password_hash, email_verified, roles, disabled, created_at, last_login_at";

/// A user event's `data` (schema/events/user.created.json): the stored record's public fields,
/// read inside the transaction. Never the password hash.
const USER_DATA: &str = "(SELECT record::id(id) AS id, email, username, email_verified, roles, disabled, created_at FROM ONLY $rid)";

/// Inserts a user, with its verification token and mail in the same transaction when given;
/// unique-index violations surface as `StoreError::Conflict`.
pub async fn create(
    db: &Db,
    id: &str,
    user: NewUser,
    verification: Option<(NewToken, QueuedMail)>,
) -> StoreResult<UserRow> {
    let (extra, token, mail) = match verification {
        Some((t, m)) => (
            format!("{CREATE_TOKEN} CREATE $oid CONTENT $mail;"),
            Some(t),
            Some(m),
        ),
        None => (String::new(), None, None),
    };
    let emit = events::emit(EventKind::UserCreated, USER_DATA);
    let mut q = db
        .query(format!(
            "BEGIN TRANSACTION; CREATE $rid CONTENT $user RETURN NONE; {extra} {emit} COMMIT TRANSACTION; SELECT {FIELDS} FROM $rid;"
        ))
        .bind(("rid", RecordId::new("user", id)))
        .bind(("ukey", id.to_string()))
        .bind(("now", user.created_at))
        .bind(("user", user));
    if let (Some(t), Some(m)) = (token, mail) {
        q = bind_token(q, &t)
            .bind(("oid", outbox::rid(&m.id)))
            .bind(("mail", m.mail));
    }
    // Read back after the commit: the last statement's result, however the engine numbers
    // the statements of a transaction.
    let row: Option<UserRow> = q.take_last().await?;
    row.ok_or_else(|| super::StoreError::Other("CREATE user returned nothing".into()))
}

/// Finds a user by normalized email or username.
pub async fn find_by_login(
    db: &Db,
    by_email: bool,
    normalized: &str,
) -> StoreResult<Option<UserRow>> {
    let field = if by_email {
        "email_norm"
    } else {
        "username_norm"
    };
    db.query(format!(
        "SELECT {FIELDS} FROM user WHERE {field} = $v LIMIT 1"
    ))
    .bind(("v", normalized.to_string()))
    .take(0)
    .await
}

/// Loads a user by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<UserRow>> {
    db.query(format!("SELECT {FIELDS} FROM $rid"))
        .bind(("rid", RecordId::new("user", id)))
        .take(0)
        .await
}

/// Replaces the password hash.
pub async fn set_password(db: &Db, id: &str, hash: String, now: DateTime<Utc>) -> StoreResult<()> {
    let emit = events::emit(EventKind::UserPasswordChanged, "{ id: $ukey }");
    db.query(format!(
        "BEGIN TRANSACTION;
         LET $changed = (UPDATE $rid SET password_hash = $hash, updated_at = $now RETURN VALUE id);
         IF array::len($changed) > 0 {{ {emit} }};
         COMMIT TRANSACTION;"
    ))
    .bind(("ukey", id.to_string()))
    .bind(("rid", RecordId::new("user", id)))
    .bind(("hash", hash))
    .bind(("now", now))
    .exec()
    .await
}

/// Marks the address verified (an upstream provider vouched for it).
pub async fn mark_verified(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPDATE $rid SET email_verified = true, updated_at = $now")
        .bind(("rid", RecordId::new("user", id)))
        .bind(("now", now))
        .exec()
        .await
}

/// Records a successful login.
pub async fn touch_login(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPDATE $rid SET last_login_at = $now")
        .bind(("rid", RecordId::new("user", id)))
        .bind(("now", now))
        .exec()
        .await
}

/// A page of users ordered by id (creation order: ids are UUIDv7), after cursor `after`,
/// optionally only those whose email or username starts with `search` (lower-cased).
pub async fn list(
    db: &Db,
    limit: usize,
    after: Option<&str>,
    search: Option<&str>,
) -> StoreResult<Vec<UserRow>> {
    let mut cond = vec!["true"];
    if after.is_some() {
        cond.push("id > $after");
    }
    if search.is_some() {
        cond.push("(string::starts_with(email_norm, $search) OR string::starts_with(username_norm, $search))");
    }
    db.query(format!(
        "SELECT {FIELDS} FROM user WHERE {} ORDER BY id LIMIT $limit",
        cond.join(" AND ")
    ))
    .bind(("after", RecordId::new("user", after.unwrap_or(""))))
    .bind(("search", search.unwrap_or("").to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// How many users match `search` (all when `None`).
pub async fn count(db: &Db, search: Option<&str>) -> StoreResult<usize> {
    let filter = if search.is_some() {
        "WHERE string::starts_with(email_norm, $search) OR string::starts_with(username_norm, $search)"
    } else {
        ""
    };
    db.query(format!("SELECT count() AS n FROM user {filter} GROUP ALL"))
        .bind(("search", search.unwrap_or("").to_string()))
        .count()
        .await
}

/// Sets `disabled`; when disabling, revokes every session in the same transaction.
pub async fn set_disabled(
    db: &Db,
    id: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> StoreResult<Option<UserRow>> {
    let disabled_event = events::emit(EventKind::UserDisabled, USER_DATA);
    let revoked_event = events::emit(
        EventKind::SessionRevoked,
        "{ session_id: $s.id, user_id: $s.user, reason: 'user_disabled' }",
    );
    let enabled_event = events::emit(EventKind::UserEnabled, USER_DATA);
    db.query(format!(
        "BEGIN TRANSACTION;
             LET $was = (SELECT VALUE disabled FROM ONLY $rid);
             UPDATE $rid SET disabled = $disabled, updated_at = $now;
             IF $disabled {{
                 LET $revoked = (UPDATE session SET revoked_at = $now, revoked_reason = 'user_disabled'
                     WHERE user = $ukey AND revoked_at IS NONE RETURN record::id(id) AS id, user);
                 UPDATE sso_session SET revoked_at = $now WHERE user = $ukey AND revoked_at IS NONE;
                 FOR $s IN $revoked {{ {revoked_event} }};
             }};
             IF $was != NONE AND $was != $disabled {{
                 IF $disabled {{ {disabled_event} }} ELSE {{ {enabled_event} }};
             }};
             COMMIT TRANSACTION;
             SELECT {FIELDS} FROM $rid;"
    ))
    .bind(("rid", RecordId::new("user", id)))
    .bind(("ukey", id.to_string()))
    .bind(("disabled", disabled))
    .bind(("now", now))
    .take_last()
    .await
}

/// The tenant's administrators (role `admin`, not disabled), at most `limit`, oldest first:
/// whom latchkey tells about what needs an admin (a webhook endpoint it disabled).
pub async fn admins(db: &Db, limit: usize) -> StoreResult<Vec<UserRow>> {
    db.query(format!(
        "SELECT {FIELDS} FROM user WHERE roles CONTAINS $role AND disabled != true
         ORDER BY id LIMIT $limit"
    ))
    .bind(("role", crate::domain::ADMIN_ROLE.to_string()))
    .bind(("limit", limit as i64))
    .take(0)
    .await
}

/// Changes a user's address (a SCIM directory changed it), `verified` when the directory may
/// vouch for it; `StoreError::Conflict` when another account has it.
pub async fn set_email(
    db: &Db,
    id: &str,
    email: &str,
    email_norm: &str,
    verified: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let emit = events::emit(
        EventKind::UserUpdated,
        "{ user: (SELECT record::id(id) AS id, email, username, email_verified, roles, disabled, created_at FROM ONLY $rid), changed: ['email'] }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
             LET $was = (SELECT VALUE email_norm FROM ONLY $rid);
             UPDATE $rid SET email = $email, email_norm = $norm, email_verified = $verified,
                 updated_at = $now WHERE $was != NONE;
             IF $was != NONE AND $was != $norm {{ {emit} }};
             COMMIT TRANSACTION;"
    ))
    .bind(("rid", RecordId::new("user", id)))
    .bind(("email", email.to_string()))
    .bind(("norm", email_norm.to_string()))
    .bind(("verified", verified))
    .bind(("now", now))
    .exec()
    .await
}

/// Whether an account is disabled.
#[derive(Clone, Debug, SurrealValue)]
struct DisabledRow {
    id: String,
    disabled: bool,
}

/// Whether each of these accounts is disabled; accounts that no longer exist are left out.
pub async fn disabled_of(
    db: &Db,
    ids: &[String],
) -> StoreResult<std::collections::HashMap<String, bool>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(1000) {
        let rids: Vec<RecordId> = chunk
            .iter()
            .map(|i| RecordId::new("user", i.as_str()))
            .collect();
        let rows: Vec<DisabledRow> = db
            .query("SELECT record::id(id) AS id, disabled FROM $rids")
            .bind(("rids", rids))
            .take(0)
            .await?;
        out.extend(rows.into_iter().map(|r| (r.id, r.disabled)));
    }
    Ok(out)
}

/// Replaces a user's roles.
pub async fn set_roles(
    db: &Db,
    id: &str,
    roles: Vec<String>,
    now: DateTime<Utc>,
) -> StoreResult<Option<UserRow>> {
    let emit = events::emit(
        EventKind::UserUpdated,
        "{ user: (SELECT record::id(id) AS id, email, username, email_verified, roles, disabled, created_at FROM ONLY $rid), changed: ['roles'] }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
             LET $was = (SELECT VALUE roles FROM ONLY $rid);
             UPDATE $rid SET roles = $roles, updated_at = $now;
             IF $was != NONE AND $was != $roles {{ {emit} }};
             COMMIT TRANSACTION;
             SELECT {FIELDS} FROM $rid;"
    ))
    .bind(("rid", RecordId::new("user", id)))
    .bind(("roles", roles))
    .bind(("now", now))
    .take_last()
    .await
}

/// Deletes a user with its sessions, refresh tokens and one-time tokens; `false` if absent.
pub async fn delete(db: &Db, id: &str) -> StoreResult<bool> {
    let emit = events::emit(EventKind::UserDeleted, "{ id: $ukey }");
    let left: Vec<RecordId> = db
        .query(format!(
            "BEGIN TRANSACTION;
             LET $now = time::now();
             DELETE refresh_token WHERE user = $ukey;
             DELETE session WHERE user = $ukey;
             DELETE one_time_token WHERE user = $ukey;
             DELETE org_member WHERE user = $ukey;
             LET $gone = (DELETE $rid RETURN BEFORE);
             IF array::len($gone) > 0 {{ {emit} }};
             COMMIT TRANSACTION;
             SELECT VALUE id FROM $rid;"
        ))
        .bind(("rid", RecordId::new("user", id)))
        .bind(("ukey", id.to_string()))
        .take_last()
        .await?;
    Ok(left.is_empty())
}

/// A user row with its key, for [`insert_many`].
#[derive(Clone, Debug, SurrealValue)]
struct KeyedUser {
    id: RecordId,
    email: String,
    email_norm: String,
    username: String,
    username_norm: String,
    password_hash: String,
    roles: Vec<String>,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Bulk path for the benchmark's seeding (`latchkey-bench seed-users`): inserts many users
/// in one `INSERT` statement (one transaction), with no verification mail and no audit.
/// Not used by the server; unique-index violations fail the whole batch.
pub async fn insert_many(db: &Db, rows: Vec<(String, NewUser)>) -> StoreResult<()> {
    let rows: Vec<KeyedUser> = rows
        .into_iter()
        .map(|(id, u)| KeyedUser {
            id: RecordId::new("user", id),
            email: u.email,
            email_norm: u.email_norm,
            username: u.username,
            username_norm: u.username_norm,
            password_hash: u.password_hash,
            roles: u.roles,
            email_verified: u.email_verified,
            created_at: u.created_at,
            updated_at: u.updated_at,
        })
        .collect();
    db.query("INSERT INTO user $rows RETURN NONE")
        .bind(("rows", rows))
        .exec()
        .await
}
