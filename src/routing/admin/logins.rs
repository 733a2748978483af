//! `POST /api/logins`: the platform hands over each SSO login (design §2 "Login evaluation").
//! The caller token (when configured) is checked first, then the body: an `id_token` verified by
//! the login service, or — for a trusted caller, an admin token with `instance_admin` — the
//! `claims` themselves. An unverifiable login is a plain 401 and changes nothing.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AdminError, Result, json_body, json_response};
use crate::login::{LoginAnswer, LoginError, TeamRef};
use crate::routing::AppState;
use crate::routing::admin_auth::MaybeAdmin;
use crate::routing::observe::CorrelationId;

/// The header a login caller presents `SCIMGATE_LOGIN_CALLER_TOKEN` in.
pub const CALLER_HEADER: &str = "x-scimgate-caller";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    claims: Option<Map<String, Value>>,
}

/// The caller token a request presents in [`CALLER_HEADER`], if any (the login service compares it).
pub struct PresentedCaller(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PresentedCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> std::result::Result<Self, Self::Rejection> {
        let presented = parts.headers.get(CALLER_HEADER).and_then(|v| v.to_str().ok());
        Ok(PresentedCaller(presented.map(str::to_owned)))
    }
}

/// A retry after a failed key fetch: the key source refetches at most every 30 s.
const KEYS_RETRY_AFTER_SECS: u64 = 30;

fn unauthorized() -> AdminError {
    AdminError::new(StatusCode::UNAUTHORIZED, "the login could not be verified")
}

/// POST `{"id_token"}` or `{"claims"}` → `{userId, email, added, removed, ignoredClaim?}`.
pub async fn login(
    State(state): State<AppState>,
    PresentedCaller(presented): PresentedCaller,
    MaybeAdmin(admin): MaybeAdmin,
    correlation: Option<axum::Extension<CorrelationId>>,
    body: Body,
) -> Result<Response> {
    let service = state.services.login();
    if !service.caller_allowed(presented.as_deref()) {
        metrics::counter!("scimgate_logins_total", "outcome" => "unverifiable").increment(1);
        return Err(AdminError::new(
            StatusCode::UNAUTHORIZED,
            "the login caller must present its token in X-Scimgate-Caller",
        ));
    }
    let correlation_id = correlation.map_or_else(|| uuid::Uuid::now_v7().to_string(), |c| c.0.0.clone());
    let input: LoginBody = json_body(body).await?;
    let answer = match (input.id_token, input.claims) {
        (Some(token), None) => service.evaluate_token(&token, &correlation_id).await,
        (None, Some(claims)) => {
            let principal = admin.map_err(|_| unauthorized())?;
            if !principal.instance_admin {
                return Err(AdminError::new(
                    StatusCode::FORBIDDEN,
                    "posting claims needs an admin token with instance_admin",
                ));
            }
            service.evaluate_claims(&claims, &correlation_id).await
        }
        _ => {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "the body needs exactly one of id_token and claims",
            ));
        }
    };
    match answer {
        Ok(answer) => Ok(json_response(StatusCode::OK, answer_json(&answer))),
        Err(LoginError::Unverifiable(_)) => Err(unauthorized()),
        Err(LoginError::KeysUnavailable) => Err(AdminError {
            retry_after: Some(KEYS_RETRY_AFTER_SECS),
            ..AdminError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the identity provider's signing keys are unavailable; retry shortly",
            )
        }),
        Err(LoginError::Store(e)) => Err(e.into()),
    }
}

fn answer_json(answer: &LoginAnswer) -> Value {
    let refs = |list: &[TeamRef]| -> Vec<Value> {
        list.iter()
            .map(|r| json!({"orgId": r.org_id, "teamId": r.team_id}))
            .collect()
    };
    let mut body = json!({
        "userId": answer.user_id,
        "email": answer.email,
        "added": refs(&answer.added),
        "removed": refs(&answer.removed),
    });
    if let Some(reason) = answer.ignored {
        body["ignoredClaim"] = Value::from(reason.as_str());
    }
    body
}
