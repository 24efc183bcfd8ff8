//! The platform API's rules: tenants, guarded by `ADMIN_API_KEY`.

use secrecy::ExposeSecret;

use crate::accounts::service::AccountService;
use crate::accounts::service::NewAccount;
use crate::domain::TenantSlug;
use crate::error::ServiceError;
use crate::infra::Infra;
use crate::infra::page::{Page, bad_cursor, decode_key, page_size};
use crate::store::tenants::{self, TenantRow};
use std::sync::Arc;

/// The first admin of a new tenant.
pub struct FirstAdmin<'a> {
    /// Address.
    pub email: &'a str,
    /// Username.
    pub username: &'a str,
    /// Password.
    pub password: &'a str,
}

/// The platform's tenants.
#[derive(Clone)]
pub struct TenantService {
    infra: Arc<Infra>,
    accounts: AccountService,
}

crate::infra::built_on!(TenantService);

impl TenantService {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(infra: Arc<Infra>, accounts: AccountService) -> Self {
        Self { infra, accounts }
    }

    /// Checks the platform key in constant time. Without `ADMIN_API_KEY` the platform API is
    /// off for everyone.
    pub fn require_platform_admin(&self, bearer: Option<&str>) -> Result<(), ServiceError> {
        let Some(expected) = &self.config.admin_api_key else {
            return Err(ServiceError::Forbidden);
        };
        let given = bearer.ok_or(ServiceError::Unauthenticated("platform API key required"))?;
        // Compare digests so neither content nor length leaks through timing.
        let a = self.secrets.hash_token(given);
        let b = self.secrets.hash_token(expected.expose_secret());
        if aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_err() {
            return Err(ServiceError::Unauthenticated("invalid platform API key"));
        }
        Ok(())
    }

    /// Tenants by slug; `search` matches the start of the slug or any part of the name.
    pub async fn list_tenants(
        &self,
        first: i32,
        after: Option<&str>,
        search: Option<&str>,
    ) -> Result<Page<TenantRow>, ServiceError> {
        let limit = page_size(first)?;
        let search = search
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.len() > 200) {
            return Err(ServiceError::bad_input(
                "search",
                "is longer than 200 characters",
            ));
        }
        let after = match after {
            None => None,
            Some(c) => Some(decode_slug_cursor(c)?),
        };
        let rows = tenants::list(
            &self.platform,
            limit + 1,
            after.as_deref(),
            search.as_deref(),
        )
        .await?;
        let total = tenants::count(&self.platform, search.as_deref()).await?;
        Ok(Page::of(rows, limit, total, |t| t.slug.as_str()))
    }

    /// One tenant.
    pub async fn get_tenant(&self, slug: &str) -> Result<Option<TenantRow>, ServiceError> {
        match TenantSlug::parse(slug) {
            Ok(s) => Ok(tenants::get(&self.platform, s.as_str()).await?),
            Err(_) => Ok(None),
        }
    }

    /// Creates a tenant (its database, keys and, optionally, its first admin).
    pub async fn create_tenant(
        &self,
        slug: &str,
        display_name: &str,
        admin: Option<FirstAdmin<'_>>,
    ) -> Result<TenantRow, ServiceError> {
        let slug = TenantSlug::parse(slug)?;
        let display_name = display_name.trim();
        if display_name.is_empty()
            || display_name.chars().count() > 200
            || display_name.chars().any(char::is_control)
        {
            return Err(ServiceError::bad_input(
                "displayName",
                "must be 1 to 200 characters without control characters",
            ));
        }
        let row = TenantRow::new(
            slug.as_str(),
            display_name,
            self.config.algorithm.as_str(),
            self.clock.now(),
        );
        if tenants::get(&self.platform, slug.as_str()).await?.is_some() {
            return Err(ServiceError::bad_input(
                "slug",
                "a tenant with this slug exists",
            ));
        }
        // A tenant deleted under load may have left writes of its last requests behind in a
        // database of the same name: a re-created slug starts from nothing.
        tenants::remove_database(&self.root, slug.as_str()).await?;
        if !tenants::create(&self.platform, row.clone()).await? {
            return Err(ServiceError::bad_input(
                "slug",
                "a tenant with this slug exists",
            ));
        }
        if let Some(a) = admin {
            let created = async {
                let tenant = self.registry.get(&slug).await?;
                let account =
                    NewAccount::parse(self, &tenant, a.email, a.username, a.password, "password")?;
                self.accounts
                    .create_account(
                        &tenant,
                        account,
                        vec![crate::domain::ADMIN_ROLE.into()],
                        true,
                    )
                    .await
            }
            .await;
            if let Err(e) = created {
                // No half-made tenants: whether its database could not be prepared (a store
                // away or busy) or its admin not created, the tenant is removed again, so the
                // same createTenant can be retried.
                self.delete_tenant(slug.as_str()).await?;
                return Err(e);
            }
        }
        tracing::info!(tenant = %slug, "tenant created");
        Ok(row)
    }

    /// Renames, disables or enables a tenant.
    pub async fn update_tenant(
        &self,
        slug: &str,
        display_name: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<TenantRow, ServiceError> {
        let slug = TenantSlug::parse(slug).map_err(|_| ServiceError::TenantNotFound)?;
        let mut row = tenants::get(&self.platform, slug.as_str())
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        if let Some(name) = display_name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                return Err(ServiceError::bad_input(
                    "displayName",
                    "must be 1 to 200 characters without control characters",
                ));
            }
            row.display_name = name.to_string();
        }
        if let Some(d) = disabled {
            if d && slug == self.config.default_tenant {
                return Err(ServiceError::bad_input(
                    "disabled",
                    "the default tenant cannot be disabled",
                ));
            }
            row.disabled = d;
        }
        tenants::update(&self.platform, row.clone()).await?;
        // The platform's trail is the log, like creation and deletion (the console's actions
        // too): what changed, under the request's id.
        tracing::info!(tenant = %slug, renamed = display_name.is_some(), disabled = ?disabled, "tenant updated");
        // The running actor holds the old record; the next request loads the new one (or,
        // when disabled, finds none).
        self.registry.evict(&slug, row.disabled).await;
        Ok(row)
    }

    /// Deletes a tenant and its database; its tokens stop working at once.
    pub async fn delete_tenant(&self, slug: &str) -> Result<bool, ServiceError> {
        let slug = TenantSlug::parse(slug).map_err(|_| ServiceError::TenantNotFound)?;
        if slug == self.config.default_tenant {
            return Err(ServiceError::bad_input(
                "slug",
                "the default tenant cannot be deleted",
            ));
        }
        // Order matters. The record goes first, so no request can open the tenant again;
        // then the running actor (and any open in progress) is discarded, and requests still
        // holding its handle answer TENANT_NOT_FOUND; then the data goes.
        let existed = tenants::delete(&self.platform, slug.as_str()).await?;
        self.registry.evict(&slug, true).await;
        tenants::remove_database(&self.root, slug.as_str()).await?;
        tracing::info!(tenant = %slug, existed, "tenant deleted");
        Ok(existed)
    }
}

fn decode_slug_cursor(c: &str) -> Result<String, ServiceError> {
    let s = decode_key("after", c)?;
    TenantSlug::parse(&s)
        .map(|s| s.as_str().to_string())
        .map_err(|_| bad_cursor("after"))
}
