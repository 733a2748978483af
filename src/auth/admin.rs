//! What an admin API token grants (design §2 "Admin API"): the key material the admin API trusts,
//! from its settings (an HS256 secret, or a PEM or JWKS file of the platform with a required
//! issuer); a verified token's `sub`, `orgs` and `instance_admin` as a [`Principal`] with
//! per-organization rights; and HS256 tokens minted for `scimgate admin-jwt`. Signature, header
//! and time checks are [`super::verify`](mod@super::verify)'s, the same as for any token.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::keys::KeySet;
use super::verify::{AuthError, Expectations, MAX_TOKEN_BYTES, verify};
use crate::config::{AdminJwtArgs, OrgGrant, OrgId, Permission};

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

    /// The organizations the token grants a right on (instance rights aside).
    pub fn granted_orgs(&self) -> impl Iterator<Item = i64> + '_ {
        self.orgs
            .iter()
            .filter(|(_, r)| r.read || r.write)
            .map(|(id, _)| *id)
    }
}

/// The key material, issuer and audience the admin API trusts.
pub struct AdminKeys {
    keys: KeySet,
    expect: Expectations,
    /// Only with the HS256 secret: public keys cannot mint.
    signer: Option<EncodingKey>,
}

impl fmt::Debug for AdminKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminKeys")
            .field("keys", &self.keys)
            .field("issuer", &self.expect.issuer)
            .field("audience", &self.expect.audience)
            .finish_non_exhaustive()
    }
}

/// The claims of an admin token this module reads; [`verify`] checks `exp`, `nbf`, `aud` and
/// `iss` itself.
#[derive(Deserialize)]
struct Claims {
    sub: String,
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
                let keys = KeySet::from_secret(bytes, "SCIMGATE_ADMIN_JWT_HS256_SECRET")?;
                let signer = EncodingKey::from_secret(bytes)
                    .map_err(|e| format!("SCIMGATE_ADMIN_JWT_HS256_SECRET is unusable: {e}"))?;
                (keys, Some(signer))
            }
            (None, Some(path)) => {
                if issuer.is_none() {
                    return Err("SCIMGATE_ADMIN_JWT_ISSUER is required with SCIMGATE_ADMIN_JWT_KEYS".into());
                }
                (KeySet::from_file(path, "SCIMGATE_ADMIN_JWT_KEYS")?, None)
            }
        };
        Ok(Some(AdminKeys {
            keys,
            expect: Expectations {
                audience: audience.to_owned(),
                issuer,
                max_bytes: MAX_TOKEN_BYTES,
            },
            signer,
        }))
    }

    /// Verifies a bearer token and returns who it speaks for.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let claims: Claims = verify(token, &self.keys, &self.expect)?;
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
            "aud": self.expect.audience,
            "iat": now,
            "exp": now.saturating_add(grant.ttl.as_secs()),
            "orgs": orgs,
            "instance_admin": grant.instance_admin,
        });
        if let Some(issuer) = &self.expect.issuer {
            claims["iss"] = Value::from(issuer.as_str());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, signer)
            .map_err(|e| format!("cannot sign the token: {e}"))
    }
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
        let Some(org_id) = key.parse::<OrgId>().ok().map(OrgId::get) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::MIN_SECRET_BYTES;
    use crate::auth::test_support::*;
    use crate::config::Secret;

    fn args() -> AdminJwtArgs {
        AdminJwtArgs::default()
    }

    /// Admin keys from a key file (issuer [`ISSUER`]), as `SCIMGATE_ADMIN_JWT_KEYS` configures them.
    fn public_keys(ext: &str, contents: &str) -> AdminKeys {
        let file = TempFile::new(ext, contents);
        AdminKeys::from_settings(&AdminJwtArgs {
            admin_jwt_keys: Some(file.0.clone()),
            admin_jwt_issuer: Some(ISSUER.into()),
            ..args()
        })
        .expect("valid key file")
        .expect("configured")
    }

    #[test]
    fn hs256_token_is_accepted() {
        let keys = hs_keys(Some(ISSUER));
        let p = keys.verify(&hs_token(claims())).expect("valid token");
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
    fn admin_tokens_meet_the_shared_rules() {
        let rsa = rsa_pair();
        let keys = public_keys("pem", TEST_RSA_PUBLIC_SPKI);
        let sign = |c| token(json!({"alg": "RS256"}), c, Signer::Rs(&rsa));
        assert_eq!(keys.verify(&sign(claims())).expect("valid").subject, "alice");
        assert_eq!(
            keys.verify(&sign(with(claims(), "iss", json!("https://evil.example")))),
            Err(AuthError::Issuer)
        );
        assert_eq!(
            keys.verify(&sign(with(claims(), "exp", json!(now() - 600)))),
            Err(AuthError::Expired)
        );
        assert_eq!(
            keys.verify(&token(
                hs_header(),
                claims(),
                Signer::Hs(TEST_RSA_PUBLIC_SPKI.as_bytes())
            )),
            Err(AuthError::Algorithm)
        );
    }

    #[test]
    fn configured_audience_replaces_the_default() {
        let keys = AdminKeys::from_settings(&AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret(SECRET.into())),
            admin_jwt_audience: "scimgate-prod".into(),
            ..args()
        })
        .expect("valid")
        .expect("configured");
        assert_eq!(keys.verify(&hs_token(claims())), Err(AuthError::Audience));
        assert!(
            keys.verify(&hs_token(with(claims(), "aud", json!("scimgate-prod"))))
                .is_ok()
        );
    }

    #[test]
    fn subject_is_required() {
        let keys = hs_keys(None);
        assert_eq!(
            keys.verify(&hs_token(without(claims(), "sub"))),
            Err(AuthError::Claims)
        );
        assert_eq!(
            keys.verify(&hs_token(with(claims(), "sub", json!(" ")))),
            Err(AuthError::Claims)
        );
        assert_eq!(
            keys.verify(&hs_token(with(claims(), "sub", json!(42)))),
            Err(AuthError::Claims)
        );
    }

    // --- configuration -------------------------------------------------------------------------

    #[test]
    fn nothing_configured_means_no_keys() {
        assert!(AdminKeys::from_settings(&args()).expect("valid").is_none());
    }

    #[test]
    fn short_secret_is_refused() {
        let short = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret("x".repeat(MIN_SECRET_BYTES - 1))),
            ..args()
        };
        let e = AdminKeys::from_settings(&short).expect_err("too short");
        assert!(
            e.contains("SCIMGATE_ADMIN_JWT_HS256_SECRET") && e.contains("32"),
            "{e}"
        );
        let exact = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret("x".repeat(MIN_SECRET_BYTES))),
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
            admin_jwt_hs256_secret: Some(Secret(SECRET.into())),
            admin_jwt_keys: Some(file.0.clone()),
            admin_jwt_issuer: Some(ISSUER.into()),
            ..args()
        };
        assert!(AdminKeys::from_settings(&both).is_err());
        let blank_audience = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret(SECRET.into())),
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
        let private = TempFile::new("pem", TEST_RSA_PRIVATE_PKCS8);
        let e = AdminKeys::from_settings(&AdminJwtArgs {
            admin_jwt_keys: Some(private.0.clone()),
            admin_jwt_issuer: Some(ISSUER.into()),
            ..args()
        })
        .expect_err("private key");
        assert!(
            e.contains("SCIMGATE_ADMIN_JWT_KEYS") && e.contains("private key"),
            "{e}"
        );
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
            admin_jwt_hs256_secret: Some(Secret(SECRET.into())),
            ..args()
        };
        assert!(!format!("{settings:?}").contains(SECRET));
    }

    // --- permissions ---------------------------------------------------------------------------

    fn principal(claims: Value) -> Result<Principal, AuthError> {
        hs_keys(None).verify(&hs_token(claims))
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
}
