//! Configuration: bad values stop start-up with one line naming the variable.

use std::process::Command;

use latchkey::Config;

use crate::helpers::test_vars;

fn with(overrides: &[(&str, &str)]) -> Result<Config, latchkey::config::ConfigError> {
    let mut vars = test_vars();
    for (k, v) in overrides {
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), v.to_string()));
    }
    Config::from_vars(vars)
}

#[test]
fn every_invalid_value_names_its_variable() {
    let cases = [
        ("DATABASE_URL", "postgres://x"),
        ("SECRET_KEY", "short"),
        ("ALGORITHM", "RS512"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "abc"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "-5"),
        ("REFRESH_TOKEN_EXPIRE_DAYS", "99999"),
        ("PUBLIC_URL", "not a url"),
        ("PUBLIC_URL", "ftp://example.com"),
        ("BIND_ADDR", "localhost"),
        ("DEFAULT_TENANT", "Has Spaces"),
        ("LOG_FORMAT", "xml"),
        ("CORS_ORIGINS", "not an origin"),
        ("GRAPHQL_INTROSPECTION", "maybe"),
        ("SMTP_URL", "http://mail.example.com"),
        ("SMTP_URL", "smtp://"),
        ("MAIL_FROM", "not a mailbox"),
        ("MAIL_FROM", "x@example.com\r\nBcc: all@evil.example"),
        ("PASSWORD_RESET_EXPIRE_MINUTES", "0"),
        ("EMAIL_VERIFY_EXPIRE_HOURS", "lots"),
        ("REQUIRE_VERIFIED_EMAIL", "sometimes"),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ("TRUSTED_PROXIES", "proxy.internal"),
        ("LOGIN_LOCKOUT_THRESHOLD", "0"),
        ("LOGIN_LOCKOUT_BASE_SECONDS", "0"),
        ("LOGIN_LOCKOUT_MAX_SECONDS", "99999999"),
        ("RATE_LIMIT_LOGIN", "10"),
        ("RATE_LIMIT_LOGIN", "0/60"),
        ("RATE_LIMIT_REGISTER", "10/0"),
        ("RATE_LIMIT_PASSWORD_RESET", "x/y"),
        ("LOGIN_FAILURES_PER_ADDRESS", "-1/60"),
    ];
    for (var, value) in cases {
        let err = with(&[(var, value)]).expect_err(&format!("{var}={value} must be refused"));
        assert_eq!(err.var, var);
        assert!(err.to_string().contains(var), "{err}");
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::from_vars(vec![("SECRET_KEY", crate::helpers::SECRET)]).unwrap();
    assert_eq!(c.database.to_string(), "rocksdb://./data/latchkey.db");
    assert_eq!(c.algorithm, latchkey::domain::Algorithm::EdDSA);
    assert_eq!(c.access_token_ttl.as_secs(), 15 * 60);
    assert_eq!(c.refresh_token_ttl.as_secs(), 30 * 86_400);
    assert_eq!(c.default_tenant.as_str(), "default");
    assert!(c.graphql_introspection);
    let c = with(&[
        ("ALGORITHM", "es256"),
        ("CORS_ORIGINS", "https://a.example, https://b.example/"),
    ])
    .unwrap();
    assert_eq!(c.algorithm, latchkey::domain::Algorithm::ES256);
    assert_eq!(
        c.cors_origins,
        vec!["https://a.example", "https://b.example"]
    );
}

#[test]
fn the_binary_refuses_a_bad_value_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .current_dir(dir.path())
        .env_clear()
        .env("ACCESS_TOKEN_EXPIRE_MINUTES", "soon")
        .env("SECRET_KEY", crate::helpers::SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("ACCESS_TOKEN_EXPIRE_MINUTES"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn dotenv_file_is_read_and_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "LOG_FORMAT=xml\nACCESS_TOKEN_EXPIRE_MINUTES=5\n",
    )
    .unwrap();
    // From .env alone, the bad LOG_FORMAT is reported.
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .current_dir(dir.path())
        .env_clear()
        .env("SECRET_KEY", crate::helpers::SECRET)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOG_FORMAT"));
    // The environment overrides .env: now ACCESS_TOKEN_EXPIRE_MINUTES from the environment is bad.
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .current_dir(dir.path())
        .env_clear()
        .env("SECRET_KEY", crate::helpers::SECRET)
        .env("LOG_FORMAT", "json")
        .env("ACCESS_TOKEN_EXPIRE_MINUTES", "never")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ACCESS_TOKEN_EXPIRE_MINUTES"), "{stderr}");
}

#[test]
fn security_defaults_are_the_documented_ones() {
    use latchkey::config::RateLimit;
    let c = with(&[]).unwrap();
    assert!(c.trusted_proxies.is_empty());
    assert_eq!(c.lockout.threshold, 5);
    assert_eq!(c.lockout.base.as_secs(), 1);
    assert_eq!(c.lockout.max.as_secs(), 900);
    assert_eq!(c.login_failures_per_address, RateLimit::per(100, 900));
    assert_eq!(c.rate_limit_login, RateLimit::per(100, 60));
    assert_eq!(c.rate_limit_register, RateLimit::per(60, 600));
    assert_eq!(c.rate_limit_password_reset, RateLimit::per(10, 900));
    let c = with(&[
        ("LOGIN_LOCKOUT_BASE_SECONDS", "10"),
        ("LOGIN_LOCKOUT_MAX_SECONDS", "5"),
    ]);
    let err = c.expect_err("max below base is refused");
    assert_eq!(err.var, "LOGIN_LOCKOUT_MAX_SECONDS");
    let c = with(&[("TRUSTED_PROXIES", " 10.0.0.1, ::1 ")]).unwrap();
    assert_eq!(c.trusted_proxies.len(), 2);
}
