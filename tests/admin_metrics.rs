//! Issue 3's metrics: catalog size per organization, delegated and orphaned team counts and open
//! conflicts (read from the database at scrape time), token operations.

mod common;

use axum::http::StatusCode;
use common::{OrgAdmin, Scim, TestApp, metric_sum, unique};

#[tokio::test]
async fn catalog_teams_and_token_operations_are_measured() {
    let app = TestApp::new().await;
    let org = app.org("gauges").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let id = org.id.to_string();
    let gauge = |text: &str, name: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![("org", id.as_str())];
        labels.extend_from_slice(extra);
        metric_sum(text, name, &labels)
    };

    let group = Scim::new(&app, &org).create_group(&unique("Gauged")).await;
    owner.add_manual_group(&unique("Gauged by hand")).await;
    let team = owner.create_team(&unique("gauged-team"), Some(&group)).await;
    let text = app.metrics_text().await;
    assert_eq!(gauge(&text, "scimgate_catalog_rows", &[]), 2.0, "{text}");
    assert_eq!(gauge(&text, "scimgate_teams", &[("state", "delegated")]), 1.0);
    assert_eq!(gauge(&text, "scimgate_teams", &[("state", "orphaned")]), 0.0);

    // The IdP removes the linked group: one row less, the team moves from delegated to orphaned.
    assert_eq!(
        Scim::new(&app, &org)
            .delete(&format!("/Groups/{group}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let text = app.metrics_text().await;
    assert_eq!(gauge(&text, "scimgate_catalog_rows", &[]), 1.0);
    assert_eq!(gauge(&text, "scimgate_teams", &[("state", "delegated")]), 0.0);
    assert_eq!(gauge(&text, "scimgate_teams", &[("state", "orphaned")]), 1.0);
    assert_eq!(owner.team(team).await["delegationState"], "ORPHANED");

    let before = app.metrics_text().await;
    let ops = |text: &str, op: &str| metric_sum(text, "scimgate_token_operations_total", &[("op", op)]);
    assert_eq!(
        owner.post("/scim/token", &serde_json::json!({})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        owner
            .post("/scim/token/rotate", &serde_json::json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(owner.delete("/scim/token").await.status, StatusCode::NO_CONTENT);
    // Refused operations are not counted.
    assert_eq!(owner.delete("/scim/token").await.status, StatusCode::NOT_FOUND);
    let after = app.metrics_text().await;
    for op in ["generate", "rotate", "revoke"] {
        assert_eq!(ops(&after, op) - ops(&before, op), 1.0, "{op}: {after}");
    }
    open_uniqueness_conflicts_are_measured_per_organization(&app).await;
}

/// `scimgate_open_conflicts{org}`: a display name the organization's IdP pushed that another
/// organization holds counts until the name frees up. Called from the test above: gauges are
/// process-wide and keyed by organization id, which two SQLite test databases would share.
async fn open_uniqueness_conflicts_are_measured_per_organization(app: &TestApp) {
    let holder = app.org("conflict-holder").await;
    let pusher = app.org("conflict-pusher").await;
    let open = |text: &str| {
        metric_sum(
            text,
            "scimgate_open_conflicts",
            &[("org", &pusher.id.to_string())],
        )
    };
    let name = unique("Contested");
    let held = Scim::new(app, &holder).create_group(&name).await;
    let refused = Scim::new(app, &pusher)
        .post("/Groups", &serde_json::json!({"displayName": name}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(open(&app.metrics_text().await), 1.0);
    assert_eq!(
        Scim::new(app, &holder)
            .delete(&format!("/Groups/{held}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(open(&app.metrics_text().await), 0.0, "the name is free again");
}
