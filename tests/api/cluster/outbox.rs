//! One send per queued mail, also when the node holding a mail's claim dies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Node, cluster, user_id, within};
use crate::helpers::{PASSWORD, SmtpSink};
use crate::surreal_server::SurrealServer;

const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";

/// Mail queued through two nodes that both drain every outbox (and rescan it every second):
/// each mail is sent exactly once. Counted after both nodes have rescanned twice more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_queued_mail_is_sent_by_exactly_one_node() {
    let smtp = SmtpSink::start();
    let url = smtp.url();
    let vars = [
        ("SMTP_URL", url.as_str()),
        ("OUTBOX_CLAIM_SECONDS", "2"),
        (
            "RUST_LOG",
            "warn,latchkey=info,latchkey::actors::email=debug,audit=warn",
        ),
    ];
    let (_dir, _db, nodes, _) = cluster(2, &vars).await;
    for i in 0..20 {
        user_id(
            &nodes[i % 2]
                .register(&format!("m{i}@acme.example"), &format!("mailer{i}"))
                .await,
        );
    }
    for i in 0..20 {
        let body = nodes[(i + 1) % 2]
            .acme(None, RESET, json!({"e": format!("m{i}@acme.example")}))
            .await;
        assert_eq!(body["data"]["requestPasswordReset"], true, "{body}");
    }
    let resets = || {
        smtp.mails()
            .iter()
            .filter(|m| m.subject.contains("eset"))
            .count()
    };
    let all = within(Duration::from_secs(30), || async { resets() >= 20 }).await;
    assert!(
        all.is_some(),
        "{} of 20 reset mails in 30 s; the nodes logged:\n{}",
        resets(),
        nodes
            .iter()
            .flat_map(|n| n.server.lines())
            .filter(|l| l.contains("mail") || l.contains("outbox"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let scans = |n: &Node| {
        n.server
            .lines()
            .iter()
            .filter(|l| l.contains("outbox scan finished"))
            .count()
    };
    let before: Vec<usize> = nodes.iter().map(scans).collect();
    let rescanned = within(Duration::from_secs(30), || async {
        nodes.iter().zip(&before).all(|(n, b)| scans(n) >= b + 2)
    })
    .await;
    assert!(rescanned.is_some(), "both nodes rescanned their outboxes");
    for i in 0..20 {
        let to = format!("m{i}@acme.example");
        let n = smtp
            .mails()
            .iter()
            .filter(|m| m.to.contains(&to) && m.subject.contains("eset"))
            .count();
        assert_eq!(n, 1, "exactly one reset mail to {to}");
    }
    println!("cluster outbox: 20 mails queued over 2 nodes, 20 sent, none twice");
}

/// A node that dies holding a mail's claim (its SMTP server never answers) loses nothing: the
/// other node sends the mail once the claim lapses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mail_claimed_by_a_node_that_died_is_sent_by_another() {
    let smtp = SmtpSink::start();
    // An SMTP "server" that accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("smtp://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for s in silent.incoming().flatten() {
                held.lock().unwrap().push(s);
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let db = SurrealServer::start(dir.path());
    let claim = [("OUTBOX_CLAIM_SECONDS", "2")];
    let mut doomed_vars = claim.to_vec();
    doomed_vars.push(("SMTP_URL", silent_url.as_str()));
    let doomed = Node::start(&db, &doomed_vars);
    let body = doomed
        .platform(
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
            json!({"i": {"slug": "acme", "displayName": "Acme",
                "admin": {"email": "admin@acme.example", "username": "admin", "password": PASSWORD}}}),
        )
        .await;
    assert_eq!(body["data"]["createTenant"]["slug"], "acme", "{body}");
    user_id(&doomed.register("lost@acme.example", "lost").await);
    let body = doomed
        .acme(None, RESET, json!({"e": "lost@acme.example"}))
        .await;
    assert_eq!(body["data"]["requestPasswordReset"], true);
    // The doomed node is in its SMTP conversation (it holds the claim) when it is killed.
    let connected = within(Duration::from_secs(10), || async {
        !held.lock().unwrap().is_empty()
    })
    .await;
    assert!(connected.is_some(), "the doomed node started sending");
    doomed.server.signal(libc::SIGKILL);
    let mut sink_vars = claim.to_vec();
    let url = smtp.url();
    sink_vars.push(("SMTP_URL", url.as_str()));
    let survivor = Node::start(&db, &sink_vars);
    let mail = smtp.wait_for("lost@acme.example", "eset").await;
    assert!(!mail.token().is_empty());
    println!("cluster outbox: the mail of a node killed mid-send was sent by the survivor");
    drop(survivor);
}
