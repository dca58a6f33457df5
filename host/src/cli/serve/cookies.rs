//! The cookies the recipient's pages and the console read and set, the random values they hold,
//! and the MACs their CSRF tokens are.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The value of the request's cookie `name`. Every cookie this server sets holds 64 hex digits;
/// anything else is taken as absent, so no cookie text ever reaches a page or a query.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// 32 random bytes from the OS, in hex.
pub fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// The HMAC-SHA256 under `key` of `parts`, each ended by a zero byte (so no two lists of parts
/// give the same input), in hex.
pub fn mac(key: &[u8; 32], parts: &[&str]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key size");
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Whether a token a form sent is the expected one, compared in constant time.
pub fn same(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes()))
}

/// Adds `Set-Cookie: name=value` for `path`, out of scripts' and other sites' reach, living
/// `max_age` seconds (or the browser's session), `Secure` when `secure`.
pub fn set(
    response: &mut Response,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) {
    let max_age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path={path}{max_age}; HttpOnly; SameSite=Strict{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
