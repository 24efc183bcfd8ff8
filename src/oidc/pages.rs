//! The hosted pages: sign-in, the second step, consent, sign-out, password reset, email
//! verification and sign-up, rendered on the server. They work without JavaScript (the
//! passkey buttons need it and say so), use the tenant's name, label every field, and run
//! under a strict policy: scripts only from this origin, forms posting only here (and to the
//! client the request returns to, since a form's redirect counts as its target).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::edge::assets::escape;

/// The page policy; `form_to` is the origin a form's answer may redirect to.
fn csp(form_to: Option<&str>) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'{}",
        form_to.map(|o| format!(" {o}")).unwrap_or_default()
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#111;margin:0}\
main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.9rem 0 .3rem;font-weight:600}\
input[type=text],input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #555;border-radius:4px;font-size:1rem}\
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:4px;background:#1a4fd6;color:#fff;cursor:pointer}\
button.secondary{background:#444}a{color:#1a4fd6}\
:focus-visible{outline:3px solid #c2410c;outline-offset:2px}\
.error{background:#fde8e8;color:#8a1111;border:1px solid #d33;padding:.6rem;border-radius:4px}\
.note{color:#333;font-size:.9rem}\
a.provider{display:block;text-align:center;margin:.6rem 0;padding:.6rem;border:1px solid #555;border-radius:4px;color:#111;text-decoration:none;font-weight:600}\
a.provider:hover{background:#eef2fb}p.or{text-align:center;color:#333;margin:1rem 0 0}ul.scopes li{margin:.3rem 0}.row{display:flex;gap:.8rem;flex-wrap:wrap}";

/// A whole page.
pub fn page(
    status: StatusCode,
    tenant: &str,
    title: &str,
    body: &str,
    form_to: Option<&str>,
) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{} · {}</title><style>{STYLE}</style></head>\
         <body><main><p class=\"note\">{}</p>{body}</main>\
         <script src=\"/assets/pages/hosted.js\" defer></script></body></html>",
        escape(title),
        escape(tenant),
        escape(tenant)
    );
    let mut resp = (status, axum::response::Html(html)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp(form_to)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error_box(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default()
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        escape(value)
    )
}

/// What the sign-in page needs.
pub struct LoginPage<'a> {
    /// Tenant slug (for the form targets).
    pub slug: &'a str,
    /// Tenant display name.
    pub tenant: &'a str,
    /// The authorization request.
    pub request: &'a str,
    /// Its form token.
    pub csrf: &'a str,
    /// Identifier to prefill.
    pub identifier: &'a str,
    /// What went wrong, if anything.
    pub error: Option<&'a str>,
    /// The client's origin (its redirect).
    pub form_to: Option<&'a str>,
    /// The enabled upstream providers: (id, button label).
    pub providers: &'a [(String, String)],
}

/// The sign-in page: identifier and password; a passkey button; links to reset and sign-up.
pub fn login(p: &LoginPage<'_>) -> Response {
    // One "Continue with ..." link per provider, above the password form (GET: the start path
    // binds the sign-in to this browser, then sends it upstream).
    let providers: String = p
        .providers
        .iter()
        .map(|(id, label)| {
            format!(
                "<a class=\"provider\" href=\"/t/{}/federation/{}/start?request={}\">{}</a>",
                p.slug,
                escape(id),
                escape(p.request),
                escape(label)
            )
        })
        .collect::<String>();
    let providers = if providers.is_empty() {
        providers
    } else {
        format!(
            "<nav aria-label=\"Sign in with\">{providers}</nav><p class=\"or\">or with your password</p>"
        )
    };
    let body = format!(
        "<h1>Sign in to {tenant}</h1>{error}{providers}\
         <form method=\"post\" action=\"/t/{slug}/login\">{req}{csrf}\
         <label for=\"identifier\">Email or username</label>\
         <input type=\"text\" id=\"identifier\" name=\"identifier\" autocomplete=\"username webauthn\" value=\"{id}\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>\
         <form method=\"post\" action=\"/t/{slug}/login/passkey\" id=\"passkey-form\" data-start=\"/t/{slug}/login/passkey/start\">{req}{csrf}\
         <input type=\"hidden\" name=\"challenge\" value=\"\"><input type=\"hidden\" name=\"credential\" value=\"\">\
         <button type=\"button\" class=\"secondary\" id=\"passkey-login\" hidden>Sign in with a passkey</button></form>\
         <p class=\"note\"><a href=\"/t/{slug}/reset\">Forgot your password?</a> · \
         <a href=\"/t/{slug}/register?request={req_raw}\">Create an account</a></p>",
        tenant = escape(p.tenant),
        error = error_box(p.error),
        slug = p.slug,
        req = hidden("request", p.request),
        csrf = hidden("csrf", p.csrf),
        id = escape(p.identifier),
        req_raw = escape(p.request),
    );
    page(StatusCode::OK, p.tenant, "Sign in", &body, p.form_to)
}

/// The second step of sign-in.
#[allow(clippy::too_many_arguments)]
pub fn second_step(
    slug: &str,
    tenant: &str,
    request: &str,
    csrf: &str,
    mfa_token: &str,
    methods: &[&str],
    passkey_options: Option<&str>,
    error: Option<&str>,
    form_to: Option<&str>,
) -> Response {
    let mut body = format!("<h1>One more step</h1>{}", error_box(error));
    let common = format!(
        "{}{}{}",
        hidden("request", request),
        hidden("csrf", csrf),
        hidden("mfa_token", mfa_token)
    );
    if methods.contains(&"totp") {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/t/{slug}/login/mfa\">{common}\
             <label for=\"totp\">Code from your authenticator app</label>\
             <input type=\"text\" id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" required autofocus>\
             <button type=\"submit\">Verify</button></form>"
        ));
    }
    if methods.contains(&"passkey") {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/t/{slug}/login/mfa\" id=\"mfa-passkey-form\" data-options=\"{}\">{common}\
             <input type=\"hidden\" name=\"passkey\" value=\"\">\
             <button type=\"button\" id=\"mfa-passkey\">Use my passkey</button>\
             <noscript><p class=\"note\">Passkeys need JavaScript.</p></noscript></form>",
            escape(passkey_options.unwrap_or("{}"))
        ));
    }
    if methods.contains(&"recovery_code") {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/t/{slug}/login/mfa\">{common}\
             <label for=\"recovery_code\">Or a recovery code</label>\
             <input type=\"text\" id=\"recovery_code\" name=\"recovery_code\" autocomplete=\"off\" required>\
             <button type=\"submit\" class=\"secondary\">Use recovery code</button></form>"
        ));
    }
    page(StatusCode::OK, tenant, "Second step", &body, form_to)
}

/// The consent page of a third-party client.
pub fn consent(
    slug: &str,
    tenant: &str,
    client: &str,
    scopes: &[String],
    request: &str,
    csrf: &str,
    form_to: Option<&str>,
) -> Response {
    let items: String = scopes
        .iter()
        .map(|s| {
            let words = match s.as_str() {
                "openid" => "Know who you are (your account id)".to_string(),
                "profile" => "See your username".to_string(),
                "email" => "See your email address and whether it is confirmed".to_string(),
                "offline_access" => "Stay signed in when you are not using it".to_string(),
                "organization" => {
                    "See which organizations you belong to and your roles in them".to_string()
                }
                other => format!("Use the permission “{other}”"),
            };
            format!("<li>{}</li>", escape(&words))
        })
        .collect();
    let body = format!(
        "<h1>Allow {client} to use your {tenant} account?</h1>\
         <p>{client} asks to:</p><ul class=\"scopes\">{items}</ul>\
         <form method=\"post\" action=\"/t/{slug}/consent\">{}{}\
         <div class=\"row\"><button type=\"submit\" name=\"decision\" value=\"allow\" autofocus>Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></div></form>",
        hidden("request", request),
        hidden("csrf", csrf),
        client = escape(client),
        tenant = escape(tenant),
    );
    page(StatusCode::OK, tenant, "Allow access", &body, form_to)
}

/// A request that cannot go back to the client (unknown client, unregistered redirect).
pub fn error(tenant: &str, message: &str) -> Response {
    let body = format!(
        "<h1>This sign-in cannot continue</h1><p class=\"error\" role=\"alert\">{}</p>\
         <p class=\"note\">Go back to the application and start again.</p>",
        escape(message)
    );
    page(
        StatusCode::BAD_REQUEST,
        tenant,
        "Sign-in error",
        &body,
        None,
    )
}

/// A plain message page.
pub fn message(status: StatusCode, tenant: &str, title: &str, text: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p role=\"status\">{}</p>",
        escape(title),
        escape(text)
    );
    page(status, tenant, title, &body, None)
}

/// "Sign out?" when the client gave no proof it may sign the user out.
pub fn logout_confirm(slug: &str, tenant: &str, csrf: &str, state_fields: &str) -> Response {
    let body = format!(
        "<h1>Sign out of {}?</h1><form method=\"post\" action=\"/t/{slug}/logout\">{}{state_fields}\
         <button type=\"submit\" autofocus>Sign out</button></form>",
        escape(tenant),
        hidden("csrf", csrf)
    );
    page(StatusCode::OK, tenant, "Sign out", &body, None)
}

/// The forms of password reset and sign-up.
pub fn form(
    slug: &str,
    tenant: &str,
    title: &str,
    action: &str,
    fields: &[(&str, &str, &str, &str)],
    hidden_fields: &[(&str, &str)],
    submit: &str,
    error: Option<&str>,
) -> Response {
    let mut body = format!(
        "<h1>{}</h1>{}<form method=\"post\" action=\"/t/{slug}/{action}\">",
        escape(title),
        error_box(error)
    );
    for (name, value) in hidden_fields {
        body.push_str(&hidden(name, value));
    }
    for (i, (name, label, kind, autocomplete)) in fields.iter().enumerate() {
        body.push_str(&format!(
            "<label for=\"{name}\">{}</label><input type=\"{kind}\" id=\"{name}\" name=\"{name}\" autocomplete=\"{autocomplete}\" required{}>",
            escape(label),
            if i == 0 { " autofocus" } else { "" }
        ));
    }
    body.push_str(&format!(
        "<button type=\"submit\">{}</button></form>",
        escape(submit)
    ));
    page(StatusCode::OK, tenant, title, &body, None)
}
