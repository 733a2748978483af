//! Authentication of the admin API: bearer JWTs minted by the platform (or by `scimgate
//! admin-jwt`), verified against configured key material and turned into a [`Principal`] with
//! per-organization rights (design §2 "Admin API").
//!
//! The configured key decides the algorithm, never the token's header alone: the header's `kid`
//! only picks among the configured keys, and a header `alg` that differs from that key's
//! algorithm is refused before any cryptography runs. Header fields that point elsewhere for key
//! material (`jku`, `jwk`, `x5u`, `x5c`) are ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{AdminJwtArgs, OrgGrant, Permission, parse_org_id};
use crate::routing::AppState;
use crate::routing::bearer::{BearerError, bearer};

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the size of the hash).
pub const MIN_SECRET_BYTES: usize = 32;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 60;

/// Smaller RSA moduli are factorable by well-funded attackers.
const MIN_RSA_BITS: usize = 2048;

/// Real admin JWTs are well under 2 KiB; anything far larger is refused before parsing.
const MAX_TOKEN_BYTES: usize = 8192;

/// What a minted token says (`scimgate admin-jwt`, tests).
#[derive(Debug, Clone)]
pub struct Grant {
    /// The `sub` claim.
    pub subject: String,
    /// The `orgs` claim.
    pub orgs: Vec<OrgGrant>,
    /// The `instance_admin` claim.
    pub instance_admin: bool,
    /// From now to `exp`.
    pub ttl: Duration,
}

/// Why an admin request was not authenticated; [`AuthError::reason`] is the metrics label, and the
/// client only ever sees a generic 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("the Authorization header is not a bearer token")]
    Malformed,
    /// The instance has no admin key material.
    #[error("no admin JWT key is configured")]
    NotConfigured,
    /// Not a well-formed JWS compact token.
    #[error("the token is not a well-formed JWT")]
    InvalidToken,
    /// The header's `kid` names no configured key, or several keys are configured and it names none.
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
    /// `iss` is missing or not the configured issuer.
    #[error("the token is from another issuer")]
    Issuer,
    /// A required claim is missing, or a claim has the wrong type.
    #[error("the token's claims are missing or malformed")]
    Claims,
}

impl AuthError {
    /// The `reason` label of `scimgate_admin_auth_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::NotConfigured => "not_configured",
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

/// Rights on one organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rights {
    read: bool,
    write: bool,
}

/// The verified caller of the admin API and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// Every right on every organization, and the instance endpoints.
    pub instance_admin: bool,
    orgs: BTreeMap<i64, Rights>,
}

impl Principal {
    /// Whether the caller may read this organization's settings and data.
    pub fn can_read(&self, org_id: i64) -> bool {
        self.instance_admin || self.orgs.get(&org_id).is_some_and(|r| r.read || r.write)
    }

    /// Whether the caller may change this organization's settings and data.
    pub fn can_write(&self, org_id: i64) -> bool {
        self.instance_admin || self.orgs.get(&org_id).is_some_and(|r| r.write)
    }
}

/// A configured verification key.
struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

/// The key material, issuer and audience the admin API trusts.
pub struct AdminKeys {
    keys: Vec<VerifyingKey>,
    issuer: Option<String>,
    audience: String,
    /// Only with the HS256 secret: public keys cannot mint.
    signer: Option<EncodingKey>,
}

impl fmt::Debug for AdminKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{:?}(kid={})", k.algorithm, k.kid.as_deref().unwrap_or("-")))
            .collect();
        f.debug_struct("AdminKeys")
            .field("keys", &keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The claims this module reads; jsonwebtoken checks `exp`, `nbf` and `aud` itself.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    orgs: Option<Value>,
    #[serde(default)]
    instance_admin: Option<bool>,
}

impl AdminKeys {
    /// The admin keys of these settings; `Ok(None)` when none are configured (every admin
    /// request is then refused), `Err` with a message for the operator when they are unusable.
    pub fn from_settings(args: &AdminJwtArgs) -> Result<Option<AdminKeys>, String> {
        let audience = args.admin_jwt_audience.trim();
        if audience.is_empty() {
            return Err("SCIMGATE_ADMIN_JWT_AUDIENCE must not be empty".into());
        }
        let issuer = args
            .admin_jwt_issuer
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let path = args
            .admin_jwt_keys
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty());
        let (keys, signer) = match (&args.admin_jwt_hs256_secret, path) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                // Two trust roots would let an HS256 token through wherever public keys were meant.
                return Err(
                    "set either SCIMGATE_ADMIN_JWT_HS256_SECRET (development and tests) or \
                            SCIMGATE_ADMIN_JWT_KEYS, not both"
                        .into(),
                );
            }
            (Some(secret), None) => {
                let bytes = secret.0.as_bytes();
                if bytes.len() < MIN_SECRET_BYTES {
                    return Err(format!(
                        "SCIMGATE_ADMIN_JWT_HS256_SECRET is {} bytes long; at least {MIN_SECRET_BYTES} are required",
                        bytes.len()
                    ));
                }
                let key = DecodingKey::from_secret(bytes)
                    .map_err(|e| format!("SCIMGATE_ADMIN_JWT_HS256_SECRET is unusable: {e}"))?;
                let signer = EncodingKey::from_secret(bytes)
                    .map_err(|e| format!("SCIMGATE_ADMIN_JWT_HS256_SECRET is unusable: {e}"))?;
                (vec![(None, Algorithm::HS256, key)], Some(signer))
            }
            (None, Some(path)) => {
                if issuer.is_none() {
                    return Err("SCIMGATE_ADMIN_JWT_ISSUER is required with SCIMGATE_ADMIN_JWT_KEYS".into());
                }
                (load_key_file(path)?, None)
            }
        };
        let keys = keys
            .into_iter()
            .map(|(kid, algorithm, key)| VerifyingKey {
                kid,
                algorithm,
                key,
                validation: validation(algorithm, audience, issuer.as_deref()),
            })
            .collect();
        Ok(Some(AdminKeys {
            keys,
            issuer,
            audience: audience.to_owned(),
            signer,
        }))
    }

    /// Verifies a bearer token and returns who it speaks for.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::InvalidToken);
        }
        let (alg, kid) = read_header(token)?;
        let key = self.key_for(kid.as_deref())?;
        if alg != algorithm_name(key.algorithm) {
            return Err(AuthError::Algorithm);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation)?.claims;
        if let Some(issuer) = &self.issuer {
            // jsonwebtoken also accepts an array holding the issuer; the contract is one string.
            if !matches!(&claims.iss, Some(Value::String(iss)) if iss == issuer) {
                return Err(AuthError::Issuer);
            }
        }
        if claims.sub.trim().is_empty() {
            return Err(AuthError::Claims);
        }
        Ok(Principal {
            subject: claims.sub,
            instance_admin: claims.instance_admin.unwrap_or(false),
            orgs: rights(claims.orgs)?,
        })
    }

    /// Mints an HS256 token with the configured secret, issuer and audience.
    pub fn mint(&self, grant: &Grant) -> Result<String, String> {
        let signer = self.signer.as_ref().ok_or(
            "minting needs SCIMGATE_ADMIN_JWT_HS256_SECRET (tokens for public keys come from the platform)",
        )?;
        if grant.subject.trim().is_empty() {
            return Err("the subject must not be empty".into());
        }
        if grant.ttl.is_zero() {
            return Err("the lifetime must be at least one second".into());
        }
        let now = unix_now();
        let mut orgs = Map::new();
        for org in &grant.orgs {
            let entry = orgs
                .entry(org.org_id.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                for p in &org.permissions {
                    let claim = Value::from(p.claim());
                    if !list.contains(&claim) {
                        list.push(claim);
                    }
                }
            }
        }
        let mut claims = json!({
            "sub": grant.subject,
            "aud": self.audience,
            "iat": now,
            "exp": now.saturating_add(grant.ttl.as_secs()),
            "orgs": orgs,
            "instance_admin": grant.instance_admin,
        });
        if let Some(issuer) = &self.issuer {
            claims["iss"] = Value::from(issuer.as_str());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, signer)
            .map_err(|e| format!("cannot sign the token: {e}"))
    }

    fn key_for(&self, kid: Option<&str>) -> Result<&VerifyingKey, AuthError> {
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

fn validation(algorithm: Algorithm, audience: &str, issuer: Option<&str>) -> Validation {
    let mut v = Validation::new(algorithm);
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.validate_aud = true;
    v.set_audience(&[audience]);
    let mut required = vec!["exp", "sub", "aud"];
    if let Some(issuer) = issuer {
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
        // Never configured: only the three above are ever loaded.
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

/// The `orgs` claim as rights; keys that are not organization ids and unknown permissions are
/// ignored so the platform can add its own without breaking us.
fn rights(orgs: Option<Value>) -> Result<BTreeMap<i64, Rights>, AuthError> {
    let mut out = BTreeMap::new();
    let map = match orgs {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(AuthError::Claims),
    };
    for (key, permissions) in map {
        let Some(org_id) = parse_org_id(&key) else {
            continue;
        };
        let Value::Array(permissions) = permissions else {
            continue;
        };
        let rights: &mut Rights = out.entry(org_id).or_default();
        for p in permissions
            .iter()
            .filter_map(Value::as_str)
            .filter_map(Permission::from_claim)
        {
            match p {
                Permission::Read => rights.read = true,
                Permission::Write => rights.write = true,
            }
        }
    }
    Ok(out)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------------------------
// Key files: a PEM public key, or a JWKS.

type LoadedKey = (Option<String>, Algorithm, DecodingKey);

fn load_key_file(path: &Path) -> Result<Vec<LoadedKey>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("SCIMGATE_ADMIN_JWT_KEYS: cannot read {}: {e}", path.display()))?;
    let keys = if text.trim_start().starts_with('{') {
        keys_from_jwks(&text)
    } else if text.contains("-----BEGIN ") {
        key_from_pem(&text).map(|(algorithm, key)| vec![(None, algorithm, key)])
    } else {
        Err("neither a PEM public key nor a JWKS".into())
    };
    keys.map_err(|e| format!("SCIMGATE_ADMIN_JWT_KEYS ({}): {e}", path.display()))
}

/// A PEM public key (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY"). The RustCrypto parsers that
/// jsonwebtoken already links tell the key type (which decides the algorithm) and RSA key size.
fn key_from_pem(text: &str) -> Result<(Algorithm, DecodingKey), String> {
    use p256::pkcs8::DecodePublicKey as _;
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    if text.contains("PRIVATE KEY-----") {
        return Err("holds a private key; give only the public key (openssl pkey -in KEY -pubout)".into());
    }
    if text.contains("-----BEGIN CERTIFICATE") {
        return Err("holds a certificate; give its public key (openssl x509 -in CERT -pubkey -noout)".into());
    }
    if text.matches("-----BEGIN ").count() > 1 {
        return Err("holds more than one PEM block; give one public key, or use a JWKS".into());
    }
    let rsa = rsa::PublicKey::from_public_key_pem(text).or_else(|_| rsa::PublicKey::from_pkcs1_pem(text));
    if let Ok(key) = rsa {
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
            ));
        }
        let key = DecodingKey::from_rsa_pem(text.as_bytes()).map_err(|e| format!("the RSA key: {e}"))?;
        return Ok((Algorithm::RS256, key));
    }
    if p256::PublicKey::from_public_key_pem(text).is_ok() {
        let key = DecodingKey::from_ec_pem(text.as_bytes()).map_err(|e| format!("the EC key: {e}"))?;
        return Ok((Algorithm::ES256, key));
    }
    if DecodingKey::from_ec_pem(text.as_bytes()).is_ok() {
        return Err("only EC keys on P-256 (ES256) are supported".into());
    }
    Err("not a valid RSA or EC P-256 public key".into())
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

fn keys_from_jwks(text: &str) -> Result<Vec<LoadedKey>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let list = match doc.get("keys") {
        Some(Value::Array(keys)) => keys.clone(),
        Some(_) => return Err("\"keys\" must be an array".into()),
        // A lone JWK is a JWKS of one.
        None if doc.get("kty").is_some() => vec![doc],
        None => return Err("a JWKS needs a \"keys\" array".into()),
    };
    let mut keys: Vec<LoadedKey> = Vec::new();
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
                tracing::warn!(key = %name, "SCIMGATE_ADMIN_JWT_KEYS: skipping an encryption key");
                continue;
            }
            Some(other) => return Err(format!("{name}: unsupported \"use\": \"{other}\"")),
        }
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
        let (algorithm, key) = match (kty, alg) {
            ("RSA", None | Some("RS256")) => (
                Algorithm::RS256,
                rsa_from_components(&field("n")?, &field("e")?).map_err(|e| format!("{name}: {e}"))?,
            ),
            ("EC", None | Some("ES256")) => {
                if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                    return Err(format!("{name}: only EC keys on P-256 (ES256) are supported"));
                }
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(format!("{name}: \"x\" and \"y\" must be 32 bytes each"));
                }
                let point = [&[0x04], x.as_slice(), y.as_slice()].concat();
                (Algorithm::ES256, ec_from_point(&point)?)
            }
            (_, Some(alg)) => {
                return Err(format!(
                    "{name}: algorithm \"{alg}\" of key type \"{kty}\" is not supported (RS256 or ES256)"
                ));
            }
            _ => {
                return Err(format!(
                    "{name}: key type \"{kty}\" is not supported (RSA for RS256, EC P-256 for ES256)"
                ));
            }
        };
        if let Some(kid) = &kid
            && keys.iter().any(|(k, _, _)| k.as_ref() == Some(kid))
        {
            return Err(format!("two keys share the kid \"{kid}\""));
        }
        keys.push((kid, algorithm, key));
    }
    if keys.is_empty() {
        return Err("the JWKS holds no signing key".into());
    }
    if keys.len() > 1 && keys.iter().any(|(kid, _, _)| kid.is_none()) {
        return Err("with several keys, every key needs a \"kid\"".into());
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/// The verified caller of an admin route; extracting it answers 401 when there is none.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

/// The 401 of the admin API: plain JSON, not SCIM, and nothing about why.
#[derive(Debug)]
pub struct AdminUnauthorized(pub AuthError);

impl IntoResponse for AdminUnauthorized {
    fn into_response(self) -> Response {
        let challenge = match self.0 {
            // RFC 6750 §3.1: no error code when the client sent no credentials.
            AuthError::Missing | AuthError::NotConfigured => "Bearer realm=\"scimgate\"",
            _ => "Bearer realm=\"scimgate\", error=\"invalid_token\"",
        };
        let body = json!({
            "status": 401,
            "message": "Authentication failed: a valid admin bearer token is required",
        });
        let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        response
    }
}

/// Authenticates the `Authorization` header of an admin request against `keys`.
pub fn authenticate(headers: &HeaderMap, keys: Option<&AdminKeys>) -> Result<Principal, AuthError> {
    let token = bearer(headers).map_err(|e| match e {
        BearerError::Missing => AuthError::Missing,
        BearerError::Malformed => AuthError::Malformed,
    })?;
    keys.ok_or(AuthError::NotConfigured)?.verify(token)
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminUnauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, state.admin_keys.as_deref())
            .map(Admin)
            .map_err(|e| {
                metrics::counter!("scimgate_admin_auth_failures_total", "reason" => e.reason()).increment(1);
                tracing::debug!(reason = e.reason(), "admin authentication failed");
                AdminUnauthorized(e)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

    // TEST ONLY key material, kept out of src/ (tests/data/keys/README.md says how it was made);
    // it protects nothing and must never be configured anywhere.
    const TEST_RSA_PRIVATE_PKCS8: &str = include_str!("../../tests/data/keys/rsa-2048.private.pkcs8.pem");
    /// The public half of TEST_RSA_PRIVATE_PKCS8, as SPKI.
    const TEST_RSA_PUBLIC_SPKI: &str = include_str!("../../tests/data/keys/rsa-2048.public.spki.pem");
    /// The same public key as PKCS#1.
    const TEST_RSA_PUBLIC_PKCS1: &str = include_str!("../../tests/data/keys/rsa-2048.public.pkcs1.pem");
    /// The same public key as a JWK without `kid`.
    const TEST_RSA_JWK: &str = include_str!("../../tests/data/keys/rsa-2048.public.jwk.json");
    /// A 1024-bit RSA public key, to show that short moduli are refused.
    const TEST_RSA_1024_PUBLIC: &str = include_str!("../../tests/data/keys/rsa-1024.public.spki.pem");

    const SECRET: &str = "unit-test-admin-secret-0123456789abcdef";
    const ISSUER: &str = "https://platform.test.example";

    /// SPKI prefix of an uncompressed P-256 point (RFC 5480).
    const P256_SPKI_PREFIX: &[u8] = &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];

    enum Signer<'a> {
        Hs(&'a [u8]),
        Rs(&'a RsaKeyPair),
        Es(&'a EcdsaKeyPair),
        Unsigned,
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token built by hand, so headers and claims can be anything a forger would send.
    fn token(header: Value, claims: Value, signer: Signer<'_>) -> String {
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

    fn now() -> u64 {
        unix_now()
    }

    fn claims() -> Value {
        json!({
            "sub": "alice",
            "iss": ISSUER,
            "aud": "scimgate",
            "exp": now() + 600,
            "orgs": {"7": ["organization:read", "organization:write"]},
            "instance_admin": false,
        })
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        if let Value::Object(m) = &mut claims {
            m.remove(key);
        }
        claims
    }

    fn hs_header() -> Value {
        json!({"alg": "HS256", "typ": "JWT"})
    }

    fn args() -> AdminJwtArgs {
        AdminJwtArgs::default()
    }

    fn hs_keys(issuer: Option<&str>) -> AdminKeys {
        AdminKeys::from_settings(&AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret(SECRET.into())),
            admin_jwt_issuer: issuer.map(str::to_owned),
            ..args()
        })
        .expect("valid settings")
        .expect("configured")
    }

    /// A key file that removes itself when the test ends.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(ext: &str, contents: &str) -> TempFile {
            let path = std::env::temp_dir().join(format!(
                "scimgate-admin-auth-{}.{ext}",
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

    fn file_keys(ext: &str, contents: &str) -> Result<Option<AdminKeys>, String> {
        let file = TempFile::new(ext, contents);
        AdminKeys::from_settings(&AdminJwtArgs {
            admin_jwt_keys: Some(file.0.clone()),
            admin_jwt_issuer: Some(ISSUER.into()),
            ..args()
        })
    }

    fn public_keys(ext: &str, contents: &str) -> AdminKeys {
        file_keys(ext, contents)
            .expect("valid key file")
            .expect("configured")
    }

    /// The DER inside a test PEM constant.
    fn pem_der(text: &str) -> Vec<u8> {
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64")
    }

    fn rsa_pair() -> RsaKeyPair {
        RsaKeyPair::from_pkcs8(&pem_der(TEST_RSA_PRIVATE_PKCS8)).expect("test rsa key")
    }

    fn ec_pair() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate");
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("load")
    }

    fn ec_pem(pair: &EcdsaKeyPair) -> String {
        let der = [P256_SPKI_PREFIX, pair.public_key().as_ref()].concat();
        let body = base64::engine::general_purpose::STANDARD.encode(der);
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

    fn ec_jwk(pair: &EcdsaKeyPair, kid: &str) -> Value {
        let point = pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
               "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    fn rsa_jwk(kid: &str) -> Value {
        let mut jwk: Value = serde_json::from_str(TEST_RSA_JWK).expect("test JWK");
        jwk["kid"] = json!(kid);
        jwk
    }

    // --- HS256 -----------------------------------------------------------------------------

    #[test]
    fn hs256_token_is_accepted() {
        let keys = hs_keys(Some(ISSUER));
        let p = keys
            .verify(&token(hs_header(), claims(), Signer::Hs(SECRET.as_bytes())))
            .expect("valid token");
        assert_eq!(p.subject, "alice");
        assert!(!p.instance_admin);
        assert!(p.can_read(7) && p.can_write(7));
    }

    #[test]
    fn minted_token_round_trips() {
        let keys = hs_keys(Some(ISSUER));
        let grant = Grant {
            subject: "bob".into(),
            orgs: vec![
                "3=read".parse().expect("grant"),
                "4=read,write".parse().expect("grant"),
            ],
            instance_admin: false,
            ttl: Duration::from_secs(3600),
        };
        let p = keys.verify(&keys.mint(&grant).expect("mint")).expect("verify");
        assert_eq!(p.subject, "bob");
        assert!(p.can_read(3) && !p.can_write(3));
        assert!(p.can_read(4) && p.can_write(4));
        assert!(!p.can_read(5));
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let keys = hs_keys(None);
        let t = token(
            hs_header(),
            claims(),
            Signer::Hs(b"another-secret-of-32-bytes-or-more!!"),
        );
        assert_eq!(keys.verify(&t), Err(AuthError::Signature));
    }

    #[test]
    fn tampered_claims_are_rejected() {
        let keys = hs_keys(None);
        let t = token(hs_header(), claims(), Signer::Hs(SECRET.as_bytes()));
        let parts: Vec<&str> = t.split('.').collect();
        let forged = b64(with(claims(), "instance_admin", json!(true))
            .to_string()
            .as_bytes());
        let t = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(keys.verify(&t), Err(AuthError::Signature));
    }

    #[test]
    fn expiry_is_enforced_with_leeway() {
        let keys = hs_keys(None);
        let sign = |c| token(hs_header(), c, Signer::Hs(SECRET.as_bytes()));
        let expired = with(claims(), "exp", json!(now() - 120));
        assert_eq!(keys.verify(&sign(expired)), Err(AuthError::Expired));
        let within_leeway = with(claims(), "exp", json!(now() - 20));
        assert!(keys.verify(&sign(within_leeway)).is_ok());
        assert_eq!(
            keys.verify(&sign(without(claims(), "exp"))),
            Err(AuthError::Claims)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "exp", json!("tomorrow")))),
            Err(AuthError::Claims)
        );
    }

    #[test]
    fn nbf_in_the_future_is_rejected() {
        let keys = hs_keys(None);
        let sign = |c| token(hs_header(), c, Signer::Hs(SECRET.as_bytes()));
        assert_eq!(
            keys.verify(&sign(with(claims(), "nbf", json!(now() + 600)))),
            Err(AuthError::NotYetValid)
        );
        assert!(
            keys.verify(&sign(with(claims(), "nbf", json!(now() + 20))))
                .is_ok()
        );
        assert!(
            keys.verify(&sign(with(claims(), "nbf", json!(now() - 20))))
                .is_ok()
        );
    }

    #[test]
    fn audience_must_match() {
        let keys = hs_keys(None);
        let sign = |c| token(hs_header(), c, Signer::Hs(SECRET.as_bytes()));
        assert_eq!(
            keys.verify(&sign(with(claims(), "aud", json!("other")))),
            Err(AuthError::Audience)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "aud", json!("scimgate-admin")))),
            Err(AuthError::Audience)
        );
        assert_eq!(
            keys.verify(&sign(without(claims(), "aud"))),
            Err(AuthError::Audience)
        );
        assert!(
            keys.verify(&sign(with(claims(), "aud", json!(["x", "scimgate"]))))
                .is_ok()
        );
    }

    #[test]
    fn configured_audience_replaces_the_default() {
        let keys = AdminKeys::from_settings(&AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret(SECRET.into())),
            admin_jwt_audience: "scimgate-prod".into(),
            ..args()
        })
        .expect("valid")
        .expect("configured");
        let sign = |c| token(hs_header(), c, Signer::Hs(SECRET.as_bytes()));
        assert_eq!(keys.verify(&sign(claims())), Err(AuthError::Audience));
        assert!(
            keys.verify(&sign(with(claims(), "aud", json!("scimgate-prod"))))
                .is_ok()
        );
    }

    #[test]
    fn issuer_must_match_when_configured() {
        let keys = hs_keys(Some(ISSUER));
        let sign = |c| token(hs_header(), c, Signer::Hs(SECRET.as_bytes()));
        assert_eq!(
            keys.verify(&sign(with(claims(), "iss", json!("https://evil.example")))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "iss", json!(format!("{ISSUER}/"))))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            keys.verify(&sign(without(claims(), "iss"))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "iss", json!([ISSUER, "other"])))),
            Err(AuthError::Issuer)
        );
        // Without a configured issuer, HS256 tokens are not checked for one.
        let open = hs_keys(None);
        assert!(open.verify(&sign(with(claims(), "iss", json!("anyone")))).is_ok());
        assert!(open.verify(&sign(without(claims(), "iss"))).is_ok());
    }

    #[test]
    fn subject_is_required() {
        let keys = hs_keys(None);
        let sign = |c| token(hs_header(), c, Signer::Hs(SECRET.as_bytes()));
        assert_eq!(
            keys.verify(&sign(without(claims(), "sub"))),
            Err(AuthError::Claims)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "sub", json!(" ")))),
            Err(AuthError::Claims)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "sub", json!(42)))),
            Err(AuthError::Claims)
        );
    }

    // --- algorithms ---------------------------------------------------------------------------

    #[test]
    fn alg_none_is_rejected() {
        let hs = hs_keys(None);
        let rs = public_keys("pem", TEST_RSA_PUBLIC_SPKI);
        for alg in ["none", "None", "NONE"] {
            let t = token(json!({"alg": alg, "typ": "JWT"}), claims(), Signer::Unsigned);
            assert!(t.ends_with('.'), "unsigned: {t}");
            assert_eq!(hs.verify(&t), Err(AuthError::Algorithm), "{alg}");
            assert_eq!(rs.verify(&t), Err(AuthError::Algorithm), "{alg}");
        }
        // Even with a signature appended, "none" is never accepted.
        let t = token(json!({"alg": "none"}), claims(), Signer::Hs(SECRET.as_bytes()));
        assert_eq!(hs.verify(&t), Err(AuthError::Algorithm));
        // And jsonwebtoken on its own refuses it too.
        let header = b64(br#"{"alg":"none"}"#);
        assert!(jsonwebtoken::decode_header(format!("{header}.e30.")).is_err());
    }

    #[test]
    fn hs256_token_against_rsa_key_is_rejected() {
        // The classic confusion: HMAC "signed" with the public key a verifier holds.
        let keys = public_keys("pem", TEST_RSA_PUBLIC_SPKI);
        for secret in [TEST_RSA_PUBLIC_SPKI.as_bytes(), SECRET.as_bytes()] {
            let t = token(hs_header(), claims(), Signer::Hs(secret));
            assert_eq!(keys.verify(&t), Err(AuthError::Algorithm));
        }
        let jwks = json!({"keys": [rsa_jwk("r1")]}).to_string();
        let keys = public_keys("json", &jwks);
        let t = token(
            json!({"alg": "HS256", "kid": "r1"}),
            claims(),
            Signer::Hs(TEST_RSA_PUBLIC_SPKI.as_bytes()),
        );
        assert_eq!(keys.verify(&t), Err(AuthError::Algorithm));
    }

    #[test]
    fn header_alg_must_be_that_of_the_key() {
        let rsa = rsa_pair();
        let ec = ec_pair();
        let es_keys = public_keys("pem", &ec_pem(&ec));
        let rs_keys = public_keys("pem", TEST_RSA_PUBLIC_SPKI);
        // Right signature, wrong label.
        let t = token(json!({"alg": "RS256"}), claims(), Signer::Es(&ec));
        assert_eq!(es_keys.verify(&t), Err(AuthError::Algorithm));
        let t = token(json!({"alg": "PS256"}), claims(), Signer::Rs(&rsa));
        assert_eq!(rs_keys.verify(&t), Err(AuthError::Algorithm));
        let t = token(json!({"alg": "HS384"}), claims(), Signer::Hs(SECRET.as_bytes()));
        assert_eq!(hs_keys(None).verify(&t), Err(AuthError::Algorithm));
        // A key of one type cannot verify a token of the other.
        let t = token(json!({"alg": "RS256"}), claims(), Signer::Rs(&rsa));
        assert_eq!(es_keys.verify(&t), Err(AuthError::Algorithm));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let keys = hs_keys(None);
        for t in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "!!!.e30.sig",
            "e30.e30.",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(keys.verify(t), Err(AuthError::InvalidToken), "{t:.40}");
        }
        let crit = token(
            json!({"alg": "HS256", "crit": ["exp"]}),
            claims(),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(keys.verify(&crit), Err(AuthError::InvalidToken));
        let kid_number = token(
            json!({"alg": "HS256", "kid": 1}),
            claims(),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(keys.verify(&kid_number), Err(AuthError::InvalidToken));
    }

    // --- public keys ---------------------------------------------------------------------------

    #[test]
    fn rs256_with_pem_is_accepted() {
        let rsa = rsa_pair();
        for pem in [TEST_RSA_PUBLIC_SPKI, TEST_RSA_PUBLIC_PKCS1] {
            let keys = public_keys("pem", pem);
            let t = token(json!({"alg": "RS256", "typ": "JWT"}), claims(), Signer::Rs(&rsa));
            assert_eq!(keys.verify(&t).expect("valid").subject, "alice");
            let t = token(
                json!({"alg": "RS256"}),
                with(claims(), "iss", json!("https://evil.example")),
                Signer::Rs(&rsa),
            );
            assert_eq!(keys.verify(&t), Err(AuthError::Issuer));
        }
    }

    #[test]
    fn es256_with_pem_is_accepted() {
        let ec = ec_pair();
        let keys = public_keys("pem", &ec_pem(&ec));
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&ec));
        assert_eq!(keys.verify(&t).expect("valid").subject, "alice");
        let other = ec_pair();
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&other));
        assert_eq!(keys.verify(&t), Err(AuthError::Signature));
    }

    #[test]
    fn rs256_and_es256_with_jwks_are_accepted() {
        let rsa = rsa_pair();
        let ec = ec_pair();
        let jwks = json!({"keys": [rsa_jwk("rsa-1"), ec_jwk(&ec, "ec-1")]}).to_string();
        let keys = public_keys("json", &jwks);
        let t = token(
            json!({"alg": "RS256", "kid": "rsa-1"}),
            claims(),
            Signer::Rs(&rsa),
        );
        assert!(keys.verify(&t).is_ok());
        let t = token(json!({"alg": "ES256", "kid": "ec-1"}), claims(), Signer::Es(&ec));
        assert!(keys.verify(&t).is_ok());
        // The kid picks the key, so its type decides: an ES256 label on the RSA key's kid fails.
        let t = token(json!({"alg": "ES256", "kid": "rsa-1"}), claims(), Signer::Es(&ec));
        assert_eq!(keys.verify(&t), Err(AuthError::Algorithm));
    }

    #[test]
    fn jwks_kid_selects_among_two_keys() {
        let (one, two) = (ec_pair(), ec_pair());
        let jwks = json!({"keys": [ec_jwk(&one, "k1"), ec_jwk(&two, "k2")]}).to_string();
        let keys = public_keys("json", &jwks);
        let sign = |kid: &str, pair| token(json!({"alg": "ES256", "kid": kid}), claims(), Signer::Es(pair));
        assert!(keys.verify(&sign("k1", &one)).is_ok());
        assert!(keys.verify(&sign("k2", &two)).is_ok());
        assert_eq!(keys.verify(&sign("k1", &two)), Err(AuthError::Signature));
        assert_eq!(keys.verify(&sign("k3", &one)), Err(AuthError::UnknownKey));
        let no_kid = token(json!({"alg": "ES256"}), claims(), Signer::Es(&one));
        assert_eq!(keys.verify(&no_kid), Err(AuthError::UnknownKey));
    }

    #[test]
    fn single_key_and_kid() {
        let ec = ec_pair();
        // One JWKS key: a token without kid uses it; a token naming another kid does not.
        let keys = public_keys("json", &json!({"keys": [ec_jwk(&ec, "only")]}).to_string());
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&ec));
        assert!(keys.verify(&t).is_ok());
        let t = token(json!({"alg": "ES256", "kid": "only"}), claims(), Signer::Es(&ec));
        assert!(keys.verify(&t).is_ok());
        let t = token(
            json!({"alg": "ES256", "kid": "elsewhere"}),
            claims(),
            Signer::Es(&ec),
        );
        assert_eq!(keys.verify(&t), Err(AuthError::UnknownKey));
        // A PEM key has no kid, so a token naming one is not for it.
        let keys = public_keys("pem", &ec_pem(&ec));
        assert_eq!(keys.verify(&t), Err(AuthError::UnknownKey));
        // Nor does the HS256 secret.
        let t = token(
            json!({"alg": "HS256", "kid": "x"}),
            claims(),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(hs_keys(None).verify(&t), Err(AuthError::UnknownKey));
    }

    #[test]
    fn jwks_skips_encryption_keys_and_accepts_a_lone_jwk() {
        let ec = ec_pair();
        let mut enc = rsa_jwk("enc-1");
        enc["use"] = json!("enc");
        enc["alg"] = json!("RSA-OAEP");
        let keys = public_keys("json", &json!({"keys": [enc, ec_jwk(&ec, "sig-1")]}).to_string());
        let t = token(json!({"alg": "ES256"}), claims(), Signer::Es(&ec));
        assert!(keys.verify(&t).is_ok());
        let keys = public_keys("json", &ec_jwk(&ec, "lone").to_string());
        assert!(keys.verify(&t).is_ok());
    }

    // --- configuration -------------------------------------------------------------------------

    #[test]
    fn nothing_configured_means_no_keys() {
        assert!(AdminKeys::from_settings(&args()).expect("valid").is_none());
        let headers = HeaderMap::new();
        assert_eq!(authenticate(&headers, None), Err(AuthError::Missing));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x.y.z"));
        assert_eq!(authenticate(&headers, None), Err(AuthError::NotConfigured));
    }

    #[test]
    fn short_secret_is_refused() {
        let short = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret("x".repeat(MIN_SECRET_BYTES - 1))),
            ..args()
        };
        let e = AdminKeys::from_settings(&short).expect_err("too short");
        assert!(
            e.contains("SCIMGATE_ADMIN_JWT_HS256_SECRET") && e.contains("32"),
            "{e}"
        );
        let exact = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret("x".repeat(MIN_SECRET_BYTES))),
            ..args()
        };
        assert!(AdminKeys::from_settings(&exact).expect("valid").is_some());
    }

    #[test]
    fn unusable_settings_are_refused() {
        let file = TempFile::new("pem", TEST_RSA_PUBLIC_SPKI);
        let no_issuer = AdminJwtArgs {
            admin_jwt_keys: Some(file.0.clone()),
            ..args()
        };
        let e = AdminKeys::from_settings(&no_issuer).expect_err("issuer required");
        assert!(e.contains("SCIMGATE_ADMIN_JWT_ISSUER"), "{e}");
        let both = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret(SECRET.into())),
            admin_jwt_keys: Some(file.0.clone()),
            admin_jwt_issuer: Some(ISSUER.into()),
            ..args()
        };
        assert!(AdminKeys::from_settings(&both).is_err());
        let blank_audience = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret(SECRET.into())),
            admin_jwt_audience: " ".into(),
            ..args()
        };
        assert!(AdminKeys::from_settings(&blank_audience).is_err());
        let missing = AdminJwtArgs {
            admin_jwt_keys: Some(std::env::temp_dir().join("scimgate-no-such-key-file.pem")),
            admin_jwt_issuer: Some(ISSUER.into()),
            ..args()
        };
        assert!(
            AdminKeys::from_settings(&missing)
                .expect_err("missing file")
                .contains("cannot read")
        );
    }

    #[test]
    fn unusable_key_files_are_refused() {
        let refused = |ext: &str, contents: &str, needle: &str| {
            let e = file_keys(ext, contents).expect_err(needle);
            assert!(e.contains(needle), "expected \"{needle}\" in: {e}");
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
    }

    #[test]
    fn minting_needs_the_secret() {
        let keys = public_keys("pem", TEST_RSA_PUBLIC_SPKI);
        let grant = Grant {
            subject: "admin".into(),
            orgs: Vec::new(),
            instance_admin: true,
            ttl: Duration::from_secs(60),
        };
        assert!(keys.mint(&grant).expect_err("no secret").contains("HS256_SECRET"));
        let hs = hs_keys(Some(ISSUER));
        let p = hs.verify(&hs.mint(&grant).expect("mint")).expect("verify");
        assert!(p.instance_admin && p.can_write(12345));
        assert!(
            hs.mint(&Grant {
                ttl: Duration::ZERO,
                ..grant.clone()
            })
            .is_err()
        );
        assert!(
            hs.mint(&Grant {
                subject: " ".into(),
                ..grant
            })
            .is_err()
        );
    }

    #[test]
    fn debug_reveals_no_secret() {
        let keys = hs_keys(Some(ISSUER));
        let shown = format!("{keys:?}");
        assert!(!shown.contains(SECRET) && shown.contains("HS256"), "{shown}");
        let settings = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret(SECRET.into())),
            ..args()
        };
        assert!(!format!("{settings:?}").contains(SECRET));
    }

    // --- permissions ---------------------------------------------------------------------------

    fn principal(claims: Value) -> Result<Principal, AuthError> {
        hs_keys(None).verify(&token(hs_header(), claims, Signer::Hs(SECRET.as_bytes())))
    }

    #[test]
    fn permissions_follow_the_orgs_claim() {
        let p = principal(with(
            claims(),
            "orgs",
            json!({"1": ["organization:read"], "2": ["organization:write"], "3": ["organization:read", "organization:write"], "4": []}),
        ))
        .expect("valid");
        assert!(p.can_read(1) && !p.can_write(1));
        assert!(p.can_read(2) && p.can_write(2), "write implies read");
        assert!(p.can_read(3) && p.can_write(3));
        assert!(!p.can_read(4) && !p.can_write(4));
        assert!(!p.can_read(5) && !p.can_write(5));
    }

    #[test]
    fn instance_admin_may_do_everything() {
        let p = principal(with(without(claims(), "orgs"), "instance_admin", json!(true))).expect("valid");
        assert!(p.instance_admin && p.can_read(99) && p.can_write(99));
        assert_eq!(
            principal(with(claims(), "instance_admin", json!("true"))),
            Err(AuthError::Claims),
            "only a JSON boolean grants"
        );
    }

    #[test]
    fn absent_claims_grant_nothing() {
        let p = principal(without(without(claims(), "orgs"), "instance_admin")).expect("valid");
        assert!(!p.instance_admin && !p.can_read(7) && !p.can_write(7));
        let p = principal(with(
            with(claims(), "orgs", Value::Null),
            "instance_admin",
            Value::Null,
        ))
        .expect("valid");
        assert!(!p.instance_admin && !p.can_read(7));
        assert_eq!(
            principal(with(claims(), "orgs", json!(["7"]))),
            Err(AuthError::Claims)
        );
    }

    #[test]
    fn odd_org_keys_and_unknown_permissions_are_ignored() {
        let p = principal(with(
            claims(),
            "orgs",
            json!({
                "acme": ["organization:write"],
                "007": ["organization:write"],
                "+8": ["organization:write"],
                "-9": ["organization:write"],
                "99999999999999999999": ["organization:write"],
                "10": ["organization:admin", "organization:read", 5, null],
                "11": "organization:write",
                "12": ["ORGANIZATION:WRITE", "write"],
            }),
        ))
        .expect("valid");
        for id in [7, 8, 9, 11, 12] {
            assert!(!p.can_read(id), "{id}");
        }
        assert!(p.can_read(10) && !p.can_write(10));
    }

    // --- HTTP -----------------------------------------------------------------------------------

    #[test]
    fn bearer_header_is_required() {
        let keys = hs_keys(None);
        let good = token(hs_header(), claims(), Signer::Hs(SECRET.as_bytes()));
        let check = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("header"),
            );
            authenticate(&headers, Some(&keys))
        };
        assert!(check(&format!("Bearer {good}")).is_ok());
        assert!(check(&format!("bearer {good}")).is_ok());
        assert_eq!(check(&format!("Basic {good}")), Err(AuthError::Malformed));
        assert_eq!(check("Bearer"), Err(AuthError::Malformed));
        assert_eq!(check("Bearer  "), Err(AuthError::Malformed));
        assert_eq!(check(&good), Err(AuthError::Malformed));
    }

    #[tokio::test]
    async fn extractor_guards_a_route_and_counts_failures() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;

        let path = std::env::temp_dir().join(format!(
            "scimgate-admin-auth-{}.db",
            uuid::Uuid::now_v7().simple()
        ));
        let db = crate::config::DbArgs {
            database_url: crate::config::Secret(format!("sqlite://{}?mode=rwc", path.display())),
            ..crate::config::DbArgs::default()
        };
        let store = crate::app::open_store(&db).await.expect("store");
        let admin = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(crate::config::Secret(SECRET.into())),
            ..args()
        };
        let state =
            crate::app::state(store, &db, &crate::config::ServeArgs::default(), &admin).expect("state");
        let metrics = state.metrics.clone();
        let app = axum::Router::new()
            .route(
                "/who",
                axum::routing::get(|Admin(p): Admin| async move { p.subject }),
            )
            .with_state(state);
        let call = |auth: Option<String>| {
            let app = app.clone();
            async move {
                let mut request = Request::builder().uri("/who");
                if let Some(auth) = auth {
                    request = request.header(header::AUTHORIZATION, auth);
                }
                app.oneshot(request.body(Body::empty()).expect("request"))
                    .await
                    .expect("infallible")
            }
        };
        let good = token(hs_header(), claims(), Signer::Hs(SECRET.as_bytes()));
        let ok = call(Some(format!("Bearer {good}"))).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(ok.into_body(), 1024).await.expect("body");
        assert_eq!(&bytes[..], b"alice");
        let missing = call(None).await;
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert!(missing.headers().contains_key(header::WWW_AUTHENTICATE));
        let expired = token(
            hs_header(),
            with(claims(), "exp", json!(now() - 600)),
            Signer::Hs(SECRET.as_bytes()),
        );
        assert_eq!(
            call(Some(format!("Bearer {expired}"))).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let text = metrics.render();
        for reason in ["missing", "expired"] {
            assert!(
                text.contains(&format!(
                    "scimgate_admin_auth_failures_total{{reason=\"{reason}\"}}"
                )),
                "{text}"
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[tokio::test]
    async fn rejection_is_a_plain_json_401_with_a_challenge() {
        for error in [AuthError::Missing, AuthError::Signature] {
            let response = AdminUnauthorized(error.clone()).into_response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .expect("challenge")
                .to_owned();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert_eq!(challenge.contains("invalid_token"), error == AuthError::Signature);
            assert_eq!(
                response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some("application/json")
            );
            let bytes = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .expect("body");
            let body: Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(body["status"], 401);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(body.get("schemas").is_none());
        }
    }
}
