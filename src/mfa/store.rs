//! The tenant tables of multi-factor sign-in: `totp`, `recovery_code`, `passkey` and
//! `mfa_challenge` (schema/surreal/tenant/006_mfa.surql). Every single-use thing is spent by a
//! conditional update, so it is used once however many requests (or nodes) race for it.
//! Written straight by `MfaService`, never through the tenant actor: no actor caches these rows.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use crate::domain::events::EventKind;
use crate::store::outbox::{self, QueuedMail};
use crate::store::{Db, StoreResult, events};

/// Most wrong codes one mfaToken takes before it is dead.
pub const MAX_CHALLENGE_FAILURES: i64 = 5;

/// A user's authenticator app.
#[derive(Clone, Debug, SurrealValue)]
pub struct TotpRow {
    /// The sealed secret.
    pub secret_sealed: String,
    /// Set once a correct code confirmed the enrolment; until then it is not a factor.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last step accepted (a code works once).
    pub last_step: Option<i64>,
}

/// A passkey as stored.
#[derive(Clone, Debug, SurrealValue)]
pub struct PasskeyRow {
    /// Record key.
    pub id: String,
    /// Owner.
    pub user: String,
    /// Name the user gave it.
    pub name: String,
    /// The credential id, base64url.
    pub cred_id: String,
    /// webauthn-rs's serialized `Passkey`.
    pub credential: String,
    /// Signature counter last seen.
    pub sign_count: i64,
    /// Whether the authenticator may sync it (backup eligible).
    pub backup_eligible: bool,
    /// Whether it is synced (backed up) now.
    pub backup_state: bool,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A challenge as stored.
#[derive(Clone, Debug, SurrealValue)]
pub struct ChallengeRow {
    /// `login`, `enroll`, `passkey_registration` or `passkey_login`.
    pub kind: String,
    /// Whom it is for (unknown for a discoverable passkey sign-in).
    pub user: Option<String>,
    /// The WebAuthn ceremony state (JSON), for passkey challenges and logins with passkeys.
    pub state: Option<String>,
    /// Wrong codes presented so far.
    pub failures: i64,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set once spent.
    pub used_at: Option<DateTime<Utc>>,
    /// The identity provider of the sign-in this second step continues, if any.
    pub idp: Option<String>,
}

fn challenge_rid(hash: &str) -> RecordId {
    RecordId::new("mfa_challenge", hash)
}

/// The TOTP row of a user.
pub async fn totp(db: &Db, user: &str) -> StoreResult<Option<TotpRow>> {
    db.query("SELECT secret_sealed, confirmed_at, last_step FROM ONLY $rid")
        .bind(("rid", RecordId::new("totp", user)))
        .take(0)
        .await
}

/// Whether one of `hashes` is an unused recovery code of `user` (nothing is spent).
pub async fn has_recovery_code(db: &Db, user: &str, hashes: &[String]) -> StoreResult<bool> {
    let yes: Option<bool> = db
        .query(
            "RETURN count(SELECT id FROM recovery_code
                 WHERE user = $user AND hash IN $hashes AND used_at IS NONE LIMIT 1) > 0",
        )
        .bind(("user", user.to_string()))
        .bind(("hashes", hashes.to_vec()))
        .take(0)
        .await?;
    Ok(yes.unwrap_or(false))
}

/// Every TOTP row of a tenant: (user, sealed secret), for `keys rekey`.
pub async fn all_totp(db: &Db) -> StoreResult<Vec<(String, String)>> {
    #[derive(SurrealValue)]
    struct Row {
        user: String,
        secret_sealed: String,
    }
    let rows: Vec<Row> = db
        .query("SELECT user, secret_sealed FROM totp")
        .take(0)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.user, r.secret_sealed))
        .collect())
}

/// Replaces a user's sealed TOTP secret (same secret, sealed under a new `SECRET_KEY`).
pub async fn reseal_totp(db: &Db, user: &str, sealed: String) -> StoreResult<()> {
    db.query("UPDATE $rid SET secret_sealed = $sealed")
        .bind(("rid", RecordId::new("totp", user)))
        .bind(("sealed", sealed))
        .exec()
        .await
}

/// Whether a user has a confirmed authenticator app or a passkey.
pub async fn has_factor(db: &Db, user: &str) -> StoreResult<bool> {
    let yes: Option<bool> = db
        .query(
            "RETURN (SELECT VALUE confirmed_at FROM ONLY $totp) != NONE
                OR count(SELECT id FROM passkey WHERE user = $user LIMIT 1) > 0",
        )
        .bind(("totp", RecordId::new("totp", user)))
        .bind(("user", user.to_string()))
        .take(0)
        .await?;
    Ok(yes.unwrap_or(false))
}

/// Starts (or restarts) an enrolment: an unconfirmed secret. A confirmed one is left alone:
/// replacing a working factor needs it disabled first.
pub async fn put_pending_totp(
    db: &Db,
    user: &str,
    sealed: String,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    db.query(
        "BEGIN TRANSACTION;
             LET $cur = (SELECT confirmed_at FROM ONLY $rid);
             IF $cur.confirmed_at != NONE { THROW 'already enrolled' };
             UPSERT $rid SET user = $user, secret_sealed = $sealed, confirmed_at = NONE,
                 last_step = NONE, created_at = $now;
             COMMIT TRANSACTION;",
    )
    .bind(("rid", RecordId::new("totp", user)))
    .bind(("user", user.to_string()))
    .bind(("sealed", sealed))
    .bind(("now", now))
    .applied()
    .await
}

/// Confirms the enrolment at `step` (only if still unconfirmed), replaces the recovery codes
/// and queues the notice, in one transaction. `false`: it was confirmed meanwhile.
pub async fn confirm_totp(
    db: &Db,
    user: &str,
    step: i64,
    code_hashes: &[String],
    notice: QueuedMail,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let emit = events::emit(
        EventKind::UserMfaEnrolled,
        "{ user_id: $user, factor: 'totp' }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
             LET $done = (UPDATE $rid SET confirmed_at = $now, last_step = $step
                 WHERE confirmed_at IS NONE RETURN AFTER);
             IF array::len($done) = 0 {{ THROW 'not pending' }};
             DELETE recovery_code WHERE user = $user;
             FOR $h IN $hashes {{ CREATE recovery_code SET user = $user, hash = $h, created_at = $now; }};
             CREATE $oid CONTENT $mail;
             {emit}
             COMMIT TRANSACTION;"
    ))
    .bind(("rid", RecordId::new("totp", user)))
    .bind(("user", user.to_string()))
    .bind(("step", step))
    .bind(("hashes", code_hashes.to_vec()))
    .bind(("oid", outbox::rid(&notice.id)))
    .bind(("mail", notice.mail))
    .bind(("now", now))
    .applied()
    .await
}

/// Records `step` as used if it is later than the last one (a code works once, also when two
/// requests present it at the same moment). `false`: not later.
pub async fn use_totp_step(db: &Db, user: &str, step: i64) -> StoreResult<bool> {
    db.query(
        "UPDATE $rid SET last_step = $step
             WHERE confirmed_at != NONE AND (last_step IS NONE OR last_step < $step)
             RETURN AFTER",
    )
    .bind(("rid", RecordId::new("totp", user)))
    .bind(("step", step))
    .changed()
    .await
}

/// Removes a user's authenticator app; recovery codes go too when no other factor is left.
/// Queues the notice.
pub async fn delete_totp(db: &Db, user: &str, notice: QueuedMail) -> StoreResult<()> {
    let emit = events::emit(
        EventKind::UserMfaRemoved,
        "{ user_id: $user, factor: 'totp' }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
         LET $now = time::now();
         LET $gone = (DELETE $rid RETURN BEFORE);
         IF count(SELECT id FROM passkey WHERE user = $user) = 0 {{
             DELETE recovery_code WHERE user = $user;
         }};
         CREATE $oid CONTENT $mail;
         IF array::len($gone) > 0 {{ {emit} }};
         COMMIT TRANSACTION;"
    ))
    .bind(("rid", RecordId::new("totp", user)))
    .bind(("user", user.to_string()))
    .bind(("oid", outbox::rid(&notice.id)))
    .bind(("mail", notice.mail))
    .exec()
    .await
}

/// Unused recovery codes of a user.
pub async fn recovery_codes_left(db: &Db, user: &str) -> StoreResult<i64> {
    let n = db
        .query("SELECT count() AS n FROM recovery_code WHERE user = $user AND used_at IS NONE GROUP ALL")
        .bind(("user", user.to_string()))
        .count()
        .await?;
    Ok(n as i64)
}

/// Replaces a user's recovery codes and queues the notice.
pub async fn replace_recovery_codes(
    db: &Db,
    user: &str,
    code_hashes: &[String],
    notice: QueuedMail,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.query(
        "BEGIN TRANSACTION;
         DELETE recovery_code WHERE user = $user;
         FOR $h IN $hashes { CREATE recovery_code SET user = $user, hash = $h, created_at = $now; };
         CREATE $oid CONTENT $mail;
         COMMIT TRANSACTION;",
    )
    .bind(("user", user.to_string()))
    .bind(("hashes", code_hashes.to_vec()))
    .bind(("oid", outbox::rid(&notice.id)))
    .bind(("mail", notice.mail))
    .bind(("now", now))
    .exec()
    .await
}

/// Spends one recovery code of `user` by hash; `false` when unknown or spent.
pub async fn use_recovery_code(
    db: &Db,
    user: &str,
    hashes: &[String],
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    // `hashes`: the code under the current key and any retired one (at most one row matches).
    db.query(
        "UPDATE recovery_code SET used_at = $now
             WHERE user = $user AND hash IN $hashes AND used_at IS NONE RETURN AFTER",
    )
    .bind(("user", user.to_string()))
    .bind(("hashes", hashes.to_vec()))
    .bind(("now", now))
    .changed()
    .await
}

const PASSKEY_FIELDS: &str = "record::id(id) AS id, user, name, cred_id, credential, sign_count, \
    backup_eligible, backup_state, created_at, last_used_at";

/// A user's passkeys, oldest first.
pub async fn passkeys(db: &Db, user: &str) -> StoreResult<Vec<PasskeyRow>> {
    db.query(format!(
        "SELECT {PASSKEY_FIELDS} FROM passkey WHERE user = $user ORDER BY created_at"
    ))
    .bind(("user", user.to_string()))
    .take(0)
    .await
}

/// A passkey by credential id.
pub async fn passkey_by_cred(db: &Db, cred_id: &str) -> StoreResult<Option<PasskeyRow>> {
    db.query(format!(
        "SELECT {PASSKEY_FIELDS} FROM passkey WHERE cred_id = $cred LIMIT 1"
    ))
    .bind(("cred", cred_id.to_string()))
    .take(0)
    .await
}

/// Stores a new passkey and queues the notice.
pub async fn insert_passkey(db: &Db, row: &PasskeyRow, notice: QueuedMail) -> StoreResult<()> {
    let emit = events::emit(
        EventKind::UserMfaEnrolled,
        "{ user_id: $user, factor: 'passkey', passkey_id: $key }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
         CREATE $rid SET user = $user, name = $name, cred_id = $cred, credential = $credential,
             sign_count = $count, backup_eligible = $be, backup_state = $bs, created_at = $now;
         CREATE $oid CONTENT $mail;
         {emit}
         COMMIT TRANSACTION;"
    ))
    .bind(("key", row.id.clone()))
    .bind(("rid", RecordId::new("passkey", row.id.as_str())))
    .bind(("user", row.user.clone()))
    .bind(("name", row.name.clone()))
    .bind(("cred", row.cred_id.clone()))
    .bind(("credential", row.credential.clone()))
    .bind(("count", row.sign_count))
    .bind(("be", row.backup_eligible))
    .bind(("bs", row.backup_state))
    .bind(("now", row.created_at))
    .bind(("oid", outbox::rid(&notice.id)))
    .bind(("mail", notice.mail))
    .exec()
    .await
}

/// Records a sign-in with a passkey: its updated credential (counter), flags and time. The
/// counter only moves forward, so two sign-ins with one assertion cannot both record.
pub async fn touch_passkey(
    db: &Db,
    id: &str,
    credential: String,
    sign_count: i64,
    backup_state: bool,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    db.query(
        "UPDATE $rid SET credential = $credential, sign_count = $count, backup_state = $bs,
                 last_used_at = $now
             WHERE $count = 0 OR sign_count < $count RETURN AFTER",
    )
    .bind(("rid", RecordId::new("passkey", id)))
    .bind(("credential", credential))
    .bind(("count", sign_count))
    .bind(("bs", backup_state))
    .bind(("now", now))
    .changed()
    .await
}

/// Removes one of a user's passkeys (recovery codes too when no factor is left) and queues the
/// notice; `false` when the user has no such passkey.
pub async fn delete_passkey(
    db: &Db,
    user: &str,
    id: &str,
    notice: QueuedMail,
) -> StoreResult<bool> {
    let emit = events::emit(
        EventKind::UserMfaRemoved,
        "{ user_id: $user, factor: 'passkey', passkey_id: $id }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
             LET $now = time::now();
             LET $gone = (DELETE passkey WHERE record::id(id) = $id AND user = $user RETURN BEFORE);
             IF array::len($gone) = 0 {{ THROW 'no such passkey' }};
             IF count(SELECT id FROM passkey WHERE user = $user) = 0
                 AND count(SELECT id FROM totp WHERE user = $user AND confirmed_at != NONE) = 0 {{
                 DELETE recovery_code WHERE user = $user;
             }};
             CREATE $oid CONTENT $mail;
             {emit}
             COMMIT TRANSACTION;"
    ))
    .bind(("id", id.to_string()))
    .bind(("user", user.to_string()))
    .bind(("oid", outbox::rid(&notice.id)))
    .bind(("mail", notice.mail))
    .applied()
    .await
}

/// Removes every factor of a user (an admin's reset) and queues the notice.
pub async fn delete_all(db: &Db, user: &str, notice: QueuedMail) -> StoreResult<()> {
    let emit = events::emit(
        EventKind::UserMfaRemoved,
        "{ user_id: $user, factor: 'all' }",
    );
    db.query(format!(
        "BEGIN TRANSACTION;
         DELETE $totp;
         DELETE recovery_code WHERE user = $user;
         DELETE passkey WHERE user = $user;
         UPDATE mfa_challenge SET used_at = $now WHERE user = $user AND used_at IS NONE;
         CREATE $oid CONTENT $mail;
         {emit}
         COMMIT TRANSACTION;"
    ))
    .bind(("totp", RecordId::new("totp", user)))
    .bind(("user", user.to_string()))
    .bind(("now", notice.mail.created_at))
    .bind(("oid", outbox::rid(&notice.id)))
    .bind(("mail", notice.mail))
    .exec()
    .await
}

/// Stores a challenge under the hash of its token.
pub async fn put_challenge(
    db: &Db,
    hash: &str,
    row: &ChallengeRow,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    db.query(
        "CREATE $rid SET kind = $kind, user = $user, state = $state, failures = 0,
             idp = $idp, created_at = $now, expires_at = $exp",
    )
    .bind(("rid", challenge_rid(hash)))
    .bind(("kind", row.kind.clone()))
    .bind(("user", row.user.clone()))
    .bind(("state", row.state.clone()))
    .bind(("idp", row.idp.clone()))
    .bind(("now", now))
    .bind(("exp", row.expires_at))
    .exec()
    .await
}

/// A live challenge of `kind`: unspent, unexpired, with failures left.
pub async fn live_challenge(
    db: &Db,
    hash: &str,
    kinds: &[&str],
    now: DateTime<Utc>,
) -> StoreResult<Option<ChallengeRow>> {
    let row: Option<ChallengeRow> = db
        .query("SELECT kind, user, state, failures, expires_at, used_at, idp FROM ONLY $rid")
        .bind(("rid", challenge_rid(hash)))
        .take(0)
        .await?;
    Ok(row.filter(|r| {
        kinds.contains(&r.kind.as_str())
            && r.used_at.is_none()
            && r.expires_at > now
            && r.failures < MAX_CHALLENGE_FAILURES
    }))
}

/// Spends a challenge; `false` when it was spent, expired or exhausted meanwhile (another
/// request, possibly on another node, won).
pub async fn spend_challenge(db: &Db, hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    db.query(
        "UPDATE $rid SET used_at = $now
             WHERE used_at IS NONE AND expires_at > $now AND failures < $max RETURN AFTER",
    )
    .bind(("rid", challenge_rid(hash)))
    .bind(("now", now))
    .bind(("max", MAX_CHALLENGE_FAILURES))
    .changed()
    .await
}

/// Counts a wrong code against a challenge.
pub async fn fail_challenge(db: &Db, hash: &str) -> StoreResult<()> {
    db.query("UPDATE $rid SET failures += 1 WHERE used_at IS NONE")
        .bind(("rid", challenge_rid(hash)))
        .exec()
        .await
}
