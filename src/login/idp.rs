//! The instance's SSO issuer as login evaluation trusts it: its key source, exact issuer and
//! audience (design §2 "Login evaluation"). Verification itself is [`crate::auth::verify`], the
//! same rules as for admin tokens (the key decides the algorithm, `alg: none` never, `exp`
//! required, `nbf` honoured, 60 s leeway). Keys come through [`IdpKeys`], so a source that fetches
//! a JWKS URL plugs in beside the static one without touching the login service.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::auth::remote::{RemoteError, RemoteJwks, RemoteSettings};
use crate::auth::verify::MAX_ID_TOKEN_BYTES;
use crate::auth::{AuthError, Expectations, KeySet, verify};
use crate::config::{AdminJwtArgs, IdTokenCommand, IdpArgs};

/// Where the IdP's verifying keys come from.
pub enum IdpKeys {
    /// Keys fixed at start: an HS256 secret (development and tests) or a JWKS/PEM file.
    Static(KeySet),
    /// The IdP's JWKS URL, fetched and cached (see [`crate::auth::remote`]): key rollover needs
    /// no restart.
    Remote(RemoteJwks),
}

impl fmt::Debug for IdpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdpKeys::Static(keys) => f.debug_tuple("Static").field(keys).finish(),
            IdpKeys::Remote(jwks) => f.debug_tuple("Remote").field(&jwks.url()).finish(),
        }
    }
}

/// Why an ID token was not verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The token is refused (401).
    #[error(transparent)]
    Token(#[from] AuthError),
    /// The token needs keys the IdP could not be asked for (503: not the user's fault).
    #[error("the IdP's signing keys are unavailable")]
    Unavailable,
}

impl IdpKeys {
    /// Verifies `token` and answers its claims.
    pub async fn verify(&self, token: &str, expect: &Expectations) -> Result<Map<String, Value>, KeyError> {
        match self {
            IdpKeys::Static(keys) => Ok(verify(token, keys, expect)?),
            IdpKeys::Remote(jwks) => jwks.verify(token, expect).await.map_err(|e| match e {
                RemoteError::Token(e) => KeyError::Token(e),
                RemoteError::Unavailable(_) => KeyError::Unavailable,
            }),
        }
    }
}

/// The trusted issuer: keys, exact `iss` and `aud`.
#[derive(Debug)]
pub struct Idp {
    keys: IdpKeys,
    expect: Expectations,
}

impl Idp {
    /// The IdP of these settings; `Ok(None)` when no key source is configured (every `id_token`
    /// is then refused), `Err` with a message for the operator when they are unusable or would
    /// let ID tokens and admin tokens pass for each other.
    pub fn from_settings(idp: &IdpArgs, admin: &AdminJwtArgs) -> Result<Option<Idp>, String> {
        idp.check(admin)?;
        let url = idp
            .idp_jwks_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let file = idp.idp_jwks_file.as_deref().filter(|p| !p.as_os_str().is_empty());
        // `check` made sure at most one source is set.
        let keys = match (&idp.idp_jwt_hs256_secret, file, url) {
            (Some(secret), _, _) => IdpKeys::Static(KeySet::from_secret(
                secret.0.as_bytes(),
                "SCIMGATE_IDP_JWT_HS256_SECRET",
            )?),
            (None, Some(path), _) => IdpKeys::Static(KeySet::from_file(path, "SCIMGATE_IDP_JWKS_FILE")?),
            (None, None, Some(url)) => {
                let defaults = RemoteSettings::default();
                let settings = RemoteSettings {
                    min_interval: idp.idp_jwks_min_refetch.map_or(defaults.min_interval, |s| s.0),
                    ..defaults
                };
                IdpKeys::Remote(RemoteJwks::new(url, "SCIMGATE_IDP_JWKS_URL", settings)?)
            }
            (None, None, None) => return Ok(None),
        };
        Ok(Some(Idp {
            keys,
            expect: expectations(idp),
        }))
    }

    /// Verifies an ID token and answers its claims.
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, KeyError> {
        self.keys.verify(token, &self.expect).await
    }
}

/// Issuer and audience as configured ([`IdpArgs::check`] made sure both are there).
fn expectations(idp: &IdpArgs) -> Expectations {
    let trimmed = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or_default().to_owned();
    Expectations {
        audience: trimmed(&idp.idp_audience),
        issuer: Some(trimmed(&idp.idp_issuer)),
        max_bytes: MAX_ID_TOKEN_BYTES,
    }
}

/// Mints an ID token with the configured HS256 secret, issuer and audience (`scimgate id-token`).
pub fn mint(cmd: &IdTokenCommand) -> Result<String, String> {
    // Minting knows no admin settings: only the IdP's own must be complete.
    let no_admin = AdminJwtArgs {
        admin_jwt_audience: String::new(),
        ..AdminJwtArgs::default()
    };
    cmd.idp.check(&no_admin)?;
    let secret = cmd
        .idp
        .idp_jwt_hs256_secret
        .as_ref()
        .ok_or("id-token needs SCIMGATE_IDP_JWT_HS256_SECRET (at least 32 bytes)")?;
    // The same policy as verification: a short secret is refused here too.
    KeySet::from_secret(secret.0.as_bytes(), "SCIMGATE_IDP_JWT_HS256_SECRET")?;
    let signer = EncodingKey::from_secret(secret.0.as_bytes())
        .map_err(|e| format!("SCIMGATE_IDP_JWT_HS256_SECRET is unusable: {e}"))?;
    if cmd.sub.trim().is_empty() {
        return Err("the subject must not be empty".into());
    }
    let expect = expectations(&cmd.idp);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let mut claims = json!({
        "iss": expect.issuer,
        "aud": expect.audience,
        "sub": cmd.sub,
        "iat": now,
        "exp": now.saturating_add(cmd.ttl.max(1)),
        "groups": cmd.groups,
    });
    if let Some(email) = &cmd.email {
        claims["email"] = Value::from(email.as_str());
        claims["email_verified"] = Value::from(cmd.email_verified);
    }
    if let Some(org) = cmd.org_id {
        claims["org_id"] = Value::from(org.get());
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &signer)
        .map_err(|e| format!("cannot sign the token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const IDP_SECRET: &str = "idp-secret-0123456789abcdef-0123456789";

    fn idp() -> IdpArgs {
        IdpArgs {
            idp_issuer: Some("https://idp.example".into()),
            idp_audience: Some("platform".into()),
            idp_jwt_hs256_secret: Some(Secret(IDP_SECRET.into())),
            ..IdpArgs::default()
        }
    }

    fn refused(idp: &IdpArgs, admin: &AdminJwtArgs, needle: &str) {
        let e = Idp::from_settings(idp, admin).expect_err(needle);
        assert!(e.contains(needle), "expected \"{needle}\" in: {e}");
    }

    #[test]
    fn settings_that_clash_with_the_admin_api_are_refused() {
        let admin = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret(IDP_SECRET.into())),
            ..AdminJwtArgs::default()
        };
        refused(&idp(), &admin, "must differ from SCIMGATE_ADMIN_JWT_HS256_SECRET");
        let same_audience = IdpArgs {
            idp_audience: Some("scimgate".into()),
            ..idp()
        };
        refused(
            &same_audience,
            &AdminJwtArgs::default(),
            "must differ from SCIMGATE_ADMIN_JWT_AUDIENCE",
        );
        assert!(Idp::from_settings(&idp(), &AdminJwtArgs::default()).is_ok_and(|i| i.is_some()));
    }

    #[test]
    fn incomplete_or_unsupported_settings_are_refused() {
        let admin = AdminJwtArgs::default();
        refused(
            &IdpArgs {
                idp_issuer: None,
                ..idp()
            },
            &admin,
            "SCIMGATE_IDP_ISSUER is required",
        );
        refused(
            &IdpArgs {
                idp_audience: None,
                ..idp()
            },
            &admin,
            "SCIMGATE_IDP_AUDIENCE is required",
        );
        let short = IdpArgs {
            idp_jwt_hs256_secret: Some(Secret("short".into())),
            ..idp()
        };
        refused(&short, &admin, "at least 32");
        let url = IdpArgs {
            idp_jwt_hs256_secret: None,
            idp_jwks_url: Some("http://idp.example/keys".into()),
            ..idp()
        };
        refused(&url, &admin, "SCIMGATE_IDP_JWKS_URL");
        let https = IdpArgs {
            idp_jwt_hs256_secret: None,
            idp_jwks_url: Some("https://idp.example/keys".into()),
            ..idp()
        };
        assert!(Idp::from_settings(&https, &admin).is_ok_and(|i| i.is_some()));
        let both = IdpArgs {
            idp_jwks_url: Some("https://idp.example/keys".into()),
            ..idp()
        };
        refused(&both, &admin, "not several");
        assert!(Idp::from_settings(&IdpArgs::default(), &admin).is_ok_and(|i| i.is_none()));
    }
}
