//! Organizations over two nodes on one SurrealDB server: a membership ended or an
//! organization deleted through one node ends the org-scoped sessions that the other node
//! has cached, within the propagation bound of every other revocation.

use serde_json::{Value, json};

use super::{ME, Node, WITHIN, cluster, user_id, within};
use crate::helpers::{PASSWORD, code};

const LOGIN_TO: &str =
    "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";
const REFRESH: &str = "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }";

/// Signs `name` in to `org` through `node`; the access and refresh tokens.
async fn org_tokens(node: &Node, name: &str, org: &str) -> (String, String) {
    let body = node
        .acme(
            None,
            LOGIN_TO,
            json!({"i": {"identifier": name, "password": PASSWORD, "organization": org}}),
        )
        .await;
    let l = &body["data"]["login"];
    assert!(l.is_object(), "login of {name} to {org}: {body}");
    (
        l["accessToken"].as_str().unwrap().to_string(),
        l["refreshToken"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_membership_ended_on_one_node_is_refused_on_the_other_within_a_second() {
    let (_dir, _db, nodes, admin) = cluster(2, &[]).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let org_of = |body: Value| {
        body["data"]["createOrganization"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let one = org_of(
        a.acme(
            Some(&admin),
            "mutation { createOrganization(input: {name: \"One\"}) { id } }",
            json!({}),
        )
        .await,
    );
    let mut members = Vec::new();
    for name in ["ann", "ben"] {
        let id = user_id(&a.register(&format!("{name}@acme.example"), name).await);
        let body = a
            .acme(
                Some(&admin),
                "mutation($o: ID!, $u: ID!) { addOrganizationMember(orgId: $o, userId: $u, roles: [\"member\"]) { roles } }",
                json!({"o": one, "u": id}),
            )
            .await;
        assert!(code(&body).is_none(), "{body}");
        members.push(id);
    }
    // Both signed in to the organization through B, whose cache then holds their sessions.
    let (ann, ann_refresh) = org_tokens(b, "ann", &one).await;
    let (ben, _) = org_tokens(b, "ben", &one).await;
    for t in [&ann, &ben] {
        for _ in 0..2 {
            let body = b.acme(Some(t), ME, json!({})).await;
            assert!(code(&body).is_none(), "{body}");
        }
    }

    // Ann removed through A: B refuses her org token, and her refresh token, within 1 s.
    let body = a
        .acme(
            Some(&admin),
            "mutation($o: ID!, $u: ID!) { removeOrganizationMember(orgId: $o, userId: $u) }",
            json!({"o": one, "u": members[0]}),
        )
        .await;
    assert_eq!(body["data"]["removeOrganizationMember"], true, "{body}");
    let t = within(WITHIN, || async {
        code(&b.acme(Some(&ann), ME, json!({})).await).as_deref() == Some("UNAUTHENTICATED")
    })
    .await;
    assert!(t.is_some(), "the removed member refused on B within 1 s");
    println!("cluster propagation: membership removed {:?}", t.unwrap());
    let body = b.acme(None, REFRESH, json!({"t": ann_refresh})).await;
    assert_eq!(code(&body).as_deref(), Some("INVALID_TOKEN"), "{body}");
    // Ben is untouched by it.
    assert!(code(&b.acme(Some(&ben), ME, json!({})).await).is_none());

    // The organization deleted through A: B refuses Ben's org token within 1 s.
    let body = a
        .acme(
            Some(&admin),
            "mutation($o: ID!) { deleteOrganization(id: $o) }",
            json!({"o": one}),
        )
        .await;
    assert_eq!(body["data"]["deleteOrganization"], true, "{body}");
    let t = within(WITHIN, || async {
        code(&b.acme(Some(&ben), ME, json!({})).await).as_deref() == Some("UNAUTHENTICATED")
    })
    .await;
    assert!(
        t.is_some(),
        "a deleted organization's session refused on B within 1 s"
    );
    println!("cluster propagation: organization deleted {:?}", t.unwrap());
}
