//! The HTTP side of admin authentication: an admin route declares the [`Admin`] extractor, which
//! reads the bearer token and hands it to [`crate::auth::admin`]. Every failure answers the same
//! plain 401; why goes to a metric and a debug line, never to the client.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::bearer::{BearerError, bearer};
use crate::auth::AuthError;
use crate::auth::admin::{AdminKeys, Principal};

/// Why an admin request was not authenticated; [`AdminAuthError::reason`] is the metrics label,
/// and the client only ever sees a generic 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminAuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("the Authorization header is not a bearer token")]
    Malformed,
    /// The instance has no admin key material.
    #[error("no admin JWT key is configured")]
    NotConfigured,
    /// The token itself was refused.
    #[error(transparent)]
    Token(#[from] AuthError),
}

impl AdminAuthError {
    /// The `reason` label of `scimgate_admin_auth_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            AdminAuthError::Missing => "missing",
            AdminAuthError::Malformed => "malformed",
            AdminAuthError::NotConfigured => "not_configured",
            AdminAuthError::Token(e) => e.reason(),
        }
    }
}

/// The verified caller of an admin route; extracting it answers 401 when there is none.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

/// The 401 of the admin API: plain JSON, not SCIM, and nothing about why.
#[derive(Debug)]
pub struct AdminUnauthorized(pub AdminAuthError);

impl IntoResponse for AdminUnauthorized {
    fn into_response(self) -> Response {
        let challenge = match self.0 {
            // RFC 6750 §3.1: no error code when the client sent no credentials.
            AdminAuthError::Missing | AdminAuthError::NotConfigured => "Bearer realm=\"scimgate\"",
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
pub fn authenticate(headers: &HeaderMap, keys: Option<&AdminKeys>) -> Result<Principal, AdminAuthError> {
    let token = bearer(headers).map_err(|e| match e {
        BearerError::Missing => AdminAuthError::Missing,
        BearerError::Malformed => AdminAuthError::Malformed,
    })?;
    Ok(keys.ok_or(AdminAuthError::NotConfigured)?.verify(token)?)
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

/// The admin credential of a request that may carry one (`POST /api/logins`: only its `claims`
/// form needs it): never a rejection, the handler decides what a failure means.
pub struct MaybeAdmin(pub Result<Principal, AdminAuthError>);

impl FromRequestParts<AppState> for MaybeAdmin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeAdmin(authenticate(
            &parts.headers,
            state.admin_keys.as_deref(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::auth::test_support::*;
    use crate::config::{AdminJwtArgs, Secret};

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn nothing_configured_refuses_every_token() {
        assert_eq!(
            authenticate(&HeaderMap::new(), None),
            Err(AdminAuthError::Missing)
        );
        assert_eq!(
            authenticate(&with_authorization("Bearer x.y.z"), None),
            Err(AdminAuthError::NotConfigured)
        );
    }

    #[test]
    fn bearer_header_is_required() {
        let keys = hs_keys(None);
        let good = hs_token(claims());
        let check = |value: &str| authenticate(&with_authorization(value), Some(&keys));
        assert!(check(&format!("Bearer {good}")).is_ok());
        assert!(check(&format!("bearer {good}")).is_ok());
        assert_eq!(check(&format!("Basic {good}")), Err(AdminAuthError::Malformed));
        assert_eq!(check("Bearer"), Err(AdminAuthError::Malformed));
        assert_eq!(check("Bearer  "), Err(AdminAuthError::Malformed));
        assert_eq!(check(&good), Err(AdminAuthError::Malformed));
        assert_eq!(
            check("Bearer x.y.z"),
            Err(AdminAuthError::Token(AuthError::InvalidToken))
        );
    }

    #[test]
    fn reasons_are_the_metric_labels() {
        assert_eq!(AdminAuthError::Missing.reason(), "missing");
        assert_eq!(AdminAuthError::NotConfigured.reason(), "not_configured");
        assert_eq!(
            AdminAuthError::Token(AuthError::UnknownKey).reason(),
            "unknown_kid"
        );
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
            database_url: Secret(format!("sqlite://{}?mode=rwc", path.display())),
            ..crate::config::DbArgs::default()
        };
        let store = crate::app::open_store(&db).await.expect("store");
        let admin = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret(SECRET.into())),
            ..AdminJwtArgs::default()
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
        let good = hs_token(claims());
        let ok = call(Some(format!("Bearer {good}"))).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(ok.into_body(), 1024).await.expect("body");
        assert_eq!(&bytes[..], b"alice");
        let missing = call(None).await;
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert!(missing.headers().contains_key(header::WWW_AUTHENTICATE));
        let expired = hs_token(with(claims(), "exp", json!(now() - 600)));
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
        for error in [
            AdminAuthError::Missing,
            AdminAuthError::Token(AuthError::Signature),
        ] {
            let response = AdminUnauthorized(error.clone()).into_response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .expect("challenge")
                .to_owned();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert_eq!(
                challenge.contains("invalid_token"),
                error == AdminAuthError::Token(AuthError::Signature)
            );
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
