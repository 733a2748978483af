//! PATCH (RFC 7644 §3.5.2) in the dialects of Okta and Entra (design §4): request parsing for
//! both resources, group edits as set-based changes the store applies without loading members,
//! and user edits applied to the stored document with the rules of `user_doc`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::ast::{AttrPath, CompareOp, Filter, GROUP_SCHEMA, PatchPath};
use super::error::{ScimError, ScimType};
use super::filter::parse_patch_path;
use super::resource::{check_display_name, check_external_id, get_ci, member_ids};
use super::user_doc::{self, Edit, Resolved, Scope};

/// URN a PATCH request body declares in `schemas`.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations accepted in one PATCH request (design §2).
pub const MAX_OPERATIONS: usize = 1000;

/// The `op` of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    /// RFC 7644 §3.5.2.1.
    Add,
    /// RFC 7644 §3.5.2.2.
    Remove,
    /// RFC 7644 §3.5.2.3.
    Replace,
}

impl PatchOpKind {
    /// The RFC spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }

    fn edit(self) -> Edit {
        match self {
            PatchOpKind::Add => Edit::Add,
            PatchOpKind::Remove => Edit::Remove,
            PatchOpKind::Replace => Edit::Replace,
        }
    }
}

/// One validated PATCH operation; `value` is `Some(Value::Null)` when the client sent `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOpKind,
    /// Where; `None` means the resource itself (then `value` holds attributes by name).
    pub path: Option<PatchPath>,
    /// The value, `None` when the operation had no `value` key.
    pub value: Option<Value>,
}

/// Parses a PATCH body into its operations.
///
/// `schemas`, when present and not null, must list `PATCH_OP_SCHEMA` (any case); a body without
/// `schemas` is accepted when it has `Operations`, since the operations say all there is to say.
/// Keys (`Operations`, `op`, `path`, `value`) and `op` values match case-insensitively; a blank
/// `path` counts as no path.
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object with \"schemas\" and \"Operations\"",
        ));
    };
    match get_ci(body, "schemas") {
        None | Some(Value::Null) => {}
        Some(schemas) => {
            let is_patch_op = |v: &Value| {
                v.as_str()
                    .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            };
            let listed = match schemas {
                Value::Array(urns) => urns.iter().any(is_patch_op),
                one => is_patch_op(one),
            };
            if !listed {
                return Err(ScimError::invalid_syntax(format!(
                    "schemas must include {PATCH_OP_SCHEMA} in a PATCH request"
                )));
            }
        }
    }
    let operations = match get_ci(body, "Operations") {
        Some(Value::Array(operations)) => operations,
        None | Some(Value::Null) => {
            return Err(ScimError::invalid_syntax(
                "a PATCH body needs an \"Operations\" list",
            ));
        }
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" must be a list of operations",
            ));
        }
    };
    if operations.is_empty() {
        return Err(ScimError::invalid_value(
            "\"Operations\" is empty: a PATCH needs at least one operation",
        ));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(too_many_operations(operations.len()));
    }
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

/// The error for a PATCH body listing `count` operations, more than [`MAX_OPERATIONS`].
pub fn too_many_operations(count: usize) -> ScimError {
    ScimError::invalid_value(format!(
        "too many operations: {count} (at most {MAX_OPERATIONS} per PATCH request; split the change)"
    ))
}

fn parse_operation(i: usize, op: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations[{i}] must be an object"
        )));
    };
    let kind = match get_ci(op, "op") {
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "add" => PatchOpKind::Add,
            "remove" => PatchOpKind::Remove,
            "replace" => PatchOpKind::Replace,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}].op {s:?} is not one of add, remove, replace"
                )));
            }
        },
        None | Some(Value::Null) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] has no \"op\""
            )));
        }
        Some(_) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}].op must be a string"
            )));
        }
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            parse_patch_path(s.trim())
                .map_err(|e| ScimError::invalid_path(format!("Operations[{i}].path {s:?}: {e}")))?,
        ),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}].path must be a string"
            )));
        }
    };
    let value = get_ci(op, "value").cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => Err(ScimError::no_target(format!(
            "Operations[{i}]: remove needs a path naming what to remove"
        ))),
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => Err(ScimError::invalid_value(format!(
            "Operations[{i}]: {} needs a value",
            kind.as_str()
        ))),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Groups.

/// A change to a group, applied by the store in order; member lists hold User ids without
/// duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// Rename (validated: not blank, at most `MAX_NAME_CHARS`); an unchanged name is the store's no-op.
    SetDisplayName(String),
    /// Set or clear the IdP's identifier.
    SetExternalId(Option<String>),
    /// Add these users; ones already members stay.
    AddMembers(Vec<String>),
    /// Remove these users; ones not members are ignored.
    RemoveMembers(Vec<String>),
    /// Remove every member.
    RemoveAllMembers,
    /// Make exactly these users the members (never empty: that is `RemoveAllMembers`).
    ReplaceMembers(Vec<String>),
}

/// Turns PATCH operations on the group `own_id` into changes (merged where the effect is the same).
///
/// `id`, `meta` and `schemas` are ignored wherever they appear (design §4: read-only attributes
/// are never rejected, and Okta sends the group's own `id` with every rename); `own_id` is refused
/// as a member, since a group is not a User.
pub fn group_changes(ops: &[PatchOperation], own_id: &str) -> Result<Vec<GroupChange>, ScimError> {
    let mut changes = Changes::default();
    for op in ops {
        match (&op.path, op.value.as_ref()) {
            (Some(path), value) => group_path_op(&mut changes, op.op, path, value, own_id)?,
            (None, _) if op.op == PatchOpKind::Remove => {
                return Err(ScimError::no_target("remove needs a path naming what to remove"));
            }
            (None, Some(Value::Object(values))) => {
                for (key, value) in values {
                    // Keys that are not group attributes are ignored, as in a POST body; this is
                    // where Okta's `id` (always the group's own) and `meta`/`schemas` go.
                    let Ok(path) = parse_patch_path(key) else { continue };
                    if matches!(group_attr(&path.attr), Ok(GroupAttr::Ignored) | Err(_)) {
                        continue;
                    }
                    group_path_op(&mut changes, op.op, &path, Some(value), own_id)?;
                }
            }
            (None, _) => {
                return Err(ScimError::invalid_value(format!(
                    "{} without a path needs an object of attributes as its value",
                    op.op.as_str()
                )));
            }
        }
    }
    Ok(changes.out)
}

enum GroupAttr {
    DisplayName,
    ExternalId,
    Members,
    Ignored,
}

fn group_attr(path: &AttrPath) -> Result<GroupAttr, String> {
    if let Some(urn) = &path.urn
        && !urn.eq_ignore_ascii_case(GROUP_SCHEMA)
    {
        return Err(format!(
            "schema {urn} is not supported for groups (only {GROUP_SCHEMA})"
        ));
    }
    let is = |name: &str| path.attr.eq_ignore_ascii_case(name);
    if is("displayName") {
        Ok(GroupAttr::DisplayName)
    } else if is("externalId") {
        Ok(GroupAttr::ExternalId)
    } else if is("members") {
        Ok(GroupAttr::Members)
    } else if is("id") || is("meta") || is("schemas") {
        Ok(GroupAttr::Ignored)
    } else {
        Err(format!(
            "groups have no attribute {:?} (displayName, externalId, members)",
            path.attr
        ))
    }
}

fn group_path_op(
    changes: &mut Changes,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
    own_id: &str,
) -> Result<(), ScimError> {
    let shown = user_doc::show_patch_path(path);
    let attr = group_attr(&path.attr).map_err(|why| ScimError::invalid_path(format!("{shown}: {why}")))?;
    let sub = path.attr.sub_attr.as_ref().or(path.sub_attr.as_ref());
    let value = value.unwrap_or(&Value::Null);
    match attr {
        GroupAttr::Ignored => Ok(()),
        GroupAttr::DisplayName | GroupAttr::ExternalId if sub.is_some() || path.filter.is_some() => Err(
            ScimError::invalid_path(format!("{shown}: {} is a simple attribute", path.attr.attr)),
        ),
        GroupAttr::DisplayName => match kind {
            PatchOpKind::Remove => Err(ScimError::bad_request(
                ScimType::Mutability,
                "displayName is required and cannot be removed",
            )),
            PatchOpKind::Add | PatchOpKind::Replace => {
                changes.push(GroupChange::SetDisplayName(check_display_name(Some(value))?));
                Ok(())
            }
        },
        GroupAttr::ExternalId => {
            let external_id = match kind {
                PatchOpKind::Remove => None,
                PatchOpKind::Add | PatchOpKind::Replace => check_external_id(Some(value))?,
            };
            changes.push(GroupChange::SetExternalId(external_id));
            Ok(())
        }
        GroupAttr::Members => {
            if let Some(sub) = sub {
                return Err(ScimError::invalid_path(format!(
                    "{shown}: members.{sub} cannot be changed; use path members or \
                     members[value eq \"<id>\"]"
                )));
            }
            members_op(changes, kind, path.filter.as_ref(), value, own_id)
        }
    }
}

fn members_op(
    changes: &mut Changes,
    kind: PatchOpKind,
    filter: Option<&Filter>,
    value: &Value,
    own_id: &str,
) -> Result<(), ScimError> {
    let selected = filter.map(member_filter_ids).transpose()?;
    // A remove by filter names its members in the path; whatever value came along is noise.
    let given = match (kind, &selected) {
        (PatchOpKind::Remove, Some(_)) => Vec::new(),
        _ => member_ids(value)?,
    };
    if kind != PatchOpKind::Remove && given.iter().any(|id| id == own_id) {
        return Err(ScimError::invalid_value(format!(
            "group {own_id} cannot be a member of itself"
        )));
    }
    match (kind, selected) {
        (PatchOpKind::Add, _) => changes.push(GroupChange::AddMembers(given)),
        (PatchOpKind::Replace, None) if given.is_empty() => changes.push(GroupChange::RemoveAllMembers),
        (PatchOpKind::Replace, None) => changes.push(GroupChange::ReplaceMembers(given)),
        // Entra: a replace on a filter path swaps the selected members for the value, adding it
        // even when the filter matched nobody.
        (PatchOpKind::Replace, Some(selected)) => {
            changes.push(GroupChange::RemoveMembers(selected));
            changes.push(GroupChange::AddMembers(given));
        }
        (PatchOpKind::Remove, Some(selected)) => changes.push(GroupChange::RemoveMembers(selected)),
        // Entra removes members with path `members` and the members as the value; only with no
        // value at all does the remove clear the attribute (RFC 7644 §3.5.2.2).
        (PatchOpKind::Remove, None) if value.is_null() => changes.push(GroupChange::RemoveAllMembers),
        (PatchOpKind::Remove, None) => changes.push(GroupChange::RemoveMembers(given)),
    }
    Ok(())
}

/// Ids named by a member value filter: `value eq "<id>"` terms, possibly joined with `or`. Other
/// filters would need every member loaded to evaluate, which a 100 000-member group must not.
fn member_filter_ids(filter: &Filter) -> Result<Vec<String>, ScimError> {
    let mut ids = Vec::new();
    let mut pending = vec![filter];
    while let Some(f) = pending.pop() {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Value::String(id),
            } if path.urn.is_none() && path.sub_attr.is_none() && path.attr.eq_ignore_ascii_case("value") => {
                ids.push(id.clone());
            }
            Filter::Or(a, b) => {
                pending.push(b);
                pending.push(a);
            }
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "members[{}] is not supported: a members filter must be value eq \"<id>\" \
                     terms joined with or, e.g. members[value eq \"u1\" or value eq \"u2\"]",
                    user_doc::show_filter(other)
                )));
            }
        }
    }
    Ok(ids)
}

/// Accumulates group changes, merging a change into the previous one when applying the merged
/// change has the same effect as applying both in order.
#[derive(Default)]
struct Changes {
    out: Vec<GroupChange>,
    /// Ids in the last change when it is a member list, so merging stays linear in their number.
    seen: HashSet<String>,
}

impl Changes {
    fn push(&mut self, change: GroupChange) {
        use GroupChange::*;
        let change = match (self.out.last_mut(), change) {
            (_, AddMembers(ids) | RemoveMembers(ids)) if ids.is_empty() => return,
            (Some(AddMembers(prev) | ReplaceMembers(prev)), AddMembers(ids)) => {
                return extend_unique(&mut self.seen, prev, ids);
            }
            (Some(RemoveMembers(prev)), RemoveMembers(ids)) => {
                return extend_unique(&mut self.seen, prev, ids);
            }
            (Some(RemoveAllMembers), RemoveMembers(_)) => return,
            (Some(last @ RemoveAllMembers), AddMembers(ids)) => {
                self.seen.clear();
                let mut members = Vec::with_capacity(ids.len());
                extend_unique(&mut self.seen, &mut members, ids);
                *last = ReplaceMembers(members);
                return;
            }
            (Some(SetDisplayName(prev)), SetDisplayName(name)) => {
                *prev = name;
                return;
            }
            (Some(SetExternalId(prev)), SetExternalId(id)) => {
                *prev = id;
                return;
            }
            (_, change) => change,
        };
        self.seen.clear();
        let mut unique = |ids: Vec<String>| {
            let mut out = Vec::with_capacity(ids.len());
            extend_unique(&mut self.seen, &mut out, ids);
            out
        };
        let change = match change {
            AddMembers(ids) => AddMembers(unique(ids)),
            RemoveMembers(ids) => RemoveMembers(unique(ids)),
            ReplaceMembers(ids) => ReplaceMembers(unique(ids)),
            other => other,
        };
        self.out.push(change);
    }
}

fn extend_unique(seen: &mut HashSet<String>, list: &mut Vec<String>, ids: Vec<String>) {
    for id in ids {
        if seen.insert(id.clone()) {
            list.push(id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Users.

/// Applies PATCH operations to a stored User document, all or nothing: on error `doc` is
/// unchanged. The result satisfies `user_doc::validate_user`.
pub fn apply_user_patch(doc: &mut Map<String, Value>, ops: &[PatchOperation]) -> Result<(), ScimError> {
    let mut work = doc.clone();
    for op in ops {
        let edit = op.op.edit();
        match (&op.path, op.value.as_ref()) {
            (Some(path), value) => match user_doc::resolve(path, Scope::Core) {
                Resolved::Target(target) => user_doc::edit_target(&mut work, edit, &target, value)?,
                Resolved::Ignored => {}
                Resolved::Unknown(why) => {
                    return Err(ScimError::invalid_path(format!(
                        "{}: {why}",
                        user_doc::show_patch_path(path)
                    )));
                }
            },
            (None, _) if op.op == PatchOpKind::Remove => {
                return Err(ScimError::no_target("remove needs a path naming what to remove"));
            }
            (None, Some(Value::Object(values))) => user_doc::edit_resource(&mut work, edit, values)?,
            (None, _) => {
                return Err(ScimError::invalid_value(format!(
                    "{} without a path needs an object of attributes as its value",
                    op.op.as_str()
                )));
            }
        }
    }
    user_doc::validate_user(&work)?;
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::GroupChange::*;
    use super::*;
    use crate::ast::ENTERPRISE_USER_SCHEMA;

    const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn ops(ops: Value) -> Vec<PatchOperation> {
        parse_patch_request(&body(ops)).expect("valid PATCH")
    }

    fn parse_err(v: Value) -> ScimError {
        parse_patch_request(&v).expect_err("invalid PATCH")
    }

    fn groups(list: Value) -> Result<Vec<GroupChange>, ScimError> {
        group_changes(&ops(list), "g-own")
    }

    fn group_err(list: Value, scim_type: ScimType) -> ScimError {
        let e = groups(list).expect_err("invalid group PATCH");
        assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{e}");
        e
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn doc(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn alice() -> Map<String, Value> {
        doc(json!({
            "userName": "alice",
            "displayName": "Alice",
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [
                {"value": "alice@work.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"},
            ],
            ENTERPRISE_USER_SCHEMA: {"department": "R&D", "manager": {"value": "m-1"}},
        }))
    }

    fn patched(start: Map<String, Value>, list: Value) -> Result<Value, ScimError> {
        let mut d = start;
        apply_user_patch(&mut d, &ops(list))?;
        Ok(Value::Object(d))
    }

    fn patch_ok(list: Value) -> Value {
        patched(alice(), list).expect("PATCH applies")
    }

    fn patch_err(list: Value, scim_type: ScimType) -> ScimError {
        let mut d = alice();
        let e = apply_user_patch(&mut d, &ops(list)).expect_err("PATCH fails");
        assert_eq!((e.status, e.scim_type), (400, Some(scim_type)), "{e}");
        assert_eq!(d, alice(), "a failed PATCH leaves the document unchanged");
        e
    }

    // --- parse_patch_request ---

    #[test]
    fn parses_okta_body() {
        let parsed = ops(json!([{"op": "replace", "value": {"id": "g-own", "displayName": "Eng"}}]));
        assert_eq!(
            parsed,
            vec![PatchOperation {
                op: PatchOpKind::Replace,
                path: None,
                value: Some(json!({"id": "g-own", "displayName": "Eng"})),
            }]
        );
    }

    #[test]
    fn parses_entra_body_with_capitalised_ops() {
        let parsed = ops(json!([
            {"op": "Add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "Replace", "path": "displayName", "value": "x"},
            {"op": "Remove", "path": "members[value eq \"u2\"]"},
            {"op": "REPLACE", "path": "  externalId ", "value": null},
        ]));
        let kinds: Vec<_> = parsed.iter().map(|o| o.op).collect();
        assert_eq!(
            kinds,
            [
                PatchOpKind::Add,
                PatchOpKind::Replace,
                PatchOpKind::Remove,
                PatchOpKind::Replace
            ]
        );
        assert_eq!(parsed[2].value, None);
        assert_eq!(parsed[3].value, Some(Value::Null), "an explicit null is kept");
        assert_eq!(
            parsed[3].path.as_ref().map(|p| p.attr.attr.as_str()),
            Some("externalId")
        );
        assert!(parsed[2].path.as_ref().is_some_and(|p| p.filter.is_some()));
    }

    #[test]
    fn keys_match_case_insensitively() {
        let lower = json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"OP": "add", "Path": "displayName", "VALUE": "x"}]});
        let parsed = parse_patch_request(&lower).expect("valid");
        assert_eq!(parsed[0].value, Some(json!("x")));
        assert!(parsed[0].path.is_some());
        let caps = json!({"Schemas": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"], "OPERATIONS": [{"op": "add", "value": {}}]});
        assert_eq!(parse_patch_request(&caps).expect("valid").len(), 1);
    }

    #[test]
    fn schemas_may_be_missing_but_not_wrong() {
        let no_schemas = json!({"Operations": [{"op": "remove", "path": "members"}]});
        assert_eq!(parse_patch_request(&no_schemas).expect("valid").len(), 1);
        let null_schemas = json!({"schemas": null, "Operations": [{"op": "remove", "path": "members"}]});
        assert!(parse_patch_request(&null_schemas).is_ok());
        let extra = json!({"schemas": ["urn:example:x", PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": "members"}]});
        assert!(parse_patch_request(&extra).is_ok());
        let wrong = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "Operations": [{"op": "remove", "path": "members"}]});
        assert_eq!(parse_err(wrong).scim_type, Some(ScimType::InvalidSyntax));
        let empty = json!({"schemas": [], "Operations": [{"op": "remove", "path": "members"}]});
        assert_eq!(parse_err(empty).scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn malformed_bodies_are_invalid_syntax() {
        for bad in [
            json!([]),
            json!("x"),
            json!(null),
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add"}}),
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": null}),
            body(json!(["add"])),
            body(json!([{"path": "displayName", "value": "x"}])),
            body(json!([{"op": 1, "path": "displayName", "value": "x"}])),
            body(json!([{"op": "move", "path": "displayName", "value": "x"}])),
            body(json!([{"op": "copy", "from": "a", "path": "b"}])),
        ] {
            assert_eq!(
                parse_err(bad.clone()).scim_type,
                Some(ScimType::InvalidSyntax),
                "{bad}"
            );
        }
        let e = parse_err(body(
            json!([{"op": "add", "value": {}}, {"op": "Move", "path": "x", "value": 1}]),
        ));
        assert!(
            e.detail.contains("Operations[1]") && e.detail.contains("Move"),
            "{e}"
        );
    }

    #[test]
    fn operation_count_is_bounded() {
        let e = parse_err(body(json!([])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let op = json!({"op": "add", "path": "members", "value": [{"value": "u1"}]});
        let max = Value::Array(vec![op.clone(); MAX_OPERATIONS]);
        assert_eq!(
            parse_patch_request(&body(max)).expect("1000 is fine").len(),
            MAX_OPERATIONS
        );
        let over = Value::Array(vec![op; MAX_OPERATIONS + 1]);
        let e = parse_err(body(over));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("1001") && e.detail.contains("1000"), "{e}");
    }

    #[test]
    fn bad_paths_are_invalid_path_with_the_parser_message() {
        let e = parse_err(body(json!([{"op": "remove", "path": "members[value eq \"u1\""}])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert!(
            e.detail.contains("members[value eq") && e.detail.contains("not closed"),
            "{e}"
        );
        let e = parse_err(body(json!([{"op": "remove", "path": 7}])));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn remove_needs_a_path_and_add_replace_need_a_value() {
        let e = parse_err(body(json!([{"op": "remove"}])));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let e = parse_err(body(json!([{"op": "Remove", "path": "  "}])));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        for op in ["add", "replace"] {
            let e = parse_err(body(json!([{"op": op, "path": "displayName"}])));
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{op}");
            assert!(e.detail.contains(op), "{e}");
        }
    }

    // --- group_changes ---

    #[test]
    fn okta_rename_carrying_own_id() {
        let changes =
            groups(json!([{"op": "replace", "value": {"id": "g-own", "displayName": "Engineering"}}]));
        assert_eq!(changes, Ok(vec![SetDisplayName("Engineering".into())]));
    }

    #[test]
    fn read_only_keys_in_values_are_ignored() {
        let changes = groups(json!([{"op": "replace", "value": {
            "id": "someone-else",
            "meta": {"resourceType": "Group"},
            "schemas": [GROUP_SCHEMA],
            "displayName": "Eng",
            "description": "unknown attributes in a value are ignored like in a body",
        }}]));
        assert_eq!(changes, Ok(vec![SetDisplayName("Eng".into())]));
        assert_eq!(
            groups(json!([{"op": "replace", "path": "id", "value": "x"}])),
            Ok(vec![])
        );
        assert_eq!(
            groups(json!([{"op": "replace", "path": "meta.lastModified", "value": "x"}])),
            Ok(vec![])
        );
    }

    #[test]
    fn okta_member_add_and_remove() {
        assert_eq!(
            groups(json!([{"op": "add", "path": "members", "value": [{"value": "u1", "display": "x"}]}])),
            Ok(vec![AddMembers(ids(&["u1"]))])
        );
        assert_eq!(
            groups(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}])),
            Ok(vec![RemoveMembers(ids(&["u1"]))])
        );
    }

    #[test]
    fn remove_by_filter_ignores_any_value() {
        assert_eq!(
            groups(json!([{"op": "remove", "path": "members[value eq \"u1\"]", "value": "noise"}])),
            Ok(vec![RemoveMembers(ids(&["u1"]))])
        );
    }

    #[test]
    fn entra_member_removal_by_value() {
        assert_eq!(
            groups(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}])),
            Ok(vec![RemoveMembers(ids(&["u1", "u2"]))])
        );
        assert_eq!(
            groups(json!([{"op": "Remove", "path": "members"}])),
            Ok(vec![RemoveAllMembers])
        );
        assert_eq!(
            groups(json!([{"op": "Remove", "path": "members", "value": null}])),
            Ok(vec![RemoveAllMembers])
        );
        assert_eq!(
            groups(json!([{"op": "Remove", "path": "members", "value": []}])),
            Ok(vec![])
        );
    }

    #[test]
    fn entra_member_add_with_null_ref() {
        assert_eq!(
            groups(json!([{"op": "Add", "path": "members", "value": [
                {"value": "u1", "$ref": null},
                {"Value": "u2", "type": "User"},
                null,
            ]}])),
            Ok(vec![AddMembers(ids(&["u1", "u2"]))])
        );
        assert_eq!(
            groups(json!([{"op": "Add", "path": "members", "value": {"value": "u3"}}])),
            Ok(vec![AddMembers(ids(&["u3"]))]),
            "a single member object is one member"
        );
    }

    #[test]
    fn replace_members() {
        assert_eq!(
            groups(
                json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u1"}, {"value": "u2"}]}])
            ),
            Ok(vec![ReplaceMembers(ids(&["u1", "u2"]))])
        );
        assert_eq!(
            groups(json!([{"op": "replace", "path": "members", "value": []}])),
            Ok(vec![RemoveAllMembers])
        );
        assert_eq!(
            groups(json!([{"op": "replace", "path": "members", "value": null}])),
            Ok(vec![RemoveAllMembers])
        );
        assert_eq!(
            groups(json!([{"op": "replace", "value": {"members": [{"value": "u9"}]}}])),
            Ok(vec![ReplaceMembers(ids(&["u9"]))])
        );
        assert_eq!(
            groups(json!([{"op": "add", "value": {"Members": [{"value": "u9"}]}}])),
            Ok(vec![AddMembers(ids(&["u9"]))])
        );
    }

    #[test]
    fn replace_on_member_filter_swaps_and_adds_even_without_match() {
        assert_eq!(
            groups(
                json!([{"op": "Replace", "path": "members[value eq \"u1\"]", "value": [{"value": "u2"}]}])
            ),
            Ok(vec![RemoveMembers(ids(&["u1"])), AddMembers(ids(&["u2"]))])
        );
        assert_eq!(
            groups(json!([{"op": "Replace", "path": "members[value eq \"u1\"]", "value": null}])),
            Ok(vec![RemoveMembers(ids(&["u1"]))])
        );
    }

    #[test]
    fn member_filters_with_or() {
        assert_eq!(
            groups(
                json!([{"op": "remove", "path": "members[value eq \"u1\" or Value EQ \"u2\" or (value eq \"u3\")]"}])
            ),
            Ok(vec![RemoveMembers(ids(&["u1", "u2", "u3"]))])
        );
    }

    #[test]
    fn unsupported_member_filters_are_rejected() {
        for path in [
            "members[display eq \"x\"]",
            "members[value ne \"u1\"]",
            "members[value co \"u\"]",
            "members[value pr]",
            "members[value eq \"u1\" and value eq \"u2\"]",
            "members[not (value eq \"u1\")]",
            "members[value eq 1]",
        ] {
            let e = group_err(json!([{"op": "remove", "path": path}]), ScimType::InvalidFilter);
            assert!(e.detail.contains("value eq"), "{path}: {e}");
        }
        let e = group_err(
            json!([{"op": "remove", "path": "members.display"}]),
            ScimType::InvalidPath,
        );
        assert!(e.detail.contains("members.display"), "{e}");
        group_err(
            json!([{"op": "remove", "path": "members[value eq \"u1\"].display"}]),
            ScimType::InvalidPath,
        );
        group_err(
            json!([{"op": "add", "path": "members.value", "value": ["u1"]}]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn member_items_need_a_string_value() {
        for bad in [
            json!([{"display": "x"}]),
            json!([{"value": 7}]),
            json!([{"value": null}]),
            json!([{"value": " "}]),
            json!(["u1"]),
            json!("u1"),
            json!(7),
        ] {
            let e = group_err(
                json!([{"op": "add", "path": "members", "value": bad.clone()}]),
                ScimType::InvalidValue,
            );
            assert!(e.detail.contains("members"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_group_cannot_contain_itself() {
        let e = group_err(
            json!([{"op": "add", "path": "members", "value": [{"value": "g-own"}]}]),
            ScimType::InvalidValue,
        );
        assert!(e.detail.contains("g-own"), "{e}");
    }

    #[test]
    fn display_name_rules() {
        assert_eq!(
            groups(json!([{"op": "replace", "path": "displayName", "value": " Eng "}])),
            Ok(vec![SetDisplayName(" Eng ".into())])
        );
        let max = "é".repeat(256);
        assert_eq!(
            groups(json!([{"op": "add", "path": "DISPLAYNAME", "value": max}])),
            Ok(vec![SetDisplayName(max.clone())])
        );
        for bad in [
            json!(null),
            json!(""),
            json!("  "),
            json!("é".repeat(257)),
            json!(5),
            json!({"displayName": "x"}),
        ] {
            let e = group_err(
                json!([{"op": "replace", "path": "displayName", "value": bad.clone()}]),
                ScimType::InvalidValue,
            );
            assert!(e.detail.contains("displayName"), "{bad}: {e}");
        }
        group_err(
            json!([{"op": "replace", "value": {"displayName": null}}]),
            ScimType::InvalidValue,
        );
        let e = group_err(
            json!([{"op": "remove", "path": "displayName"}]),
            ScimType::Mutability,
        );
        assert!(e.detail.contains("displayName"), "{e}");
        group_err(
            json!([{"op": "replace", "path": "displayName.x", "value": "a"}]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn external_id_rules() {
        assert_eq!(
            groups(json!([{"op": "replace", "path": "externalId", "value": null}])),
            Ok(vec![SetExternalId(None)])
        );
        assert_eq!(
            groups(json!([{"op": "remove", "path": "externalId"}])),
            Ok(vec![SetExternalId(None)])
        );
        assert_eq!(
            groups(json!([{"op": "add", "path": "externalid", "value": "abc"}])),
            Ok(vec![SetExternalId(Some("abc".into()))])
        );
        assert_eq!(
            groups(json!([{"op": "Replace", "value": {"externalId": null}}])),
            Ok(vec![SetExternalId(None)])
        );
        group_err(
            json!([{"op": "add", "path": "externalId", "value": 5}]),
            ScimType::InvalidValue,
        );
        group_err(
            json!([{"op": "add", "path": "externalId", "value": "x".repeat(257)}]),
            ScimType::InvalidValue,
        );
    }

    #[test]
    fn urn_qualified_group_paths() {
        assert_eq!(
            groups(json!([
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "A"},
                {"op": "add", "path": "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP:members", "value": [{"value": "u1"}]},
                {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:Group:externalId": "e"}},
            ])),
            Ok(vec![
                SetDisplayName("A".into()),
                AddMembers(ids(&["u1"])),
                SetExternalId(Some("e".into()))
            ])
        );
    }

    #[test]
    fn unknown_group_paths_are_invalid_path() {
        let e = group_err(
            json!([{"op": "replace", "path": "description", "value": "x"}]),
            ScimType::InvalidPath,
        );
        assert!(e.detail.contains("description"), "{e}");
        let e = group_err(
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "x"}]),
            ScimType::InvalidPath,
        );
        assert!(e.detail.contains("core:2.0:User"), "{e}");
        group_err(json!([{"op": "replace", "value": "Eng"}]), ScimType::InvalidValue);
        group_err(
            json!([{"op": "add", "value": [{"value": "u1"}]}]),
            ScimType::InvalidValue,
        );
    }

    #[test]
    fn consecutive_changes_merge_without_changing_meaning() {
        let changes = groups(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "remove", "path": "members", "value": [{"value": "u3"}]},
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "replace", "path": "displayName", "value": "A"},
            {"op": "replace", "value": {"displayName": "B"}},
            {"op": "remove", "path": "members"},
            {"op": "remove", "path": "members[value eq \"u4\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u5"}]},
            {"op": "add", "path": "members", "value": [{"value": "u6"}, {"value": "u5"}]},
            {"op": "replace", "path": "externalId", "value": "x"},
            {"op": "remove", "path": "externalId"},
        ]));
        assert_eq!(
            changes,
            Ok(vec![
                AddMembers(ids(&["u1", "u2"])),
                RemoveMembers(ids(&["u1", "u3"])),
                AddMembers(ids(&["u1"])),
                SetDisplayName("B".into()),
                ReplaceMembers(ids(&["u5", "u6"])),
                SetExternalId(None),
            ])
        );
    }

    #[test]
    fn replace_members_absorbs_following_adds_only() {
        let changes = groups(json!([
            {"op": "replace", "path": "members", "value": [{"value": "u1"}]},
            {"op": "add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u2\"]"},
        ]));
        assert_eq!(
            changes,
            Ok(vec![
                ReplaceMembers(ids(&["u1", "u2"])),
                RemoveMembers(ids(&["u2"]))
            ])
        );
    }

    #[test]
    fn okta_membership_push_sequence() {
        let changes = groups(json!([
            {"op": "replace", "value": {"id": "g-own", "displayName": "Engineering"}},
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u2", "display": "bob@example.com"}]},
        ]));
        assert_eq!(
            changes,
            Ok(vec![
                SetDisplayName("Engineering".into()),
                RemoveMembers(ids(&["u1"])),
                AddMembers(ids(&["u2"]))
            ])
        );
    }

    // --- apply_user_patch ---

    #[test]
    fn okta_deactivate() {
        let d = patch_ok(json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(d["active"], json!(false));
        assert!(!user_doc::active(&doc(d)));
    }

    #[test]
    fn entra_string_boolean_and_aad_opt_scim_062020() {
        assert_eq!(
            patch_ok(json!([{"op": "Replace", "path": "active", "value": "False"}]))["active"],
            json!(false)
        );
        assert_eq!(
            patch_ok(json!([{"op": "replace", "path": "active", "value": false}]))["active"],
            json!(false)
        );
        assert_eq!(
            patch_ok(json!([{"op": "Replace", "value": {"active": "True"}}]))["active"],
            json!(true)
        );
        let e = patch_err(
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            ScimType::InvalidValue,
        );
        assert!(e.detail.contains("active"), "{e}");
    }

    #[test]
    fn entra_no_path_replace_with_dotted_keys() {
        let d = patch_ok(json!([{"op": "Replace", "value": {
            "name.givenName": "Alicia",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            "active": "False",
            "emails[type eq \"work\"].value": "alicia@work.example",
            "id": "ignored",
            "schemas": ["ignored"],
            "meta": {"ignored": true},
            "urn:example:custom:User:badge": "ignored",
        }}]));
        assert_eq!(d["name"], json!({"givenName": "Alicia", "familyName": "Liddell"}));
        assert_eq!(
            d[ENTERPRISE_USER_SCHEMA],
            json!({"department": "Sales", "manager": {"value": "m-1"}})
        );
        assert_eq!(d["active"], json!(false));
        assert_eq!(
            d["emails"][0],
            json!({"value": "alicia@work.example", "type": "work", "primary": true})
        );
        assert!(d.get("id").is_none() && d.get("meta").is_none() && d.get("schemas").is_none());
    }

    #[test]
    fn entra_replace_on_unmatched_filter_adds_a_value() {
        let start = doc(json!({"userName": "bob"}));
        let d = patched(start, json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "bob@work.example"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\" and primary eq true].value", "value": "+1 555"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Oslo"},
        ]))
        .expect("applies");
        assert_eq!(
            d["emails"],
            json!([{"type": "work", "value": "bob@work.example"}])
        );
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "primary": true, "value": "+1 555"}])
        );
        assert_eq!(d["addresses"], json!([{"type": "work", "locality": "Oslo"}]));
    }

    #[test]
    fn replace_on_matched_filter_updates_in_place() {
        let d = patch_ok(
            json!([{"op": "Replace", "path": "emails[type eq \"WORK\"].value", "value": "new@work.example"}]),
        );
        assert_eq!(
            d["emails"],
            json!([
                {"value": "new@work.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"},
            ])
        );
    }

    #[test]
    fn unmatched_filter_that_cannot_describe_a_value_is_no_target() {
        let e = patch_err(
            json!([{"op": "replace", "path": "emails[type eq \"other\" or type eq \"x\"].value", "value": "z"}]),
            ScimType::NoTarget,
        );
        assert!(
            e.detail.contains("emails[") && e.detail.contains("].value"),
            "{e}"
        );
        patch_err(
            json!([{"op": "replace", "path": "emails[value co \"nowhere\"]", "value": {"value": "z"}}]),
            ScimType::NoTarget,
        );
    }

    #[test]
    fn replace_value_selected_by_filter_keeps_filter_terms() {
        let d = patch_ok(
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "new@home.example"}}]),
        );
        assert_eq!(
            d["emails"][1],
            json!({"type": "home", "value": "new@home.example"})
        );
        let d = patch_ok(
            json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
        );
        assert_eq!(
            d["emails"][1],
            json!({"type": "home", "value": "alice@home.example", "display": "Home"})
        );
        let d = patch_ok(
            json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.example"}}]),
        );
        assert_eq!(d["emails"][2], json!({"type": "other", "value": "o@x.example"}));
        patch_err(
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": [{"value": "a"}, {"value": "b"}]}]),
            ScimType::InvalidValue,
        );
    }

    #[test]
    fn sub_attributes_of_complex_attributes() {
        let d = patch_ok(json!([{"op": "replace", "path": "name.givenName", "value": "Ally"}]));
        assert_eq!(d["name"], json!({"givenName": "Ally", "familyName": "Liddell"}));
        let d = patch_ok(json!([{"op": "add", "path": "NAME.middleName", "value": "P"}]));
        assert_eq!(d["name"]["middleName"], json!("P"));
        let d = patch_ok(json!([{"op": "remove", "path": "name.givenName"}]));
        assert_eq!(d["name"], json!({"familyName": "Liddell"}));
        let d = patch_ok(
            json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "name.familyName"}]),
        );
        assert!(d.get("name").is_none(), "an emptied complex attribute disappears");
        let d = patch_ok(json!([{"op": "replace", "path": "name.givenName", "value": null}]));
        assert_eq!(d["name"], json!({"familyName": "Liddell"}));
        let d = patch_ok(json!([{"op": "add", "path": "name.givenName", "value": null}]));
        assert_eq!(d["name"]["givenName"], json!("Alice"), "adding null adds nothing");
    }

    #[test]
    fn complex_values_merge() {
        let d = patch_ok(
            json!([{"op": "replace", "path": "name", "value": {"givenName": "Al", "formatted": "Al L"}}]),
        );
        assert_eq!(
            d["name"],
            json!({"givenName": "Al", "familyName": "Liddell", "formatted": "Al L"})
        );
        let d = patch_ok(
            json!([{"op": "add", "path": "name", "value": {"familyName": null, "honorificPrefix": "Dr"}}]),
        );
        assert_eq!(d["name"], json!({"givenName": "Alice", "honorificPrefix": "Dr"}));
        let d = patch_ok(json!([{"op": "replace", "path": "name", "value": null}]));
        assert!(d.get("name").is_none());
        let d = patch_ok(json!([{"op": "replace", "value": {"name": {"familyName": "L."}}}]));
        assert_eq!(d["name"], json!({"givenName": "Alice", "familyName": "L."}));
    }

    #[test]
    fn simple_attributes() {
        let d = patch_ok(json!([
            {"op": "replace", "path": "displayName", "value": "Al"},
            {"op": "add", "path": "title", "value": "CEO"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "value": "Ali"},
            {"op": "add", "path": "externalId", "value": "ext"},
        ]));
        assert_eq!(
            (&d["displayName"], &d["title"], &d["nickName"], &d["externalId"]),
            (&json!("Al"), &json!("CEO"), &json!("Ali"), &json!("ext"))
        );
        let d = patch_ok(
            json!([{"op": "remove", "path": "displayName"}, {"op": "replace", "path": "title", "value": null}]),
        );
        assert!(d.get("displayName").is_none() && d.get("title").is_none());
        let d = patch_ok(json!([{"op": "remove", "path": "nickName"}]));
        assert_eq!(Value::Object(alice()), d, "removing what is absent is a no-op");
        let e = patch_err(
            json!([{"op": "replace", "path": "displayName", "value": 5}]),
            ScimType::InvalidValue,
        );
        assert!(e.detail.contains("displayName"), "{e}");
        patch_err(
            json!([{"op": "replace", "path": "externalId", "value": "x".repeat(257)}]),
            ScimType::InvalidValue,
        );
        patch_err(
            json!([{"op": "replace", "path": "title.x", "value": "a"}]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn user_name_is_required() {
        let e = patch_err(
            json!([{"op": "remove", "path": "userName"}]),
            ScimType::Mutability,
        );
        assert!(e.detail.contains("userName"), "{e}");
        patch_err(
            json!([{"op": "replace", "path": "userName", "value": null}]),
            ScimType::InvalidValue,
        );
        patch_err(
            json!([{"op": "replace", "path": "userName", "value": "  "}]),
            ScimType::InvalidValue,
        );
        patch_err(
            json!([{"op": "replace", "value": {"UserName": ""}}]),
            ScimType::InvalidValue,
        );
        assert_eq!(
            patch_ok(json!([{"op": "replace", "path": "USERNAME", "value": "al"}]))["userName"],
            json!("al")
        );
    }

    #[test]
    fn enterprise_extension_paths() {
        let d = patch_ok(json!([{"op": "replace", "path": DEPT, "value": "Ops"}]));
        assert_eq!(d[ENTERPRISE_USER_SCHEMA]["department"], json!("Ops"));
        let d = patch_ok(
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m-2"}]),
        );
        assert_eq!(d[ENTERPRISE_USER_SCHEMA]["manager"], json!({"value": "m-2"}));
        let d = patch_ok(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-3"}]),
        );
        assert_eq!(
            d[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m-3"}),
            "Entra sends the manager id bare"
        );
        let d = patch_ok(json!([
            {"op": "remove", "path": DEPT},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
        ]));
        assert!(
            d.get(ENTERPRISE_USER_SCHEMA).is_none(),
            "an emptied extension disappears"
        );
        let d = patch_ok(
            json!([{"op": "replace", "path": ENTERPRISE_USER_SCHEMA, "value": {"costCenter": "42", "department": null}}]),
        );
        assert_eq!(
            d[ENTERPRISE_USER_SCHEMA],
            json!({"costCenter": "42", "manager": {"value": "m-1"}})
        );
        let d = patch_ok(
            json!([{"op": "replace", "value": {"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Division": "D"}}}]),
        );
        assert_eq!(d[ENTERPRISE_USER_SCHEMA]["division"], json!("D"));
        let d = patch_ok(json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}]));
        assert!(d.get(ENTERPRISE_USER_SCHEMA).is_none());
        let d = patched(
            doc(json!({"userName": "b"})),
            json!([{"op": "add", "path": DEPT, "value": "New"}]),
        )
        .expect("ok");
        assert_eq!(d[ENTERPRISE_USER_SCHEMA], json!({"department": "New"}));
        patch_err(
            json!([{"op": "replace", "path": DEPT, "value": ["x"]}]),
            ScimType::InvalidValue,
        );
        patch_err(
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName", "value": "x"}]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn unknown_paths_are_invalid_path_naming_them() {
        for path in [
            "nickname.first",
            "favouriteColour",
            "name.nickName",
            "urn:example:custom:2.0:User:badge",
            "emails.label",
        ] {
            let e = patch_err(
                json!([{"op": "replace", "path": path, "value": "x"}]),
                ScimType::InvalidPath,
            );
            assert!(e.detail.contains(path), "{path}: {e}");
        }
        patch_err(
            json!([{"op": "remove", "path": "name[givenName eq \"Alice\"]"}]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn read_only_and_write_only_paths_are_ignored() {
        let d = patch_ok(json!([
            {"op": "replace", "path": "id", "value": "x"},
            {"op": "replace", "path": "meta.lastModified", "value": "x"},
            {"op": "remove", "path": "schemas"},
            {"op": "replace", "path": "password", "value": "secret"},
            {"op": "add", "path": "groups", "value": [{"value": "g"}]},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "Bob"},
            {"op": "replace", "value": {"password": "secret", "id": "x"}},
        ]));
        assert_eq!(d, Value::Object(alice()));
    }

    #[test]
    fn remove_with_filters() {
        let d = patch_ok(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
        assert_eq!(
            d["emails"],
            json!([{"value": "alice@work.example", "type": "work", "primary": true}])
        );
        let d = patch_ok(json!([{"op": "remove", "path": "emails[type eq \"nope\"]"}]));
        assert_eq!(
            d,
            Value::Object(alice()),
            "a filter matching nothing removes nothing"
        );
        let d = patch_ok(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
        assert_eq!(
            d["emails"][0],
            json!({"value": "alice@work.example", "type": "work"})
        );
        let d = patch_ok(
            json!([{"op": "remove", "path": "emails[type eq \"home\"].value"}, {"op": "remove", "path": "emails[type eq \"home\"].type"}]),
        );
        assert_eq!(
            d["emails"].as_array().map(Vec::len),
            Some(1),
            "an emptied value disappears"
        );
        let d = patch_ok(json!([{"op": "remove", "path": "emails"}]));
        assert!(d.get("emails").is_none());
        let d = patch_ok(json!([{"op": "remove", "path": "emails[type pr]"}]));
        assert!(d.get("emails").is_none(), "an emptied list disappears");
        let d = patch_ok(json!([{"op": "remove", "path": "emails.type"}]));
        assert_eq!(
            d["emails"],
            json!([{"value": "alice@work.example", "primary": true}, {"value": "alice@home.example"}])
        );
    }

    #[test]
    fn remove_with_value_removes_matching_values() {
        let d =
            patch_ok(json!([{"op": "Remove", "path": "emails", "value": [{"value": "ALICE@home.example"}]}]));
        assert_eq!(
            d["emails"],
            json!([{"value": "alice@work.example", "type": "work", "primary": true}])
        );
        let d = patch_ok(
            json!([{"op": "Remove", "path": "emails", "value": [{"value": "nobody@x"}, {"bogus": 1}]}]),
        );
        assert_eq!(d, Value::Object(alice()));
    }

    #[test]
    fn filter_operators() {
        let start = doc(json!({
            "userName": "u",
            "phoneNumbers": [
                {"value": "+47 100", "type": "work"},
                {"value": "+1 200", "type": "Mobile", "primary": true},
                {"value": "300", "display": "fax line"},
            ],
        }));
        let remaining = |filter: &str| -> Vec<String> {
            let d = patched(
                start.clone(),
                json!([{"op": "remove", "path": format!("phoneNumbers[{filter}]")}]),
            )
            .expect("applies");
            d.get("phoneNumbers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p["value"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            remaining("type eq \"mobile\""),
            ["+47 100", "300"],
            "eq ignores case"
        );
        assert_eq!(remaining("type ne \"work\""), ["+47 100"], "ne matches absent");
        assert_eq!(remaining("value co \"00\" and value sw \"+\""), ["300"]);
        assert_eq!(remaining("value ew \"200\""), ["+47 100", "300"]);
        assert_eq!(remaining("display pr"), ["+47 100", "+1 200"]);
        assert_eq!(remaining("value gt \"+2\""), ["+1 200"]);
        assert_eq!(remaining("value ge \"+47 100\""), ["+1 200"]);
        assert_eq!(remaining("value lt \"+2\""), ["+47 100", "300"]);
        assert_eq!(remaining("value le \"+1 200\""), ["+47 100", "300"]);
        assert_eq!(remaining("primary eq true"), ["+47 100", "300"]);
        assert_eq!(remaining("primary eq \"True\""), ["+47 100", "300"]);
        assert_eq!(remaining("not (primary eq true)"), ["+1 200"]);
        assert_eq!(remaining("type eq \"work\" or display co \"FAX\""), ["+1 200"]);
        assert_eq!(remaining("type eq null"), ["+47 100", "+1 200"]);
    }

    #[test]
    fn bad_value_filters_are_invalid_filter() {
        for path in [
            "emails[label eq \"x\"].value",
            "emails[primary gt true].value",
            "emails[primary eq \"yes\"].value",
            "emails[type eq 5].value",
            "emails[type gt null].value",
            "emails[emails.type eq \"work\"].value",
        ] {
            let e = patch_err(
                json!([{"op": "replace", "path": path, "value": "x"}]),
                ScimType::InvalidFilter,
            );
            assert!(e.detail.contains("emails"), "{path}: {e}");
        }
        // Checked even when there are no values to test.
        let e = patched(
            doc(json!({"userName": "u"})),
            json!([{"op": "remove", "path": "roles[nope pr]"}]),
        )
        .expect_err("bad filter");
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn multi_valued_add_and_replace() {
        let d = patch_ok(
            json!([{"op": "add", "path": "emails", "value": {"value": "alice@other.example", "type": "other"}}]),
        );
        assert_eq!(
            d["emails"][2],
            json!({"value": "alice@other.example", "type": "other"})
        );
        let d = patch_ok(
            json!([{"op": "add", "path": "emails", "value": [{"value": "alice@home.example", "type": "home"}]}]),
        );
        assert_eq!(
            d,
            Value::Object(alice()),
            "adding an existing value does not duplicate it"
        );
        let d = patch_ok(
            json!([{"op": "add", "path": "emails", "value": [{"value": "alice@home.example", "type": "home", "primary": "true"}]}]),
        );
        assert_eq!(
            d["emails"],
            json!([
                {"value": "alice@work.example", "type": "work", "primary": false},
                {"value": "alice@home.example", "type": "home", "primary": true},
            ]),
            "a new primary demotes the old one"
        );
        let d =
            patch_ok(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.example"}]}]));
        assert_eq!(d["emails"], json!([{"value": "only@x.example"}]));
        let d = patch_ok(json!([{"op": "replace", "path": "emails", "value": []}]));
        assert!(d.get("emails").is_none());
        let d = patch_ok(
            json!([{"op": "add", "value": {"emails": [{"value": "n@x.example"}], "roles": {"value": "admin"}}}]),
        );
        assert_eq!(d["emails"].as_array().map(Vec::len), Some(3));
        assert_eq!(d["roles"], json!([{"value": "admin"}]));
        let d =
            patch_ok(json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]));
        assert_eq!(d["emails"][0]["primary"], json!(false));
        assert_eq!(d["emails"][1]["primary"], json!(true));
        let d = patch_ok(json!([{"op": "replace", "path": "emails.type", "value": "other"}]));
        assert_eq!(d["emails"][0]["type"], json!("other"));
        assert_eq!(d["emails"][1]["type"], json!("other"));
        let d = patched(
            doc(json!({"userName": "u"})),
            json!([{"op": "add", "path": "emails.value", "value": "u@x"}]),
        )
        .expect("ok");
        assert_eq!(d["emails"], json!([{"value": "u@x"}]));
        let e = patch_err(
            json!([{"op": "add", "path": "emails", "value": [{"value": 5}]}]),
            ScimType::InvalidValue,
        );
        assert!(e.detail.contains("emails[0].value"), "{e}");
        patch_err(
            json!([{"op": "add", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]),
            ScimType::InvalidValue,
        );
    }

    #[test]
    fn null_values_in_operations() {
        let d = patch_ok(json!([{"op": "add", "path": "displayName", "value": null}]));
        assert_eq!(d, Value::Object(alice()));
        let d = patch_ok(json!([{"op": "replace", "path": "emails", "value": null}]));
        assert!(d.get("emails").is_none());
        let d = patch_ok(json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": null}]));
        assert_eq!(d["emails"].as_array().map(Vec::len), Some(1));
        let d = patch_ok(json!([{"op": "replace", "value": {"displayName": null, "title": null}}]));
        assert!(d.get("displayName").is_none());
    }

    #[test]
    fn operations_apply_in_order_and_atomically() {
        let d = patch_ok(json!([
            {"op": "replace", "path": "displayName", "value": "First"},
            {"op": "replace", "path": "displayName", "value": "Second"},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "add", "path": "emails", "value": {"value": "again@home.example", "type": "home"}},
        ]));
        assert_eq!(d["displayName"], json!("Second"));
        assert_eq!(
            d["emails"][1],
            json!({"value": "again@home.example", "type": "home"})
        );
        patch_err(
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "nope", "value": 1},
            ]),
            ScimType::InvalidPath,
        );
    }

    #[test]
    fn path_less_values_must_be_objects() {
        patch_err(json!([{"op": "replace", "value": "x"}]), ScimType::InvalidValue);
        patch_err(json!([{"op": "add", "value": null}]), ScimType::InvalidValue);
        let mut d = alice();
        let op = PatchOperation {
            op: PatchOpKind::Remove,
            path: None,
            value: None,
        };
        let e = apply_user_patch(&mut d, &[op]).expect_err("no target");
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn patched_values_follow_the_normalisation_rules() {
        let body = json!({"userName": "alice", "Emails": {"Value": "a@x", "Primary": "TRUE"}, "Name": {"givenName": "A"}});
        let normalised = match body {
            Value::Object(ref m) => Value::Object(user_doc::normalise_user(m).expect("valid")),
            _ => unreachable!(),
        };
        let via_patch = patched(
            doc(json!({"userName": "alice"})),
            json!([{"op": "add", "value": body}]),
        )
        .expect("ok");
        assert_eq!(via_patch, normalised);
    }

    #[test]
    fn removing_a_filtered_value_removes_the_element() {
        let mut doc = user_doc::normalise_user(
            json!({"userName": "u", "emails": [{"type": "work", "value": "w@x"}, {"type": "home", "value": "h@x"}]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let ops = parse_patch_request(&json!({"schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "Remove", "path": "emails[type eq \"work\"].value"}]}))
        .unwrap();
        apply_user_patch(&mut doc, &ops).unwrap();
        assert_eq!(doc["emails"], json!([{"type": "home", "value": "h@x"}]));
    }
}
