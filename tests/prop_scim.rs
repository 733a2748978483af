//! Property-based tests of the pure protocol code (issue 6): whatever filter or PATCH document a
//! client sends, the parser and the PATCH engine never panic, and every refusal is a 4xx (a
//! filter's is a 400 `invalidFilter`). Inputs start from valid corpora and are mutated, plus
//! random ones. Cases: 256 by default, `PROPTEST_CASES=N` for more.

mod prop_common;

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use scimgate::scim::error::{ScimError, ScimType};
use scimgate::scim::filter::parse_filter;
use scimgate::scim::patch::{apply_user_patch, group_changes, parse_patch_request};
use scimgate::scim::query::ListRequest;
use scimgate::scim::user_doc::normalise_user;
use serde_json::{Map, Value, json};

use prop_common::{PATCH_PATHS, arb_json, config, mutated};

/// Filters a real IdP or the RFC would send, to be mutated.
const FILTERS: &[&str] = &[
    "userName eq \"bjensen\"",
    "displayName eq \"Engineering\"",
    "externalId eq \"00u1abc\" and active eq true",
    "emails[type eq \"work\" and value co \"@example.com\"]",
    "emails[type eq \"work\"].value eq \"a@b.c\"",
    "not (userName sw \"x\") or displayName pr",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName ew \"son\"",
    "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
    "((id eq \"1\") or (id eq \"2\")) and not (active eq false)",
    "name.familyName co \"O'Malley\"",
    "title pr and userType eq \"Employee\"",
    "x gt 1.5e3 or y le -2 or z eq null",
    "displayName eq \"\\u00e9\\\"quoted\\\\\"",
];

fn is_invalid_filter(e: &ScimError) -> bool {
    e.status == 400 && e.scim_type == Some(ScimType::InvalidFilter)
}

fn arb_filter() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => mutated(FILTERS),
        1 => ".{0,40}",
        1 => "[a-zA-Z()\\[\\]\" .:$\\\\-]{0,60}",
    ]
}

#[test]
fn filters_parse_or_fail_as_invalid_filter() {
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&arb_filter(), |filter| {
            // The parser alone: Ok, or an error with a bounded, single-line message.
            if let Err(e) = parse_filter(&filter) {
                prop_assert!(e.0.chars().count() <= 1100, "{} chars", e.0.len());
                prop_assert!(!e.0.contains('\n'));
            }
            // As a list request parameter: Ok, or 400 invalidFilter.
            let params = HashMap::from([("filter".to_owned(), filter.clone())]);
            if let Err(e) = ListRequest::parse(&params) {
                prop_assert!(is_invalid_filter(&e), "{filter:?}: {e:?}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn valid_corpus_filters_parse() {
    for filter in FILTERS {
        assert!(parse_filter(filter).is_ok(), "{filter}");
    }
}

/// `op` values: the RFC's, IdPs' capitalisations, and nonsense.
fn arb_op() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec!["add", "replace", "remove", "Add", "Replace", "REMOVE"])
            .prop_map(Value::from),
        1 => prop::sample::select(vec!["", "move", "copy", "test"]).prop_map(Value::from),
        1 => arb_json(),
    ]
}

/// Values shaped like what Okta and Entra send, or anything.
fn arb_value() -> impl Strategy<Value = Value> {
    let id = prop::sample::select(vec!["u1", "u2", "own", "", "bulkId:x", "\u{0}"]);
    prop_oneof![
        2 => prop::collection::vec(id.clone(), 0..4)
            .prop_map(|ids| json!(ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>())),
        1 => id.prop_map(|i| json!({"members": [{"value": i}]})),
        1 => ".{0,12}".prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(json!({"displayName": "Renamed", "externalId": "e1", "active": false})),
        1 => Just(json!({"name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "a@b.c", "type": "work", "primary": true}]})),
        1 => Just(json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}, "department": "D"}})),
        3 => arb_json(),
    ]
}

fn arb_operation() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        3 => mutated(PATCH_PATHS).prop_map(Value::from),
        1 => Just(Value::Null),
        1 => arb_json(),
    ];
    (
        arb_op(),
        prop::option::of(path),
        prop::option::of(arb_value()),
        any::<bool>(),
    )
        .prop_map(|(op, path, value, capital_keys)| {
            let key = |k: &str| {
                if capital_keys {
                    k.to_ascii_uppercase()
                } else {
                    k.to_owned()
                }
            };
            let mut m = Map::new();
            m.insert(key("op"), op);
            if let Some(p) = path {
                m.insert(key("path"), p);
            }
            if let Some(v) = value {
                m.insert(key("value"), v);
            }
            Value::Object(m)
        })
}

fn arb_patch_body() -> impl Strategy<Value = Value> {
    let schemas = prop_oneof![
        4 => Just(json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"])),
        1 => Just(Value::Null),
        1 => arb_json(),
    ];
    let operations = prop_oneof![
        6 => prop::collection::vec(arb_operation(), 0..6).prop_map(Value::Array),
        1 => arb_json(),
    ];
    prop_oneof![
        8 => (schemas, operations, any::<bool>()).prop_map(|(schemas, operations, entra)| {
            // Entra writes "Operations", some clients "operations".
            let key = if entra { "Operations" } else { "operations" };
            json!({"schemas": schemas, key: operations})
        }),
        1 => arb_json(),
    ]
}

/// A stored user document to apply PATCHes to.
fn user_doc() -> Map<String, Value> {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen@example.com",
        "externalId": "00u1",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour", "manager": {"value": "m1"}},
    });
    normalise_user(body.as_object().expect("object")).expect("a valid user")
}

fn is_4xx(e: &ScimError) -> bool {
    (400..500).contains(&e.status)
}

#[test]
fn patch_documents_are_applied_or_refused_with_a_4xx() {
    let doc = user_doc();
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&arb_patch_body(), |body| {
            let ops = match parse_patch_request(&body) {
                Ok(ops) => ops,
                Err(e) => {
                    prop_assert!(is_4xx(&e), "{body}: {e:?}");
                    return Ok(());
                }
            };
            if let Err(e) = group_changes(&ops, "own") {
                prop_assert!(is_4xx(&e), "{body}: {e:?}");
            }
            let mut patched = doc.clone();
            if let Err(e) = apply_user_patch(&mut patched, &ops) {
                prop_assert!(is_4xx(&e), "{body}: {e:?}");
            }
            Ok(())
        })
        .unwrap();
}
