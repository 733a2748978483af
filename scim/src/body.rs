//! Request bodies as JSON, with two rules. A `/Groups` body (up to 16 MiB) is never held as a
//! tree of the whole document: a pruning reader keeps only what the group parser and the PATCH
//! engine read (names compared case-insensitively, RFC 7643 §2.1) and skips the rest, so an
//! ignored attribute costs its bytes once, not the ~37× a `serde_json::Value` tree costs. And no
//! string of any SCIM write body, keys included, may hold U+0000 (PostgreSQL refuses it in text,
//! SQLite would store it): such a body is a 400 `invalidValue` naming where, on every database.
//!
//! What the reader keeps is a small `Value` that `parse_group` and `parse_patch_request` read
//! exactly as they read the whole document: kept keys keep their spelling and order, a value
//! they would refuse for its type becomes a stand-in they refuse with the same message, and a
//! list stops being kept where its parser would stop reading it.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::patch::{
    MAX_OPERATIONS, PATCH_OP_SCHEMA, PatchOperation, parse_patch_request, too_many_operations,
};
use super::resource::{CHECKED_MEMBER, GroupInput, member_id, parse_group};

/// Longest excerpt of a location named in an error (error details echo input only in short).
const MAX_SHOWN: usize = 120;

/// A JSON body as a whole tree, for bodies that are small (at most 1 MiB) or read whole anyway.
pub fn json(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_str(text(bytes)?).map_err(not_json)
}

/// A write body as a whole tree (Users), refused when a string or key holds U+0000.
pub fn write_tree(bytes: &[u8]) -> Result<Value, ScimError> {
    let value = json(bytes)?;
    let mut at = String::new();
    match find_nul(&value, &mut at) {
        Some(place) => Err(nul_error(&place)),
        None => Ok(value),
    }
}

/// A POST or PUT `/Groups` body, read (pruned) into its group; the body's bytes are let go
/// before its member ids are copied out, so the two are never held together.
pub fn group(bytes: Vec<u8>) -> Result<GroupInput, ScimError> {
    let (kept, _) = pruned(&bytes, Keep::GroupRoot)?;
    drop(bytes);
    parse_group(&kept)
}

/// A Group body that is part of a larger document (a Bulk operation's `data`), read as [`group`].
pub fn group_in(bytes: &[u8]) -> Result<GroupInput, ScimError> {
    parse_group(&pruned(bytes, Keep::GroupRoot)?.0)
}

/// A PATCH `/Groups` body, pruned and parsed into its operations (the bytes let go first).
pub fn group_patch(bytes: Vec<u8>) -> Result<Vec<PatchOperation>, ScimError> {
    let pruned = pruned(&bytes, Keep::PatchRoot)?;
    drop(bytes);
    patch_operations(pruned)
}

/// A PATCH `/Groups` body that is part of a larger document (a Bulk operation's `data`).
pub fn group_patch_in(bytes: &[u8]) -> Result<Vec<PatchOperation>, ScimError> {
    patch_operations(pruned(bytes, Keep::PatchRoot)?)
}

fn patch_operations((body, operations): (Value, usize)) -> Result<Vec<PatchOperation>, ScimError> {
    match parse_patch_request(&body) {
        // The reader kept one operation too many and counted the rest: name the real count.
        Err(e) if operations > MAX_OPERATIONS && e == too_many_operations(MAX_OPERATIONS + 1) => {
            Err(too_many_operations(operations))
        }
        other => other,
    }
}

pub(crate) fn text(bytes: &[u8]) -> Result<&str, ScimError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "The request body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

pub(crate) fn not_json(e: serde_json::Error) -> ScimError {
    ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}"))
}

fn nul_error(place: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "{} contains a NUL character (U+0000), which no attribute may hold",
        excerpt(place)
    ))
}

fn excerpt(place: &str) -> String {
    if place.chars().count() <= MAX_SHOWN {
        return place.to_owned();
    }
    let head: String = place.chars().take(MAX_SHOWN).collect();
    format!("{head}…")
}

/// Ends a run of checked member items: one string in the kept list stands for all of them.
fn keep_checked(checked: &mut String, kept: &mut Vec<Value>) {
    if !checked.is_empty() {
        checked.shrink_to_fit();
        kept.push(Value::String(std::mem::take(checked)));
    }
}

/// Where the first NUL of a tree is, as `a.b[2].c` (an attribute name with one is shown escaped).
fn find_nul(value: &Value, at: &mut String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(shown(at)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = at.len();
            at.push_str(&format!("[{i}]"));
            let found = find_nul(item, at);
            at.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let len = at.len();
            if !at.is_empty() {
                at.push('.');
            }
            if key.contains('\0') {
                at.push_str(&key.escape_debug().to_string());
                return Some(format!("the attribute name {}", shown(at)));
            }
            at.push_str(key);
            let found = find_nul(item, at);
            at.truncate(len);
            found
        }),
        _ => None,
    }
}

fn shown(at: &str) -> String {
    if at.is_empty() {
        "the body".to_owned()
    } else {
        at.to_owned()
    }
}

/// Reads `bytes` keeping what `root` says; also answers how many PATCH operations were listed.
fn pruned(bytes: &[u8], root: Keep) -> Result<(Value, usize), ScimError> {
    let text = text(bytes)?;
    let ctx = Ctx {
        nul: Cell::new(None),
        operations: Cell::new(0),
    };
    let mut reader = serde_json::Deserializer::from_str(text);
    let seed = Prune {
        keep: root,
        at: &At::Root,
        ctx: &ctx,
    };
    let result = seed.deserialize(&mut reader).and_then(|kept| {
        reader.end()?;
        Ok(kept)
    });
    if let Some(place) = ctx.nul.take() {
        return Err(nul_error(&place));
    }
    let kept = result.map_err(not_json)?.unwrap_or(Value::Null);
    Ok((kept, ctx.operations.get()))
}

/// What the reader keeps of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Nothing (the value is still checked: well-formed, no NUL).
    Ignore,
    /// Scalars as they are; a list or object becomes `false`, refused as "not a string" alike.
    Scalar,
    /// A Group body: `displayName`, `externalId`, `members`.
    GroupRoot,
    /// Member values (`member_ids`): a list of member objects, or one; within a list, nothing
    /// after the first item `member_ids` refuses.
    Members,
    /// One member: its `value`.
    MemberItem,
    /// A PATCH operation's value: members (as [`Keep::Members`]) or, without a path, attributes
    /// by name, of which the group attributes are kept.
    OpValue,
    /// A PATCH body: `schemas`, `Operations`.
    PatchRoot,
    /// `schemas` of a PATCH body: only a PatchOp URN matters.
    Schemas,
    /// `Operations`: the first `MAX_OPERATIONS + 1`, all counted.
    Operations,
    /// One operation: `op`, `path`, `value`.
    Operation,
}

impl Keep {
    /// What to keep of the value under `key` of an object kept as `self`.
    fn under(self, key: &str) -> Keep {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        match self {
            Keep::GroupRoot if is("displayName") || is("externalId") => Keep::Scalar,
            Keep::GroupRoot if is("members") => Keep::Members,
            Keep::Members | Keep::MemberItem if is("value") => Keep::Scalar,
            Keep::OpValue if is("value") => Keep::Scalar,
            // A superset of the keys PATCH reads as group attributes (`members[value eq "x"]`,
            // URN-qualified names): the engine skips the others as it would in the whole body.
            Keep::OpValue if names_group_attribute(key) => Keep::OpValue,
            Keep::PatchRoot if is("schemas") => Keep::Schemas,
            Keep::PatchRoot if is("Operations") => Keep::Operations,
            Keep::Operation if is("op") || is("path") => Keep::Scalar,
            Keep::Operation if is("value") => Keep::OpValue,
            _ => Keep::Ignore,
        }
    }

    /// What a list becomes when kept as `self` is not a list at all: a stand-in of the same
    /// standing for the parsers (a non-object for a body, a non-string for a scalar).
    fn list_stand_in(self) -> Option<Value> {
        match self {
            Keep::Ignore => None,
            Keep::GroupRoot | Keep::PatchRoot => Some(Value::Array(Vec::new())),
            _ => Some(Value::Bool(false)),
        }
    }
}

fn names_group_attribute(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["displayname", "externalid", "members"]
        .iter()
        .any(|name| key.contains(name))
}

/// What the reader learns besides the kept value.
struct Ctx {
    /// Where the first NUL was found.
    nul: Cell<Option<String>>,
    /// Operations listed in a PATCH body.
    operations: Cell<usize>,
}

/// Where a value sits in the document, for error messages.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => {
                let parent = parent.render();
                if parent.is_empty() {
                    (*key).to_owned()
                } else {
                    format!("{parent}.{key}")
                }
            }
            At::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// Reads one value, keeping what `keep` says.
struct Prune<'a> {
    keep: Keep,
    at: &'a At<'a>,
    ctx: &'a Ctx,
}

impl Prune<'_> {
    fn scalar(&self, value: Value) -> Option<Value> {
        (self.keep != Keep::Ignore).then_some(value)
    }

    fn nul<E: de::Error>(&self, place: String) -> E {
        self.ctx.nul.set(Some(place));
        E::custom("NUL character")
    }
}

impl<'de> DeserializeSeed<'de> for Prune<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Prune<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.scalar(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.scalar(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.scalar(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.scalar(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.contains('\0') {
            return Err(self.nul(shown(&self.at.render())));
        }
        if self.keep == Keep::Ignore {
            return Ok(None);
        }
        Ok(Some(Value::String(v.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.scalar(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let item_keep = match self.keep {
            Keep::Members | Keep::OpValue => Keep::MemberItem,
            Keep::Schemas => Keep::Scalar,
            Keep::Operations => Keep::Operation,
            _ => Keep::Ignore,
        };
        let mut kept = Vec::new();
        // Member items read and found valid since the last item kept as it is (see `CHECKED_MEMBER`).
        let mut checked = String::new();
        // Whether later items can still matter to the parser reading this list.
        let mut reading = item_keep != Keep::Ignore;
        let mut index = 0usize;
        loop {
            let at = At::Index(self.at, index);
            let seed = Prune {
                keep: if reading { item_keep } else { Keep::Ignore },
                at: &at,
                ctx: self.ctx,
            };
            let Some(item) = seq.next_element_seed(seed)? else {
                break;
            };
            index += 1;
            let Some(item) = item else { continue };
            match self.keep {
                Keep::Members | Keep::OpValue => match member_id(index - 1, &item) {
                    Ok(Some(id)) => {
                        checked.push(CHECKED_MEMBER);
                        checked.push_str(id);
                    }
                    Ok(None) => checked.push(CHECKED_MEMBER),
                    Err(_) => {
                        keep_checked(&mut checked, &mut kept);
                        // `member_ids` stops at the first item it refuses.
                        reading = false;
                        kept.push(item);
                    }
                },
                Keep::Schemas => {
                    // Only whether a PatchOp URN is listed matters: keep the first one.
                    if item
                        .as_str()
                        .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                    {
                        kept.push(item);
                        reading = false;
                    }
                }
                _ => {
                    kept.push(item);
                    reading = kept.len() <= MAX_OPERATIONS;
                }
            }
        }
        keep_checked(&mut checked, &mut kept);
        if self.keep == Keep::Operations {
            self.ctx.operations.set(index);
        }
        Ok(match self.keep {
            Keep::Members | Keep::OpValue | Keep::Schemas | Keep::Operations => Some(Value::Array(kept)),
            other => other.list_stand_in(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key.contains('\0') {
                let parent = self.at.render();
                let name = key.escape_debug().to_string();
                let place = if parent.is_empty() {
                    name
                } else {
                    format!("{parent}.{name}")
                };
                return Err(self.nul(format!("the attribute name {place}")));
            }
            let keep = match self.keep {
                Keep::GroupRoot
                | Keep::Members
                | Keep::MemberItem
                | Keep::OpValue
                | Keep::PatchRoot
                | Keep::Operation => self.keep.under(&key),
                _ => Keep::Ignore,
            };
            let at = At::Key(self.at, &key);
            let value = map.next_value_seed(Prune {
                keep,
                at: &at,
                ctx: self.ctx,
            })?;
            if let Some(value) = value {
                kept.insert(key.into_owned(), value);
            }
        }
        Ok(match self.keep {
            Keep::GroupRoot
            | Keep::Members
            | Keep::MemberItem
            | Keep::OpValue
            | Keep::PatchRoot
            | Keep::Operation => Some(Value::Object(kept)),
            other => other.list_stand_in(),
        })
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::group_changes;
    use crate::resource::parse_group;
    use serde_json::json;

    fn same_group(body: &Value) {
        let text = serde_json::to_vec(body).unwrap();
        assert_eq!(group(text), parse_group(body), "{body}");
    }

    fn same_patch(body: &Value) {
        let text = serde_json::to_vec(body).unwrap();
        let whole = parse_patch_request(body).and_then(|ops| group_changes(&ops, "self"));
        let pruned = group_patch(text).and_then(|ops| group_changes(&ops, "self"));
        assert_eq!(pruned, whole, "{body}");
    }

    #[test]
    fn group_bodies_read_the_same_pruned() {
        for body in [
            json!({"displayName": "Eng", "members": [{"value": "u1", "display": "x", "$ref": null}], "x": {"y": [1, 2]}}),
            json!({"DisplayName": "Eng", "displayName": "eng2", "externalId": "e", "MEMBERS": [{"Value": "u2"}]}),
            json!({"displayName": "Eng", "members": [null, {"value": "u1"}, 7, {"value": "u2"}]}),
            json!({"displayName": "Eng", "members": [{"value": ["u1"]}]}),
            json!({"displayName": "Eng", "members": [{"value": " "}]}),
            json!({"displayName": "Eng", "members": [[1], {"value": "u1"}]}),
            json!({"displayName": "Eng", "members": {"value": "u1"}}),
            json!({"displayName": "Eng", "members": "u1"}),
            json!({"displayName": "Eng", "members": ["u1"]}),
            json!({"displayName": "Eng", "members": null}),
            json!({"displayName": {"a": 1}}),
            json!({"displayName": ["Eng"]}),
            json!({"displayName": "Eng", "externalId": {"a": 1}}),
            json!({"externalId": "e"}),
            json!([{"displayName": "Eng"}]),
            json!("Eng"),
        ] {
            same_group(&body);
        }
    }

    #[test]
    fn ignored_attributes_leave_nothing_behind() {
        let body = json!({
            "displayName": "Eng",
            "urn:example:big": {"list": vec!["filler"; 1000]},
            "members": [{"value": "u1", "display": "One", "type": "User", "extra": vec![1; 100]}],
        });
        let kept = pruned(&serde_json::to_vec(&body).unwrap(), Keep::GroupRoot)
            .unwrap()
            .0;
        assert_eq!(kept, json!({"displayName": "Eng", "members": ["\0u1"]}));
        let nulls = br#"{"displayName": "Eng", "members": [{"value": "u1"}, null, {"Value": "u2"}]}"#;
        assert_eq!(
            pruned(nulls, Keep::GroupRoot).unwrap().0["members"],
            json!(["\0u1\0\0u2"])
        );
    }

    #[test]
    fn member_lists_stop_where_the_parser_stops() {
        let mut members = vec![json!({"value": "u1"}), json!(5)];
        members.extend(vec![json!({"value": "u2"}); 1000]);
        let body = serde_json::to_vec(&json!({"displayName": "E", "members": members})).unwrap();
        let kept = pruned(&body, Keep::GroupRoot).unwrap().0;
        assert_eq!(kept["members"], json!(["\0u1", 5]));
        // The index of a refused item counts the checked ones before it, nulls included.
        let late = br#"{"displayName": "E", "members": [{"value": "u1"}, null, {"value": 7}]}"#;
        assert_eq!(
            group(late.to_vec()).unwrap_err().detail,
            "members[2].value must be a string"
        );
    }

    #[test]
    fn patch_bodies_read_the_same_pruned() {
        let schemas = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);
        for body in [
            json!({"schemas": schemas, "Operations": [{"op": "add", "path": "members", "value": [{"value": "u1", "display": "x"}]}]}),
            json!({"schemas": schemas, "Operations": [{"op": "Replace", "value": {"id": "self", "displayName": "New", "urn:x:y": 1}}]}),
            json!({"schemas": schemas, "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]}),
            json!({"schemas": schemas, "Operations": [{"op": "remove", "path": "members[value eq \"u1\"]", "value": [5]}]}),
            json!({"schemas": schemas, "Operations": [{"op": "replace", "value": {"members": [{"value": "u3"}], "externalId": "e"}}]}),
            json!({"schemas": schemas, "Operations": [{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:Group:displayName": "N"}}]}),
            json!({"schemas": schemas, "Operations": [{"op": "add", "path": "displayName", "value": {"a": 1}}]}),
            json!({"schemas": schemas, "Operations": [{"op": "add", "path": "members", "value": [{"value": "self"}]}]}),
            json!({"schemas": schemas, "Operations": [{"op": ["add"], "path": "members"}]}),
            json!({"schemas": schemas, "Operations": [{"op": "add", "path": {"p": 1}, "value": 1}]}),
            json!({"schemas": schemas, "Operations": [[1]]}),
            json!({"schemas": schemas, "Operations": {"op": "add"}}),
            json!({"schemas": schemas, "Operations": []}),
            json!({"schemas": ["urn:other", {"a": 1}], "Operations": [{"op": "add", "path": "displayName", "value": "N"}]}),
            json!({"schemas": {"a": 1}, "Operations": [{"op": "add", "path": "displayName", "value": "N"}]}),
            json!({"Operations": [{"OP": "add", "PATH": "externalId", "VALUE": "x"}]}),
            json!({"schemas": schemas}),
            json!([1, 2]),
        ] {
            same_patch(&body);
        }
    }

    #[test]
    fn too_many_operations_are_counted_not_kept() {
        let ops = vec![json!({"op": "add", "path": "displayName", "value": "N"}); MAX_OPERATIONS + 5];
        same_patch(&json!({"Operations": ops}));
        let bad_schema = json!({"schemas": ["urn:other"], "Operations": ops});
        same_patch(&bad_schema);
    }

    #[test]
    fn nul_anywhere_is_refused_naming_where() {
        for (body, place) in [
            (r#"{"displayName": "a\u0000b"}"#, "displayName"),
            (
                r#"{"displayName": "a", "members": [{"value": "u1"}, {"value": "\u0000"}]}"#,
                "members[1].value",
            ),
            (
                r#"{"displayName": "a", "ignored": {"deep": ["x\u0000"]}}"#,
                "ignored.deep[0]",
            ),
            (
                r#"{"displayName": "a", "ke\u0000y": 1}"#,
                "the attribute name ke\\0y",
            ),
        ] {
            let e = group(body.as_bytes().to_vec()).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(super::super::error::ScimType::InvalidValue),
                "{body}"
            );
            assert!(e.detail.starts_with(place), "{body}: {}", e.detail);
        }
        let patch = r#"{"Operations": [{"op": "add", "path": "members", "value": [{"value": "u\u0000"}]}]}"#;
        assert!(
            group_patch(patch.as_bytes().to_vec())
                .unwrap_err()
                .detail
                .starts_with("Operations[0].value[0].value")
        );
        let user = r#"{"userName": "a", "emails": [{"value": "x\u0000@y"}]}"#;
        assert!(
            write_tree(user.as_bytes())
                .unwrap_err()
                .detail
                .starts_with("emails[0].value")
        );
        // An escaped backslash before `u0000` is text, not a NUL.
        assert!(write_tree(br#"{"userName": "a\\u0000"}"#).is_ok());
    }

    #[test]
    fn malformed_bodies_are_syntax_errors() {
        for bytes in [
            &b"{\"displayName\": \"\xff\"}"[..],
            b"{\"displayName\": ",
            b"{} {}",
            b"{\"a\": [1,]}",
        ] {
            let e = group(bytes.to_vec()).unwrap_err();
            assert_eq!(e.scim_type, Some(super::super::error::ScimType::InvalidSyntax));
            let e = write_tree(bytes).unwrap_err();
            assert_eq!(e.scim_type, Some(super::super::error::ScimType::InvalidSyntax));
        }
    }
}
