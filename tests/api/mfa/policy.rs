//! A tenant that requires a second factor, and an admin's reset of a user's factors.

use std::time::Duration;

use serde_json::json;

use super::{CONFIRM_TOTP, START_TOTP, VERIFY_TOTP, code_at, mfa_token};
use crate::helpers::*;

/// A tenant that requires a second factor: a user without one gets an enrolment-only token,
/// enrols with it, then signs in with both steps.
#[tokio::test]
async fn a_tenant_requiring_mfa_makes_users_enrol_first() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("strict").await;
    let user = app
        .register_at("strict", "must@strict.example", "mustenrol", PASSWORD)
        .await;
    let early = user["accessToken"].as_str().unwrap().to_string();
    let body = app
        .gql_tenant(
            "strict",
            Some(&admin),
            "mutation { updateTenantSettings(input: {mfa: REQUIRED}) { mfa } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["updateTenantSettings"]["mfa"], "REQUIRED",
        "{body}"
    );
    let body = app.login_at("strict", "mustenrol", PASSWORD).await;
    assert_eq!(
        code(&body).as_deref(),
        Some("MFA_ENROLLMENT_REQUIRED"),
        "{body}"
    );
    let enrol = mfa_token(&body);
    // The enrolment token is no session and no second step.
    let as_bearer = app.gql_tenant("strict", Some(&enrol), ME, json!({})).await;
    assert_eq!(code(&as_bearer).as_deref(), Some("UNAUTHENTICATED"));
    let as_step = app
        .gql_tenant(
            "strict",
            None,
            VERIFY_TOTP,
            json!({"t": enrol, "c": "123456"}),
        )
        .await;
    assert_eq!(code(&as_step).as_deref(), Some("INVALID_TOKEN"));

    let start = app
        .gql_tenant("strict", None, START_TOTP, json!({"t": enrol}))
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{start}"))
        .to_string();
    let confirm = app
        .gql_tenant(
            "strict",
            None,
            CONFIRM_TOTP,
            json!({"t": enrol, "c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    // Spent by the enrolment.
    let again = app
        .gql_tenant("strict", None, START_TOTP, json!({"t": enrol}))
        .await;
    assert_eq!(code(&again).as_deref(), Some("INVALID_TOKEN"));

    app.clock.advance(Duration::from_secs(30));
    let body = app.login_at("strict", "mustenrol", PASSWORD).await;
    assert_eq!(code(&body).as_deref(), Some("MFA_REQUIRED"), "{body}");
    let ok = app
        .gql_tenant(
            "strict",
            None,
            VERIFY_TOTP,
            json!({"t": mfa_token(&body), "c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    assert_eq!(
        code(&app.gql_tenant("strict", Some(&early), ME, json!({})).await).as_deref(),
        None,
        "a session from before the policy lives on until it ends"
    );
    app.shutdown().await;
}

/// An admin sees a user's factors and can reset them: factors gone, sessions revoked, audited.
#[tokio::test]
async fn an_admin_resets_a_users_factors() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let reg = app
        .register_at("acme", "lost@acme.example", "lostphone", PASSWORD)
        .await;
    let access = reg["accessToken"].as_str().unwrap().to_string();
    let uid = reg["user"]["id"].as_str().unwrap().to_string();
    let start = app
        .gql_tenant("acme", Some(&access), START_TOTP, json!({}))
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let confirm = app
        .gql_tenant(
            "acme",
            Some(&access),
            CONFIRM_TOTP,
            json!({"c": code_at(&secret, app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    let seen = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "query($id: ID!) { user(id: $id) { mfa { totp recoveryCodesLeft } } }",
            json!({"id": uid}),
        )
        .await;
    assert_eq!(seen["data"]["user"]["mfa"]["totp"], true, "{seen}");

    let reset = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($id: ID!) { resetUserMfa(id: $id) { id mfa { totp recoveryCodesLeft } } }",
            json!({"id": uid}),
        )
        .await;
    assert!(reset["errors"].is_null(), "{reset}");
    assert_eq!(reset["data"]["resetUserMfa"]["mfa"]["totp"], false);
    assert_eq!(reset["data"]["resetUserMfa"]["mfa"]["recoveryCodesLeft"], 0);
    assert_eq!(
        code(&app.gql_tenant("acme", Some(&access), ME, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED"),
        "sessions revoked"
    );
    assert!(app.login_at("acme", "lostphone", PASSWORD).await["errors"].is_null());
    // Non-admins cannot.
    let fresh = app.login_at("acme", "lostphone", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let body = app
        .gql_tenant(
            "acme",
            Some(&fresh),
            "mutation($id: ID!) { resetUserMfa(id: $id) { id } }",
            json!({"id": uid}),
        )
        .await;
    assert_eq!(code(&body).as_deref(), Some("FORBIDDEN"));
    let events = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "query($u: ID) { auditEvents(first: 100, userId: $u) { edges { node { kind } } } }",
            json!({"u": uid}),
        )
        .await;
    let kinds: Vec<&str> = events["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"totp_enrolled") && kinds.contains(&"mfa_reset"),
        "{kinds:?}"
    );
    app.shutdown().await;
}
