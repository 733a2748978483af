//! Key material for JWT verification, and the policy it must meet before it is trusted: an HS256
//! secret of at least [`MIN_SECRET_BYTES`], RSA keys of at least [`MIN_RSA_BITS`], EC keys on P-256
//! only, public keys only (a file holding a private key or a certificate is refused), and, in a set
//! of several keys, a distinct `kid` on each. Each loaded key fixes its one algorithm (HS256, RS256
//! or ES256) from its type: a token's header never chooses it.
//!
//! Sources: a secret, a PEM public key, or a JWKS (a lone JWK is a JWKS of one), from text or from
//! a file. A JWKS fetched from a URL (an IdP's `jwks_uri`) goes through [`KeySet::from_jwks`] like a
//! JWKS file; fetching, caching and refreshing it live in [`super::remote`].

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::AuthError;

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the size of the hash).
pub const MIN_SECRET_BYTES: usize = 32;

/// Smaller RSA moduli are factorable by well-funded attackers.
pub const MIN_RSA_BITS: usize = 2048;

/// One trusted key: the algorithm it verifies, and the `kid` that names it if it has one.
pub struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

impl VerifyingKey {
    /// The `kid` a token names this key by (PEM keys and secrets have none).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies, decided by its type.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key for jsonwebtoken.
    pub(super) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// The keys trusted for one kind of token: never empty, and with several keys each has a
/// distinct `kid`.
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Algorithms and kids only: a secret must never reach a log line.
        f.debug_list()
            .entries(
                self.keys
                    .iter()
                    .map(|k| format!("{:?}(kid={})", k.algorithm, k.kid.as_deref().unwrap_or("-"))),
            )
            .finish()
    }
}

impl KeySet {
    /// An HS256 secret; `source` names it in messages for the operator (e.g. its setting).
    pub fn from_secret(secret: &[u8], source: &str) -> Result<KeySet, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "{source} is {} bytes long; at least {MIN_SECRET_BYTES} are required",
                secret.len()
            ));
        }
        let key = DecodingKey::from_secret(secret).map_err(|e| format!("{source} is unusable: {e}"))?;
        Ok(KeySet {
            keys: vec![VerifyingKey {
                kid: None,
                algorithm: Algorithm::HS256,
                key,
            }],
        })
    }

    /// The PEM public key or JWKS in the file at `path`; `source` names it in messages (e.g. its
    /// setting).
    pub fn from_file(path: &Path, source: &str) -> Result<KeySet, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{source}: cannot read {}: {e}", path.display()))?;
        let keys = if text.trim_start().starts_with('{') {
            KeySet::from_jwks(&text, source)
        } else if text.contains("-----BEGIN ") {
            KeySet::from_pem(&text)
        } else {
            Err("neither a PEM public key nor a JWKS".into())
        };
        keys.map_err(|e| format!("{source} ({}): {e}", path.display()))
    }

    /// One PEM public key (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY"), which has no `kid`. The
    /// RustCrypto parsers that jsonwebtoken already links tell the key type (which decides the
    /// algorithm) and the RSA key size.
    pub fn from_pem(text: &str) -> Result<KeySet, String> {
        use p256::pkcs8::DecodePublicKey as _;
        use rsa::pkcs1::DecodeRsaPublicKey as _;
        use rsa::traits::PublicKeyParts as _;
        if text.contains("PRIVATE KEY-----") {
            return Err(
                "holds a private key; give only the public key (openssl pkey -in KEY -pubout)".into(),
            );
        }
        if text.contains("-----BEGIN CERTIFICATE") {
            return Err(
                "holds a certificate; give its public key (openssl x509 -in CERT -pubkey -noout)".into(),
            );
        }
        if text.matches("-----BEGIN ").count() > 1 {
            return Err("holds more than one PEM block; give one public key, or use a JWKS".into());
        }
        let only = |algorithm, key| {
            Ok(KeySet {
                keys: vec![VerifyingKey {
                    kid: None,
                    algorithm,
                    key,
                }],
            })
        };
        let rsa = rsa::PublicKey::from_public_key_pem(text).or_else(|_| rsa::PublicKey::from_pkcs1_pem(text));
        if let Ok(key) = rsa {
            let bits = key.size() * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
                ));
            }
            let key = DecodingKey::from_rsa_pem(text.as_bytes()).map_err(|e| format!("the RSA key: {e}"))?;
            return only(Algorithm::RS256, key);
        }
        if p256::PublicKey::from_public_key_pem(text).is_ok() {
            let key = DecodingKey::from_ec_pem(text.as_bytes()).map_err(|e| format!("the EC key: {e}"))?;
            return only(Algorithm::ES256, key);
        }
        if DecodingKey::from_ec_pem(text.as_bytes()).is_ok() {
            return Err("only EC keys on P-256 (ES256) are supported".into());
        }
        Err("not a valid RSA or EC P-256 public key".into())
    }

    /// The signing keys of a JWKS (or of a lone JWK); encryption keys are skipped with a warning
    /// that names `source`.
    pub fn from_jwks(text: &str, source: &str) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let list = match doc.get("keys") {
            Some(Value::Array(keys)) => keys.clone(),
            Some(_) => return Err("\"keys\" must be an array".into()),
            // A lone JWK is a JWKS of one.
            None if doc.get("kty").is_some() => vec![doc],
            None => return Err("a JWKS needs a \"keys\" array".into()),
        };
        let mut keys: Vec<VerifyingKey> = Vec::new();
        for (i, jwk) in list.iter().enumerate() {
            let kid = match jwk.get("kid") {
                None | Some(Value::Null) => None,
                Some(Value::String(kid)) if !kid.is_empty() => Some(kid.clone()),
                Some(_) => return Err(format!("key #{i}: \"kid\" must be a non-empty string")),
            };
            let name = kid
                .as_ref()
                .map_or_else(|| format!("key #{i}"), |k| format!("key \"{k}\""));
            match jwk.get("use").and_then(Value::as_str) {
                None | Some("sig") => {}
                Some("enc") => {
                    tracing::warn!(key = %name, "{source}: skipping an encryption key");
                    continue;
                }
                Some(other) => return Err(format!("{name}: unsupported \"use\": \"{other}\"")),
            }
            let (algorithm, key) = key_from_jwk(jwk, &name)?;
            if let Some(kid) = &kid
                && keys.iter().any(|k| k.kid.as_ref() == Some(kid))
            {
                return Err(format!("two keys share the kid \"{kid}\""));
            }
            keys.push(VerifyingKey { kid, algorithm, key });
        }
        if keys.is_empty() {
            return Err("the JWKS holds no signing key".into());
        }
        if keys.len() > 1 && keys.iter().any(|k| k.kid.is_none()) {
            return Err("with several keys, every key needs a \"kid\"".into());
        }
        Ok(KeySet { keys })
    }

    /// The key a token's header `kid` names; without a `kid`, the only key. Anything else is
    /// [`AuthError::UnknownKey`]: with several keys, a token must say which.
    pub fn key_for(&self, kid: Option<&str>) -> Result<&VerifyingKey, AuthError> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or(AuthError::UnknownKey),
            None => match self.keys.as_slice() {
                [only] => Ok(only),
                _ => Err(AuthError::UnknownKey),
            },
        }
    }
}

/// One signing JWK (`use` already checked), named `name` in messages: its type decides the
/// algorithm, and an `alg` it declares must agree.
fn key_from_jwk(jwk: &Value, name: &str) -> Result<(Algorithm, DecodingKey), String> {
    if jwk.get("d").is_some() {
        return Err(format!(
            "{name} holds private key material; publish only the public key"
        ));
    }
    let field = |f: &str| -> Result<Vec<u8>, String> {
        let s = jwk
            .get(f)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{name}: missing \"{f}\""))?;
        URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| format!("{name}: \"{f}\" is not base64url"))
    };
    let alg = jwk.get("alg").and_then(Value::as_str);
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
    match (kty, alg) {
        ("RSA", None | Some("RS256")) => Ok((
            Algorithm::RS256,
            rsa_from_components(&field("n")?, &field("e")?).map_err(|e| format!("{name}: {e}"))?,
        )),
        ("EC", None | Some("ES256")) => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err(format!("{name}: only EC keys on P-256 (ES256) are supported"));
            }
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(format!("{name}: \"x\" and \"y\" must be 32 bytes each"));
            }
            let point = [&[0x04], x.as_slice(), y.as_slice()].concat();
            Ok((Algorithm::ES256, ec_from_point(&point)?))
        }
        (_, Some(alg)) => Err(format!(
            "{name}: algorithm \"{alg}\" of key type \"{kty}\" is not supported (RS256 or ES256)"
        )),
        _ => Err(format!(
            "{name}: key type \"{kty}\" is not supported (RSA for RS256, EC P-256 for ES256)"
        )),
    }
}

fn rsa_from_components(n: &[u8], e: &[u8]) -> Result<DecodingKey, String> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = n
        .first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
        ));
    }
    if e.is_empty() || e.len() > 8 || e.last().is_some_and(|b| b & 1 == 0) || e == [1] {
        return Err("the RSA key has an invalid public exponent".into());
    }
    Ok(DecodingKey::from_rsa_raw_components(n, e))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// An uncompressed SEC1 point of P-256.
fn ec_from_point(point: &[u8]) -> Result<DecodingKey, String> {
    if point.len() != 65 || point[0] != 0x04 {
        return Err("the EC key is not an uncompressed P-256 point".into());
    }
    Ok(DecodingKey::from_ec_der(point))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::test_support::*;

    #[test]
    fn rs256_with_pem_is_accepted() {
        let rsa = rsa_pair();
        for pem in [TEST_RSA_PUBLIC_SPKI, TEST_RSA_PUBLIC_PKCS1] {
            let v = Verifier::pem(pem);
            assert_eq!(
                v.keys.key_for(None).map(VerifyingKey::algorithm),
                Ok(Algorithm::RS256)
            );
            let t = token(json!({"alg": "RS256", "typ": "JWT"}), claims(), Signer::Rs(&rsa));
            assert_eq!(v.check(&t).expect("valid"), "alice");
            let t = token(
                json!({"alg": "RS256"}),
                with(claims(), "iss", json!("https://evil.example")),
                Signer::Rs(&rsa),
            );
            assert_eq!(v.check(&t), Err(AuthError::Issuer));
        }
    }

    #[test]
    fn es256_with_pem_is_accepted() {
        let ec = ec_pair();
        let v = Verifier::pem(&ec_pem(&ec));
        assert_eq!(
            v.keys.key_for(None).map(VerifyingKey::algorithm),
            Ok(Algorithm::ES256)
        );
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&ec));
        assert_eq!(v.check(&t).expect("valid"), "alice");
        let other = ec_pair();
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&other));
        assert_eq!(v.check(&t), Err(AuthError::Signature));
    }

    #[test]
    fn rs256_and_es256_with_jwks_are_accepted() {
        let rsa = rsa_pair();
        let ec = ec_pair();
        let v = Verifier::jwks(&json!({"keys": [rsa_jwk("rsa-1"), ec_jwk(&ec, "ec-1")]}));
        let t = token(
            json!({"alg": "RS256", "kid": "rsa-1"}),
            claims(),
            Signer::Rs(&rsa),
        );
        assert!(v.check(&t).is_ok());
        let t = token(json!({"alg": "ES256", "kid": "ec-1"}), claims(), Signer::Es(&ec));
        assert!(v.check(&t).is_ok());
        // The kid picks the key, so its type decides: an ES256 label on the RSA key's kid fails.
        let t = token(json!({"alg": "ES256", "kid": "rsa-1"}), claims(), Signer::Es(&ec));
        assert_eq!(v.check(&t), Err(AuthError::Algorithm));
    }

    #[test]
    fn jwks_kid_selects_among_two_keys() {
        let (one, two) = (ec_pair(), ec_pair());
        let v = Verifier::jwks(&json!({"keys": [ec_jwk(&one, "k1"), ec_jwk(&two, "k2")]}));
        let sign = |kid: &str, pair| token(json!({"alg": "ES256", "kid": kid}), claims(), Signer::Es(pair));
        assert!(v.check(&sign("k1", &one)).is_ok());
        assert!(v.check(&sign("k2", &two)).is_ok());
        assert_eq!(v.check(&sign("k1", &two)), Err(AuthError::Signature));
        assert_eq!(v.check(&sign("k3", &one)), Err(AuthError::UnknownKey));
        let no_kid = token(json!({"alg": "ES256"}), claims(), Signer::Es(&one));
        assert_eq!(v.check(&no_kid), Err(AuthError::UnknownKey));
    }

    #[test]
    fn single_key_and_kid() {
        let ec = ec_pair();
        // One JWKS key: a token without kid uses it; a token naming another kid does not.
        let v = Verifier::jwks(&json!({"keys": [ec_jwk(&ec, "only")]}));
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&ec));
        assert!(v.check(&t).is_ok());
        let t = token(json!({"alg": "ES256", "kid": "only"}), claims(), Signer::Es(&ec));
        assert!(v.check(&t).is_ok());
        let t = token(
            json!({"alg": "ES256", "kid": "elsewhere"}),
            claims(),
            Signer::Es(&ec),
        );
        assert_eq!(v.check(&t), Err(AuthError::UnknownKey));
        // A PEM key has no kid, so a token naming one is not for it.
        let v = Verifier::pem(&ec_pem(&ec));
        assert_eq!(v.check(&t), Err(AuthError::UnknownKey));
        // Nor does the HS256 secret.
        let t = token(
            json!({"alg": "HS256", "kid": "x"}),
            claims(),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(Verifier::hs(None).check(&t), Err(AuthError::UnknownKey));
    }

    #[test]
    fn jwks_skips_encryption_keys_and_accepts_a_lone_jwk() {
        let ec = ec_pair();
        let mut enc = rsa_jwk("enc-1");
        enc["use"] = json!("enc");
        enc["alg"] = json!("RSA-OAEP");
        let v = Verifier::jwks(&json!({"keys": [enc, ec_jwk(&ec, "sig-1")]}));
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&ec));
        assert!(v.check(&t).is_ok());
        let v = Verifier::jwks(&ec_jwk(&ec, "lone"));
        assert!(v.check(&t).is_ok());
    }

    #[test]
    fn short_secrets_are_refused() {
        let e = KeySet::from_secret(&[b'x'; MIN_SECRET_BYTES - 1], "THE_SECRET").expect_err("too short");
        assert!(e.contains("THE_SECRET") && e.contains("31 bytes"), "{e}");
        assert!(KeySet::from_secret(&[b'x'; MIN_SECRET_BYTES], "THE_SECRET").is_ok());
    }

    #[test]
    fn unusable_key_files_are_refused() {
        let refused = |ext: &str, contents: &str, needle: &str| {
            let file = TempFile::new(ext, contents);
            let e = KeySet::from_file(&file.0, "SCIMGATE_ADMIN_JWT_KEYS").expect_err(needle);
            assert!(e.contains(needle), "expected \"{needle}\" in: {e}");
            assert!(e.starts_with("SCIMGATE_ADMIN_JWT_KEYS ("), "{e}");
        };
        refused("pem", TEST_RSA_PRIVATE_PKCS8, "private key");
        refused("pem", TEST_RSA_1024_PUBLIC, "1024 bits");
        refused(
            "pem",
            &format!("{TEST_RSA_PUBLIC_SPKI}{TEST_RSA_PUBLIC_SPKI}"),
            "more than one",
        );
        refused(
            "pem",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "not a valid",
        );
        refused("txt", "hello", "neither");
        refused("json", "{\"keys\": []}", "no signing key");
        refused("json", "{not json", "JSON");
        refused(
            "json",
            &json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string(),
            "not supported",
        );
        refused(
            "json",
            &json!({"keys": [{"kty": "RSA", "alg": "RS384", "n": rsa_jwk("x")["n"], "e": "AQAB"}]})
                .to_string(),
            "RS384",
        );
        let mut no_kid = rsa_jwk("x");
        no_kid.as_object_mut().expect("object").remove("kid");
        refused(
            "json",
            &json!({"keys": [no_kid, ec_jwk(&ec_pair(), "e")]}).to_string(),
            "kid",
        );
        refused(
            "json",
            &json!({"keys": [rsa_jwk("same"), rsa_jwk("same")]}).to_string(),
            "same",
        );
        let mut private = ec_jwk(&ec_pair(), "p");
        private["d"] = json!("AAAA");
        refused("json", &json!({"keys": [private]}).to_string(), "private");
        let mut p384 = ec_jwk(&ec_pair(), "p");
        p384["crv"] = json!("P-384");
        p384["alg"] = Value::Null;
        refused("json", &json!({"keys": [p384]}).to_string(), "P-256");
        let missing = std::env::temp_dir().join("scimgate-no-such-key-file.pem");
        let e = KeySet::from_file(&missing, "SCIMGATE_ADMIN_JWT_KEYS").expect_err("missing file");
        assert!(e.starts_with("SCIMGATE_ADMIN_JWT_KEYS: cannot read"), "{e}");
    }

    #[test]
    fn debug_shows_algorithms_and_kids_only() {
        let v = Verifier::hs(None);
        let shown = format!("{:?}", v.keys);
        assert_eq!(shown, "[\"HS256(kid=-)\"]");
        let v = Verifier::jwks(&json!({"keys": [rsa_jwk("r1")]}));
        assert_eq!(format!("{:?}", v.keys), "[\"RS256(kid=r1)\"]");
    }
}
