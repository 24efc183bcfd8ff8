//! Applies `schema/surreal/*.surql` in order, recording each applied version, idempotently.

use chrono::Utc;
use surrealdb::types::RecordId;

use super::{Db, StoreError, StoreResult};

/// One migration: a version and its SurrealQL.
pub struct Migration {
    /// Monotonic version.
    pub version: i64,
    /// File name, for the record.
    pub name: &'static str,
    /// The definitions.
    pub sql: &'static str,
}

/// Definitions of the `platform` database (tenants).
pub const PLATFORM: &[Migration] = &[
    Migration {
        version: 1,
        name: "platform/001_init.surql",
        sql: include_str!("../../schema/surreal/platform/001_init.surql"),
    },
    Migration {
        version: 2,
        name: "platform/002_mail_settings.surql",
        sql: include_str!("../../schema/surreal/platform/002_mail_settings.surql"),
    },
    Migration {
        version: 3,
        name: "platform/003_settings.surql",
        sql: include_str!("../../schema/surreal/platform/003_settings.surql"),
    },
];

/// Definitions of each tenant's database.
pub const TENANT: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenant/001_init.surql",
        sql: include_str!("../../schema/surreal/tenant/001_init.surql"),
    },
    Migration {
        version: 2,
        name: "tenant/002_mail.surql",
        sql: include_str!("../../schema/surreal/tenant/002_mail.surql"),
    },
    Migration {
        version: 3,
        name: "tenant/003_audit.surql",
        sql: include_str!("../../schema/surreal/tenant/003_audit.surql"),
    },
    Migration {
        version: 4,
        name: "tenant/004_login_throttle.surql",
        sql: include_str!("../../schema/surreal/tenant/004_login_throttle.surql"),
    },
];

/// Applies the migrations newer than the database's recorded version.
pub async fn apply(db: &Db, migrations: &[Migration]) -> StoreResult<()> {
    db.query("DEFINE TABLE IF NOT EXISTS migration SCHEMALESS")
        .await?
        .check()?;
    let mut res = db
        .query("SELECT VALUE version FROM migration")
        .await?
        .check()?;
    let applied: Vec<i64> = res.take(0)?;
    for m in migrations.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = format!(
            "BEGIN TRANSACTION;\n{}\n;CREATE $rid SET version = $version, name = $name, applied_at = $at;\nCOMMIT TRANSACTION;",
            m.sql
        );
        let res = db
            .query(sql)
            .bind(("rid", RecordId::new("migration", m.version)))
            .bind(("version", m.version))
            .bind(("name", m.name))
            .bind(("at", Utc::now()))
            .await?
            .check();
        match res.map_err(StoreError::from) {
            Ok(_) => tracing::info!(migration = m.name, "applied"),
            // Another process applied it between our read and our write.
            Err(StoreError::Other(msg)) if msg.contains("already exists") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
