//! The `user` table.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::one_time_tokens::{CREATE_TOKEN, NewToken, bind_token};
use super::outbox::{self, QueuedMail};
use super::{Db, StoreResult};

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
    let mut q = db
        .query(format!(
            "BEGIN TRANSACTION; CREATE $rid CONTENT $user RETURN NONE; {extra} COMMIT TRANSACTION; SELECT {FIELDS} FROM $rid;"
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
    let mut res = q.await?.check()?;
    // Read back after the commit: the last statement's result, however the engine numbers
    // the statements of a transaction.
    let last = res.num_statements().saturating_sub(1);
    let row: Option<UserRow> = res.take(last)?;
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
    let mut res = db
        .query(format!(
            "SELECT {FIELDS} FROM user WHERE {field} = $v LIMIT 1"
        ))
        .bind(("v", normalized.to_string()))
        .await?
        .check()?;
    Ok(res.take::<Option<UserRow>>(0)?)
}

/// Loads a user by id.
pub async fn get(db: &Db, id: &str) -> StoreResult<Option<UserRow>> {
    let mut res = db
        .query(format!("SELECT {FIELDS} FROM $rid"))
        .bind(("rid", RecordId::new("user", id)))
        .await?
        .check()?;
    Ok(res.take::<Option<UserRow>>(0)?)
}

/// Replaces the password hash.
pub async fn set_password(db: &Db, id: &str, hash: String, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPDATE $rid SET password_hash = $hash, updated_at = $now")
        .bind(("rid", RecordId::new("user", id)))
        .bind(("hash", hash))
        .bind(("now", now))
        .await?
        .check()?;
    Ok(())
}

/// Records a successful login.
pub async fn touch_login(db: &Db, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    db.query("UPDATE $rid SET last_login_at = $now")
        .bind(("rid", RecordId::new("user", id)))
        .bind(("now", now))
        .await?
        .check()?;
    Ok(())
}
