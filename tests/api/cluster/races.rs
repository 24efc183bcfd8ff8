//! What the database decides for nodes acting at the same moment: a fresh deployment's start,
//! lockout admission, refresh rotation, uniqueness.

use std::sync::Arc;

use serde_json::json;

use super::{ME, Node, WITHIN, cluster, user_id, within};
use crate::helpers::{LOGIN, PASSWORD, REFRESH, REGISTER, code};
use crate::surreal_server::SurrealServer;

const WRONG: &str = "wrong horse battery";

/// Nodes of a fresh deployment start at the same moment (a scaled-up replica set): they race
/// through the platform migrations, the default tenant and the SECRET_KEY check, and every one
/// comes up on one shared state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_started_at_once_on_a_fresh_server_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = SurrealServer::start(dir.path());
    let nodes: Vec<Node> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3).map(|_| s.spawn(|| Node::start(&db, &[]))).collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for n in &nodes {
        let (status, body) = n.readiness().await;
        assert_eq!(status, 200, "{} is ready: {body}", n.base());
    }
    let list = "{ tenants { edges { node { slug } } } }";
    for n in &nodes {
        let body = n.platform(list, json!({})).await;
        let slugs: Vec<&str> = body["data"]["tenants"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap())
            .collect();
        assert_eq!(
            slugs,
            ["default"],
            "one default tenant, seen alike by {}",
            n.base()
        );
    }
    // The default tenant works across the nodes: registered on one, signed in on another.
    let body = nodes[0]
        .gql_at(
            "/graphql",
            None,
            REGISTER,
            json!({"input": {"email": "first@example.com", "username": "first", "password": PASSWORD}}),
        )
        .await;
    user_id(&body);
    let body = nodes[2]
        .gql_at(
            "/graphql",
            None,
            LOGIN,
            json!({"input": {"identifier": "first", "password": PASSWORD}}),
        )
        .await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let me = nodes[1]
        .gql_at("/graphql", Some(token), ME, json!({}))
        .await;
    assert_eq!(me["data"]["me"]["username"], "first", "{me}");
    println!("cluster start: 3 nodes started at once on a fresh server, one default tenant");
}

/// 200 wrong passwords for one account, spread over three nodes at once: the nodes together
/// verify exactly as many as the lockout threshold, because admission is a compare-and-set
/// on the account's row in SurrealDB, not a count in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_wrong_logins_over_three_nodes_verify_only_the_threshold() {
    let (_dir, _db, nodes, _) = cluster(3, &[("LOGIN_LOCKOUT_BASE_SECONDS", "600")]).await;
    user_id(&nodes[0].register("race@acme.example", "racer").await);
    let nodes = Arc::new(nodes);
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let nodes = nodes.clone();
            tokio::spawn(async move { nodes[i % 3].login("racer", WRONG).await })
        })
        .collect();
    let (mut evaluated, mut limited) = (0, 0);
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            Some("INVALID_CREDENTIALS") => evaluated += 1,
            Some("RATE_LIMITED") => limited += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    println!(
        "cluster lockout: 200 wrong logins over 3 nodes: {evaluated} passwords verified, {limited} refused"
    );
    assert_eq!(
        evaluated, 5,
        "exactly the threshold was verified, across all nodes"
    );
    assert_eq!(limited, 195);
    for node in nodes.iter() {
        let body = node.login("racer", PASSWORD).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("RATE_LIMITED"),
            "locked on every node: {body}"
        );
    }
}

/// One refresh token presented at the same moment on every node (four times each): one
/// rotation wins; the others are reuse, which revokes the session, so the winner's new tokens
/// die too, on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_token_on_every_node_at_once_rotates_once_and_reuse_kills_it_everywhere() {
    let (_dir, _db, nodes, _) = cluster(3, &[]).await;
    user_id(&nodes[0].register("r@acme.example", "rotor").await);
    let (_, refresh) = nodes[1].tokens("rotor").await;
    let nodes = Arc::new(nodes);
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let nodes = nodes.clone();
            let refresh = refresh.clone();
            tokio::spawn(async move {
                nodes[i % 3]
                    .acme(None, REFRESH, json!({"t": refresh}))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut refused = 0;
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            None => winners.push(body["data"]["refresh"].clone()),
            Some("INVALID_TOKEN") => refused += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    println!(
        "cluster refresh: 12 presentations over 3 nodes: {} rotation(s), {refused} refused",
        winners.len()
    );
    assert_eq!(winners.len(), 1, "exactly one rotation");
    let access = winners[0]["accessToken"].as_str().unwrap();
    let next = winners[0]["refreshToken"].as_str().unwrap();
    for node in nodes.iter() {
        let body = node.acme(None, REFRESH, json!({"t": next})).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("INVALID_TOKEN"),
            "the family is dead: {body}"
        );
        let gone = within(WITHIN, || async {
            code(&node.acme(Some(access), ME, json!({})).await).as_deref()
                == Some("UNAUTHENTICATED")
        })
        .await;
        assert!(
            gone.is_some(),
            "the winner's access token is refused on {}",
            node.base()
        );
    }
}

/// 50 registrations of one address at once over two nodes: one user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_registrations_of_one_email_over_nodes_make_one_user() {
    let (_dir, _db, nodes, admin) = cluster(2, &[]).await;
    let nodes = Arc::new(nodes);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let nodes = nodes.clone();
            tokio::spawn(async move {
                nodes[i % 2]
                    .register("same@acme.example", &format!("same{i}"))
                    .await
            })
        })
        .collect();
    let (mut created, mut taken) = (0, 0);
    for h in handles {
        let body = h.await.unwrap();
        match code(&body).as_deref() {
            None => created += 1,
            Some("EMAIL_TAKEN") => taken += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    let body = nodes[1]
        .acme(
            Some(&admin),
            "{ users(search: \"same@acme.example\") { totalCount } }",
            json!({}),
        )
        .await;
    let users = body["data"]["users"]["totalCount"].as_i64().unwrap_or(-1);
    println!(
        "cluster uniqueness: 50 registrations over 2 nodes: {created} created, {taken} EMAIL_TAKEN, {users} user(s) stored"
    );
    assert_eq!((created, taken, users), (1, 49, 1), "{body}");
}
