//! Mail templates: a plain-text and an HTML body for each message, with every interpolated
//! value HTML-escaped in the HTML body (a username like `<script>` must render as text).

use chrono::{DateTime, Utc};

use crate::store::outbox::{NewMail, QueuedMail};

/// The message kinds latchkey sends.
#[derive(Clone, Copy, Debug)]
pub enum Template<'a> {
    /// Password reset link.
    Reset,
    /// Email verification link.
    Verify,
    /// Notice that the password was changed.
    PasswordChanged,
    /// Notice that a sign-in factor was added (what, in words: "an authenticator app").
    FactorAdded(&'a str),
    /// Notice that a sign-in factor was removed.
    FactorRemoved(&'a str),
    /// An invitation to join an organization, with its acceptance link.
    Invitation {
        /// The organization's name.
        organization: &'a str,
    },
    /// Notice to a tenant admin that latchkey disabled a webhook endpoint, and why.
    WebhookDisabled {
        /// The endpoint's URL.
        url: &'a str,
        /// Why, in words ("the endpoint answered 410 Gone").
        reason: &'a str,
    },
}

/// Values a template needs.
pub struct MailContext<'a> {
    /// Tenant display name.
    pub tenant_name: &'a str,
    /// Recipient's username.
    pub username: &'a str,
    /// The link (reset and verify only).
    pub link: Option<&'a str>,
    /// Lifetime of the link, in words ("30 minutes").
    pub valid_for: &'a str,
}

/// Escapes text for an HTML body.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds a link from a template with `{public_url}`, `{tenant}` and `{token}` placeholders.
/// Only `PUBLIC_URL` and the tenant's own template are used, never request headers, so a
/// forged `Host` cannot redirect reset links to an attacker.
pub fn link(template: &str, public_url: &str, tenant: &str, token: &str) -> String {
    template
        .replace("{public_url}", public_url)
        .replace("{PUBLIC_URL}", public_url)
        .replace("{tenant}", tenant)
        .replace("{token}", token)
}

/// Default link templates.
pub const DEFAULT_RESET_TEMPLATE: &str = "{public_url}/t/{tenant}/reset?token={token}";
/// See [`DEFAULT_RESET_TEMPLATE`].
pub const DEFAULT_VERIFY_TEMPLATE: &str = "{public_url}/t/{tenant}/verify?token={token}";

/// Renders a message for `to`, ready to queue.
pub fn render(
    template: Template,
    to: &str,
    ctx: &MailContext<'_>,
    now: DateTime<Utc>,
) -> QueuedMail {
    let name = ctx.tenant_name;
    let user = ctx.username;
    let link = ctx.link.unwrap_or("");
    let (kind, subject, intro, action, outro) = match template {
        Template::Reset => (
            "reset",
            format!("Reset your {name} password"),
            format!("Someone (hopefully you) asked to reset the password of your {name} account."),
            format!("Choose a new password within {}:", ctx.valid_for),
            "If you did not ask for this, ignore this mail: your password stays as it is."
                .to_string(),
        ),
        Template::Verify => (
            "verify",
            format!("Confirm your email address for {name}"),
            format!("Welcome to {name}! Please confirm that this address is yours."),
            format!("Confirm it within {}:", ctx.valid_for),
            "If you did not create an account, ignore this mail.".to_string(),
        ),
        Template::PasswordChanged => (
            "password_changed",
            format!("Your {name} password was changed"),
            format!(
                "The password of your {name} account was just changed, and all its sessions were signed out."
            ),
            String::new(),
            "If this was not you, reset your password at once and contact your administrator."
                .to_string(),
        ),
        Template::FactorAdded(what) => (
            "factor_added",
            format!("A sign-in factor was added to your {name} account"),
            format!("{what} was just added to your {name} account as a way to sign in."),
            String::new(),
            "If this was not you, reset your password at once and contact your administrator."
                .to_string(),
        ),
        Template::FactorRemoved(what) => (
            "factor_removed",
            format!("A sign-in factor was removed from your {name} account"),
            format!("{what} was just removed from your {name} account."),
            String::new(),
            "If this was not you, reset your password at once and contact your administrator."
                .to_string(),
        ),
        Template::Invitation { organization } => (
            "invitation",
            format!("You are invited to join {organization} on {name}"),
            format!(
                "You are invited to join the organization {organization} on {name}. To accept, sign in (or create an account) with this address, {user}, and confirm it."
            ),
            format!("Accept within {}:", ctx.valid_for),
            "If you did not expect this invitation, ignore this mail: nothing happens unless you accept."
                .to_string(),
        ),
        Template::WebhookDisabled { url, reason } => (
            "webhook_disabled",
            format!("A {name} webhook endpoint was disabled"),
            format!(
                "Events are no longer delivered to the webhook endpoint {url} of {name}: {reason}. Events that happen while it is disabled are recorded as failed in its delivery log."
            ),
            String::new(),
            "Fix the endpoint, enable it again (the console's Webhooks screen, or updateWebhook with enabled: true) and redeliver what it missed from its delivery log."
                .to_string(),
        ),
    };
    let mut text = format!("Hello {user},\n\n{intro}\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>Hello {},</p><p>{}</p>",
        escape_html(user),
        escape_html(&intro)
    );
    if ctx.link.is_some() {
        text.push_str(&format!("{action}\n\n{link}\n\n"));
        let l = escape_html(link);
        html.push_str(&format!(
            "<p>{}</p><p><a href=\"{l}\">{l}</a></p>",
            escape_html(&action)
        ));
    }
    text.push_str(&format!("{outro}\n\n-- {name}\n"));
    html.push_str(&format!(
        "<p>{}</p><p>&mdash; {}</p></body></html>",
        escape_html(&outro),
        escape_html(name)
    ));
    QueuedMail {
        id: uuid::Uuid::now_v7().to_string(),
        mail: NewMail {
            kind: kind.to_string(),
            recipient: to.to_string(),
            subject,
            text,
            html,
            status: "pending".into(),
            attempts: 0,
            created_at: now,
        },
    }
}

/// "30 minutes", "24 hours".
pub fn duration_words(d: std::time::Duration) -> String {
    let mins = d.as_secs() / 60;
    if mins % 60 == 0 {
        let h = mins / 60;
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    } else {
        format!("{mins} minutes")
    }
}
