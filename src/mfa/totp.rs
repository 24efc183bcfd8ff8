//! TOTP (RFC 6238 over RFC 4226): SHA-1, 6 digits, 30-second steps, what every authenticator
//! app reads from an `otpauth://` URI.

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use subtle::ConstantTimeEq;

/// Seconds per step (RFC 6238's default; authenticator apps assume it).
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that are accepted: one, for clocks a little apart and a code
/// typed just as it changes (RFC 6238 §5.2 recommends at most one).
pub const SKEW_STEPS: i64 = 1;
/// Secret length: 160 bits, the HMAC-SHA1 block size RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;

/// HOTP (RFC 4226 §5.3): the `digits`-digit code for `counter`.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let binary =
        u32::from_be_bytes([h[offset], h[offset + 1], h[offset + 2], h[offset + 3]]) & 0x7fff_ffff;
    binary % 10u32.pow(digits)
}

/// The step of a Unix time.
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECONDS)
}

/// The code of `step`, zero-padded.
pub fn code_at(secret: &[u8], step: i64, digits: u32) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step as u64, digits),
        width = digits as usize
    )
}

/// The step whose code `code` is, among now ± [`SKEW_STEPS`] and later than `after` (the
/// last step accepted for this secret: a code works once, RFC 6238 §5.2). Compared in
/// constant time.
pub fn verify(secret: &[u8], code: &str, unix: i64, after: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix);
    let mut found = None;
    for step in now - SKEW_STEPS..=now + SKEW_STEPS {
        let expected = code_at(secret, step, DIGITS);
        let same: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if same && after.is_none_or(|a| step > a) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The secret as authenticator apps take it typed in: base32 without padding.
pub fn base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI of Google Authenticator's key URI format, which every app reads.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer_enc = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    let account_enc = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{issuer_enc}:{account_enc}?secret={}&issuer={issuer_enc}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(secret)
    )
}

/// A QR code of `uri` as an SVG document (an element a page can inline).
pub fn qr_svg(uri: &str) -> Result<String, String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // The XML declaration would make the text invalid inside an HTML page.
    Ok(match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(svg.clone(), |(_, r)| r.trim_start().to_string()),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (seed "12345678901234567890", 8 digits).
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let seed = b"12345678901234567890";
        for (t, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(seed, step_of(t), 8), code, "t = {t}");
        }
    }

    #[test]
    fn skew_one_step_and_no_replay() {
        let secret = b"0123456789abcdefghij";
        let t = 1_700_000_000;
        let now = step_of(t);
        let code = |s| code_at(secret, s, DIGITS);
        assert_eq!(verify(secret, &code(now), t, None), Some(now));
        assert_eq!(verify(secret, &code(now - 1), t, None), Some(now - 1));
        assert_eq!(verify(secret, &code(now + 1), t, None), Some(now + 1));
        assert_eq!(verify(secret, &code(now - 2), t, None), None);
        assert_eq!(verify(secret, &code(now + 2), t, None), None);
        assert_eq!(
            verify(secret, &code(now), t, Some(now)),
            None,
            "a code works once"
        );
        assert_eq!(verify(secret, "12345", t, None), None);
        assert_eq!(verify(secret, "abcdef", t, None), None);
    }

    #[test]
    fn uri_and_qr() {
        let uri = otpauth_uri("Acme Corp", "ada@example.com", b"12345678901234567890");
        assert!(uri.starts_with("otpauth://totp/Acme%20Corp:ada%40example%2Ecom?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp"), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    }
}
