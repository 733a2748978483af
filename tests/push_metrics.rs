//! The push-time removal counter (design §3.8), by organization and reason. In a process of its
//! own: metrics are process-wide, and every SQLite test database numbers its organizations from 1.

mod common;

use axum::http::StatusCode;
use common::{OrgAdmin, Scim, TestApp, metric_sum, patch_op, unique};
use serde_json::json;

#[tokio::test]
async fn push_time_removals_are_counted_by_organization_and_reason() {
    let app = TestApp::new().await;
    let org = app.org("deprovisioned").await;
    let scim = Scim::new(&app, &org);
    let alice = format!("{}@example.com", unique("counted"));
    let user = scim.create_user(&alice).await;
    let name = unique("Counted");
    let group = scim.create_group(&name).await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{group}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    let owner = OrgAdmin::owner(&app, org.id);
    owner.create_team(&unique("counted-team"), Some(&group)).await;
    let login = json!({"sub": alice, "email": alice, "email_verified": true, "groups": [name]});
    let counted = |text: &str, reason: &str| {
        metric_sum(
            text,
            "scimgate_push_deprovisioned_total",
            &[("org", &org.id.to_string()), ("reason", reason)],
        )
    };
    app.login(login.clone()).await;
    let before = app.metrics_text().await;
    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{group}"), &remove).await.status,
        StatusCode::NO_CONTENT
    );
    let after = app.metrics_text().await;
    assert_eq!(
        counted(&after, "idp_membership_removed") - counted(&before, "idp_membership_removed"),
        1.0
    );

    // Back in the group by the next login (the IdP re-added her), then deleted: one more, by reason.
    assert_eq!(
        scim.patch(&format!("/Groups/{group}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    app.login(login).await;
    assert_eq!(
        scim.delete(&format!("/Users/{user}")).await.status,
        StatusCode::NO_CONTENT
    );
    let last = app.metrics_text().await;
    assert_eq!(
        counted(&last, "idp_user_deleted") - counted(&after, "idp_user_deleted"),
        1.0
    );
    assert_eq!(
        counted(&last, "idp_membership_removed"),
        counted(&after, "idp_membership_removed")
    );
}
