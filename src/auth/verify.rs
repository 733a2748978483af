//! Verification of one compact JWS token against a [`KeySet`], for any claims type. The key
//! decides the algorithm, never the token's header alone: the header's `kid` only picks among the
//! keys, and a header `alg` that differs from that key's algorithm (`none` included) is refused
//! before any cryptography runs. Header fields that point elsewhere for key material (`jku`,
//! `jwk`, `x5u`, `x5c`) are ignored; `crit` is refused, as we understand no extension.
//!
//! Every token must carry `exp`, `sub` and `aud`; `exp` and `nbf` hold within [`LEEWAY_SECS`];
//! `aud` must name the expected audience; `iss`, when one is expected, must be exactly that
//! string. Tokens longer than their kind allows ([`Expectations::max_bytes`]) are refused before
//! parsing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::keys::KeySet;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 60;

/// Real admin tokens are well under 2 KiB; anything far larger is refused before parsing.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// ID tokens carry the `groups` claim: Entra emits up to 200 group GUIDs (about 10 KiB encoded)
/// before it switches to its overage marker, Okta group names may be longer.
pub const MAX_ID_TOKEN_BYTES: usize = 32 * 1024;

/// Why a token was refused; [`AuthError::reason`] is a metrics label, and a client is never told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a well-formed JWS compact token.
    #[error("the token is not a well-formed JWT")]
    InvalidToken,
    /// The header's `kid` names no trusted key, or several keys are trusted and it names none.
    #[error("the token does not name a configured key")]
    UnknownKey,
    /// The header's `alg` is not the algorithm of the key (including `none`).
    #[error("the token's algorithm is not that of its key")]
    Algorithm,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Signature,
    /// `exp` is past, beyond the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is ahead, beyond the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` is missing or not ours.
    #[error("the token is for another audience")]
    Audience,
    /// `iss` is missing or not the expected issuer.
    #[error("the token is from another issuer")]
    Issuer,
    /// A required claim is missing, or a claim has the wrong type.
    #[error("the token's claims are missing or malformed")]
    Claims,
}

impl AuthError {
    /// The `reason` label of a failure metric.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::InvalidToken => "invalid_token",
            AuthError::UnknownKey => "unknown_kid",
            AuthError::Algorithm => "algorithm",
            AuthError::Signature => "signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::Audience => "audience",
            AuthError::Issuer => "issuer",
            AuthError::Claims => "claims",
        }
    }
}

impl From<jsonwebtoken::errors::Error> for AuthError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat => AuthError::Signature,
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm | ErrorKind::MissingAlgorithm => {
                AuthError::Algorithm
            }
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::Audience,
            ErrorKind::InvalidIssuer => AuthError::Issuer,
            ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => match c.as_str() {
                "aud" => AuthError::Audience,
                "iss" => AuthError::Issuer,
                _ => AuthError::Claims,
            },
            // Claims are parsed only after the signature verified, so a JSON error here is theirs.
            ErrorKind::Json(_) => AuthError::Claims,
            _ => AuthError::InvalidToken,
        }
    }
}

/// What a token must say besides carrying a good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// A value `aud` must hold (it may hold others).
    pub audience: String,
    /// The exact `iss`, when one is expected; `None` checks no issuer.
    pub issuer: Option<String>,
    /// Longest token of this kind ([`MAX_TOKEN_BYTES`] for admin tokens, [`MAX_ID_TOKEN_BYTES`]
    /// for ID tokens).
    pub max_bytes: usize,
}

/// Verifies `token` against `keys` and `expect`, and returns its claims as `C`. A claims type
/// that does not fit the token is [`AuthError::Claims`]; `C` need not declare `iss`, `aud`, `exp`
/// or `nbf`, which are checked here.
pub fn verify<C: DeserializeOwned>(
    token: &str,
    keys: &KeySet,
    expect: &Expectations,
) -> Result<C, AuthError> {
    if token.len() > expect.max_bytes {
        return Err(AuthError::InvalidToken);
    }
    let (alg, kid) = read_header(token)?;
    let key = keys.key_for(kid.as_deref())?;
    if alg != algorithm_name(key.algorithm()) {
        return Err(AuthError::Algorithm);
    }
    let validation = validation(key.algorithm(), expect);
    let claims = jsonwebtoken::decode::<C>(token, key.decoding_key(), &validation)?.claims;
    if let Some(issuer) = &expect.issuer {
        // jsonwebtoken also accepts an array holding the issuer; the contract is one string.
        if !issuer_is(token, issuer) {
            return Err(AuthError::Issuer);
        }
    }
    Ok(claims)
}

fn validation(algorithm: Algorithm, expect: &Expectations) -> Validation {
    let mut v = Validation::new(algorithm);
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_audience(&[expect.audience.as_str()]);
    let mut required = vec!["exp", "sub", "aud"];
    if let Some(issuer) = &expect.issuer {
        v.set_issuer(&[issuer]);
        required.push("iss");
    }
    v.set_required_spec_claims(&required);
    v
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        // Never loaded: keys.rs makes only the three above.
        _ => "unsupported",
    }
}

/// The header's `alg` and `kid`, read before choosing a key.
fn read_header(token: &str) -> Result<(String, Option<String>), AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::InvalidToken);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::InvalidToken)?;
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(AuthError::InvalidToken);
    };
    // RFC 7515 §4.1.11: extensions the recipient does not understand must be refused; we know none.
    if header.contains_key("crit") {
        return Err(AuthError::InvalidToken);
    }
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(AuthError::InvalidToken);
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(AuthError::InvalidToken),
    };
    Ok((alg.clone(), kid))
}

/// Whether the `iss` of a token whose signature verified is exactly `issuer`. Read apart from
/// the caller's claims type, so that type need not declare `iss`.
fn issuer_is(token: &str, issuer: &str) -> bool {
    #[derive(Deserialize)]
    struct Issuer {
        #[serde(default)]
        iss: Option<Value>,
    }
    token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Issuer>(&bytes).ok())
        .is_some_and(|c| matches!(c.iss, Some(Value::String(iss)) if iss == issuer))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::test_support::*;

    #[test]
    fn wrong_secret_is_rejected() {
        let t = token(
            hs_header(),
            claims(),
            Signer::Hs(b"another-secret-of-32-bytes-or-more!!"),
        );
        assert_eq!(Verifier::hs(None).check(&t), Err(AuthError::Signature));
    }

    #[test]
    fn tampered_claims_are_rejected() {
        let t = hs_token(claims());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = b64(with(claims(), "instance_admin", json!(true))
            .to_string()
            .as_bytes());
        let t = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(Verifier::hs(None).check(&t), Err(AuthError::Signature));
    }

    #[test]
    fn expiry_is_enforced_with_leeway() {
        let v = Verifier::hs(None);
        let expired = with(claims(), "exp", json!(now() - 120));
        assert_eq!(v.check(&hs_token(expired)), Err(AuthError::Expired));
        let within_leeway = with(claims(), "exp", json!(now() - 20));
        assert!(v.check(&hs_token(within_leeway)).is_ok());
        assert_eq!(
            v.check(&hs_token(without(claims(), "exp"))),
            Err(AuthError::Claims)
        );
        assert_eq!(
            v.check(&hs_token(with(claims(), "exp", json!("tomorrow")))),
            Err(AuthError::Claims)
        );
    }

    #[test]
    fn nbf_in_the_future_is_rejected() {
        let v = Verifier::hs(None);
        assert_eq!(
            v.check(&hs_token(with(claims(), "nbf", json!(now() + 600)))),
            Err(AuthError::NotYetValid)
        );
        assert!(
            v.check(&hs_token(with(claims(), "nbf", json!(now() + 20))))
                .is_ok()
        );
        assert!(
            v.check(&hs_token(with(claims(), "nbf", json!(now() - 20))))
                .is_ok()
        );
    }

    #[test]
    fn audience_must_match() {
        let v = Verifier::hs(None);
        assert_eq!(
            v.check(&hs_token(with(claims(), "aud", json!("other")))),
            Err(AuthError::Audience)
        );
        assert_eq!(
            v.check(&hs_token(with(claims(), "aud", json!("scimgate-admin")))),
            Err(AuthError::Audience)
        );
        assert_eq!(
            v.check(&hs_token(without(claims(), "aud"))),
            Err(AuthError::Audience)
        );
        assert!(
            v.check(&hs_token(with(claims(), "aud", json!(["x", "scimgate"]))))
                .is_ok()
        );
    }

    #[test]
    fn issuer_must_match_when_expected() {
        let v = Verifier::hs(Some(ISSUER));
        assert!(v.check(&hs_token(claims())).is_ok());
        assert_eq!(
            v.check(&hs_token(with(claims(), "iss", json!("https://evil.example")))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            v.check(&hs_token(with(claims(), "iss", json!(format!("{ISSUER}/"))))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            v.check(&hs_token(without(claims(), "iss"))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            v.check(&hs_token(with(claims(), "iss", json!([ISSUER, "other"])))),
            Err(AuthError::Issuer)
        );
        // Without an expected issuer, tokens are not checked for one.
        let open = Verifier::hs(None);
        assert!(
            open.check(&hs_token(with(claims(), "iss", json!("anyone"))))
                .is_ok()
        );
        assert!(open.check(&hs_token(without(claims(), "iss"))).is_ok());
    }

    #[test]
    fn any_claims_type_gets_the_same_checks() {
        /// What an IdP's ID token might be read as: no `iss`, `aud` or `exp` declared.
        #[derive(Debug, serde::Deserialize)]
        struct IdToken {
            sub: String,
            email: Option<String>,
        }
        let v = Verifier::hs(Some(ISSUER));
        let id = |claims: Value| verify::<IdToken>(&hs_token(claims), &v.keys, &v.expect);
        let ok = id(with(claims(), "email", json!("alice@example.com"))).expect("valid");
        assert_eq!(
            (ok.sub.as_str(), ok.email.as_deref()),
            ("alice", Some("alice@example.com"))
        );
        // The issuer is checked though the type does not declare it.
        assert_eq!(
            id(with(claims(), "iss", json!([ISSUER]))).map(|c| c.sub),
            Err(AuthError::Issuer)
        );
        // `sub`, `exp` and `aud` are required of every token, whatever the type reads.
        let any = |claims: Value| verify::<Value>(&hs_token(claims), &v.keys, &v.expect);
        assert!(any(claims()).is_ok());
        assert_eq!(any(without(claims(), "sub")), Err(AuthError::Claims));
        assert_eq!(any(without(claims(), "exp")), Err(AuthError::Claims));
        assert_eq!(any(without(claims(), "aud")), Err(AuthError::Audience));
        // Claims that do not fit the type are the token's fault.
        assert_eq!(
            id(with(claims(), "email", json!(5))).map(|c| c.sub),
            Err(AuthError::Claims)
        );
    }

    // --- algorithms ---------------------------------------------------------------------------

    #[test]
    fn alg_none_is_rejected() {
        let hs = Verifier::hs(None);
        let rs = Verifier::pem(TEST_RSA_PUBLIC_SPKI);
        for alg in ["none", "None", "NONE"] {
            let t = token(json!({"alg": alg, "typ": "JWT"}), claims(), Signer::Unsigned);
            assert!(t.ends_with('.'), "unsigned: {t}");
            assert_eq!(hs.check(&t), Err(AuthError::Algorithm), "{alg}");
            assert_eq!(rs.check(&t), Err(AuthError::Algorithm), "{alg}");
        }
        // Even with a signature appended, "none" is never accepted.
        let t = token(json!({"alg": "none"}), claims(), Signer::Hs(SECRET.as_bytes()));
        assert_eq!(hs.check(&t), Err(AuthError::Algorithm));
        // And jsonwebtoken on its own refuses it too.
        let header = b64(br#"{"alg":"none"}"#);
        assert!(jsonwebtoken::decode_header(format!("{header}.e30.")).is_err());
    }

    #[test]
    fn hs256_token_against_rsa_key_is_rejected() {
        // The classic confusion: HMAC "signed" with the public key a verifier holds.
        let v = Verifier::pem(TEST_RSA_PUBLIC_SPKI);
        for secret in [TEST_RSA_PUBLIC_SPKI.as_bytes(), SECRET.as_bytes()] {
            let t = token(hs_header(), claims(), Signer::Hs(secret));
            assert_eq!(v.check(&t), Err(AuthError::Algorithm));
        }
        let v = Verifier::jwks(&json!({"keys": [rsa_jwk("r1")]}));
        let t = token(
            json!({"alg": "HS256", "kid": "r1"}),
            claims(),
            Signer::Hs(TEST_RSA_PUBLIC_SPKI.as_bytes()),
        );
        assert_eq!(v.check(&t), Err(AuthError::Algorithm));
    }

    #[test]
    fn header_alg_must_be_that_of_the_key() {
        let rsa = rsa_pair();
        let ec = ec_pair();
        let es = Verifier::pem(&ec_pem(&ec));
        let rs = Verifier::pem(TEST_RSA_PUBLIC_SPKI);
        // Right signature, wrong label.
        let t = token(json!({"alg": "RS256"}), claims(), Signer::Es(&ec));
        assert_eq!(es.check(&t), Err(AuthError::Algorithm));
        let t = token(json!({"alg": "PS256"}), claims(), Signer::Rs(&rsa));
        assert_eq!(rs.check(&t), Err(AuthError::Algorithm));
        let t = token(json!({"alg": "HS384"}), claims(), Signer::Hs(SECRET.as_bytes()));
        assert_eq!(Verifier::hs(None).check(&t), Err(AuthError::Algorithm));
        // A key of one type cannot verify a token of the other.
        let t = token(json!({"alg": "RS256"}), claims(), Signer::Rs(&rsa));
        assert_eq!(es.check(&t), Err(AuthError::Algorithm));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let v = Verifier::hs(None);
        for t in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "!!!.e30.sig",
            "e30.e30.",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(v.check(t), Err(AuthError::InvalidToken), "{t:.40}");
        }
        let crit = token(
            json!({"alg": "HS256", "crit": ["exp"]}),
            claims(),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(v.check(&crit), Err(AuthError::InvalidToken));
        let kid_number = token(
            json!({"alg": "HS256", "kid": 1}),
            claims(),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(v.check(&kid_number), Err(AuthError::InvalidToken));
    }
}
