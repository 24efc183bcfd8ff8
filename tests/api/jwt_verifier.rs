//! The access-token verifier (`KeySet::verify`) driven directly with correctly signed but
//! hostile tokens. Over HTTP a test cannot sign with a tenant's key (it never leaves the
//! server), so claim-type attacks such as a string `exp` (CVE-2026-25537 class) are proven
//! here, on the very verifier the server runs; header and kid attacks are proven over HTTP
//! in `token_abuse.rs`.

use latchkey::domain::Algorithm;
use latchkey::domain::keygen::generate_key;
use latchkey::domain::keys::KeySet;
use latchkey::domain::secrets::Secrets;
use latchkey::error::ServiceError;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::SECRET;

pub const ISSUER: &str = "http://latchkey.test/t/default";
pub const NOW: i64 = 1_800_000_000;

/// A key set of `alg` for tenant `default`, built the way the server builds it.
pub fn key_set(alg: Algorithm) -> KeySet {
    let secrets = Secrets::derive(&SecretString::from(SECRET));
    let now = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    let row = generate_key(alg, "default", &secrets, now, None);
    KeySet::load(alg, "default", &[row], &secrets, chrono::Utc::now())
        .expect("key loads")
        .expect("a current key")
}

/// Claims the verifier accepts at [`NOW`].
pub fn good_claims() -> Value {
    json!({
        "iss": ISSUER, "aud": ISSUER, "sub": "user-1", "exp": NOW + 600, "iat": NOW, "nbf": NOW,
        "jti": "j", "sid": "s", "tenant": "default", "roles": [],
    })
}

fn verify(keys: &KeySet, token: &str) -> Result<String, ServiceError> {
    keys.verify(token, ISSUER, "default", NOW)
        .map(|c| c.sub)
        .map_err(ServiceError::from)
}

#[test]
fn correctly_signed_hostile_claims_are_rejected() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256] {
        let keys = key_set(alg);
        let good = keys.sign_json(Some("at+jwt"), &good_claims()).unwrap();
        assert_eq!(verify(&keys, &good).unwrap(), "user-1", "{alg:?}");

        let mut cases: Vec<(&str, Value)> = Vec::new();
        for claim in ["exp", "nbf", "iat"] {
            let mut c = good_claims();
            c[claim] = json!(c[claim].to_string()); // "1800000600": a string-typed time
            cases.push(("string-typed time claim", c.clone()));
            c[claim] = json!(null);
            cases.push(("null time claim", c.clone()));
            c[claim] = json!(1.8e9 + 600.5);
            cases.push(("fractional time claim", c.clone()));
            c.as_object_mut().unwrap().remove(claim);
            cases.push(("missing time claim", c));
        }
        for claim in ["iss", "aud", "sub", "sid", "tenant"] {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(claim);
            cases.push(("missing claim", c));
        }
        let mut c = good_claims();
        c["exp"] = json!(NOW - 31);
        cases.push(("expired beyond the 30 s leeway", c));
        let mut c = good_claims();
        c["nbf"] = json!(NOW + 31);
        cases.push(("not yet valid beyond the leeway", c));
        let mut c = good_claims();
        c["exp"] = json!(i64::MIN);
        cases.push(("exp at i64::MIN", c));
        let mut c = good_claims();
        c["exp"] = json!(u64::MAX);
        cases.push(("exp beyond i64", c));
        let mut c = good_claims();
        c["aud"] = json!("http://latchkey.test/t/other");
        cases.push(("another audience", c));
        let mut c = good_claims();
        c["tenant"] = json!("other");
        cases.push(("another tenant", c));
        let mut c = good_claims();
        c["iss"] = json!([ISSUER]);
        cases.push(("array issuer", c));
        for (what, claims) in cases {
            let token = keys.sign_json(Some("at+jwt"), &claims).unwrap();
            assert!(
                matches!(verify(&keys, &token), Err(ServiceError::Unauthenticated(_))),
                "{alg:?}: {what}: {claims}"
            );
        }

        // Only access tokens: another `typ` (or none) is refused even when signed by us.
        for typ in [None, Some("JWT"), Some("refresh+jwt"), Some("at+jwt ")] {
            let token = keys.sign_json(typ, &good_claims()).unwrap();
            assert!(
                matches!(verify(&keys, &token), Err(ServiceError::Unauthenticated(_))),
                "{alg:?}: typ {typ:?}"
            );
        }
    }
}

#[test]
fn a_token_signed_with_another_algorithm_is_rejected() {
    let eddsa = key_set(Algorithm::EdDSA);
    let es256 = key_set(Algorithm::ES256);
    let token = es256.sign_json(Some("at+jwt"), &good_claims()).unwrap();
    assert!(matches!(
        verify(&eddsa, &token),
        Err(ServiceError::Unauthenticated(_))
    ));
}
