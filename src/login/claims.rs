//! What a login's claims say, read once and strictly (design §3.4, §3.5): who the account is
//! (`iss` + `sub`, or Entra's `tid` + `oid`), its e-mail and whether the IdP verified it, the
//! `iat` the replay guard orders logins by, the `org_id` scope, and the `groups` claim — a list of
//! strings, or absent (no groups), or something that must change nothing (not a list, a
//! non-string element, Entra's overage marker). Pure: no I/O.

use serde_json::{Map, Value};

use crate::config::OrgId;

/// Why a login changed nothing; the wire value is also a metric label, so the set is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredClaim {
    /// `groups` is not a list (a single string included).
    NotAList,
    /// `groups` holds something that is not a string.
    NonStringElement,
    /// Entra's "groups overage" marker: the groups are elsewhere, which is not "no groups".
    Overage,
    /// The token's `iat` is not newer than the last login applied for the account.
    StaleLogin,
    /// No organization on the instance has SSO active (or the gates let none in).
    NoSso,
}

impl IgnoredClaim {
    /// Every value, for metric label sets.
    pub const ALL: [IgnoredClaim; 5] = [
        IgnoredClaim::NotAList,
        IgnoredClaim::NonStringElement,
        IgnoredClaim::Overage,
        IgnoredClaim::StaleLogin,
        IgnoredClaim::NoSso,
    ];

    /// The wire (and label) value.
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoredClaim::NotAList => "not_a_list",
            IgnoredClaim::NonStringElement => "non_string_element",
            IgnoredClaim::Overage => "overage",
            IgnoredClaim::StaleLogin => "stale_login",
            IgnoredClaim::NoSso => "no_sso",
        }
    }
}

/// The `groups` claim as evaluation uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupsClaim {
    /// The user's groups; empty when the claim is absent or `[]`.
    Names(Vec<String>),
    /// A claim that must change nothing, and why.
    Ignored(IgnoredClaim),
}

/// The `org_id` claim: routes the login to one organization only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgScope {
    /// No `org_id`: every organization whose gates pass.
    Every,
    /// That organization only.
    Only(i64),
    /// An `org_id` that names no organization id: routed nowhere.
    Nowhere,
}

impl OrgScope {
    /// Whether the login may touch `org_id`.
    pub fn admits(self, org_id: i64) -> bool {
        match self {
            OrgScope::Every => true,
            OrgScope::Only(only) => only == org_id,
            OrgScope::Nowhere => false,
        }
    }
}

/// A login's claims, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginClaims {
    /// The account's issuer key: the token's `iss`, or `entra:{tid}` for Entra tokens.
    pub issuer: String,
    /// The account's subject key: `sub`, or Entra's `oid`.
    pub subject: String,
    pub email: Option<String>,
    /// Only `email_verified: true` (a boolean) counts.
    pub email_verified: bool,
    /// Seconds since the epoch.
    pub iat: i64,
    pub groups: GroupsClaim,
    pub scope: OrgScope,
}

/// Claims that identify no account or cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnusableClaims(pub &'static str);

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Reads `claims`; `default_iat` stands in for a missing `iat` (trusted callers' claims), and
/// `None` makes `iat` required (ID tokens).
pub fn read(claims: &Map<String, Value>, default_iat: Option<i64>) -> Result<LoginClaims, UnusableClaims> {
    let (issuer, subject) = match (text(claims, "tid"), text(claims, "oid")) {
        // Entra: the object id within the tenant is stable across apps; `sub` is per app.
        (Some(tid), Some(oid)) => (format!("entra:{tid}"), oid.to_owned()),
        _ => (
            text(claims, "iss")
                .ok_or(UnusableClaims("the claims carry no iss"))?
                .to_owned(),
            text(claims, "sub")
                .ok_or(UnusableClaims("the claims carry no sub"))?
                .to_owned(),
        ),
    };
    if issuer.contains('\0') || subject.contains('\0') {
        return Err(UnusableClaims("the account's identity holds a NUL character"));
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.floor() as i64))
            .ok_or(UnusableClaims("iat is not a time"))?,
        None | Some(Value::Null) => default_iat.ok_or(UnusableClaims("the token carries no iat"))?,
        Some(_) => return Err(UnusableClaims("iat is not a number")),
    };
    let email = text(claims, "email")
        .filter(|e| e.contains('@') && !e.contains('\0'))
        .map(str::to_owned);
    Ok(LoginClaims {
        issuer,
        subject,
        email_verified: email.is_some() && claims.get("email_verified") == Some(&Value::Bool(true)),
        email,
        iat,
        groups: groups(claims),
        scope: scope(claims.get("org_id")),
    })
}

/// The `groups` claim (design §3.5): an overage marker wins over anything else.
fn groups(claims: &Map<String, Value>) -> GroupsClaim {
    let overage = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| names.contains_key("groups"))
        || claims
            .get("hasgroups")
            .is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)));
    if overage {
        return GroupsClaim::Ignored(IgnoredClaim::Overage);
    }
    match claims.get("groups") {
        None | Some(Value::Null) => GroupsClaim::Names(Vec::new()),
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    // NUL is never in a stored name, so such a value matches nothing.
                    Value::String(s) if !s.contains('\0') => names.push(s.clone()),
                    Value::String(_) => {}
                    _ => return GroupsClaim::Ignored(IgnoredClaim::NonStringElement),
                }
            }
            names.sort();
            names.dedup();
            GroupsClaim::Names(names)
        }
        Some(_) => GroupsClaim::Ignored(IgnoredClaim::NotAList),
    }
}

fn scope(org_id: Option<&Value>) -> OrgScope {
    match org_id {
        None | Some(Value::Null) => OrgScope::Every,
        Some(Value::Number(n)) => n.as_i64().map_or(OrgScope::Nowhere, OrgScope::Only),
        Some(Value::String(s)) => s
            .parse::<OrgId>()
            .map_or(OrgScope::Nowhere, |id| OrgScope::Only(id.get())),
        Some(_) => OrgScope::Nowhere,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn groups_claim_kinds() {
        let g = |v: Value| groups(&claims(v));
        assert_eq!(g(json!({})), GroupsClaim::Names(vec![]));
        assert_eq!(g(json!({"groups": []})), GroupsClaim::Names(vec![]));
        assert_eq!(
            g(json!({"groups": ["b", "a", "b"]})),
            GroupsClaim::Names(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            g(json!({"groups": "a"})),
            GroupsClaim::Ignored(IgnoredClaim::NotAList)
        );
        assert_eq!(
            g(json!({"groups": {"a": 1}})),
            GroupsClaim::Ignored(IgnoredClaim::NotAList)
        );
        assert_eq!(
            g(json!({"groups": ["a", 1]})),
            GroupsClaim::Ignored(IgnoredClaim::NonStringElement)
        );
        assert_eq!(
            g(json!({"groups": ["a"], "_claim_names": {"groups": "src1"}})),
            GroupsClaim::Ignored(IgnoredClaim::Overage)
        );
        assert_eq!(
            g(json!({"hasgroups": true})),
            GroupsClaim::Ignored(IgnoredClaim::Overage)
        );
    }

    #[test]
    fn identity_is_iss_and_sub_or_entra_tid_and_oid() {
        let c = read(&claims(json!({"iss": "i", "sub": "s", "iat": 5})), None).expect("claims");
        assert_eq!((c.issuer.as_str(), c.subject.as_str(), c.iat), ("i", "s", 5));
        let c = read(
            &claims(json!({"iss": "i", "sub": "s", "tid": "T", "oid": "O", "iat": 5})),
            None,
        )
        .expect("claims");
        assert_eq!((c.issuer.as_str(), c.subject.as_str()), ("entra:T", "O"));
        assert!(read(&claims(json!({"iss": "i", "sub": "s"})), None).is_err());
        assert_eq!(
            read(&claims(json!({"iss": "i", "sub": "s"})), Some(9)).map(|c| c.iat),
            Ok(9)
        );
        assert!(read(&claims(json!({"sub": "s", "iat": 1})), None).is_err());
    }

    #[test]
    fn only_a_boolean_true_verifies_an_email() {
        let verified = |v: Value| {
            read(
                &claims(json!({"iss": "i", "sub": "s", "iat": 1, "email": "a@x", "email_verified": v})),
                None,
            )
            .map(|c| c.email_verified)
        };
        assert_eq!(verified(json!(true)), Ok(true));
        assert_eq!(verified(json!("true")), Ok(false));
        assert_eq!(verified(json!(false)), Ok(false));
    }

    #[test]
    fn org_id_scopes() {
        assert_eq!(scope(None), OrgScope::Every);
        assert_eq!(scope(Some(&json!(7))), OrgScope::Only(7));
        assert_eq!(scope(Some(&json!("7"))), OrgScope::Only(7));
        assert_eq!(scope(Some(&json!("+7"))), OrgScope::Nowhere);
        assert_eq!(scope(Some(&json!([7]))), OrgScope::Nowhere);
    }
}
