//! Microsoft Entra ID's provisioning dialect, replayed as the Entra provisioning service sends it
//! (design §4): Test Connection, legacy capitalised ops with string booleans, member removal by
//! value, the `aadOptscim062020` flag, `excludedAttributes=members`, extra schema URNs.
mod common;

use axum::http::StatusCode;
use common::{Scim, TestApp, enc, patch_op, unique};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn assert_empty_list(answer: &common::Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["schemas"], json!([LIST_SCHEMA]), "{}", answer.text);
    assert!(answer.body["totalResults"].is_u64(), "{}", answer.text);
    assert_eq!(answer.body["totalResults"], 0, "{}", answer.text);
    assert_eq!(
        answer.body["Resources"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{}",
        answer.text
    );
}

fn total(answer: &common::Answer) -> u64 {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["totalResults"]
        .as_u64()
        .expect("integer totalResults")
}

/// The user Entra POSTs (from Microsoft's SCIM validator samples).
fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": uuid::Uuid::now_v7().to_string(),
        "userName": user_name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("{user_name}@testuser.com")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE: {"employeeNumber": "42", "department": "Research"}
    })
}

async fn create_entra_user(scim: &Scim<'_>, user_name: &str) -> String {
    let answer = scim.post("/Users", &entra_user(user_name)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn test_connection_filters_on_random_guids_answer_empty_lists() {
    let app = TestApp::new().await;
    let org = app.org("entra-conn").await;
    let scim = Scim::new(&app, &org);
    // Something exists, so an empty answer is the filter's doing.
    scim.create_user(&unique("someone")).await;
    scim.create_group(&unique("Some Group")).await;

    let guid = uuid::Uuid::now_v7().to_string();
    for path in [
        format!("/Users?filter={}", enc(&format!("userName eq \"{guid}\""))),
        format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc(&format!("id eq \"{guid}\""))
        ),
        format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc(&format!("displayName eq \"{guid}\""))
        ),
        format!("/Groups?filter={}", enc(&format!("displayName eq \"{guid}\""))),
    ] {
        assert_empty_list(&scim.get(&path).await);
    }
}

#[tokio::test]
async fn legacy_capitalised_ops_with_string_booleans() {
    let app = TestApp::new().await;
    let org = app.org("entra-legacy").await;
    let scim = Scim::new(&app, &org);
    let id = create_entra_user(&scim, &unique("legacy")).await;

    let patch = patch_op(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "displayName", "value": "Legacy Person"},
        {"op": "Remove", "path": "name.formatted"}
    ]));
    let answer = scim.patch(&format!("/Users/{id}"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let user = scim.get(&format!("/Users/{id}")).await.body;
    assert_eq!(
        user["active"],
        json!(false),
        "\"False\" is stored as the boolean false"
    );
    assert_eq!(user["displayName"], "Legacy Person");
    assert!(user["name"].get("formatted").is_none(), "{user}");
    assert_eq!(user["name"]["givenName"], "givenName");
    assert_eq!(scim.count_where("/Users", "active eq false").await, 1);

    let reactivate = patch_op(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    let answer = scim.patch(&format!("/Users/{id}"), &reactivate).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["active"], json!(true));

    // The same dialect on a group: capitalised Add / Replace / Remove.
    let u1 = scim.create_user(&unique("m1")).await;
    let gid = scim.create_group(&unique("Legacy Group")).await;
    let new_name = unique("Legacy Group Renamed");
    let patch = patch_op(json!([
        {"op": "Add", "path": "members", "value": [{"value": u1}]},
        {"op": "Replace", "path": "displayName", "value": new_name}
    ]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &patch).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let group = scim.get(&format!("/Groups/{gid}")).await.body;
    assert_eq!(group["displayName"], new_name.as_str());
    assert_eq!(scim.member_ids(&gid).await, vec![u1.clone()]);
    let remove = patch_op(json!([{"op": "Remove", "path": format!("members[value eq \"{u1}\"]")}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &remove).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(scim.member_ids(&gid).await.is_empty());
}

#[tokio::test]
async fn member_removal_by_value_removes_only_those_members() {
    let app = TestApp::new().await;
    let org = app.org("entra-remove").await;
    let scim = Scim::new(&app, &org);
    let users = [
        scim.create_user(&unique("a")).await,
        scim.create_user(&unique("b")).await,
        scim.create_user(&unique("c")).await,
    ];
    let gid = scim.create_group(&unique("Removal")).await;
    let add = patch_op(
        json!([{"op": "Add", "path": "members", "value": users.iter().map(|u| json!({"value": u})).collect::<Vec<_>>()}]),
    );
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim.member_ids(&gid).await.len(), 3);

    let remove = patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": users[1]}]}]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let mut expected = vec![users[0].clone(), users[2].clone()];
    expected.sort();
    assert_eq!(
        scim.member_ids(&gid).await,
        expected,
        "only the named member goes"
    );
    // Removing it again changes nothing.
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &remove).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim.member_ids(&gid).await, expected);
}

#[tokio::test]
async fn aad_opt_flag_in_the_url_is_ignored_and_proper_booleans_work() {
    let app = TestApp::new().await;
    let org = app.org("entra-flag").await;
    let scim = Scim::new(&app, &org);
    let user_name = unique("flagged");

    // The tenant URL carries the flag, so every request does.
    let lookup = format!(
        "/Users?aadOptscim062020&filter={}",
        enc(&format!("userName eq \"{user_name}\""))
    );
    assert_empty_list(&scim.get(&lookup).await);
    let created = scim
        .post("/Users?aadOptscim062020", &entra_user(&user_name))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(total(&scim.get(&lookup).await), 1);

    let patch = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let answer = scim.patch(&format!("/Users/{id}?aadOptscim062020"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["active"], json!(false));
    let patch = patch_op(json!([{"op": "replace", "value": {"active": true, "displayName": "Flagged"}}]));
    let answer = scim.patch(&format!("/Users/{id}?aadOptscim062020"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["active"], json!(true));
    assert_eq!(answer.body["displayName"], "Flagged");

    // Groups: the 2020 behaviour sends lower-case ops and filter paths for removal.
    let gid = scim.create_group(&unique("Flag Group")).await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    let answer = scim.patch(&format!("/Groups/{gid}?aadOptscim062020"), &add).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let got = scim.get(&format!("/Groups/{gid}?aadOptscim062020")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.body["members"][0]["value"], id.as_str());
    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]));
    let answer = scim
        .patch(&format!("/Groups/{gid}?aadOptscim062020"), &remove)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(scim.member_ids(&gid).await.is_empty());
    assert_eq!(
        scim.delete(&format!("/Users/{id}?aadOptscim062020")).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn excluded_members_leave_the_key_out_of_get_and_list() {
    let app = TestApp::new().await;
    let org = app.org("entra-excl").await;
    let scim = Scim::new(&app, &org);
    let uid = scim.create_user(&unique("member")).await;
    let name = unique("Excluded");
    let created = scim
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": uid}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_owned();
    let filter = enc(&format!("displayName eq \"{name}\""));

    // Without the parameter the members are there (so their absence below is the parameter's doing).
    let full = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(full.body["members"][0]["value"], uid.as_str());
    let full_list = scim.get(&format!("/Groups?filter={filter}")).await;
    assert_eq!(
        full_list.body["Resources"][0]["members"][0]["value"],
        uid.as_str()
    );

    let got = scim
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert!(got.body.get("members").is_none(), "{}", got.text);
    assert_eq!(got.body["displayName"], name.as_str());
    assert_eq!(got.body["id"], gid.as_str());

    let list = scim
        .get(&format!("/Groups?filter={filter}&excludedAttributes=members"))
        .await;
    assert_eq!(total(&list), 1);
    let resource = &list.body["Resources"][0];
    assert!(resource.get("members").is_none(), "{}", list.text);
    assert_eq!(resource["displayName"], name.as_str());
}

#[tokio::test]
async fn extra_schema_urns_and_capitalised_attribute_names_are_accepted() {
    let app = TestApp::new().await;
    let org = app.org("entra-urns").await;
    let scim = Scim::new(&app, &org);
    let user_name = unique("Capital");
    let custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE, custom],
        "UserName": user_name,
        "Active": "True",
        "DisplayName": "Capital Person",
        "ExternalId": "cap-ext",
        "Emails": [{"Primary": true, "Type": "work", "Value": "cap@example.com"}],
        custom: {"CustomAttribute": "ignored"}
    });
    let created = scim.post("/Users", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let uid = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["userName"], user_name.as_str());
    assert_eq!(created.body["displayName"], "Capital Person");
    assert_eq!(created.body["externalId"], "cap-ext");
    assert_eq!(created.body["active"], json!(true));
    assert_eq!(created.body["emails"][0]["value"], "cap@example.com");
    assert!(
        created.body.get(custom).is_none(),
        "unknown extensions are ignored: {}",
        created.text
    );
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{user_name}\""))
            .await,
        1
    );
    assert_eq!(
        scim.count_where("/Users", "emails.value eq \"cap@example.com\"")
            .await,
        1
    );

    let group_name = unique("Capital Group");
    let group = json!({
        "schemas": [GROUP_SCHEMA, "urn:ietf:params:scim:schemas:extension:Custom:2.0:Group"],
        "DisplayName": group_name,
        "ExternalId": "cap-group",
        "Members": [{"Value": uid, "$ref": null, "Display": "x"}]
    });
    let created = scim.post("/Groups", &group).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["displayName"], group_name.as_str());
    assert_eq!(created.body["externalId"], "cap-group");
    assert_eq!(scim.member_ids(&gid).await, vec![uid.clone()]);

    // A PATCH body may list extra URNs beside PatchOp, and capitalise its attribute names.
    let renamed = unique("Capital Renamed");
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp", "urn:example:extra"],
        "Operations": [{"op": "Replace", "path": "DisplayName", "value": renamed}]
    });
    let answer = scim.patch(&format!("/Groups/{gid}"), &patch).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(
        scim.get(&format!("/Groups/{gid}")).await.body["displayName"],
        renamed.as_str()
    );
    let patch = patch_op(
        json!([{"op": "Replace", "value": {"UserName": format!("{user_name}-2"), "DisplayName": "Renamed Person"}}]),
    );
    let answer = scim.patch(&format!("/Users/{uid}"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["userName"], format!("{user_name}-2"));
    assert_eq!(answer.body["displayName"], "Renamed Person");
}

#[tokio::test]
async fn null_refs_in_member_objects_are_accepted() {
    let app = TestApp::new().await;
    let org = app.org("entra-ref").await;
    let scim = Scim::new(&app, &org);
    let u1 = scim.create_user(&unique("r1")).await;
    let u2 = scim.create_user(&unique("r2")).await;
    let created = scim
        .post("/Groups", &json!({"schemas": [GROUP_SCHEMA], "displayName": unique("Refs"), "members": [{"value": u1, "$ref": null}]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_owned();
    let add = patch_op(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u2}]}]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &add).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let mut expected = vec![u1, u2];
    expected.sort();
    assert_eq!(scim.member_ids(&gid).await, expected);
}

#[tokio::test]
async fn pathless_replace_with_path_keys_sets_sub_and_extension_attributes() {
    let app = TestApp::new().await;
    let org = app.org("entra-pathkeys").await;
    let scim = Scim::new(&app, &org);
    let id = create_entra_user(&scim, &unique("keys")).await;

    let patch = patch_op(json!([{
        "op": "Replace",
        "value": {
            "name.givenName": "Barbara",
            format!("{ENTERPRISE}:department"): "Sales",
            "active": "False"
        }
    }]));
    let answer = scim.patch(&format!("/Users/{id}"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let user = scim.get(&format!("/Users/{id}")).await.body;
    assert_eq!(user["name"]["givenName"], "Barbara");
    assert_eq!(
        user["name"]["familyName"], "familyName",
        "the other name parts stay"
    );
    assert_eq!(user[ENTERPRISE]["department"], "Sales");
    assert_eq!(
        user[ENTERPRISE]["employeeNumber"], "42",
        "the other extension attributes stay"
    );
    assert_eq!(user["active"], json!(false));
    assert!(
        user.get("name.givenName").is_none(),
        "a path key is not stored as an attribute: {user}"
    );
}

#[tokio::test]
async fn replace_on_a_work_email_filter_adds_one_when_none_exists() {
    let app = TestApp::new().await;
    let org = app.org("entra-email").await;
    let scim = Scim::new(&app, &org);
    let uid = scim.create_user(&unique("noemail")).await;
    let address = format!("{}@example.com", unique("work"));

    let patch =
        patch_op(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": address}]));
    let answer = scim.patch(&format!("/Users/{uid}"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let emails = answer.body["emails"].as_array().expect("emails").clone();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0]["value"], address.as_str());
    assert_eq!(emails[0]["type"], "work");
    assert_eq!(
        scim.count_where("/Users", &format!("emails.value eq \"{address}\""))
            .await,
        1
    );
    // Entra's non-RFC filter finds it too.
    assert_eq!(
        scim.count_where(
            "/Users",
            &format!("emails[type eq \"work\"].value eq \"{address}\"")
        )
        .await,
        1
    );

    // Replacing again changes that address rather than adding a second one.
    let newer = format!("{}@example.com", unique("newer"));
    let patch =
        patch_op(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": newer}]));
    let answer = scim.patch(&format!("/Users/{uid}"), &patch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["emails"], json!([{"type": "work", "value": newer}]));
    assert_eq!(
        scim.count_where("/Users", &format!("emails.value eq \"{address}\""))
            .await,
        0
    );
}

#[tokio::test]
async fn membership_check_by_id_and_member_value() {
    let app = TestApp::new().await;
    let org = app.org("entra-check").await;
    let scim = Scim::new(&app, &org);
    let member = scim.create_user(&unique("in")).await;
    let outsider = scim.create_user(&unique("out")).await;
    let gid = scim.create_group(&unique("Checked")).await;
    let other_gid = scim.create_group(&unique("Other")).await;
    let add = patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": member}]}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    let add_outsider = patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": outsider}]}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{other_gid}"), &add_outsider)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let check = |g: &str, u: &str| {
        format!(
            "/Groups?filter={}&excludedAttributes=members",
            enc(&format!("id eq \"{g}\" and members[value eq \"{u}\"]"))
        )
    };
    let yes = scim.get(&check(&gid, &member)).await;
    assert_eq!(total(&yes), 1);
    assert_eq!(yes.body["Resources"][0]["id"], gid.as_str());
    assert!(yes.body["Resources"][0].get("members").is_none(), "{}", yes.text);
    assert_eq!(
        total(&scim.get(&check(&gid, &outsider)).await),
        0,
        "a member of another group is not a member"
    );
    assert_eq!(total(&scim.get(&check(&other_gid, &member)).await), 0);

    // After removal the check says no.
    let remove = patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": member}]}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &remove).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(total(&scim.get(&check(&gid, &member)).await), 0);
}

#[tokio::test]
async fn enterprise_manager_is_set_by_id_and_removed() {
    let app = TestApp::new().await;
    let org = app.org("entra-manager").await;
    let scim = Scim::new(&app, &org);
    let boss = create_entra_user(&scim, &unique("boss")).await;
    let id = create_entra_user(&scim, &unique("report")).await;
    // Entra sends the manager as the manager's id, not as {"value": id}.
    let set = patch_op(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss}]));
    let answer = scim.patch(&format!("/Users/{id}"), &set).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body[ENTERPRISE]["manager"]["value"], boss.as_str());
    assert_eq!(answer.body[ENTERPRISE]["department"], "Research");
    let remove = patch_op(json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}]));
    let answer = scim.patch(&format!("/Users/{id}"), &remove).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        answer.body[ENTERPRISE].get("manager").is_none(),
        "{}",
        answer.text
    );
    assert_eq!(answer.body[ENTERPRISE]["employeeNumber"], "42");
}
