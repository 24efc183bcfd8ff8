//! The tenant actor's messages and the types they carry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;

use crate::domain::keys::KeyRow;
use crate::domain::lockout::{Admission, LockoutPolicy};
use crate::error::ServiceError;
use crate::store::StoreResult;
use crate::store::one_time_tokens::NewToken;
use crate::store::outbox::QueuedMail;
use crate::store::sessions::{NewSession, Rotation};
use crate::store::users::{NewUser, UserRow};

/// How a login attempt ended, for the failure counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginVerdict {
    /// Right password: the counter resets.
    Success,
    /// Wrong password or unknown account: one more failure.
    Failure,
    /// No verdict (e.g. the hashing pool was full): the attempt just stops being in flight.
    Abandoned,
    /// A password reset: the counter resets; attempts in flight are left alone.
    Reset,
}

/// A lock that a failure started: consecutive failures and its length.
pub type LockStarted = Option<(i64, Duration)>;

/// The tenant actor's messages.
pub enum TenantMsg {
    /// May a login attempt on this account key verify a password now? Admitted attempts are
    /// in flight until their verdict arrives.
    LoginAdmit(
        String,
        LockoutPolicy,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<Admission>>,
    ),
    /// The verdict of an admitted attempt (or a reset), with the id of the account's user
    /// when it exists (a lock it starts is then a `user.locked_out` event).
    LoginVerdict(
        String,
        Option<String>,
        LoginVerdict,
        LockoutPolicy,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<LockStarted>>,
    ),
    /// Insert a user (with its verification token and mail).
    CreateUser(
        String,
        Box<NewUser>,
        Option<(NewToken, QueuedMail)>,
        RpcReplyPort<StoreResult<UserRow>>,
    ),
    /// Issue a reset or verification token and queue its mail.
    IssueToken(
        String,
        NewToken,
        Box<QueuedMail>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<()>>,
    ),
    /// Spend a reset token: new password, all sessions revoked, notice queued.
    ConsumeReset(
        String,
        String,
        String,
        Box<QueuedMail>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<()>>,
    ),
    /// Disable or enable a user (disabling revokes its sessions).
    SetDisabled(
        String,
        bool,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<Option<UserRow>>>,
    ),
    /// Replace a user's roles.
    SetRoles(
        String,
        Vec<String>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<Option<UserRow>>>,
    ),
    /// Delete a user and everything that belongs to it.
    DeleteUser(String, RpcReplyPort<StoreResult<bool>>),
    /// Install a new signing key; the previous ones keep verifying until their tokens expire.
    RotateKey(
        Vec<KeyRow>,
        bool,
        RpcReplyPort<Result<String, ServiceError>>,
    ),
    /// Make sure a key of this algorithm signs (the tenant's first RSA key, for id_tokens).
    EnsureKey(
        crate::domain::Algorithm,
        RpcReplyPort<Result<(), ServiceError>>,
    ),
    /// Spend a verification token: address confirmed.
    ConsumeVerify(String, String, DateTime<Utc>, RpcReplyPort<StoreResult<()>>),
    /// Start a session with its first refresh token; records the login time.
    CreateSession(Box<NewSession>, RpcReplyPort<StoreResult<()>>),
    /// Rotate a refresh token. Queued, not applied at once: see
    /// [`TenantState::rotations`](super::TenantState::rotations).
    Rotate(Box<Rotation>, RpcReplyPort<StoreResult<()>>),
    /// Apply the queued rotations (the actor sends this to itself).
    FlushRotations,
    /// Refuse login attempts on this account key that waited too long (sent to itself).
    ExpireLoginWaiters(String),
    /// Waiting attempts of this account try again (shared store: the verdicts that free the
    /// budget may come from other nodes, which send no message here).
    RetryLoginWaiters(String),
    /// Revoke one session.
    RevokeSession(
        String,
        &'static str,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<bool>>,
    ),
    /// Revoke a user's sessions except one.
    RevokeAll(
        String,
        Option<String>,
        &'static str,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<usize>>,
    ),
    /// Set a password hash and revoke the user's other sessions.
    SetPassword(
        String,
        String,
        Option<String>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<usize>>,
    ),
}
