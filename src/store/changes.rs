//! Change notifications from a SurrealDB server (`LIVE SELECT`): what another node wrote,
//! as (table, record key, action), so this node can drop what it cached sooner than its
//! change feed (`store::feed`) tells it. A hint only (`LIVE_QUERIES`): SurrealDB delivers them
//! only for writes made through the same server process. Only for a shared server; with an
//! embedded engine this process is the only writer and knows its own writes.

use futures::StreamExt;
use surrealdb::types::{Action, RecordIdKey, Value};

use super::{Db, StoreError, StoreResult};

/// One changed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The record's key (e.g. a user id, a session id).
    pub key: String,
    /// Whether the record is gone.
    pub deleted: bool,
}

/// The notifications of one table; `None` from [`Changes::next`] when the subscription ended
/// (the connection was lost: subscribe again on the next link epoch).
pub struct Changes {
    stream: surrealdb::method::Stream<Vec<Value>>,
}

impl Changes {
    /// The next change; `None` when the subscription is over.
    pub async fn next(&mut self) -> Option<Change> {
        loop {
            match self.stream.next().await? {
                Ok(n) => {
                    let deleted = match n.action {
                        Action::Create | Action::Update => false,
                        Action::Delete => true,
                        _ => continue,
                    };
                    if let Some(key) = record_key(&n.data) {
                        return Some(Change { key, deleted });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.message(), "change notifications ended");
                    return None;
                }
            }
        }
    }
}

/// The string key of a notified record (`id` of the row).
fn record_key(v: &Value) -> Option<String> {
    let Value::Object(o) = v else { return None };
    match o.get("id")? {
        Value::RecordId(r) => match &r.key {
            RecordIdKey::String(s) => Some(s.clone()),
            RecordIdKey::Number(n) => Some(n.to_string()),
            RecordIdKey::Uuid(u) => Some(u.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Subscribes to every change of `table` in `db`'s database. Registered when this returns:
/// a write committed afterwards is notified.
pub async fn subscribe(db: &Db, table: &str) -> StoreResult<Changes> {
    let session = db
        .remote_session()
        .ok_or_else(|| StoreError::Other("change notifications need a SurrealDB server".into()))?;
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        session.select(table.to_string()).live(),
    )
    .await
    .map_err(|_| StoreError::Unavailable("LIVE SELECT gave no answer in 5 s".into()))?
    .map_err(StoreError::from)?;
    Ok(Changes { stream })
}
