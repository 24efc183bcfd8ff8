//! The OpenAPI 3.1 document of the REST API, generated from the handlers' annotations and
//! the types they answer with, so it cannot drift from the code.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};

use super::rest;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "latchkey REST API",
        description = "The seed's REST API, kept for compatibility. The full API is GraphQL at \
                       `/graphql` (GraphiQL in a browser). Every path also exists per tenant \
                       under `/t/{tenant}`: pick the second server to use it.",
    ),
    paths(
        rest::register,
        rest::login,
        rest::me,
        rest::refresh,
        rest::logout,
        rest::password_reset::request,
        rest::password_reset::confirm,
    ),
    tags((name = "auth", description = "Sign-up, sign-in and sessions")),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        // As FastAPI's OAuth2PasswordBearer: Swagger UI's "Authorize" logs in through the form.
        components.add_security_scheme(
            "OAuth2PasswordBearer",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "api/auth/login",
                Scopes::new(),
            ))])),
        );
        components.add_security_scheme(
            "RefreshToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The refresh token (not the access token)"))
                    .build(),
            ),
        );
    }
}

/// The document as JSON, with servers for the default tenant and for a named one.
pub fn document_json(default_tenant: &str) -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some(format!("the default tenant ({default_tenant})")))
            .build(),
        ServerBuilder::new()
            .url("/t/{tenant}")
            .description(Some("a named tenant"))
            .parameter(
                "tenant",
                ServerVariableBuilder::new()
                    .default_value(default_tenant)
                    .description(Some("tenant slug")),
            )
            .build(),
    ]);
    doc.to_json()
        .expect("the OpenAPI document is plain data and always serializes")
}
