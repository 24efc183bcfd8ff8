//! Applies `schema/surreal/*.surql` in order, recording each applied version, idempotently.

use chrono::Utc;
use surrealdb::types::RecordId;

use super::{Db, StoreResult};

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
    Migration {
        version: 4,
        name: "platform/004_secret_check.surql",
        sql: include_str!("../../schema/surreal/platform/004_secret_check.surql"),
    },
    Migration {
        version: 5,
        name: "platform/005_mfa_settings.surql",
        sql: include_str!("../../schema/surreal/platform/005_mfa_settings.surql"),
    },
    Migration {
        version: 6,
        name: "platform/006_rs256.surql",
        sql: include_str!("../../schema/surreal/platform/006_rs256.surql"),
    },
    Migration {
        version: 7,
        name: "platform/007_retired_hash_keys.surql",
        sql: include_str!("../../schema/surreal/platform/007_retired_hash_keys.surql"),
    },
    Migration {
        version: 8,
        name: "platform/008_tenant_search.surql",
        sql: include_str!("../../schema/surreal/platform/008_tenant_search.surql"),
    },
    Migration {
        version: 9,
        name: "platform/009_token_hook.surql",
        sql: include_str!("../../schema/surreal/platform/009_token_hook.surql"),
    },
    Migration {
        version: 10,
        name: "platform/010_invitation_url.surql",
        sql: include_str!("../../schema/surreal/platform/010_invitation_url.surql"),
    },
    Migration {
        version: 11,
        name: "platform/011_scim_deprovision.surql",
        sql: include_str!("../../schema/surreal/platform/011_scim_deprovision.surql"),
    },
    Migration {
        version: 12,
        name: "platform/012_changefeeds.surql",
        sql: include_str!("../../schema/surreal/platform/012_changefeeds.surql"),
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
    Migration {
        version: 5,
        name: "tenant/005_key_rollover.surql",
        sql: include_str!("../../schema/surreal/tenant/005_key_rollover.surql"),
    },
    Migration {
        version: 6,
        name: "tenant/006_mfa.surql",
        sql: include_str!("../../schema/surreal/tenant/006_mfa.surql"),
    },
    Migration {
        version: 7,
        name: "tenant/007_rsa_keys.surql",
        sql: include_str!("../../schema/surreal/tenant/007_rsa_keys.surql"),
    },
    Migration {
        version: 8,
        name: "tenant/008_oidc.surql",
        sql: include_str!("../../schema/surreal/tenant/008_oidc.surql"),
    },
    Migration {
        version: 9,
        name: "tenant/009_login_reservations.surql",
        sql: include_str!("../../schema/surreal/tenant/009_login_reservations.surql"),
    },
    Migration {
        version: 10,
        name: "tenant/010_outbox_claims.surql",
        sql: include_str!("../../schema/surreal/tenant/010_outbox_claims.surql"),
    },
    Migration {
        version: 11,
        name: "tenant/011_federation.surql",
        sql: include_str!("../../schema/surreal/tenant/011_federation.surql"),
    },
    Migration {
        version: 12,
        name: "tenant/012_federation_kinds.surql",
        sql: include_str!("../../schema/surreal/tenant/012_federation_kinds.surql"),
    },
    Migration {
        version: 13,
        name: "tenant/013_webhooks.surql",
        sql: include_str!("../../schema/surreal/tenant/013_webhooks.surql"),
    },
    Migration {
        version: 14,
        name: "tenant/014_organizations.surql",
        sql: include_str!("../../schema/surreal/tenant/014_organizations.surql"),
    },
    Migration {
        version: 15,
        name: "tenant/015_org_invitations.surql",
        sql: include_str!("../../schema/surreal/tenant/015_org_invitations.surql"),
    },
    Migration {
        version: 16,
        name: "tenant/016_org_domains.surql",
        sql: include_str!("../../schema/surreal/tenant/016_org_domains.surql"),
    },
    Migration {
        version: 17,
        name: "tenant/017_oidc_organization.surql",
        sql: include_str!("../../schema/surreal/tenant/017_oidc_organization.surql"),
    },
    Migration {
        version: 18,
        name: "tenant/018_org_sso.surql",
        sql: include_str!("../../schema/surreal/tenant/018_org_sso.surql"),
    },
    Migration {
        version: 19,
        name: "tenant/019_org_count.surql",
        sql: include_str!("../../schema/surreal/tenant/019_org_count.surql"),
    },
    Migration {
        version: 20,
        name: "tenant/020_scim_tokens.surql",
        sql: include_str!("../../schema/surreal/tenant/020_scim_tokens.surql"),
    },
    Migration {
        version: 21,
        name: "tenant/021_scim_resources.surql",
        sql: include_str!("../../schema/surreal/tenant/021_scim_resources.surql"),
    },
    Migration {
        version: 22,
        name: "tenant/022_changefeeds.surql",
        sql: include_str!("../../schema/surreal/tenant/022_changefeeds.surql"),
    },
];

/// Applies the migrations newer than the database's recorded version, all in one
/// transaction (one commit: a new tenant's database is prepared on its first request, and
/// on a durable engine every commit is an fsync). Whether this call applied any.
pub async fn apply(db: &Db, migrations: &[Migration]) -> StoreResult<bool> {
    let applied: Vec<i64> = db
        .query(
            "DEFINE TABLE IF NOT EXISTS migration SCHEMALESS; SELECT VALUE version FROM migration",
        )
        .take(1)
        .await?;
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect();
    if pending.is_empty() {
        return Ok(false);
    }
    let mut sql = String::from("BEGIN TRANSACTION;\n");
    for (i, m) in pending.iter().enumerate() {
        sql.push_str(m.sql);
        sql.push_str(&format!(
            "\n;CREATE $rid{i} SET version = $version{i}, name = $name{i}, applied_at = $at;\n"
        ));
    }
    sql.push_str("COMMIT TRANSACTION;");
    let mut q = db.query(sql).bind(("at", Utc::now()));
    for (i, m) in pending.iter().enumerate() {
        q = q
            .bind((format!("rid{i}"), RecordId::new("migration", m.version)))
            .bind((format!("version{i}"), m.version))
            .bind((format!("name{i}"), m.name));
    }
    let res = q.await;
    match res {
        Ok(_) => {
            for m in pending {
                tracing::debug!(migration = m.name, "applied");
            }
            Ok(true)
        }
        // Another process (a node sharing the store) applied them between our read and our
        // write: our transaction failed on its records or on a conflict. Done if they are there.
        Err(e) => {
            let now: Vec<i64> = db
                .query("SELECT VALUE version FROM migration")
                .take(0)
                .await?;
            if pending.iter().all(|m| now.contains(&m.version)) {
                Ok(true)
            } else {
                Err(e)
            }
        }
    }
}
