//! Microsoft Entra ID's rules. A multi-tenant application's discovery document (`common`,
//! `organizations`) names the issuer as a template, `https://login.microsoftonline.com/
//! {tenantid}/v2.0`, which each id_token fills with the directory it comes from (`tid`); the
//! token is checked against the template filled with its own `tid`, and `tid` against the
//! directories the tenant admin allows. The account is keyed by `tid` and `oid` (the user's
//! object id, the same for every application of that directory): never by `email`, which any
//! directory admin can set to any address without verification ("nOAuth", 2023).

/// The public cloud's sign-in host (national clouds have their own, e.g.
/// `https://login.microsoftonline.us`).
pub const AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// The directory of personal Microsoft accounts (what `consumers` tokens carry as `tid`).
pub const CONSUMERS_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The template placeholder in a multi-tenant issuer.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Whether `directory` is one Entra serves: `common`, `organizations`, `consumers` or a
/// directory id (a GUID; a directory's domain name would discover its GUID issuer, which then
/// would not match, so the GUID is asked for).
pub fn valid_directory(directory: &str) -> bool {
    matches!(directory, "common" | "organizations" | "consumers") || is_guid(directory)
}

/// A directory id as Entra writes it (lower case accepted, compared case-insensitively).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The issuer to discover for `directory` on `host`.
pub fn authority(host: &str, directory: &str) -> String {
    format!("{}/{directory}/v2.0", host.trim_end_matches('/'))
}

/// Whether a discovery document's `reported` issuer fits what was asked for: the same issuer;
/// for `common` and `organizations` the template on the same host; for `consumers` the
/// personal accounts' directory, which its document names.
pub fn accepts_issuer(host: &str, directory: &str, reported: &str) -> bool {
    reported == authority(host, directory)
        || (matches!(directory, "common" | "organizations")
            && reported == authority(host, TENANT_PLACEHOLDER))
        || (directory == "consumers" && reported == authority(host, CONSUMERS_TID))
}

/// Whether an allow-list leaves anyone in under `directory` (empty: no list).
pub fn allow_list_fits(directory: &str, allowed: &[String]) -> bool {
    let has = |t: &str| allowed.iter().any(|a| a.eq_ignore_ascii_case(t));
    allowed.is_empty()
        || match directory {
            "consumers" => has(CONSUMERS_TID),
            "common" => true,
            "organizations" => allowed
                .iter()
                .any(|a| !a.eq_ignore_ascii_case(CONSUMERS_TID)),
            one => has(one),
        }
}

/// The issuer an id_token from directory `tid` must carry, given the provider's (possibly
/// templated) issuer.
pub fn issuer_for(issuer: &str, tid: &str) -> String {
    issuer.replace(TENANT_PLACEHOLDER, tid)
}

/// Checks the token's directory against the configuration and answers the identity's key,
/// `{tid}/{oid}`.
pub fn identity_key(
    directory: &str,
    allowed: &[String],
    tid: Option<&str>,
    oid: Option<&str>,
) -> Result<String, String> {
    let tid = tid
        .filter(|t| is_guid(t))
        .ok_or("the id_token names no directory (tid)")?;
    let oid = oid
        .filter(|o| !o.is_empty() && o.len() <= 64)
        .ok_or("the id_token names no object id (oid)")?;
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let fits = match directory {
        "common" => true,
        "organizations" => !same(tid, CONSUMERS_TID),
        "consumers" => same(tid, CONSUMERS_TID),
        one => same(tid, one),
    };
    if !fits {
        return Err(format!("accounts of directory {tid} are not accepted here"));
    }
    if !allowed.is_empty() && !allowed.iter().any(|a| same(a, tid)) {
        return Err(format!(
            "directory {tid} is not among the directories this tenant accepts"
        ));
    }
    Ok(format!("{}/{oid}", tid.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const T2: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn the_template_is_accepted_for_multi_tenant_directories_only() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(accepts_issuer(AUTHORITY_HOST, "organizations", template));
        assert!(accepts_issuer(AUTHORITY_HOST, "common", template));
        assert!(!accepts_issuer(AUTHORITY_HOST, T1, template));
        assert!(!accepts_issuer(AUTHORITY_HOST, "consumers", template));
        assert!(accepts_issuer(
            AUTHORITY_HOST,
            "consumers",
            &format!("https://login.microsoftonline.com/{CONSUMERS_TID}/v2.0")
        ));
        assert!(allow_list_fits(T1, &[T1.into()]) && !allow_list_fits(T1, &[T2.into()]));
        assert!(!allow_list_fits("consumers", &[T1.into()]));
        assert!(accepts_issuer(
            AUTHORITY_HOST,
            T1,
            &format!("https://login.microsoftonline.com/{T1}/v2.0")
        ));
        assert!(!accepts_issuer(
            AUTHORITY_HOST,
            "common",
            "https://evil.example/{tenantid}/v2.0"
        ));
        assert_eq!(
            issuer_for(template, T1),
            format!("https://login.microsoftonline.com/{T1}/v2.0")
        );
    }

    #[test]
    fn the_key_is_tid_and_oid_and_the_directory_rules_hold() {
        assert_eq!(
            identity_key("common", &[], Some(T1), Some("oid-1")).unwrap(),
            format!("{T1}/oid-1")
        );
        assert!(identity_key(T2, &[], Some(T1), Some("o")).is_err());
        assert!(identity_key("organizations", &[], Some(CONSUMERS_TID), Some("o")).is_err());
        assert!(identity_key("consumers", &[], Some(T1), Some("o")).is_err());
        assert!(identity_key("common", &[T2.into()], Some(T1), Some("o")).is_err());
        assert!(identity_key("common", &[T1.to_uppercase()], Some(T1), Some("o")).is_ok());
        assert!(identity_key("common", &[], None, Some("o")).is_err());
        assert!(identity_key("common", &[], Some(T1), None).is_err());
        assert!(identity_key("common", &[], Some("not-a-guid"), Some("o")).is_err());
        assert!(valid_directory("organizations") && valid_directory(T1));
        assert!(!valid_directory("contoso.onmicrosoft.com"));
    }
}
