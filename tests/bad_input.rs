//! Bad input: each case is a 4xx SCIM Error (schemas Error, `status` as a string, the right
//! `scimType`, `application/scim+json`) and changes nothing; never a 500 (design §5).
mod common;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use common::{Answer, Scim, TestApp, assert_scim_error, enc, patch_op, unique};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

/// Everything a test's organization holds, to compare before and after a refused request.
async fn snapshot(scim: &Scim<'_>) -> (Value, Value) {
    let users = scim.get("/Users?sortBy=id").await;
    let groups = scim.get("/Groups?sortBy=id").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
    assert_eq!(groups.status, StatusCode::OK, "{}", groups.text);
    (users.body, groups.body)
}

/// A world to break: one user, one group holding it.
async fn world(scim: &Scim<'_>) -> (String, String) {
    let uid = scim.create_user(&unique("victim")).await;
    let gid = scim.create_group(&unique("Victims")).await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    (uid, gid)
}

/// A string of exactly `chars` characters that no other test uses.
fn name_of(chars: usize, filler: char) -> String {
    let mut s = unique("n");
    while s.chars().count() < chars {
        s.push(filler);
    }
    s
}

#[tokio::test]
async fn malformed_json_and_non_object_bodies_are_invalid_syntax() {
    let app = TestApp::new().await;
    let org = app.org("badjson").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;

    let bodies: [&[u8]; 6] = [
        b"{\"displayName\": ",
        b"{\"userName\": \"x\",}",
        b"not json at all",
        b"",
        b"\xff\xfe{}",
        b"{\"displayName\": \"a\"} trailing",
    ];
    for body in bodies {
        for (method, path) in [
            (Method::POST, "/Users".to_owned()),
            (Method::POST, "/Groups".to_owned()),
            (Method::PUT, format!("/Users/{uid}")),
            (Method::PUT, format!("/Groups/{gid}")),
            (Method::PATCH, format!("/Users/{uid}")),
            (Method::PATCH, format!("/Groups/{gid}")),
        ] {
            let answer = scim.send_bytes(method.clone(), &path, body.to_vec()).await;
            assert_scim_error(&answer, 400, Some("invalidSyntax"));
        }
    }
    for body in [
        json!([{"displayName": "x", "userName": "x"}]),
        json!("a string"),
        json!(42),
        json!(null),
    ] {
        for (method, path) in [
            (Method::POST, "/Users".to_owned()),
            (Method::POST, "/Groups".to_owned()),
            (Method::PUT, format!("/Users/{uid}")),
            (Method::PUT, format!("/Groups/{gid}")),
            (Method::PATCH, format!("/Users/{uid}")),
            (Method::PATCH, format!("/Groups/{gid}")),
        ] {
            let answer = scim.send_with(method.clone(), &path, Some(&body), &[]).await;
            assert_scim_error(&answer, 400, Some("invalidSyntax"));
        }
    }
    // Deeply nested JSON cannot exhaust the stack: it is refused as bad syntax.
    let deep = format!(
        "{{\"userName\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_patch = format!(
        "{{\"Operations\": [{{\"op\": \"add\", \"path\": \"members\", \"value\": {}{{}}{}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for (method, path, body) in [
        (Method::POST, "/Users".to_owned(), deep.clone()),
        (
            Method::POST,
            "/Groups".to_owned(),
            deep.replace("userName", "displayName"),
        ),
        (Method::PATCH, format!("/Groups/{gid}"), deep_patch.clone()),
        (Method::PATCH, format!("/Users/{uid}"), deep_patch),
    ] {
        let answer = scim.send_bytes(method, &path, body.into_bytes()).await;
        assert_scim_error(&answer, 400, Some("invalidSyntax"));
    }
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}

#[tokio::test]
async fn wrong_types_are_invalid_value() {
    let app = TestApp::new().await;
    let org = app.org("types").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;

    for body in [
        json!({"userName": 5}),
        json!({"userName": ["a"]}),
        json!({"userName": unique("t"), "active": "maybe"}),
        json!({"userName": unique("t"), "active": 1}),
        json!({"userName": unique("t"), "emails": "x@example.com"}),
        json!({"userName": unique("t"), "name": "Jane"}),
        json!({"userName": unique("t"), "externalId": 7}),
        json!({"userName": unique("t"), "displayName": {}}),
        json!({"active": true}),
    ] {
        assert_scim_error(&scim.post("/Users", &body).await, 400, Some("invalidValue"));
        assert_scim_error(
            &scim.put(&format!("/Users/{uid}"), &body).await,
            400,
            Some("invalidValue"),
        );
    }
    for body in [
        json!({"displayName": {}}),
        json!({"displayName": 5}),
        json!({"displayName": unique("T"), "members": "x"}),
        json!({"displayName": unique("T"), "members": [{"display": "no value"}]}),
        json!({"displayName": unique("T"), "members": [{"value": 5}]}),
        json!({"displayName": unique("T"), "externalId": {}}),
        json!({"members": []}),
    ] {
        assert_scim_error(&scim.post("/Groups", &body).await, 400, Some("invalidValue"));
        assert_scim_error(
            &scim.put(&format!("/Groups/{gid}"), &body).await,
            400,
            Some("invalidValue"),
        );
    }
    for op in [
        json!({"op": "replace", "path": "active", "value": "maybe"}),
        json!({"op": "replace", "path": "userName", "value": 5}),
        json!({"op": "replace", "value": {"active": "maybe"}}),
        json!({"op": "replace", "path": "emails", "value": "x"}),
        json!({"op": "replace", "value": "not an object"}),
    ] {
        assert_scim_error(
            &scim.patch(&format!("/Users/{uid}"), &patch_op(json!([op]))).await,
            400,
            Some("invalidValue"),
        );
    }
    for op in [
        json!({"op": "replace", "path": "displayName", "value": {}}),
        json!({"op": "add", "path": "members", "value": "x"}),
        json!({"op": "add", "path": "members", "value": [{"value": 5}]}),
        json!({"op": "replace", "value": {"displayName": 5}}),
    ] {
        assert_scim_error(
            &scim
                .patch(&format!("/Groups/{gid}"), &patch_op(json!([op])))
                .await,
            400,
            Some("invalidValue"),
        );
    }
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}

#[tokio::test]
async fn blank_display_names_are_invalid_value() {
    let app = TestApp::new().await;
    let org = app.org("blank").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;
    for blank in ["", "   ", "\t\n"] {
        display_name_refused_everywhere(&scim, &gid, blank).await;
        let okta = patch_op(json!([{"op": "replace", "value": {"id": gid, "displayName": blank}}]));
        assert_scim_error(
            &scim.patch(&format!("/Groups/{gid}"), &okta).await,
            400,
            Some("invalidValue"),
        );
        assert_scim_error(
            &scim.post("/Users", &json!({"userName": blank})).await,
            400,
            Some("invalidValue"),
        );
        let user = patch_op(json!([{"op": "replace", "path": "userName", "value": blank}]));
        assert_scim_error(
            &scim.patch(&format!("/Users/{uid}"), &user).await,
            400,
            Some("invalidValue"),
        );
    }
    // Removing the required names is refused too.
    let remove = patch_op(json!([{"op": "remove", "path": "displayName"}]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &remove).await;
    assert!(answer.status.is_client_error(), "{}", answer.text);
    assert_eq!(answer.body["status"], answer.status.as_u16().to_string());
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}

/// A display name is refused with 400 invalidValue by create, PUT and PATCH alike.
async fn display_name_refused_everywhere(scim: &Scim<'_>, gid: &str, name: &str) {
    let create = scim.post("/Groups", &json!({"displayName": name})).await;
    assert_scim_error(&create, 400, Some("invalidValue"));
    let put = scim
        .put(&format!("/Groups/{gid}"), &json!({"displayName": name}))
        .await;
    assert_scim_error(&put, 400, Some("invalidValue"));
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": name}]));
    assert_scim_error(
        &scim.patch(&format!("/Groups/{gid}"), &rename).await,
        400,
        Some("invalidValue"),
    );
}

#[tokio::test]
async fn names_longer_than_256_characters_are_invalid_value() {
    let app = TestApp::new().await;
    let org = app.org("long").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;

    // 257 characters (multi-byte ones too) are refused everywhere a name is written.
    for filler in ['x', '\u{e9}'] {
        let long = name_of(257, filler);
        assert_eq!(long.chars().count(), 257);
        display_name_refused_everywhere(&scim, &gid, &long).await;
        let group_ext = json!({"displayName": unique("Ext"), "externalId": long});
        assert_scim_error(&scim.post("/Groups", &group_ext).await, 400, Some("invalidValue"));
        let ext_patch = patch_op(json!([{"op": "replace", "path": "externalId", "value": long}]));
        assert_scim_error(
            &scim.patch(&format!("/Groups/{gid}"), &ext_patch).await,
            400,
            Some("invalidValue"),
        );
        assert_scim_error(
            &scim.post("/Users", &json!({"userName": long})).await,
            400,
            Some("invalidValue"),
        );
        let user_ext = json!({"userName": unique("u"), "externalId": long});
        assert_scim_error(&scim.post("/Users", &user_ext).await, 400, Some("invalidValue"));
        let user_dn = json!({"userName": unique("u"), "displayName": long});
        assert_scim_error(&scim.post("/Users", &user_dn).await, 400, Some("invalidValue"));
        let rename_user = patch_op(json!([{"op": "replace", "path": "userName", "value": long}]));
        assert_scim_error(
            &scim.patch(&format!("/Users/{uid}"), &rename_user).await,
            400,
            Some("invalidValue"),
        );
        assert_scim_error(
            &scim
                .put(&format!("/Users/{uid}"), &json!({"userName": long}))
                .await,
            400,
            Some("invalidValue"),
        );
    }
    assert_eq!(snapshot(&scim).await, before, "nothing changed");

    // Exactly 256 characters are fine.
    for filler in ['x', '\u{e9}'] {
        let name = name_of(256, filler);
        let ext = name_of(256, filler);
        let group = scim
            .post("/Groups", &json!({"displayName": name, "externalId": ext}))
            .await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
        assert_eq!(group.body["displayName"], name.as_str());
        let user = scim
            .post(
                "/Users",
                &json!({"userName": name, "externalId": ext, "displayName": name}),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", user.text);
        assert_eq!(user.body["userName"], name.as_str());
        assert_eq!(
            scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
                .await,
            1
        );
    }
    let renamed = name_of(256, 'y');
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": renamed}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &rename).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn unknown_patch_paths_are_invalid_path() {
    let app = TestApp::new().await;
    let org = app.org("paths").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;

    for path in [
        "nickname",
        "description",
        "members.display",
        "displayName.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "members[value eq",
        "members[",
        "]",
    ] {
        let op = patch_op(json!([{"op": "replace", "path": path, "value": "x"}]));
        assert_scim_error(
            &scim.patch(&format!("/Groups/{gid}"), &op).await,
            400,
            Some("invalidPath"),
        );
    }
    for path in [
        "favouriteColour",
        "name.middleInitial",
        "emails[type eq \"work\"].colour",
        "urn:example:custom:2.0:User:thing",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize",
        "userName.first",
        "emails[type eq",
    ] {
        let op = patch_op(json!([{"op": "replace", "path": path, "value": "x"}]));
        assert_scim_error(
            &scim.patch(&format!("/Users/{uid}"), &op).await,
            400,
            Some("invalidPath"),
        );
    }
    // Member filters other than `value eq` terms cannot be honoured: invalidFilter.
    for path in [
        "members[display eq \"x\"]",
        "members[value co \"x\"]",
        "members[value eq \"x\" and value eq \"y\"]",
    ] {
        let op = patch_op(json!([{"op": "remove", "path": path}]));
        assert_scim_error(
            &scim.patch(&format!("/Groups/{gid}"), &op).await,
            400,
            Some("invalidFilter"),
        );
    }
    // A valid operation before a bad path is not applied either: PATCH is atomic.
    let mixed = patch_op(json!([
        {"op": "replace", "path": "displayName", "value": unique("Half Done")},
        {"op": "remove", "path": format!("members[value eq \"{uid}\"]")},
        {"op": "replace", "path": "nickname", "value": "x"}
    ]));
    assert_scim_error(
        &scim.patch(&format!("/Groups/{gid}"), &mixed).await,
        400,
        Some("invalidPath"),
    );
    let mixed = patch_op(json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "favouriteColour", "value": "x"}
    ]));
    assert_scim_error(
        &scim.patch(&format!("/Users/{uid}"), &mixed).await,
        400,
        Some("invalidPath"),
    );
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}

#[tokio::test]
async fn malformed_patch_requests_are_refused() {
    let app = TestApp::new().await;
    let org = app.org("patchshape").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;
    let schemas = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);

    let cases = [
        (json!({"schemas": schemas}), "invalidSyntax"),
        (
            json!({"schemas": schemas, "Operations": {"op": "add"}}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": schemas, "Operations": ["add"]}),
            "invalidSyntax",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [{"op": "add", "path": "displayName", "value": "x"}]}),
            "invalidSyntax",
        ),
        (
            patch_op(json!([{"op": "upsert", "path": "displayName", "value": "x"}])),
            "invalidSyntax",
        ),
        (
            patch_op(json!([{"op": 3, "path": "displayName", "value": "x"}])),
            "invalidSyntax",
        ),
        (
            patch_op(json!([{"path": "displayName", "value": "x"}])),
            "invalidSyntax",
        ),
        (patch_op(json!([])), "invalidValue"),
        (
            patch_op(json!([{"op": "add", "path": "displayName"}])),
            "invalidValue",
        ),
        (patch_op(json!([{"op": "remove"}])), "noTarget"),
        (
            patch_op(json!([{"op": "replace", "path": 5, "value": "x"}])),
            "invalidPath",
        ),
    ];
    for (body, scim_type) in &cases {
        for path in [format!("/Users/{uid}"), format!("/Groups/{gid}")] {
            let answer = scim.patch(&path, body).await;
            assert_scim_error(&answer, 400, Some(scim_type));
        }
    }
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}

#[tokio::test]
async fn more_than_1000_operations_are_refused_and_1000_are_fine() {
    let app = TestApp::new().await;
    let org = app.org("manyops").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;
    let rename = |name: &str, n: usize| {
        patch_op(Value::Array(vec![
            json!({"op": "replace", "path": "displayName", "value": name});
            n
        ]))
    };
    let too_many_name = unique("Too Many");
    let answer = scim
        .patch(&format!("/Groups/{gid}"), &rename(&too_many_name, 1001))
        .await;
    assert_scim_error(&answer, 400, Some("invalidValue"));
    assert!(
        answer.body["detail"].as_str().unwrap().contains("1000"),
        "{}",
        answer.text
    );
    let user_ops = patch_op(Value::Array(vec![
        json!({"op": "replace", "path": "active", "value": false});
        1001
    ]));
    assert_scim_error(
        &scim.patch(&format!("/Users/{uid}"), &user_ops).await,
        400,
        Some("invalidValue"),
    );
    assert_eq!(snapshot(&scim).await, before, "nothing changed");

    let fine = unique("Enough");
    let answer = scim.patch(&format!("/Groups/{gid}"), &rename(&fine, 1000)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(
        scim.get(&format!("/Groups/{gid}")).await.body["displayName"],
        fine.as_str()
    );
}

#[tokio::test]
async fn filters_that_do_not_parse_are_invalid_filter() {
    let app = TestApp::new().await;
    let org = app.org("badfilter").await;
    let scim = Scim::new(&app, &org);
    world(&scim).await;

    let long = format!("userName eq \"{}\"", "x".repeat(4200));
    let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
    let nots = format!("{}userName pr{}", "not (".repeat(40), ")".repeat(40));
    let brackets = format!("emails[{}type eq \"work\"{}]", "(".repeat(40), ")".repeat(40));
    let many_terms = vec!["userName pr"; 60].join(" or ");
    let unclosed = "(".repeat(10_000);
    let cases: Vec<&str> = vec![
        "userName eq",
        "userName eq \"x",
        "userName eq 'x'",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "userName zz \"x\"",
        "userName",
        "and",
        "userName eq \"x\" and",
        "userName eq \"x\" userName eq \"y\"",
        "emails[type eq \"work\"",
        "emails[]",
        "userName eq bareword",
        "not userName eq \"x\"",
        "\"x\" eq userName",
        "active eq \"maybe\"",
        "meta.lastModified gt \"yesterday\"",
        &long,
        &deep,
        &nots,
        &brackets,
        &many_terms,
        &unclosed,
    ];
    for filter in cases {
        for resource in ["/Users", "/Groups"] {
            let answer = scim.get(&format!("{resource}?filter={}", enc(filter))).await;
            assert_scim_error(&answer, 400, Some("invalidFilter"));
        }
    }
    // Sanity: the limits are limits, not the grammar failing on everything.
    let fine = format!("{}userName pr{}", "(".repeat(10), ")".repeat(10));
    assert_eq!(
        scim.get(&format!("/Users?filter={}", enc(&fine))).await.status,
        StatusCode::OK
    );
    let fine_terms = vec!["userName pr"; 40].join(" or ");
    assert_eq!(
        scim.get(&format!("/Users?filter={}", enc(&fine_terms)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_but_large_group_writes_fit() {
    let app = TestApp::new().await;
    let org = app.org("sizes").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;
    // Valid JSON whose size comes from an ignored attribute.
    let padded = |mut body: Value, bytes: usize| {
        body["padding"] = json!("p".repeat(bytes));
        serde_json::to_vec(&body).unwrap()
    };

    let user = json!({"userName": unique("huge")});
    for (method, path) in [
        (Method::POST, "/Users".to_owned()),
        (Method::PUT, format!("/Users/{uid}")),
    ] {
        let answer = scim
            .send_bytes(method, &path, padded(user.clone(), MIB + 10))
            .await;
        assert_scim_error(&answer, 413, None);
    }
    let user_patch = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let answer = scim
        .send_bytes(
            Method::PATCH,
            &format!("/Users/{uid}"),
            padded(user_patch.clone(), MIB + 10),
        )
        .await;
    assert_scim_error(&answer, 413, None);
    assert_eq!(
        snapshot(&scim).await,
        before,
        "the refused user writes changed nothing"
    );
    // Just under the limit is fine.
    let fits = scim
        .send_bytes(
            Method::PATCH,
            &format!("/Users/{uid}"),
            padded(user_patch, MIB - 1024),
        )
        .await;
    assert_eq!(fits.status, StatusCode::OK, "{}", fits.text);
    assert_eq!(fits.body["active"], false);
    let before = snapshot(&scim).await;

    // A whole-group PUT of about 2 MiB is accepted (wizard-built Okta apps send those).
    let group_name = scim.get(&format!("/Groups/{gid}")).await.body["displayName"].clone();
    let big_put = padded(
        json!({"displayName": group_name, "members": [{"value": uid, "display": "x"}]}),
        2 * MIB,
    );
    let answer = scim
        .send_bytes(Method::PUT, &format!("/Groups/{gid}"), big_put)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let new_group = unique("Big Post");
    let big_post = padded(json!({"displayName": new_group}), 2 * MIB);
    let answer = scim.send_bytes(Method::POST, "/Groups", big_post).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let big_gid = answer.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        scim.delete(&format!("/Groups/{big_gid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        snapshot(&scim).await.1["Resources"],
        before.1["Resources"],
        "the large PUT was a no-op"
    );

    // Beyond 16 MiB a group write is 413 too.
    let too_big = 16 * MIB + 10;
    let answer = scim
        .send_bytes(
            Method::PUT,
            &format!("/Groups/{gid}"),
            padded(json!({"displayName": unique("Too Big")}), too_big),
        )
        .await;
    assert_scim_error(&answer, 413, None);
    let answer = scim
        .send_bytes(
            Method::POST,
            "/Groups",
            padded(json!({"displayName": unique("Too Big")}), too_big),
        )
        .await;
    assert_scim_error(&answer, 413, None);
    let group_patch = patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("Too Big")}]));
    let answer = scim
        .send_bytes(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            padded(group_patch, too_big),
        )
        .await;
    assert_scim_error(&answer, 413, None);
    let (users_after, groups_after) = snapshot(&scim).await;
    assert_eq!(users_after["Resources"], before.0["Resources"]);
    assert_eq!(groups_after["Resources"], before.1["Resources"]);
}

#[tokio::test]
async fn bad_if_match_headers_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let org = app.org("ifmatch-bad").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("Renamed")}]));

    // Not a valid header string at all (obs-text bytes): 400.
    for (method, path, body) in [
        (Method::PATCH, format!("/Groups/{gid}"), Some(rename.clone())),
        (Method::DELETE, format!("/Groups/{gid}"), None),
        (Method::DELETE, format!("/Users/{uid}"), None),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", org.base()))
            .header("authorization", format!("Bearer {}", org.token))
            .header("content-type", "application/scim+json")
            .header("if-match", HeaderValue::from_bytes(b"W/\"\xff\"").unwrap());
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let answer: Answer = app.raw(request.body(body).unwrap()).await;
        assert_scim_error(&answer, 400, Some("invalidValue"));
    }
    // Garbage that cannot name any version: 412.
    for tag in ["garbage", "W/\"\"", "\"-1\"", "W/\"1.5\""] {
        let answer = scim
            .send_with(
                Method::PATCH,
                &format!("/Groups/{gid}"),
                Some(&rename),
                &[("if-match", tag)],
            )
            .await;
        assert_scim_error(&answer, 412, None);
        let answer = scim
            .send_with(
                Method::DELETE,
                &format!("/Users/{uid}"),
                None,
                &[("if-match", tag)],
            )
            .await;
        assert_scim_error(&answer, 412, None);
    }
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}

#[tokio::test]
async fn bad_list_parameters_are_invalid_value() {
    let app = TestApp::new().await;
    let org = app.org("badparams").await;
    let scim = Scim::new(&app, &org);
    world(&scim).await;
    for query in [
        "startIndex=abc",
        "startIndex=1.5",
        "count=ten",
        "count=99999999999999999999999",
        "sortOrder=sideways",
        "sortBy=%5Bbad",
        "attributes=%5Bbad",
        "excludedAttributes=a%20b",
    ] {
        for resource in ["/Users", "/Groups"] {
            let answer = scim.get(&format!("{resource}?{query}")).await;
            assert_scim_error(&answer, 400, Some("invalidValue"));
        }
    }
    // RFC 7644 §3.4.2.4: out-of-range values are clamped, not errors.
    for query in ["startIndex=0", "startIndex=-3", "count=-1"] {
        let answer = scim.get(&format!("/Users?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.text);
        assert_eq!(answer.body["startIndex"], 1);
    }
    // The largest startIndex and count there are: an empty page, not a database error.
    for resource in ["/Users", "/Groups"] {
        let answer = scim
            .get(&format!(
                "{resource}?startIndex=9223372036854775807&count=9223372036854775807"
            ))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.body["totalResults"], 1);
        assert_eq!(answer.body["itemsPerPage"], 0);
    }
}

#[tokio::test]
async fn unknown_ids_and_endpoints_are_404_scim_errors() {
    let app = TestApp::new().await;
    let org = app.org("unknown").await;
    let scim = Scim::new(&app, &org);
    let (uid, gid) = world(&scim).await;
    let before = snapshot(&scim).await;
    let missing = uuid::Uuid::now_v7().to_string();
    for path in [
        format!("/Users/{missing}"),
        format!("/Groups/{missing}"),
        "/Widgets".to_owned(),
        format!("/Widgets/{uid}"),
    ] {
        assert_scim_error(&scim.get(&path).await, 404, None);
        assert_scim_error(&scim.delete(&path).await, 404, None);
    }
    let patch = patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("Ghost")}]));
    assert_scim_error(
        &scim.patch(&format!("/Groups/{missing}"), &patch).await,
        404,
        None,
    );
    assert_scim_error(
        &scim
            .put(
                &format!("/Groups/{missing}"),
                &json!({"displayName": unique("Ghost")}),
            )
            .await,
        404,
        None,
    );
    assert_scim_error(
        &scim
            .put(
                &format!("/Users/{missing}"),
                &json!({"userName": unique("ghost")}),
            )
            .await,
        404,
        None,
    );
    // Methods an endpoint does not take are SCIM errors too, not a bare 405.
    for (method, path) in [
        (Method::DELETE, "/Users".to_owned()),
        (Method::PUT, "/Groups".to_owned()),
        (Method::PATCH, "/Users".to_owned()),
        (Method::POST, format!("/Groups/{gid}")),
        (Method::DELETE, "/ServiceProviderConfig".to_owned()),
    ] {
        let answer = scim
            .send_with(method, &path, Some(&json!({"displayName": unique("Nope")})), &[])
            .await;
        assert_scim_error(&answer, 405, None);
    }
    // A group id is not a user id, and the other way round.
    assert_scim_error(&scim.get(&format!("/Users/{gid}")).await, 404, None);
    assert_scim_error(&scim.get(&format!("/Groups/{uid}")).await, 404, None);
    assert_eq!(snapshot(&scim).await, before, "nothing changed");
}
