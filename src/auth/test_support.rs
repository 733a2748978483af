//! Test fixtures of the JWT rules: tokens built by hand (so headers and claims can be anything a
//! forger would send), signed with the test keys of `tests/data/keys` (TEST ONLY: key material is
//! never kept under `src/`) or with EC keys made afresh for each test.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::AdminKeys;
use super::keys::KeySet;
use super::verify::{AuthError, Expectations, verify};
use crate::config::{AdminJwtArgs, Secret};

/// A 2048-bit RSA key pair (PKCS#8); it protects nothing and must never be configured anywhere.
pub const TEST_RSA_PRIVATE_PKCS8: &str = include_str!("../../tests/data/keys/rsa-2048.private.pkcs8.pem");
/// The public half of [`TEST_RSA_PRIVATE_PKCS8`], as SPKI.
pub const TEST_RSA_PUBLIC_SPKI: &str = include_str!("../../tests/data/keys/rsa-2048.public.spki.pem");
/// The same public key as PKCS#1.
pub const TEST_RSA_PUBLIC_PKCS1: &str = include_str!("../../tests/data/keys/rsa-2048.public.pkcs1.pem");
/// The same public key as a JWK without `kid`.
const TEST_RSA_JWK: &str = include_str!("../../tests/data/keys/rsa-2048.public.jwk.json");
/// A 1024-bit RSA public key, to show that short moduli are refused.
pub const TEST_RSA_1024_PUBLIC: &str = include_str!("../../tests/data/keys/rsa-1024.public.spki.pem");

/// The HS256 secret of the tests.
pub const SECRET: &str = "unit-test-admin-secret-0123456789abcdef";
/// The issuer the tests expect, where they expect one.
pub const ISSUER: &str = "https://platform.test.example";
/// The audience the tests expect (the admin API's default).
pub const AUDIENCE: &str = "scimgate";

/// SPKI prefix of an uncompressed P-256 point (RFC 5480).
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// How a hand-built token is signed.
pub enum Signer<'a> {
    Hs(&'a [u8]),
    Rs(&'a RsaKeyPair),
    Es(&'a EcdsaKeyPair),
    Unsigned,
}

/// Base64url without padding, as JWS uses it.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token built by hand, so headers and claims can be anything a forger would send.
pub fn token(header: Value, claims: Value, signer: Signer<'_>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let sig = match signer {
        Signer::Hs(secret) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::Rs(pair) => {
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                .expect("rsa sign");
            sig
        }
        Signer::Es(pair) => pair
            .sign(&rng, input.as_bytes())
            .expect("ec sign")
            .as_ref()
            .to_vec(),
        Signer::Unsigned => Vec::new(),
    };
    format!("{input}.{}", b64(&sig))
}

/// An HS256 token of `claims`, signed with [`SECRET`].
pub fn hs_token(claims: Value) -> String {
    token(hs_header(), claims, Signer::Hs(SECRET.as_bytes()))
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Valid admin claims for organization 7, from [`ISSUER`] to [`AUDIENCE`].
pub fn claims() -> Value {
    json!({
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 600,
        "orgs": {"7": ["organization:read", "organization:write"]},
        "instance_admin": false,
    })
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// `claims` without `key`.
pub fn without(mut claims: Value, key: &str) -> Value {
    if let Value::Object(m) = &mut claims {
        m.remove(key);
    }
    claims
}

/// The usual header of an HS256 token.
pub fn hs_header() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

/// The admin keys of the HS256 [`SECRET`], expecting `issuer` if given.
pub fn hs_keys(issuer: Option<&str>) -> AdminKeys {
    AdminKeys::from_settings(&AdminJwtArgs {
        admin_jwt_hs256_secret: Some(Secret(SECRET.into())),
        admin_jwt_issuer: issuer.map(str::to_owned),
        ..AdminJwtArgs::default()
    })
    .expect("valid settings")
    .expect("configured")
}

/// A key file that removes itself when the test ends.
pub struct TempFile(pub std::path::PathBuf);

impl TempFile {
    /// A fresh file holding `contents`, named with `ext`.
    pub fn new(ext: &str, contents: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "scimgate-auth-test-{}.{ext}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::write(&path, contents).expect("write key file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The least a token's claims can be read as: the generic verifier serves any claims type.
#[derive(Deserialize)]
struct Subject {
    sub: String,
}

/// Keys and expectations, checked through the generic [`verify`].
pub struct Verifier {
    pub keys: KeySet,
    pub expect: Expectations,
}

impl Verifier {
    /// The HS256 [`SECRET`], expecting `issuer` if given.
    pub fn hs(issuer: Option<&str>) -> Verifier {
        Verifier {
            keys: KeySet::from_secret(SECRET.as_bytes(), "the test secret").expect("secret"),
            expect: expecting(issuer),
        }
    }

    /// A PEM public key, expecting [`ISSUER`].
    pub fn pem(text: &str) -> Verifier {
        Verifier {
            keys: KeySet::from_pem(text).expect("valid PEM"),
            expect: expecting(Some(ISSUER)),
        }
    }

    /// A JWKS, expecting [`ISSUER`].
    pub fn jwks(doc: &Value) -> Verifier {
        Verifier {
            keys: KeySet::from_jwks(&doc.to_string(), "the test JWKS").expect("valid JWKS"),
            expect: expecting(Some(ISSUER)),
        }
    }

    /// The `sub` of `token`, if it verifies.
    pub fn check(&self, token: &str) -> Result<String, AuthError> {
        verify::<Subject>(token, &self.keys, &self.expect).map(|c| c.sub)
    }
}

/// [`AUDIENCE`], and `issuer` if given.
pub fn expecting(issuer: Option<&str>) -> Expectations {
    Expectations {
        audience: AUDIENCE.into(),
        issuer: issuer.map(str::to_owned),
        max_bytes: super::verify::MAX_TOKEN_BYTES,
    }
}

/// The DER inside a PEM text.
fn pem_der(text: &str) -> Vec<u8> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("base64")
}

/// The test RSA key pair.
pub fn rsa_pair() -> RsaKeyPair {
    RsaKeyPair::from_pkcs8(&pem_der(TEST_RSA_PRIVATE_PKCS8)).expect("test rsa key")
}

/// A P-256 key pair made afresh.
pub fn ec_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("generate");
    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("load")
}

/// The public key of `pair` as an SPKI PEM.
pub fn ec_pem(pair: &EcdsaKeyPair) -> String {
    let der = [P256_SPKI_PREFIX, pair.public_key().as_ref()].concat();
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// The public key of `pair` as a signing JWK named `kid`.
pub fn ec_jwk(pair: &EcdsaKeyPair, kid: &str) -> Value {
    let point = pair.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
           "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// The test RSA public key as a signing JWK named `kid`.
pub fn rsa_jwk(kid: &str) -> Value {
    let mut jwk: Value = serde_json::from_str(TEST_RSA_JWK).expect("test JWK");
    jwk["kid"] = json!(kid);
    jwk
}
