//! Federation's GraphQL operations (names fixed by API.md "Third round"): identity providers
//! for tenant admins, the frontend's start/complete of a federated sign-in, a signed-in user's
//! linked identities.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::FederationService;
use super::linking::LinkPolicy;
use super::mapping;
use super::providers::{Kind, ProviderSpec};
use super::store::{IdentityRow, ProviderRow};
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;
use crate::edge::types::AuthPayload;
use crate::infra::page::Page;

/// What kind of upstream a provider is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProviderKind {
    /// Any OpenID Connect provider, by its issuer.
    Oidc,
    /// A plain OAuth2 server, with a userinfo mapping.
    #[graphql(name = "OAUTH2")]
    Oauth2,
    /// Google.
    Google,
    /// Microsoft Entra ID (accounts keyed by directory and object id).
    Microsoft,
    /// GitHub (OAuth2; the primary verified address).
    Github,
    /// Sign in with Apple (form_post; an ES256 client secret made from the .p8 key).
    Apple,
}

impl From<IdentityProviderKind> for Kind {
    fn from(k: IdentityProviderKind) -> Self {
        match k {
            IdentityProviderKind::Oidc => Kind::Oidc,
            IdentityProviderKind::Oauth2 => Kind::OAuth2,
            IdentityProviderKind::Google => Kind::Google,
            IdentityProviderKind::Microsoft => Kind::Microsoft,
            IdentityProviderKind::Github => Kind::GitHub,
            IdentityProviderKind::Apple => Kind::Apple,
        }
    }
}

fn kind_of(s: &str) -> IdentityProviderKind {
    match Kind::parse(s) {
        Kind::Oidc => IdentityProviderKind::Oidc,
        Kind::OAuth2 => IdentityProviderKind::Oauth2,
        Kind::Google => IdentityProviderKind::Google,
        Kind::Microsoft => IdentityProviderKind::Microsoft,
        Kind::GitHub => IdentityProviderKind::Github,
        Kind::Apple => IdentityProviderKind::Apple,
    }
}

/// How a provider's identities join accounts that already have their email address.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum AccountLinking {
    /// Never: such a sign-in is refused.
    Never,
    /// The user signs in to the account (password and second factor, or passkey) and links
    /// from there (`linkIdentity`).
    Prove,
    /// At once when the provider asserts a verified address (and is trusted to) and the
    /// account's address is verified; otherwise as `PROVE`.
    Automatic,
}

impl From<AccountLinking> for LinkPolicy {
    fn from(a: AccountLinking) -> Self {
        match a {
            AccountLinking::Never => LinkPolicy::Never,
            AccountLinking::Prove => LinkPolicy::Prove,
            AccountLinking::Automatic => LinkPolicy::Automatic,
        }
    }
}

/// An upstream identity provider users of this tenant may sign in with.
#[derive(SimpleObject)]
pub struct IdentityProvider {
    /// Its id (also in its callback URL).
    pub id: ID,
    /// What kind of upstream it is.
    pub kind: IdentityProviderKind,
    /// Display name.
    pub name: String,
    /// The sign-in button's words.
    pub button_label: String,
    /// Offered and accepted.
    pub enabled: bool,
    /// The issuer, as its discovery document confirmed it (OAUTH2 and GITHUB: the
    /// authorization endpoint's origin; MICROSOFT multi-tenant: the `{tenantid}` template).
    pub issuer: String,
    /// latchkey's client id at the upstream.
    pub client_id: String,
    /// Whether a client secret is set (the secret itself is never returned).
    pub client_secret_set: bool,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Whether a sign-in may create an account (just-in-time sign-up).
    pub allow_sign_up: bool,
    /// How its identities join existing accounts.
    pub account_linking: AccountLinking,
    /// Whether its `email_verified` is believed.
    pub trust_email_verified: bool,
    /// Whether its own multi-factor sign-in stands for latchkey's second factor (only when
    /// its id_token's `amr` says so).
    pub trust_upstream_mfa: bool,
    /// Whether a trusted, verified identity may take over a local account whose address was
    /// never verified (after its password, factors and sessions are removed).
    pub take_over_unverified_accounts: bool,
    /// The redirect URI to register at the upstream.
    pub redirect_uri: String,
    /// The authorization endpoint (discovered, or set for OAUTH2 and GITHUB).
    pub authorization_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The userinfo endpoint, if any.
    pub userinfo_url: Option<String>,
    /// OAUTH2 and GITHUB: the addresses list, if any.
    pub emails_url: Option<String>,
    /// Where subject, address and name are read (null: the OpenID Connect claims).
    pub claim_mapping: Option<ClaimMapping>,
    /// MICROSOFT: the directory.
    pub directory: Option<String>,
    /// MICROSOFT: the sign-in host.
    pub authority_host: Option<String>,
    /// MICROSOFT: the directories accepted (empty: any).
    pub allowed_directories: Vec<String>,
    /// APPLE: the team id.
    pub apple_team_id: Option<String>,
    /// APPLE: the key id (the key itself is never returned; `clientSecretSet` says it is set).
    pub apple_key_id: Option<String>,
    /// Upstream claims copied onto linked identities.
    pub copy_claims: Vec<String>,
    /// Creation time.
    pub created_at: DateTime,
}

fn provider(
    s: &FederationService,
    tenant: &crate::actors::Tenant,
    p: ProviderRow,
) -> IdentityProvider {
    let m = p.claim_mapping.is_some().then(|| p.mapping());
    let kind = Kind::parse(&p.kind);
    IdentityProvider {
        redirect_uri: s.callback_url(tenant, &p.id),
        button_label: p.label(),
        authorization_url: p.authorization_endpoint,
        token_url: p.token_endpoint,
        userinfo_url: Some(p.userinfo_endpoint).filter(|u| !u.is_empty()),
        emails_url: p.emails_endpoint,
        claim_mapping: m.map(Into::into),
        directory: p.directory,
        authority_host: (kind == Kind::Microsoft).then(|| {
            p.authority_host
                .unwrap_or_else(|| super::microsoft::AUTHORITY_HOST.to_string())
        }),
        allowed_directories: p.allowed_directories,
        apple_team_id: p.apple_team_id,
        apple_key_id: p.apple_key_id,
        copy_claims: p.copy_claims,
        id: ID(p.id),
        kind: kind_of(&p.kind),
        name: p.name,
        enabled: p.enabled,
        issuer: p.issuer,
        client_id: p.client_id,
        client_secret_set: p.client_secret_sealed.is_some(),
        scopes: p.scopes,
        allow_sign_up: p.may_create,
        account_linking: match p.link_policy.as_str() {
            "never" => AccountLinking::Never,
            "automatic" => AccountLinking::Automatic,
            _ => AccountLinking::Prove,
        },
        trust_email_verified: p.trusts_email,
        trust_upstream_mfa: p.trusts_mfa,
        take_over_unverified_accounts: p.take_over_unverified,
        created_at: p.created_at.into(),
    }
}

crate::relay_connection!(
    IdentityProviderConnection,
    IdentityProviderEdge,
    IdentityProvider,
    "A page of identity providers.",
    "The providers.",
    "Providers in all.",
    "A provider in a list.",
    "The provider."
);

/// A new identity provider.
#[derive(InputObject)]
pub struct CreateIdentityProviderInput {
    /// What kind.
    pub kind: IdentityProviderKind,
    /// Display name.
    pub name: String,
    /// The button's words (default "Continue with {name}").
    pub button_label: Option<String>,
    /// Offered at once (default true).
    pub enabled: Option<bool>,
    /// The issuer URL (OIDC; Google's is known; APPLE: default https://appleid.apple.com).
    pub issuer: Option<String>,
    /// latchkey's client id at the upstream.
    pub client_id: String,
    /// Its client secret (write-only).
    pub client_secret: Option<String>,
    /// Scopes (default openid, email, profile; openid is always asked for).
    pub scopes: Option<Vec<String>>,
    /// Just-in-time sign-up (default true).
    pub allow_sign_up: Option<bool>,
    /// Linking to existing accounts (default PROVE).
    pub account_linking: Option<AccountLinking>,
    /// Believe its `email_verified` (default true).
    pub trust_email_verified: Option<bool>,
    /// Accept its multi-factor sign-in as the second factor (default false).
    pub trust_upstream_mfa: Option<bool>,
    /// Let it take over never-verified accounts (default false).
    pub take_over_unverified_accounts: Option<bool>,
    /// The settings of OAUTH2, GITHUB, MICROSOFT and APPLE providers.
    #[graphql(flatten)]
    pub kind_settings: KindSettingsInput,
}

/// Changes to a provider; omitted fields stay. The secret is write-only (an empty string
/// removes it).
#[derive(InputObject)]
pub struct UpdateIdentityProviderInput {
    /// Display name.
    pub name: Option<String>,
    /// The button's words (empty: the default).
    pub button_label: Option<String>,
    /// Offered and accepted.
    pub enabled: Option<bool>,
    /// The issuer URL (discovered again).
    pub issuer: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Just-in-time sign-up.
    pub allow_sign_up: Option<bool>,
    /// Linking to existing accounts.
    pub account_linking: Option<AccountLinking>,
    /// Believe its `email_verified`.
    pub trust_email_verified: Option<bool>,
    /// Accept its multi-factor sign-in as the second factor.
    pub trust_upstream_mfa: Option<bool>,
    /// Let it take over never-verified accounts.
    pub take_over_unverified_accounts: Option<bool>,
    /// The settings of OAUTH2, GITHUB, MICROSOFT and APPLE providers.
    #[graphql(flatten)]
    pub kind_settings: KindSettingsInput,
}

/// Where subject, address and name are in an upstream's answer: dotted paths (`id`,
/// `user.mail`, `emails.0`) into its id_token claims or userinfo JSON. An omitted member is
/// the OpenID Connect claim (`sub`, `email`, `email_verified`, `name`, `preferred_username`).
#[derive(InputObject, SimpleObject, Clone, Default)]
#[graphql(input_name = "ClaimMappingInput")]
pub struct ClaimMapping {
    /// The stable subject (GitHub: `id`).
    pub subject: Option<String>,
    /// The address.
    pub email: Option<String>,
    /// Whether the address is verified.
    pub email_verified: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// A username hint (GitHub: `login`).
    pub username: Option<String>,
}

impl From<ClaimMapping> for mapping::ClaimMapping {
    fn from(m: ClaimMapping) -> Self {
        let ClaimMapping {
            subject,
            email,
            email_verified,
            name,
            username,
        } = m;
        Self {
            subject,
            email,
            email_verified,
            name,
            username,
        }
    }
}

impl From<mapping::ClaimMapping> for ClaimMapping {
    fn from(m: mapping::ClaimMapping) -> Self {
        let mapping::ClaimMapping {
            subject,
            email,
            email_verified,
            name,
            username,
        } = m;
        Self {
            subject,
            email,
            email_verified,
            name,
            username,
        }
    }
}

/// The settings only some kinds have (flattened into the create and update inputs).
#[derive(InputObject, Default)]
pub struct KindSettingsInput {
    /// OAUTH2 (required) and GITHUB (default github.com's; a GitHub Enterprise Server sets its
    /// own): the authorization endpoint.
    pub authorization_url: Option<String>,
    /// OAUTH2 and GITHUB: the token endpoint.
    pub token_url: Option<String>,
    /// OAUTH2 and GITHUB: where the user's facts are read with the access token.
    pub userinfo_url: Option<String>,
    /// OAUTH2 and GITHUB: a GitHub-shaped list of the user's addresses; the primary one is
    /// taken when it is verified (empty string: none).
    pub emails_url: Option<String>,
    /// Where subject, address and name are in the upstream's answer.
    pub claim_mapping: Option<ClaimMapping>,
    /// MICROSOFT: `common` (default), `organizations`, `consumers` or one directory's id.
    pub directory: Option<String>,
    /// MICROSOFT: the cloud's sign-in host (default https://login.microsoftonline.com).
    pub authority_host: Option<String>,
    /// MICROSOFT: the directory ids whose accounts are accepted (empty: any).
    pub allowed_directories: Option<Vec<String>>,
    /// APPLE: the team id.
    pub apple_team_id: Option<String>,
    /// APPLE: the id of the Sign in with Apple key.
    pub apple_key_id: Option<String>,
    /// APPLE: the key's `.p8` file, as text (write-only; the client secret is made from it).
    pub apple_private_key: Option<String>,
    /// Upstream claims (names or dotted paths) copied onto each linked identity at every
    /// sign-in through the provider, e.g. `groups`, `hd`, `tid` (at most 20).
    pub copy_claims: Option<Vec<String>>,
}

/// Where the browser goes to sign in through a provider.
#[derive(SimpleObject)]
pub struct FederatedSignInStart {
    /// latchkey's own `/start` address for this sign-in (it binds the sign-in to the browser,
    /// then sends it to the provider).
    pub url: String,
}

/// A provider, as a linked identity names it.
#[derive(SimpleObject)]
pub struct LinkedProvider {
    /// Its id.
    pub id: ID,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: IdentityProviderKind,
}

/// An upstream identity linked to the account.
#[derive(SimpleObject)]
pub struct LinkedIdentity {
    /// Its id (for `unlinkIdentity`).
    pub id: ID,
    /// The provider.
    pub provider: LinkedProvider,
    /// The address the provider gave when it was linked.
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: DateTime,
    /// The upstream claims its provider copies (`copyClaims`), as of the last sign-in
    /// through it; null when it copies none.
    pub claims: Option<serde_json::Value>,
}

/// How someone with a given address can sign in (home-realm discovery).
#[derive(SimpleObject)]
pub struct SignInOptions {
    /// Whether a password sign-in is possible.
    pub password: bool,
    /// The providers offered.
    pub providers: Vec<LinkedProvider>,
    /// The name of the organization whose verified domain the address is in, if any.
    pub organization_name: Option<String>,
}

/// The linked identities of `user_id` (the caller's own, or a user an admin reads).
pub async fn user_identities(ctx: &Context<'_>, user_id: &str) -> Result<Vec<LinkedIdentity>> {
    let (s, req) = parts::<FederationService>(ctx);
    let rows = s
        .identities(&req.tenant, user_id)
        .await
        .map_err(gql_err(req))?;
    let providers = s.all_providers(&req.tenant).await.map_err(gql_err(req))?;
    Ok(rows
        .into_iter()
        .map(|i: IdentityRow| {
            let p = providers.iter().find(|p| p.id == i.provider);
            LinkedIdentity {
                id: ID(i.id),
                provider: LinkedProvider {
                    id: ID(i.provider.clone()),
                    name: p.map(|p| p.name.clone()).unwrap_or_default(),
                    kind: p
                        .map(|p| kind_of(&p.kind))
                        .unwrap_or(IdentityProviderKind::Oidc),
                },
                email: i.email,
                linked_at: i.linked_at.into(),
                claims: i.claims.and_then(|c| serde_json::from_str(&c).ok()),
            }
        })
        .collect())
}

/// Federation queries.
#[derive(Default)]
pub struct FederationQuery;

#[Object]
impl FederationQuery {
    /// The tenant's identity providers (tenant admin).
    async fn identity_providers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdentityProviderConnection> {
        let (s, req) = parts::<FederationService>(ctx);
        let page = s
            .list_providers(
                &req.tenant,
                req.bearer.as_deref(),
                first.unwrap_or(20),
                after.as_deref(),
            )
            .await
            .map_err(gql_err(req))?;
        // The node needs the service (its callback URL), so the page is converted first.
        let page = Page {
            items: page
                .items
                .into_iter()
                .map(|(cursor, p)| (cursor, provider(s, &req.tenant, p)))
                .collect(),
            has_next: page.has_next,
            total: page.total,
        };
        Ok(page.into())
    }

    /// One identity provider (tenant admin).
    async fn identity_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<IdentityProvider>> {
        let (s, req) = parts::<FederationService>(ctx);
        let p = s
            .get_provider(&req.tenant, req.bearer.as_deref(), &id)
            .await;
        Ok(p.map_err(gql_err(req))?
            .map(|p| provider(s, &req.tenant, p)))
    }

    /// How someone with `email` can sign in (public; home-realm discovery): an address in
    /// an organization's verified domain is offered the organization's own provider (and no
    /// password when the organization requires it); other addresses the password and the
    /// tenant's providers.
    async fn sign_in_options(&self, ctx: &Context<'_>, email: String) -> Result<SignInOptions> {
        let (s, req) = parts::<FederationService>(ctx);
        let choice = s
            .sign_in_options(&req.tenant, &email)
            .await
            .map_err(gql_err(req))?;
        Ok(SignInOptions {
            password: choice.password,
            providers: choice
                .providers
                .into_iter()
                .map(|p| LinkedProvider {
                    kind: kind_of(&p.kind),
                    id: ID(p.id),
                    name: p.name,
                })
                .collect(),
            organization_name: choice.organization,
        })
    }
}

fn kind_spec(k: KindSettingsInput) -> ProviderSpec {
    ProviderSpec {
        authorization_url: k.authorization_url,
        token_url: k.token_url,
        userinfo_url: k.userinfo_url,
        emails_url: k.emails_url,
        claim_mapping: k.claim_mapping.map(Into::into),
        directory: k.directory,
        authority_host: k.authority_host,
        allowed_directories: k.allowed_directories,
        apple_team_id: k.apple_team_id,
        apple_key_id: k.apple_key_id,
        apple_private_key: k.apple_private_key,
        copy_claims: k.copy_claims,
        ..ProviderSpec::default()
    }
}

fn spec_of_create(i: CreateIdentityProviderInput) -> ProviderSpec {
    ProviderSpec {
        kind: Some(i.kind.into()),
        name: Some(i.name),
        button_label: i.button_label,
        enabled: i.enabled,
        issuer: i.issuer,
        client_id: Some(i.client_id),
        client_secret: i.client_secret,
        scopes: i.scopes,
        may_create: i.allow_sign_up,
        link_policy: i.account_linking.map(Into::into),
        trusts_email: i.trust_email_verified,
        trusts_mfa: i.trust_upstream_mfa,
        take_over_unverified: i.take_over_unverified_accounts,
        ..kind_spec(i.kind_settings)
    }
}

fn spec_of_update(i: UpdateIdentityProviderInput) -> ProviderSpec {
    ProviderSpec {
        kind: None,
        name: i.name,
        button_label: i.button_label,
        enabled: i.enabled,
        issuer: i.issuer,
        client_id: i.client_id,
        client_secret: i.client_secret,
        scopes: i.scopes,
        may_create: i.allow_sign_up,
        link_policy: i.account_linking.map(Into::into),
        trusts_email: i.trust_email_verified,
        trusts_mfa: i.trust_upstream_mfa,
        take_over_unverified: i.take_over_unverified_accounts,
        ..kind_spec(i.kind_settings)
    }
}

/// Federation mutations.
#[derive(Default)]
pub struct FederationMutation;

#[Object]
impl FederationMutation {
    /// Adds an identity provider (tenant admin). Its issuer's discovery document and keys are
    /// read first: an unreachable issuer, something that is not one, or an issuer mismatch is
    /// `BAD_USER_INPUT` on `issuer`.
    async fn create_identity_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateIdentityProviderInput,
    ) -> Result<IdentityProvider> {
        let (s, req) = parts::<FederationService>(ctx);
        let spec = spec_of_create(input);
        let p = s.create_provider(&req.tenant, req.bearer.as_deref(), spec, &req.client);
        Ok(provider(s, &req.tenant, p.await.map_err(gql_err(req))?))
    }

    /// Changes an identity provider (tenant admin); the secret is write-only.
    async fn update_identity_provider(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateIdentityProviderInput,
    ) -> Result<IdentityProvider> {
        let (s, req) = parts::<FederationService>(ctx);
        let spec = spec_of_update(input);
        let p = s.update_provider(&req.tenant, req.bearer.as_deref(), &id, spec, &req.client);
        Ok(provider(s, &req.tenant, p.await.map_err(gql_err(req))?))
    }

    /// Deletes an identity provider and the identities linked through it (tenant admin).
    async fn delete_identity_provider(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<FederationService>(ctx);
        s.delete_provider(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Starts a sign-in through `provider` for a frontend (public). Open the answered `url` in
    /// the browser; the browser comes back to `redirectUri` (registered by a client of this
    /// tenant, exact match) with a single-use `code` for `completeFederatedSignIn`, or with
    /// `error` and `error_description`.
    async fn start_federated_sign_in(
        &self,
        ctx: &Context<'_>,
        provider: ID,
        redirect_uri: String,
    ) -> Result<FederatedSignInStart> {
        let (s, req) = parts::<FederationService>(ctx);
        let url = s.start_api(&req.tenant, &provider, &redirect_uri, &req.client);
        Ok(FederatedSignInStart {
            url: url.await.map_err(gql_err(req))?,
        })
    }

    /// Redeems the code of a finished federated sign-in (public, single use, one minute): the
    /// usual tokens, or `MFA_REQUIRED` when this tenant's second factor is due. With
    /// `organization`, the session is scoped to it (`FORBIDDEN` for a non-member).
    async fn complete_federated_sign_in(
        &self,
        ctx: &Context<'_>,
        code: String,
        organization: Option<ID>,
    ) -> Result<AuthPayload> {
        let (s, req) = parts::<FederationService>(ctx);
        let t = s.complete(
            &req.tenant,
            &code,
            organization.as_ref().map(|o| o.as_str()),
            &req.client,
        );
        Ok(t.await.map_err(gql_err(req))?.into())
    }

    /// Starts linking an identity of `provider` to the signed-in account; the browser comes
    /// back to `redirectUri` with `linked` (the provider's id) or `error`.
    async fn link_identity(
        &self,
        ctx: &Context<'_>,
        provider: ID,
        redirect_uri: String,
    ) -> Result<FederatedSignInStart> {
        let (s, req) = parts::<FederationService>(ctx);
        let url = s.start_link(&req.tenant, req.bearer.as_deref(), &provider, &redirect_uri);
        Ok(FederatedSignInStart {
            url: url.await.map_err(gql_err(req))?,
        })
    }

    /// Unlinks one of the caller's identities; refused when it is the account's last way to
    /// sign in.
    async fn unlink_identity(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<FederationService>(ctx);
        s.unlink(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Removes a user's linked identity (tenant admin); the user's sessions stay.
    async fn remove_user_identity(&self, ctx: &Context<'_>, user_id: ID, id: ID) -> Result<bool> {
        let (s, req) = parts::<FederationService>(ctx);
        s.admin_unlink(
            &req.tenant,
            req.bearer.as_deref(),
            &user_id,
            &id,
            &req.client,
        )
        .await
        .map_err(gql_err(req))
    }
}
