//! The SurrealDB server killed, slow or hung under a node, and a node killed under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{ME, Node, WITHIN, cluster, user_id, within};
use crate::helpers::{LOGIN, PASSWORD, REGISTER, code};

/// The SurrealDB server killed under a node: requests answer SERVICE_UNAVAILABLE (503 on
/// REST) within a second, /readyz is unready, nothing hangs; restarted, the node reconnects by
/// itself and every acknowledged registration is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_surrealdb_server_killed_and_restarted() {
    let (_dir, mut db, nodes, _) = cluster(1, &[]).await;
    let node = &nodes[0];
    for i in 0..20 {
        user_id(
            &node
                .register(&format!("k{i}@acme.example"), &format!("kept{i}"))
                .await,
        );
    }
    let (token, _) = node.tokens("kept0").await;
    assert!(code(&node.acme(Some(&token), ME, json!({})).await).is_none());
    assert_eq!(node.readyz().await, 200);

    db.kill();
    let killed = Instant::now();
    // Each kind of request fails closed, each within a second of asking.
    for (what, query, vars, bearer) in [
        ("me", ME, json!({}), Some(token.as_str())),
        (
            "login",
            LOGIN,
            json!({"input": {"identifier": "kept1", "password": PASSWORD}}),
            None,
        ),
        (
            "register",
            REGISTER,
            json!({"input": {"email": "new@acme.example", "username": "newbie", "password": PASSWORD}}),
            None,
        ),
    ] {
        let t = within(WITHIN, || async {
            let asked = Instant::now();
            let body = node.acme(bearer, query, vars.clone()).await;
            code(&body).as_deref() == Some("SERVICE_UNAVAILABLE") && asked.elapsed() < WITHIN
        })
        .await;
        assert!(
            t.is_some(),
            "{what} answers SERVICE_UNAVAILABLE within 1 s of the kill"
        );
    }
    let rest = node
        .http
        .post(format!("{}/api/auth/login", node.base()))
        .form(&[("username", "kept1"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(rest, 503, "REST answers 503");
    let t = within(WITHIN, || async { node.readyz().await == 503 }).await;
    assert!(t.is_some(), "/readyz unready");
    println!(
        "cluster fault: SurrealDB killed; SERVICE_UNAVAILABLE and /readyz 503 within {:?}",
        killed.elapsed()
    );

    db.restart();
    let back = within(Duration::from_secs(30), || async {
        node.readyz().await == 200
    })
    .await;
    assert!(back.is_some(), "the node reconnected by itself");
    println!(
        "cluster fault: ready again {:?} after the server restarted",
        back.unwrap()
    );
    for i in 0..20 {
        let body = node.login(&format!("kept{i}"), PASSWORD).await;
        assert!(
            code(&body).is_none(),
            "acknowledged user kept{i} survived: {body}"
        );
    }
    assert!(
        code(&node.acme(Some(&token), ME, json!({})).await).is_none(),
        "the session too"
    );
}

/// A server that is slow is waited for, one that hangs fails closed. Paused for one second
/// (SIGSTOP: the port still accepts connections), a registration asked meanwhile is answered
/// once it goes on and the node never declares the server lost; paused for good, requests
/// answer SERVICE_UNAVAILABLE after the watch's 2 s limit and the node recovers when it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_server_is_waited_for_and_a_hung_one_fails_closed() {
    let (_dir, db, nodes, _) = cluster(1, &[]).await;
    let node = &nodes[0];
    user_id(&node.register("before@acme.example", "before").await);
    let lost = |node: &Node| {
        node.server
            .lines()
            .iter()
            .filter(|l| l.contains("SurrealDB server unreachable"))
            .count()
    };
    assert_eq!(lost(node), 0);

    db.pause();
    let (body, ()) = tokio::join!(node.register("paused@acme.example", "paused"), async {
        // The length of the pause is the scenario (a server that stalls for a second), not a
        // wait for something to happen.
        tokio::time::sleep(Duration::from_secs(1)).await;
        db.resume();
    });
    user_id(&body);
    assert_eq!(lost(node), 0, "a one-second stall is not a lost server");
    assert_eq!(node.readyz().await, 200);

    db.pause();
    let paused = Instant::now();
    let t = within(Duration::from_secs(5), || async {
        let body = node
            .register(
                &format!("hung{}@acme.example", paused.elapsed().as_millis()),
                "hung",
            )
            .await;
        code(&body).as_deref() == Some("SERVICE_UNAVAILABLE")
    })
    .await;
    assert!(t.is_some(), "a hung server fails requests closed");
    let t = within(Duration::from_secs(5), || async {
        node.readyz().await == 503
    })
    .await;
    assert!(t.is_some(), "/readyz unready while the server hangs");
    println!(
        "cluster fault: SurrealDB paused; SERVICE_UNAVAILABLE and /readyz 503 after {:?}",
        paused.elapsed()
    );
    db.resume();
    let back = within(Duration::from_secs(30), || async {
        node.readyz().await == 200
    })
    .await;
    assert!(back.is_some(), "ready again once the server goes on");
    assert!(code(&node.login("paused", PASSWORD).await).is_none());
}

/// Registrations through two nodes while one is killed -9: the other carries on, and every
/// registration either node acknowledged can log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_load_loses_nothing_acknowledged() {
    let (_dir, _db, nodes, _) = cluster(2, &[]).await;
    let nodes = Arc::new(nodes);
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (nodes, acked, stop) = (nodes.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let name = format!("w{w}n{i}");
                    let node = &nodes[(w + i) % 2];
                    let body = node
                        .try_gql_at("/t/acme/graphql", None, REGISTER, json!({"input": {"email": format!("{name}@acme.example"), "username": name, "password": PASSWORD}}))
                        .await;
                    if let Ok(b) = body
                        && b["errors"].is_null()
                        && !b["data"].is_null()
                    {
                        acked.lock().unwrap().push(name);
                    }
                }
            })
        })
        .collect();
    let enough = |n: usize| {
        let acked = acked.clone();
        async move { acked.lock().unwrap().len() >= n }
    };
    assert!(
        within(Duration::from_secs(60), || enough(30))
            .await
            .is_some()
    );
    nodes[0].server.signal(libc::SIGKILL);
    let at_kill = acked.lock().unwrap().len();
    assert!(
        within(Duration::from_secs(60), || enough(at_kill + 30))
            .await
            .is_some(),
        "the survivor carries on"
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let names = acked.lock().unwrap().clone();
    for name in &names {
        let body = nodes[1].login(name, PASSWORD).await;
        assert!(
            code(&body).is_none(),
            "acknowledged {name} can log in: {body}"
        );
    }
    println!(
        "cluster fault: node killed -9 under load; {} acknowledged registrations ({at_kill} before the kill), 0 lost",
        names.len()
    );
}
