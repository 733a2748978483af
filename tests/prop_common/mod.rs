//! Generators shared by the property-based tests: bounded case counts (overridable with
//! `PROPTEST_CASES`), arbitrary JSON, and mutations of valid inputs, which reach deeper into a
//! parser than purely random text.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

/// PATCH paths IdPs send, to be mutated.
pub const PATCH_PATHS: &[&str] = &[
    "members",
    "members[value eq \"u1\"]",
    "displayName",
    "externalId",
    "active",
    "userName",
    "name.givenName",
    "emails[type eq \"work\"].value",
    "emails[primary eq true]",
    "phoneNumbers[type eq \"mobile\"].value",
    "addresses[type eq \"work\"].locality",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "id",
    "meta.lastModified",
];

/// `default` cases, or `PROPTEST_CASES` when set (to run longer than CI does).
pub fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // Regressions are reported in the failure message; no files are written into tests/.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Characters that matter to the grammars, plus anything.
fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '(', ')', '[', ']', '"', '\\', ' ', '.', ':', '$', '-', '_', 'e', 'q', '0', '\u{0}', 'é', '\n',
        ]),
        1 => any::<char>(),
    ]
}

/// One edit: insert, delete or replace a character at a position.
#[derive(Debug, Clone)]
enum Edit {
    Insert(prop::sample::Index, char),
    Delete(prop::sample::Index),
    Replace(prop::sample::Index, char),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), arb_char()).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
        (any::<prop::sample::Index>(), arb_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            Edit::Insert(i, c) => {
                let at = i.index(chars.len() + 1);
                chars.insert(at, *c);
            }
            Edit::Delete(i) if !chars.is_empty() => {
                let at = i.index(chars.len());
                chars.remove(at);
            }
            Edit::Replace(i, c) if !chars.is_empty() => {
                let at = i.index(chars.len());
                chars[at] = *c;
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// An entry of `corpus` with zero to four character edits.
pub fn mutated(corpus: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::sample::select(corpus),
        prop::collection::vec(arb_edit(), 0..5),
    )
        .prop_map(|(text, edits)| apply(text, &edits))
}

/// Object keys: SCIM's own (in odd cases too) or anything.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "schemas", "Operations", "op", "path", "value", "members", "displayName", "userName",
            "externalId", "active", "emails", "name", "id", "meta", "$ref", "type", "primary",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z$.:\\[\\]]{0,10}",
    ]
}

/// Arbitrary JSON, a few levels deep.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}
