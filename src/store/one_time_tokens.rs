//! The `one_time_token` table: password reset and email verification tokens, each issued and
//! consumed in one transaction together with the mail and the change it brings.
//! Issued and consumed through the tenant actor, with the user change they bring.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::outbox::{self, QueuedMail};
use super::{Db, StoreResult, events};
use crate::domain::events::EventKind;

/// What kind of token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Password reset.
    Reset,
    /// Email verification.
    Verify,
}

impl Kind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reset => "reset",
            Kind::Verify => "verify",
        }
    }
}

/// A token to issue.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// Kind.
    pub kind: Kind,
    /// HMAC of the token value.
    pub hash: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// A token as stored.
#[derive(Clone, Debug, SurrealValue)]
pub struct TokenRow {
    /// Record key.
    pub id: String,
    /// `reset` or `verify`.
    pub kind: String,
    /// Owner.
    pub user: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once used (or superseded).
    pub used_at: Option<DateTime<Utc>>,
}

/// SurrealQL that creates `$tid` from `$t*` parameters; part of a larger transaction.
pub(crate) const CREATE_TOKEN: &str = "CREATE $tid SET hash = $thash, kind = $tkind, user = $ukey, created_at = $now, expires_at = $texp;";

/// Binds the parameters [`CREATE_TOKEN`] uses.
pub(crate) fn bind_token<'a>(q: super::db::Query<'a>, t: &NewToken) -> super::db::Query<'a> {
    q.bind((
        "tid",
        RecordId::new("one_time_token", uuid::Uuid::now_v7().to_string()),
    ))
    .bind(("thash", t.hash.clone()))
    .bind(("tkind", t.kind.as_str()))
    .bind(("texp", t.expires_at))
}

/// Looks a token up by hash.
pub async fn find(db: &Db, hash: &str) -> StoreResult<Option<TokenRow>> {
    db.query("SELECT record::id(id) AS id, kind, user, expires_at, used_at FROM one_time_token WHERE hash = $hash LIMIT 1")
        .bind(("hash", hash.to_string()))
        .take(0)
        .await
}

/// How many tokens of `kind` the user was issued since `since` (mail throttling).
pub async fn issued_since(
    db: &Db,
    user: &str,
    kind: Kind,
    since: DateTime<Utc>,
) -> StoreResult<usize> {
    db.query("SELECT count() AS n FROM one_time_token WHERE user = $user AND kind = $kind AND created_at > $since GROUP ALL")
        .bind(("user", user.to_string()))
        .bind(("kind", kind.as_str()))
        .bind(("since", since))
        .count()
        .await
}

/// Issues a token, superseding the user's unused tokens of the same kind, and queues its mail.
pub async fn issue(
    db: &Db,
    user: &str,
    token: NewToken,
    mail: QueuedMail,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let q = db
        .query(format!(
            "BEGIN TRANSACTION;
             UPDATE one_time_token SET used_at = $now WHERE user = $ukey AND kind = $tkind AND used_at IS NONE;
             {CREATE_TOKEN}
             CREATE $oid CONTENT $mail;
             COMMIT TRANSACTION;"
        ))
        .bind(("ukey", user.to_string()))
        .bind(("now", now))
        .bind(("oid", outbox::rid(&mail.id)))
        .bind(("mail", mail.mail));
    bind_token(q, &token).exec().await
}

/// Spends a reset token and applies the new password in one transaction: sets the hash,
/// revokes every session of the user and queues the "password changed" notice. Fails with
/// `Precondition` when the token was used, superseded or expired meanwhile.
///
/// When the account's address was never verified, its linked upstream identities go too: an
/// upstream that does not vouch for addresses (Microsoft Entra, whose `email` any directory
/// admin can set) may have made the account under someone else's address, and the reset is
/// the address's owner claiming it; the identity of whoever made it must not keep signing in
/// (the pre-account-hijacking attack, the other way round). A legitimate owner links again
/// after signing in.
pub async fn consume_reset(
    db: &Db,
    token_id: &str,
    user: &str,
    new_hash: String,
    notice: QueuedMail,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let then = format!(
        "IF !(SELECT VALUE email_verified FROM ONLY $uid) {{
             DELETE federated_identity WHERE user = $ukey;
         }};
         UPDATE $uid SET password_hash = $hash, updated_at = $now;
         UPDATE session SET revoked_at = $now, revoked_reason = 'password_reset' WHERE user = $ukey AND revoked_at IS NONE;
         UPDATE sso_session SET revoked_at = $now WHERE user = $ukey AND revoked_at IS NONE;
         CREATE $oid CONTENT $mail;
         {}",
        events::emit(EventKind::UserPasswordReset, "{ id: $ukey }")
    );
    consume(db, Kind::Reset, &then, token_id, user, now)
        .bind(("hash", new_hash))
        .bind(("oid", outbox::rid(&notice.id)))
        .bind(("mail", notice.mail))
        .exec()
        .await
}

/// Spends a verification token and marks the address confirmed.
pub async fn consume_verify(
    db: &Db,
    token_id: &str,
    user: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let then = format!(
        "LET $was = (SELECT VALUE email_verified FROM ONLY $uid);
         UPDATE $uid SET email_verified = true, updated_at = $now;
         IF $was = false {{ {} }};",
        events::emit(
            EventKind::UserUpdated,
            "{ user: (SELECT record::id(id) AS id, email, username, email_verified, roles, disabled, created_at FROM ONLY $uid), changed: ['email_verified'] }"
        )
    );
    consume(db, Kind::Verify, &then, token_id, user, now)
        .exec()
        .await
}

/// One transaction that spends the token `$tid` if it is still a live token of `kind` of the
/// user `$ukey` (else it throws: `Precondition`), then runs `then` (statements, each ending in
/// `;`): the part both kinds share. Binds `$tid`, `$uid` (the user's record), `$ukey` and `$now`.
fn consume<'a>(
    db: &'a Db,
    kind: Kind,
    then: &str,
    token_id: &str,
    user: &str,
    now: DateTime<Utc>,
) -> super::db::Query<'a> {
    db.query(format!(
        "BEGIN TRANSACTION;
         LET $spent = (UPDATE $tid SET used_at = $now
             WHERE kind = '{}' AND user = $ukey AND used_at IS NONE AND expires_at > $now RETURN AFTER);
         IF array::len($spent) = 0 {{ THROW 'token already used or expired' }};
         {then}
         COMMIT TRANSACTION;",
        kind.as_str()
    ))
    .bind(("tid", RecordId::new("one_time_token", token_id)))
    .bind(("uid", RecordId::new("user", user)))
    .bind(("ukey", user.to_string()))
    .bind(("now", now))
}
