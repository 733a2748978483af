//! Logins verified with keys from the IdP's JWKS URL, served by a real HTTP server on loopback
//! (design §2 "Login evaluation"): the IdP rolls its key over while the gateway runs and logins
//! signed with the new key are accepted with no restart; while the IdP cannot be reached, a login
//! needing a key the gateway has not seen answers 503 (never 401) and changes nothing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{IDP_AUDIENCE, IDP_ISSUER, TestApp, next_iat, unique};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use scimgate::config::{IdpArgs, ServeArgs, Span};
use serde_json::{Value, json};

/// What the test IdP's `/jwks` answers: a JWKS, or an error status.
#[derive(Clone)]
enum Jwks {
    Keys(Value),
    Down,
}

async fn jwks(State(current): State<Arc<Mutex<Jwks>>>) -> Response {
    let answer = current.lock().expect("jwks lock").clone();
    match answer {
        Jwks::Keys(doc) => axum::Json(doc).into_response(),
        Jwks::Down => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// A JWKS endpoint on loopback; the answer can be changed while it runs.
async fn start_idp(first: Jwks) -> (Arc<Mutex<Jwks>>, String) {
    let current = Arc::new(Mutex::new(first));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/jwks", get(jwks))
        .with_state(current.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (current, format!("http://{addr}/jwks"))
}

/// A signing key of the test IdP: a fresh P-256 pair, its JWK and a signer.
struct IdpKey {
    kid: String,
    jwk: Value,
    signer: EncodingKey,
}

fn new_key(kid: &str) -> IdpKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("EC key");
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("EC pair");
    // An uncompressed point: 0x04, then x and y of 32 bytes each.
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    IdpKey {
        kid: kid.to_owned(),
        jwk,
        signer: EncodingKey::from_ec_der(pkcs8.as_ref()),
    }
}

/// An ID token for `user` signed with `key`.
fn id_token(key: &IdpKey, user: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({
        "iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "sub": user, "email": user,
        "email_verified": true, "groups": [], "iat": next_iat(), "exp": now + 300,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.signer).expect("sign ID token")
}

async fn app_trusting(url: &str) -> TestApp {
    let serve = ServeArgs {
        public_url: Some("https://scim.test.example".into()),
        idp: IdpArgs {
            idp_issuer: Some(IDP_ISSUER.into()),
            idp_audience: Some(IDP_AUDIENCE.into()),
            idp_jwks_url: Some(url.to_owned()),
            // Refetches back to back, so the test needs no 30 s wait between rollovers.
            idp_jwks_min_refetch: Some(Span(std::time::Duration::ZERO)),
            ..IdpArgs::default()
        },
        ..ServeArgs::default()
    };
    TestApp::with(&common::database_url(), serve).await
}

async fn login(app: &TestApp, token: &str) -> common::Answer {
    app.admin_send(
        Method::POST,
        "/api/logins",
        None,
        Some(&json!({"id_token": token})),
        &[],
    )
    .await
}

#[tokio::test]
async fn a_key_rolled_over_at_the_idp_is_trusted_without_a_restart() {
    let old = new_key(&unique("old"));
    let (idp, url) = start_idp(Jwks::Keys(json!({"keys": [old.jwk]}))).await;
    let app = app_trusting(&url).await;
    let user = format!("{}@example.com", unique("rolled"));

    let answer = login(&app, &id_token(&old, &user)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["email"], user.as_str());

    // The IdP publishes a new key and signs with it; the gateway has never seen it.
    let new = new_key(&unique("new"));
    *idp.lock().expect("jwks lock") = Jwks::Keys(json!({"keys": [new.jwk, old.jwk]}));
    let answer = login(&app, &id_token(&new, &user)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // The old key still verifies while the IdP still publishes it.
    let answer = login(&app, &id_token(&old, &user)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // A key nobody publishes is a bad token: 401.
    let forged = new_key(&unique("forged"));
    let answer = login(&app, &id_token(&forged, &user)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
}

#[tokio::test]
async fn a_new_key_while_the_idp_is_down_is_503_not_401_and_known_keys_still_work() {
    let known = new_key(&unique("known"));
    let (idp, url) = start_idp(Jwks::Keys(json!({"keys": [known.jwk]}))).await;
    let app = app_trusting(&url).await;
    let user = format!("{}@example.com", unique("outage"));
    let answer = login(&app, &id_token(&known, &user)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    *idp.lock().expect("jwks lock") = Jwks::Down;
    let unseen = new_key(&unique("unseen"));
    let answer = login(&app, &id_token(&unseen, &user)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text);
    assert!(answer.header("retry-after").is_some(), "{:?}", answer.headers);
    assert!(answer.body["message"].is_string(), "{}", answer.text);
    // The keys it has are kept: a login signed with one still goes through.
    let answer = login(&app, &id_token(&known, &user)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}
