//! The stored User document (RFC 7643 §4.1 plus the enterprise extension, §4.3) and the editing
//! rules shared by POST/PUT normalisation and PATCH (RFC 7644 §3.5.2), so both honour exactly
//! what `schema` advertises.
//!
//! Layout of a stored document: top-level keys are canonical names of `schema::USER` attributes
//! plus `externalId`; the extension is an object under `ENTERPRISE_USER_SCHEMA` whose keys are
//! canonical `schema::ENTERPRISE_USER` names; sub-attribute keys are canonical too. Unassigned
//! values are absent (never `null`, never an empty array or object), so the document has one
//! spelling for every state and the store can compare documents for equality.

use serde_json::{Map, Value};

use super::ast::{AttrPath, CompareOp, ENTERPRISE_USER_SCHEMA, Filter, PatchPath, USER_SCHEMA};
use super::error::{ScimError, ScimType};
use super::filter::parse_patch_path;
use super::schema::{self, AttrDef, AttrType, Mutability, Uniqueness};

pub use super::resource::MAX_NAME_CHARS;

/// `externalId` is common to every resource type (RFC 7643 §3.1) rather than part of the User
/// schema, so the schema table does not list it; it is the IdP's identifier, hence case-exact.
static EXTERNAL_ID: AttrDef = AttrDef {
    name: "externalId",
    ty: AttrType::String,
    multi_valued: false,
    required: false,
    case_exact: true,
    mutability: Mutability::ReadWrite,
    uniqueness: Uniqueness::None,
    description: "Identifier of the user in the provisioning client.",
    canonical_values: &[],
    reference_types: &[],
    sub_attributes: &[],
};

/// Core attributes clients send that are never stored: server-owned (`id`, `meta`, `schemas`),
/// write-only (`password`, which must never be kept) or derived from group membership (`groups`).
const IGNORED: [&str; 5] = ["id", "meta", "schemas", "password", "groups"];

/// One e-mail address of a user, as the store indexes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRow {
    /// The address, as sent.
    pub value: String,
    /// Its `type` (`work`, `home`, …), if given.
    pub kind: Option<String>,
    /// Whether it is the user's primary address.
    pub primary: bool,
}

/// Normalises a POST or PUT body into a stored document (see the module docs for the layout).
pub fn normalise_user(body: &Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    let mut doc = Map::new();
    // A body is a list of attribute assignments: applying it as a path-less replace onto an
    // empty document shares every name, type and null rule with PATCH.
    edit_resource(&mut doc, Edit::Replace, body)?;
    validate_user(&doc)?;
    Ok(doc)
}

/// Checks the invariants of a stored document: `userName` present and not blank, the names
/// within `MAX_NAME_CHARS`, at most one `primary` value per multi-valued attribute.
pub fn validate_user(doc: &Map<String, Value>) -> Result<(), ScimError> {
    match doc.get("userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(Value::String(_)) => return Err(ScimError::invalid_value("userName must not be blank")),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "userName must be a string, not {}",
                describe(other)
            )));
        }
        None => return Err(ScimError::invalid_value("userName is required")),
    }
    for name in ["userName", "externalId", "displayName"] {
        match doc.get(name) {
            None => {}
            Some(Value::String(s)) => {
                let chars = s.chars().count();
                if chars > MAX_NAME_CHARS {
                    return Err(ScimError::invalid_value(format!(
                        "{name} is {chars} characters long (at most {MAX_NAME_CHARS})"
                    )));
                }
            }
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "{name} must be a string, not {}",
                    describe(other)
                )));
            }
        }
    }
    let ext = doc.get(ENTERPRISE_USER_SCHEMA).and_then(Value::as_object);
    let scopes = [
        (Some(doc), &schema::USER, ""),
        (ext, &schema::ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA),
    ];
    for (container, schema, prefix) in scopes {
        let Some(container) = container else { continue };
        for def in schema.attributes.iter().filter(|d| d.multi_valued) {
            let Some(Value::Array(items)) = container.get(def.name) else {
                continue;
            };
            if items.iter().filter(|v| is_primary(v)).count() > 1 {
                let sep = if prefix.is_empty() { "" } else { ":" };
                return Err(ScimError::invalid_value(format!(
                    "{prefix}{sep}{} has more than one value with \"primary\": true",
                    def.name
                )));
            }
        }
    }
    Ok(())
}

/// The user's `userName` (empty only for a document that failed `validate_user`).
pub fn user_name(doc: &Map<String, Value>) -> &str {
    doc.get("userName").and_then(Value::as_str).unwrap_or_default()
}

/// The user's `externalId`, if assigned.
pub fn external_id(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("externalId").and_then(Value::as_str)
}

/// Whether the user is active; unassigned means active (RFC 7643 leaves the default to us, and
/// IdPs create users without the attribute and only send it to deactivate).
pub fn active(doc: &Map<String, Value>) -> bool {
    doc.get("active").and_then(Value::as_bool).unwrap_or(true)
}

/// The user's `displayName`, if assigned.
pub fn display_name(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("displayName").and_then(Value::as_str)
}

/// The user's e-mail addresses in document order; entries without an address are skipped.
pub fn emails(doc: &Map<String, Value>) -> Vec<EmailRow> {
    let Some(Value::Array(items)) = doc.get("emails") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let value = item.get("value")?.as_str()?.to_owned();
            let kind = item.get("type").and_then(Value::as_str).map(str::to_owned);
            Some(EmailRow {
                value,
                kind,
                primary: is_primary(item),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Editing primitives shared with `patch`.

/// The three PATCH operations, as edits of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    Add,
    Replace,
    Remove,
}

/// Which object of the document holds an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Core,
    Enterprise,
}

/// What a path designates in a User document.
pub(super) enum Resolved<'a> {
    Target(Target<'a>),
    /// Accepted and ignored: server-owned, write-only or read-only.
    Ignored,
    /// Not supported by this server; the text says why.
    Unknown(String),
}

/// A location in the document: an attribute (or the whole extension when `attr` is `None`),
/// optionally narrowed by a value filter and/or to one sub-attribute.
pub(super) struct Target<'a> {
    scope: Scope,
    attr: Option<&'static AttrDef>,
    filter: Option<&'a Filter>,
    sub: Option<&'static AttrDef>,
}

/// Resolves a parsed path; unqualified names belong to `default` (the core schema for request
/// paths, the extension for keys inside the extension object).
pub(super) fn resolve(path: &PatchPath, default: Scope) -> Resolved<'_> {
    let sub = match (path.attr.sub_attr.as_deref(), path.sub_attr.as_deref()) {
        (Some(_), Some(_)) => return Resolved::Unknown("a path can name only one sub-attribute".into()),
        (a, b) => a.or(b),
    };
    let AttrPath { urn, attr, .. } = &path.attr;
    let scope = match urn.as_deref() {
        None => default,
        Some(u) if u.eq_ignore_ascii_case(USER_SCHEMA) => Scope::Core,
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) => Scope::Enterprise,
        // The parser splits at the last ':', so the extension's own URN arrives as
        // `urn:…:enterprise:2.0` + `User`.
        Some(u) if format!("{u}:{attr}").eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) => {
            if sub.is_some() || path.filter.is_some() {
                return Resolved::Unknown(format!(
                    "{ENTERPRISE_USER_SCHEMA} is an extension, not a multi-valued or complex attribute"
                ));
            }
            return Resolved::Target(Target {
                scope: Scope::Enterprise,
                attr: None,
                filter: None,
                sub: None,
            });
        }
        Some(u) => {
            return Resolved::Unknown(format!(
                "schema {u} is not supported for users (only {USER_SCHEMA} and {ENTERPRISE_USER_SCHEMA})"
            ));
        }
    };
    let table = match scope {
        Scope::Core => &schema::USER,
        Scope::Enterprise => &schema::ENTERPRISE_USER,
    };
    let def = if scope == Scope::Core && attr.eq_ignore_ascii_case(EXTERNAL_ID.name) {
        &EXTERNAL_ID
    } else if let Some(def) = table.attr(attr) {
        def
    } else if scope == Scope::Core && IGNORED.iter().any(|n| n.eq_ignore_ascii_case(attr)) {
        return Resolved::Ignored;
    } else {
        let owner = match scope {
            Scope::Core => "the User schema".to_owned(),
            Scope::Enterprise => ENTERPRISE_USER_SCHEMA.to_owned(),
        };
        return Resolved::Unknown(format!("{owner} has no attribute {attr:?}"));
    };
    if def.mutability == Mutability::ReadOnly {
        return Resolved::Ignored;
    }
    let sub = match sub {
        None => None,
        Some(name) => match def.sub(name) {
            Some(s) if s.mutability == Mutability::ReadOnly => return Resolved::Ignored,
            Some(s) => Some(s),
            None if def.sub_attributes.is_empty() => {
                return Resolved::Unknown(format!("{} has no sub-attributes", def.name));
            }
            None => return Resolved::Unknown(format!("{} has no sub-attribute {name:?}", def.name)),
        },
    };
    Resolved::Target(Target {
        scope,
        attr: Some(def),
        filter: path.filter.as_ref(),
        sub,
    })
}

/// Applies a path-less add or replace: each key of `values` names an attribute or a path (Entra
/// sends `"name.givenName"` and URN-qualified extension attributes as keys). Keys that do not
/// name a supported, writable attribute are ignored, as unknown attributes in bodies are.
pub(super) fn edit_resource(
    doc: &mut Map<String, Value>,
    edit: Edit,
    values: &Map<String, Value>,
) -> Result<(), ScimError> {
    edit_keys(doc, edit, values, Scope::Core)
}

fn edit_keys(
    doc: &mut Map<String, Value>,
    edit: Edit,
    values: &Map<String, Value>,
    default: Scope,
) -> Result<(), ScimError> {
    for (key, value) in values {
        let Ok(path) = parse_patch_path(key) else { continue };
        if let Resolved::Target(target) = resolve(&path, default) {
            edit_target(doc, edit, &target, Some(value))?;
        }
    }
    Ok(())
}

/// Applies one operation at `target`. `value` is `None` only when the operation carried none
/// (a remove); `null` means "unassigned": replacing with it clears, adding it adds nothing.
pub(super) fn edit_target(
    doc: &mut Map<String, Value>,
    edit: Edit,
    target: &Target<'_>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(def) = target.attr else {
        return edit_extension(doc, edit, value);
    };
    let label = target_label(target);
    let value = value.unwrap_or(&Value::Null);
    let container = match target.scope {
        Scope::Core => doc,
        Scope::Enterprise => {
            // Taken out and put back so an extension left empty disappears with its last attribute.
            let mut ext = match doc.remove(ENTERPRISE_USER_SCHEMA) {
                Some(Value::Object(ext)) => ext,
                _ => Map::new(),
            };
            let result = edit_in(&mut ext, edit, def, target, value, &label);
            if !ext.is_empty() {
                doc.insert(ENTERPRISE_USER_SCHEMA.to_owned(), Value::Object(ext));
            }
            return result;
        }
    };
    edit_in(container, edit, def, target, value, &label)
}

fn edit_in(
    container: &mut Map<String, Value>,
    edit: Edit,
    def: &'static AttrDef,
    target: &Target<'_>,
    value: &Value,
    label: &str,
) -> Result<(), ScimError> {
    if def.multi_valued {
        let mut items = match container.remove(def.name) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other],
        };
        let result = edit_items(&mut items, edit, def, target, value, label);
        if !items.is_empty() {
            container.insert(def.name.to_owned(), Value::Array(items));
        }
        return result;
    }
    if target.filter.is_some() {
        return Err(ScimError::invalid_path(format!(
            "{label}: {} is single-valued, so there are no values for a filter to select",
            def.name
        )));
    }
    match (edit, target.sub) {
        (Edit::Remove, None) => {
            if def.required {
                return Err(ScimError::bad_request(
                    ScimType::Mutability,
                    format!("{label} is required and cannot be removed"),
                ));
            }
            container.remove(def.name);
        }
        (_, None) if def.ty == AttrType::Complex && value.is_object() => {
            let mut object = match container.remove(def.name) {
                Some(Value::Object(object)) => object,
                _ => Map::new(),
            };
            let result = merge_object(&mut object, def, value, label);
            if !object.is_empty() {
                container.insert(def.name.to_owned(), Value::Object(object));
            }
            return result;
        }
        (_, None) => match normalise_value(def, value, label)? {
            Some(v) => {
                container.insert(def.name.to_owned(), v);
            }
            None if edit == Edit::Replace => {
                container.remove(def.name);
            }
            None => {}
        },
        (_, Some(sub)) => {
            let mut object = match container.remove(def.name) {
                Some(Value::Object(object)) => object,
                _ => Map::new(),
            };
            let result = edit_sub(&mut object, edit, sub, value, label);
            if !object.is_empty() {
                container.insert(def.name.to_owned(), Value::Object(object));
            }
            return result;
        }
    }
    Ok(())
}

/// Sets (or, for a remove or a replace with null, clears) one sub-attribute of one object.
fn edit_sub(
    object: &mut Map<String, Value>,
    edit: Edit,
    sub: &AttrDef,
    value: &Value,
    label: &str,
) -> Result<(), ScimError> {
    if edit == Edit::Remove {
        object.remove(sub.name);
        return Ok(());
    }
    match normalise_value(sub, value, label)? {
        Some(v) => {
            object.insert(sub.name.to_owned(), v);
        }
        None if edit == Edit::Replace => {
            object.remove(sub.name);
        }
        None => {}
    }
    Ok(())
}

/// RFC 7644 §3.5.2.1/.3: the sub-attributes given replace or add to the existing ones and the
/// others stay; an explicit `null` clears one.
fn merge_object(
    object: &mut Map<String, Value>,
    def: &AttrDef,
    value: &Value,
    label: &str,
) -> Result<(), ScimError> {
    let Value::Object(given) = value else {
        return Err(type_error(def, value, label));
    };
    for (key, _) in given.iter().filter(|(_, v)| v.is_null()) {
        if let Some(sub) = def.sub(key) {
            object.remove(sub.name);
        }
    }
    object.extend(normalise_object(def, given, label)?);
    Ok(())
}

fn edit_extension(doc: &mut Map<String, Value>, edit: Edit, value: Option<&Value>) -> Result<(), ScimError> {
    match (edit, value) {
        (Edit::Remove, _) => {
            doc.remove(ENTERPRISE_USER_SCHEMA);
            Ok(())
        }
        (Edit::Replace, None | Some(Value::Null)) => {
            doc.remove(ENTERPRISE_USER_SCHEMA);
            Ok(())
        }
        (_, None | Some(Value::Null)) => Ok(()),
        (_, Some(Value::Object(values))) => edit_keys(doc, edit, values, Scope::Enterprise),
        (_, Some(other)) => Err(ScimError::invalid_value(format!(
            "{ENTERPRISE_USER_SCHEMA} must be an object of extension attributes, not {}",
            describe(other)
        ))),
    }
}

/// Edits the values of a multi-valued attribute, selected by a value filter, or all of them when
/// a sub-attribute is named without a filter (`emails.type`).
fn edit_items(
    items: &mut Vec<Value>,
    edit: Edit,
    def: &'static AttrDef,
    target: &Target<'_>,
    value: &Value,
    label: &str,
) -> Result<(), ScimError> {
    if let Some(filter) = target.filter {
        if def.sub_attributes.is_empty() {
            return Err(ScimError::invalid_path(format!(
                "{label}: {} has no sub-attributes for a value filter to test",
                def.name
            )));
        }
        check_filter(def, filter).map_err(|e| ScimError {
            detail: format!("{label}: {}", e.detail),
            ..e
        })?;
    } else if target.sub.is_none() {
        return edit_whole_list(items, edit, def, value, label);
    }
    let selected: Vec<bool> = items
        .iter()
        .map(|item| target.filter.is_none_or(|f| eval(def, item, f)))
        .collect();
    let any_selected = selected.contains(&true);
    let set_primary;
    match (edit, target.sub) {
        (Edit::Remove, sub) => {
            remove_selected(items, &selected, sub);
            return Ok(());
        }
        (_, Some(sub)) => {
            let Some(v) = normalise_value(sub, value, label)? else {
                if edit == Edit::Replace {
                    remove_selected(items, &selected, Some(sub));
                }
                return Ok(());
            };
            set_primary = sub.name == "primary" && v == Value::Bool(true);
            if any_selected {
                for (item, _) in items.iter_mut().zip(&selected).filter(|(_, s)| **s) {
                    if let Value::Object(object) = item {
                        object.insert(sub.name.to_owned(), v.clone());
                    }
                }
            } else {
                let mut fresh = seed_for(def, target.filter, label)?;
                fresh.insert(sub.name.to_owned(), v);
                items.push(Value::Object(fresh));
            }
        }
        (_, None) => {
            let given = match normalise_value(def, value, label)? {
                None => {
                    if edit == Edit::Replace {
                        remove_selected(items, &selected, None);
                    }
                    return Ok(());
                }
                Some(Value::Array(mut given)) if given.len() == 1 => match given.pop() {
                    Some(Value::Object(object)) => object,
                    _ => return Err(type_error(def, value, label)),
                },
                Some(_) => {
                    return Err(ScimError::invalid_value(format!(
                        "{label} selects values with a filter, so the value must be one {} object",
                        def.name
                    )));
                }
            };
            set_primary = is_primary_map(&given);
            if any_selected {
                // Seeding from the filter keeps `type` when Entra replaces
                // `emails[type eq "work"]` with just a new address.
                let seed = eq_seed(def, target.filter).unwrap_or_default();
                for (item, _) in items.iter_mut().zip(&selected).filter(|(_, s)| **s) {
                    let base = match (edit, std::mem::take(item)) {
                        (Edit::Add, Value::Object(existing)) => existing,
                        _ => seed.clone(),
                    };
                    let mut merged = base;
                    merged.extend(given.clone());
                    *item = Value::Object(merged);
                }
            } else {
                let mut fresh = seed_for(def, target.filter, label)?;
                fresh.extend(given);
                items.push(Value::Object(fresh));
            }
        }
    }
    if set_primary {
        // RFC 7644 §3.5.2: making one value primary demotes the others. Fresh values were pushed
        // last, so "not selected" would wrongly include them; compare against the result instead.
        let fresh_start = selected.len();
        for (i, item) in items.iter_mut().enumerate() {
            let keep = i >= fresh_start || selected.get(i).copied().unwrap_or(false);
            if !keep {
                demote(item);
            }
        }
    }
    Ok(())
}

/// The value of a filtered add/replace that matched nothing (Entra: "a Replace on a
/// value-filter path that matches nothing adds the value"): the filter's `eq` terms become
/// sub-attributes of the new value. A filter that is not such a conjunction cannot describe the
/// value to create, which RFC 7644 §3.5.2.3 answers with `noTarget`.
fn seed_for(def: &AttrDef, filter: Option<&Filter>, label: &str) -> Result<Map<String, Value>, ScimError> {
    if filter.is_none() {
        return Ok(Map::new());
    }
    eq_seed(def, filter).ok_or_else(|| {
        ScimError::no_target(format!(
            "{label} matches no value, and a new one can only be created from a filter of \
             \"eq\" terms joined with \"and\""
        ))
    })
}

fn eq_seed(def: &AttrDef, filter: Option<&Filter>) -> Option<Map<String, Value>> {
    match filter? {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let sub = def
                .sub(&path.attr)
                .filter(|s| s.mutability != Mutability::ReadOnly)?;
            let v = normalise_value(sub, value, sub.name).ok()??;
            Some(Map::from_iter([(sub.name.to_owned(), v)]))
        }
        Filter::And(a, b) => {
            let mut seed = eq_seed(def, Some(a))?;
            for (k, v) in eq_seed(def, Some(b))? {
                if seed.get(&k).is_some_and(|old| *old != v) {
                    return None;
                }
                seed.insert(k, v);
            }
            Some(seed)
        }
        _ => None,
    }
}

fn remove_selected(items: &mut Vec<Value>, selected: &[bool], sub: Option<&AttrDef>) {
    let mut flags = selected.iter();
    match sub {
        // `value` is what an e-mail or phone number is: removing it (Entra clears a work
        // address with `Remove emails[type eq "work"].value`) removes the element, not just the key.
        None => items.retain(|_| !flags.next().copied().unwrap_or(false)),
        Some(sub) if sub.name == "value" => items.retain(|_| !flags.next().copied().unwrap_or(false)),
        Some(sub) => {
            for (item, _) in items.iter_mut().zip(selected).filter(|(_, s)| **s) {
                if let Value::Object(object) = item {
                    object.remove(sub.name);
                }
            }
            items.retain(|item| !item.as_object().is_some_and(Map::is_empty));
        }
    }
}

/// Add, replace or remove on a multi-valued attribute as a whole.
fn edit_whole_list(
    items: &mut Vec<Value>,
    edit: Edit,
    def: &AttrDef,
    value: &Value,
    label: &str,
) -> Result<(), ScimError> {
    let given = match normalise_value(def, value, label)? {
        Some(Value::Array(given)) => given,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    match edit {
        Edit::Replace => *items = given,
        Edit::Add => {
            // Adding a value that is already there (IdPs resend whole lists) must not duplicate it;
            // only its `primary` flag may change.
            let mut touched = Vec::with_capacity(given.len());
            for v in given {
                match items.iter().position(|item| same_but_primary(item, &v)) {
                    Some(i) => {
                        if let (Some(p), Some(Value::Object(item))) = (v.get("primary"), items.get_mut(i)) {
                            item.insert("primary".to_owned(), p.clone());
                        }
                        touched.push(i);
                    }
                    None => {
                        items.push(v);
                        touched.push(items.len() - 1);
                    }
                }
            }
            if touched.iter().any(|&i| items.get(i).is_some_and(is_primary)) {
                for (i, item) in items.iter_mut().enumerate() {
                    if !touched.contains(&i) {
                        demote(item);
                    }
                }
            }
        }
        // Without a value everything goes; with one (Entra's member-removal shape) only the values
        // that agree with a given one on every sub-attribute it names.
        Edit::Remove if value.is_null() => items.clear(),
        Edit::Remove => items.retain(|item| !given.iter().any(|g| same_values(def, item, g))),
    }
    Ok(())
}

fn same_values(def: &AttrDef, item: &Value, wanted: &Value) -> bool {
    match wanted {
        Value::Object(wanted) => {
            !wanted.is_empty()
                && wanted.iter().all(|(k, w)| {
                    let case_exact = def.sub(k).is_some_and(|s| s.case_exact);
                    item.get(k).is_some_and(|v| scalar_eq(v, w, case_exact))
                })
        }
        scalar => scalar_eq(item, scalar, def.case_exact),
    }
}

fn same_but_primary(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let rest = |m: &Map<String, Value>| m.iter().filter(|(k, _)| *k != "primary").count();
            rest(a) == rest(b)
                && a.iter()
                    .filter(|(k, _)| *k != "primary")
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

fn scalar_eq(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

fn is_primary_map(m: &Map<String, Value>) -> bool {
    m.get("primary") == Some(&Value::Bool(true))
}

fn demote(item: &mut Value) {
    if let Some(p) = item.get_mut("primary")
        && *p == Value::Bool(true)
    {
        *p = Value::Bool(false);
    }
}

// ---------------------------------------------------------------------------------------------
// Value normalisation: the type rules for every attribute, in one place.

/// Normalises a value sent for `def`: `null` (and a list of only nulls) is unassigned (`None`),
/// string booleans are coerced, a single value for a multi-valued attribute is wrapped, unknown
/// and read-only sub-attributes are dropped; a wrong type is `invalidValue` naming `label`.
pub(super) fn normalise_value(def: &AttrDef, value: &Value, label: &str) -> Result<Option<Value>, ScimError> {
    if !def.multi_valued {
        return normalise_one(def, value, label);
    }
    let items = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(v) = normalise_one(def, item, &format!("{label}[{i}]"))? {
            out.push(v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn normalise_one(def: &AttrDef, value: &Value, label: &str) -> Result<Option<Value>, ScimError> {
    let ok = |v: Value| Ok(Some(v));
    match (def.ty, value) {
        (_, Value::Null) => Ok(None),
        (AttrType::Complex, Value::Object(object)) => {
            let object = normalise_object(def, object, label)?;
            Ok((!object.is_empty()).then_some(Value::Object(object)))
        }
        // Entra sends the enterprise `manager` as the manager's id rather than `{"value": id}`.
        (AttrType::Complex, Value::String(s)) if !def.multi_valued && def.sub("value").is_some() => ok(
            Value::Object(Map::from_iter([("value".to_owned(), Value::String(s.clone()))])),
        ),
        (AttrType::Boolean, v) => match as_bool(v) {
            Some(b) => ok(Value::Bool(b)),
            None => Err(type_error(def, value, label)),
        },
        (AttrType::String | AttrType::Reference | AttrType::DateTime, Value::String(_)) => ok(value.clone()),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => ok(value.clone()),
        (AttrType::Decimal, Value::Number(_)) => ok(value.clone()),
        _ => Err(type_error(def, value, label)),
    }
}

fn normalise_object(
    def: &AttrDef,
    given: &Map<String, Value>,
    label: &str,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for (key, v) in given {
        let Some(sub) = def.sub(key) else { continue };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(v) = normalise_value(sub, v, &format!("{label}.{}", sub.name))? {
            out.insert(sub.name.to_owned(), v);
        }
    }
    Ok(out)
}

/// JSON booleans, and the strings Entra sends for them ("True", "false", any case).
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn type_error(def: &AttrDef, value: &Value, label: &str) -> ScimError {
    let expected = match def.ty {
        AttrType::Complex if def.multi_valued => "an object or a list of objects",
        AttrType::Complex => "an object",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::String | AttrType::Reference | AttrType::DateTime => "a string",
    };
    ScimError::invalid_value(format!("{label} must be {expected}, not {}", describe(value)))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Value::String(_) => "a long string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Value filters, evaluated in memory against the values of one multi-valued attribute.

/// Rejects filters that could never be evaluated (unknown sub-attributes, operators the type
/// does not have) whether or not there are values to test, so the answer does not depend on data.
fn check_filter(def: &AttrDef, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => {
            let sub = filter_sub(def, path)?;
            check_comparison(sub, *op, value)
        }
        Filter::Present(path) => filter_sub(def, path).map(drop),
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_filter(def, a)?;
            check_filter(def, b)
        }
        Filter::Not(inner) => check_filter(def, inner),
        Filter::ValuePath { .. } | Filter::ValuePathCompare { .. } => Err(ScimError::invalid_filter(
            format!("value filters cannot be nested inside {}[…]", def.name),
        )),
    }
}

fn filter_sub(def: &AttrDef, path: &AttrPath) -> Result<&'static AttrDef, ScimError> {
    if path.urn.is_some() || path.sub_attr.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "inside {}[…] name a sub-attribute of {} alone, e.g. {}[type eq \"work\"]",
            def.name, def.name, def.name
        )));
    }
    def.sub(&path.attr).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "{} has no sub-attribute {:?} to filter on",
            def.name, path.attr
        ))
    })
}

fn check_comparison(sub: &AttrDef, op: CompareOp, value: &Value) -> Result<(), ScimError> {
    let fail = |why: &str| {
        Err(ScimError::invalid_filter(format!(
            "`{} {} {value}`: {why}",
            sub.name,
            op_name(op)
        )))
    };
    let equality = matches!(op, CompareOp::Eq | CompareOp::Ne);
    let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
    match (sub.ty, value) {
        (_, Value::Null) if equality => Ok(()),
        (_, Value::Null) => fail("null can only be compared with eq or ne"),
        (AttrType::Boolean, v) if as_bool(v).is_some() => {
            if equality {
                Ok(())
            } else {
                fail("a boolean can only be compared with eq or ne")
            }
        }
        (AttrType::Integer | AttrType::Decimal, Value::Number(_)) => {
            if equality || ordering {
                Ok(())
            } else {
                fail("a number cannot be compared with co, sw or ew")
            }
        }
        (AttrType::String | AttrType::Reference | AttrType::DateTime, Value::String(_)) => Ok(()),
        (AttrType::Complex, _) => fail("a complex attribute cannot be compared"),
        _ => {
            let ty = match sub.ty {
                AttrType::Boolean => "a boolean",
                AttrType::Integer | AttrType::Decimal => "a number",
                _ => "a string",
            };
            fail(&format!(
                "{} is {ty}, so {value} cannot be compared with it",
                sub.name
            ))
        }
    }
}

fn eval(def: &AttrDef, item: &Value, filter: &Filter) -> bool {
    match filter {
        Filter::Compare { path, op, value } => {
            let Some(sub) = def.sub(&path.attr) else {
                return false;
            };
            let actual = item.get(sub.name).filter(|v| !v.is_null());
            compare(sub, actual, *op, value)
        }
        Filter::Present(path) => {
            def.sub(&path.attr)
                .and_then(|s| item.get(s.name))
                .is_some_and(|v| match v {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                })
        }
        Filter::And(a, b) => eval(def, item, a) && eval(def, item, b),
        Filter::Or(a, b) => eval(def, item, a) || eval(def, item, b),
        Filter::Not(inner) => !eval(def, item, inner),
        Filter::ValuePath { .. } | Filter::ValuePathCompare { .. } => false,
    }
}

fn compare(sub: &AttrDef, actual: Option<&Value>, op: CompareOp, expected: &Value) -> bool {
    use std::cmp::Ordering;
    let (actual, expected) = match (actual, expected) {
        (None, Value::Null) => return op == CompareOp::Eq,
        (None, _) => return op == CompareOp::Ne,
        (Some(_), Value::Null) => return op == CompareOp::Ne,
        (Some(a), e) => (a, e),
    };
    let ordered = |ord: Option<Ordering>| match (op, ord) {
        (_, None) => false,
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => false,
    };
    match sub.ty {
        AttrType::Boolean => match (as_bool(actual), as_bool(expected)) {
            (Some(a), Some(e)) if matches!(op, CompareOp::Eq | CompareOp::Ne) => ordered(Some(a.cmp(&e))),
            _ => false,
        },
        AttrType::Integer | AttrType::Decimal => match (actual.as_f64(), expected.as_f64()) {
            (Some(a), Some(e)) => ordered(a.partial_cmp(&e)),
            _ => false,
        },
        _ => {
            let (Some(a), Some(e)) = (actual.as_str(), expected.as_str()) else {
                return false;
            };
            let (a, e) = if sub.case_exact {
                (a.to_owned(), e.to_owned())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                _ => ordered(Some(a.cmp(&e))),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Paths and filters shown in messages, in canonical spelling.

fn target_label(target: &Target<'_>) -> String {
    let prefix = match target.scope {
        Scope::Core => String::new(),
        Scope::Enterprise => format!("{ENTERPRISE_USER_SCHEMA}:"),
    };
    let Some(def) = target.attr else {
        return ENTERPRISE_USER_SCHEMA.to_owned();
    };
    let filter = target
        .filter
        .map(|f| format!("[{}]", show_filter(f)))
        .unwrap_or_default();
    let sub = target.sub.map(|s| format!(".{}", s.name)).unwrap_or_default();
    format!("{prefix}{}{filter}{sub}", def.name)
}

/// A PATCH path as text, for messages about paths that could not be resolved.
pub(super) fn show_patch_path(path: &PatchPath) -> String {
    let filter = path
        .filter
        .as_ref()
        .map(|f| format!("[{}]", show_filter(f)))
        .unwrap_or_default();
    let sub = path
        .sub_attr
        .as_ref()
        .map(|s| format!(".{s}"))
        .unwrap_or_default();
    format!("{}{filter}{sub}", show_attr_path(&path.attr))
}

fn show_attr_path(path: &AttrPath) -> String {
    let urn = path.urn.as_ref().map(|u| format!("{u}:")).unwrap_or_default();
    let sub = path
        .sub_attr
        .as_ref()
        .map(|s| format!(".{s}"))
        .unwrap_or_default();
    format!("{urn}{}{sub}", path.attr)
}

/// A filter as text; nested terms are parenthesised so the grouping is unambiguous.
pub(super) fn show_filter(filter: &Filter) -> String {
    let group = |f: &Filter| match f {
        Filter::And(..) | Filter::Or(..) => format!("({})", show_filter(f)),
        _ => show_filter(f),
    };
    match filter {
        Filter::Compare { path, op, value } => format!("{} {} {value}", show_attr_path(path), op_name(*op)),
        Filter::Present(path) => format!("{} pr", show_attr_path(path)),
        Filter::And(a, b) => format!("{} and {}", group(a), group(b)),
        Filter::Or(a, b) => format!("{} or {}", group(a), group(b)),
        Filter::Not(inner) => format!("not ({})", show_filter(inner)),
        Filter::ValuePath { path, filter } => format!("{}[{}]", show_attr_path(path), show_filter(filter)),
        Filter::ValuePathCompare {
            path,
            filter,
            sub_attr,
            op,
            value,
        } => {
            let tail = match op {
                Some(op) => format!("{} {value}", op_name(*op)),
                None => "pr".into(),
            };
            format!(
                "{}[{}].{sub_attr} {tail}",
                show_attr_path(path),
                show_filter(filter)
            )
        }
    }
}

fn op_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
        CompareOp::Co => "co",
        CompareOp::Sw => "sw",
        CompareOp::Ew => "ew",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn norm(v: Value) -> Result<Map<String, Value>, ScimError> {
        normalise_user(&obj(v))
    }

    fn norm_ok(v: Value) -> Value {
        Value::Object(norm(v).expect("valid body"))
    }

    fn invalid_value(v: Value) -> ScimError {
        let e = norm(v).expect_err("invalid body");
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{e}");
        e
    }

    #[test]
    fn minimal_body() {
        assert_eq!(
            norm_ok(json!({"userName": "alice"})),
            json!({"userName": "alice"})
        );
    }

    #[test]
    fn names_match_case_insensitively_and_are_stored_canonically() {
        let doc = norm_ok(json!({
            "UserName": "alice",
            "DISPLAYNAME": "Alice",
            "Name": {"GivenName": "Alice", "familyname": "Liddell"},
            "Emails": [{"Value": "a@example.com", "TYPE": "work", "Primary": true}],
            "ExternalID": "ext-1",
        }));
        assert_eq!(
            doc,
            json!({
                "userName": "alice",
                "displayName": "Alice",
                "name": {"givenName": "Alice", "familyName": "Liddell"},
                "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
                "externalId": "ext-1",
            })
        );
    }

    #[test]
    fn urn_qualified_core_keys_are_accepted() {
        let doc = norm_ok(json!({
            "urn:ietf:params:scim:schemas:core:2.0:User:userName": "alice",
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName": "Alice",
        }));
        assert_eq!(doc, json!({"userName": "alice", "name": {"givenName": "Alice"}}));
    }

    #[test]
    fn enterprise_extension_matched_by_urn_in_any_case() {
        let doc = norm_ok(json!({
            "userName": "alice",
            "URN:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:user": {
                "Department": "R&D",
                "manager": {"Value": "m-1", "displayName": "Bob", "$ref": "../Users/m-1"},
                "unknownThing": 1,
            },
        }));
        assert_eq!(
            doc,
            json!({
                "userName": "alice",
                ENTERPRISE_USER_SCHEMA: {
                    "department": "R&D",
                    "manager": {"value": "m-1", "$ref": "../Users/m-1"},
                },
            })
        );
    }

    #[test]
    fn urn_qualified_extension_attributes_at_top_level() {
        let doc = norm_ok(json!({
            "userName": "alice",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "m-2",
        }));
        assert_eq!(
            doc,
            json!({"userName": "alice", ENTERPRISE_USER_SCHEMA: {"department": "Sales", "manager": {"value": "m-2"}}})
        );
    }

    #[test]
    fn entra_manager_as_plain_id() {
        let doc = norm_ok(json!({
            "userName": "alice",
            ENTERPRISE_USER_SCHEMA: {"manager": "m-3"},
        }));
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA], json!({"manager": {"value": "m-3"}}));
    }

    #[test]
    fn ignored_keys_are_never_stored_nor_rejected() {
        let doc = norm_ok(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:custom:1.0:User"],
            "id": "should-not-stay",
            "meta": {"resourceType": "User"},
            "password": "hunter2",
            "groups": [{"value": "g1"}],
            "userName": "alice",
            "nonsense": {"a": 1},
            "x509Certificates": [{"value": "MII…"}],
            "urn:example:custom:1.0:User": {"badge": 7},
            "urn:example:custom:1.0:User:badge": 7,
            "not a path!": true,
            "emails[type eq": "broken key, ignored",
        }));
        assert_eq!(doc, json!({"userName": "alice"}));
    }

    #[test]
    fn null_means_unassigned() {
        let doc = norm_ok(json!({
            "userName": "alice",
            "displayName": null,
            "active": null,
            "name": {"givenName": null, "familyName": "L"},
            "emails": [null, {"value": "a@example.com", "type": null}, null],
            "phoneNumbers": [null],
            "addresses": [],
            "roles": null,
            "externalId": null,
            ENTERPRISE_USER_SCHEMA: null,
        }));
        assert_eq!(
            doc,
            json!({"userName": "alice", "name": {"familyName": "L"}, "emails": [{"value": "a@example.com"}]})
        );
    }

    #[test]
    fn empty_complex_values_are_dropped() {
        let doc = norm_ok(json!({
            "userName": "alice",
            "name": {},
            "emails": [{}, {"unknown": 1}],
            ENTERPRISE_USER_SCHEMA: {"unknown": 1},
        }));
        assert_eq!(doc, json!({"userName": "alice"}));
    }

    #[test]
    fn string_booleans_are_coerced() {
        let doc = norm_ok(json!({
            "userName": "alice",
            "active": "False",
            "emails": [{"value": "a@example.com", "primary": " TRUE "}],
        }));
        assert_eq!(doc["active"], json!(false));
        assert_eq!(doc["emails"][0]["primary"], json!(true));
        assert_eq!(
            norm_ok(json!({"userName": "a", "active": "true"}))["active"],
            json!(true)
        );
    }

    #[test]
    fn single_object_for_multi_valued_is_wrapped() {
        let doc = norm_ok(json!({"userName": "alice", "emails": {"value": "a@example.com"}}));
        assert_eq!(doc["emails"], json!([{"value": "a@example.com"}]));
    }

    #[test]
    fn wrong_types_are_invalid_values_naming_the_attribute() {
        let e = invalid_value(json!({"userName": 42}));
        assert!(e.detail.contains("userName"), "{e}");
        let e = invalid_value(json!({"userName": "a", "displayName": {"x": 1}}));
        assert!(e.detail.contains("displayName"), "{e}");
        let e = invalid_value(json!({"userName": "a", "active": "maybe"}));
        assert!(e.detail.contains("active") && e.detail.contains("maybe"), "{e}");
        let e = invalid_value(json!({"userName": "a", "active": 1}));
        assert!(e.detail.contains("active"), "{e}");
        let e = invalid_value(json!({"userName": "a", "emails": [{"value": "x"}, {"value": 5}]}));
        assert!(e.detail.contains("emails[1].value"), "{e}");
        let e = invalid_value(json!({"userName": "a", "emails": "a@example.com"}));
        assert!(e.detail.contains("emails"), "{e}");
        let e = invalid_value(json!({"userName": "a", "name": "Alice"}));
        assert!(e.detail.contains("name"), "{e}");
        let e = invalid_value(json!({"userName": "a", "name": {"givenName": ["A"]}}));
        assert!(e.detail.contains("name.givenName"), "{e}");
        let e = invalid_value(json!({"userName": ["alice"]}));
        assert!(e.detail.contains("userName"), "{e}");
        let e = invalid_value(json!({"userName": "a", ENTERPRISE_USER_SCHEMA: "R&D"}));
        assert!(e.detail.contains(ENTERPRISE_USER_SCHEMA), "{e}");
        let e = invalid_value(json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"department": 3}}));
        assert!(e.detail.contains("department"), "{e}");
    }

    #[test]
    fn user_name_is_required_and_not_blank() {
        assert!(invalid_value(json!({})).detail.contains("userName"));
        assert!(
            invalid_value(json!({"userName": null}))
                .detail
                .contains("required")
        );
        assert!(invalid_value(json!({"userName": ""})).detail.contains("blank"));
        assert!(
            invalid_value(json!({"userName": " \t "}))
                .detail
                .contains("blank")
        );
    }

    #[test]
    fn names_are_limited_to_256_characters_not_bytes() {
        let ok = "é".repeat(256);
        let long = "é".repeat(257);
        for attr in ["userName", "externalId", "displayName"] {
            let mut body = json!({"userName": "alice"});
            body[attr] = json!(ok);
            assert_eq!(norm_ok(body)[attr], json!(ok));
            let mut body = json!({"userName": "alice"});
            body[attr] = json!(long);
            let e = invalid_value(body);
            assert!(e.detail.contains(attr) && e.detail.contains("256"), "{e}");
        }
    }

    #[test]
    fn strings_are_stored_exactly_as_sent() {
        let doc = norm_ok(json!({"userName": "  Alice ", "displayName": " A  B ", "externalId": "ID-x "}));
        assert_eq!(
            doc,
            json!({"userName": "  Alice ", "displayName": " A  B ", "externalId": "ID-x "})
        );
    }

    #[test]
    fn more_than_one_primary_is_rejected() {
        let e = invalid_value(json!({
            "userName": "a",
            "emails": [{"value": "x@e.com", "primary": true}, {"value": "y@e.com", "primary": "True"}],
        }));
        assert!(e.detail.contains("emails") && e.detail.contains("primary"), "{e}");
        norm_ok(json!({
            "userName": "a",
            "emails": [{"value": "x@e.com", "primary": true}, {"value": "y@e.com", "primary": false}],
            "phoneNumbers": [{"value": "1", "primary": true}],
        }));
    }

    #[test]
    fn dotted_and_filter_keys_in_a_body_are_paths() {
        let doc = norm_ok(json!({
            "userName": "a",
            "name.givenName": "Alice",
            "emails[type eq \"work\"].value": "a@work.example",
        }));
        assert_eq!(doc["name"], json!({"givenName": "Alice"}));
        assert_eq!(
            doc["emails"],
            json!([{"type": "work", "value": "a@work.example"}])
        );
    }

    #[test]
    fn entra_create_body() {
        let doc = norm_ok(json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:extension:customapp:2.0:User",
            ],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "UserName": "Test_User_ab6490ee@contoso.com",
            "active": "True",
            "displayName": "Test User",
            "emails": [{"primary": "true", "type": "work", "value": "Test_User@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E1", "department": null},
        }));
        assert_eq!(
            doc,
            json!({
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_ab6490ee@contoso.com",
                "active": true,
                "displayName": "Test User",
                "emails": [{"primary": true, "type": "work", "value": "Test_User@contoso.com"}],
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "E1"},
            })
        );
    }

    #[test]
    fn okta_create_body() {
        let doc = norm_ok(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "isabella@example.com",
            "name": {"givenName": "Isabella", "familyName": "Aria"},
            "emails": [{"primary": true, "value": "isabella@example.com", "type": "work"}],
            "displayName": "Isabella Aria",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true,
        }));
        assert!(doc.get("password").is_none() && doc.get("groups").is_none());
        assert_eq!(doc["locale"], json!("en-US"));
        assert_eq!(user_name(&obj(doc)), "isabella@example.com");
    }

    #[test]
    fn helpers_read_the_document() {
        let doc = norm(json!({
            "userName": "alice",
            "externalId": "e1",
            "displayName": "Alice",
            "emails": [
                {"value": "a@work.example", "type": "work", "primary": true},
                {"value": "a@home.example"},
                {"type": "other"},
            ],
        }))
        .expect("valid");
        assert_eq!(user_name(&doc), "alice");
        assert_eq!(external_id(&doc), Some("e1"));
        assert_eq!(display_name(&doc), Some("Alice"));
        assert!(active(&doc));
        assert_eq!(
            emails(&doc),
            vec![
                EmailRow {
                    value: "a@work.example".into(),
                    kind: Some("work".into()),
                    primary: true
                },
                EmailRow {
                    value: "a@home.example".into(),
                    kind: None,
                    primary: false
                },
            ]
        );
        let bare = norm(json!({"userName": "bob", "active": false})).expect("valid");
        assert!(!active(&bare));
        assert_eq!(external_id(&bare), None);
        assert_eq!(display_name(&bare), None);
        assert!(emails(&bare).is_empty());
    }

    #[test]
    fn validate_user_checks_stored_documents() {
        assert!(validate_user(&obj(json!({"userName": "a"}))).is_ok());
        for bad in [
            json!({}),
            json!({"userName": 1}),
            json!({"userName": " "}),
            json!({"userName": "a", "externalId": 3}),
            json!({"userName": "a", "displayName": "x".repeat(257)}),
            json!({"userName": "a", "roles": [{"value": "r", "primary": true}, {"value": "s", "primary": true}]}),
        ] {
            let e = validate_user(&obj(bad.clone())).expect_err("invalid");
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
        }
    }

    #[test]
    fn read_only_sub_attributes_are_dropped() {
        let doc = norm_ok(json!({
            "userName": "a",
            ENTERPRISE_USER_SCHEMA: {"manager": {"displayName": "Bob"}},
        }));
        assert_eq!(doc, json!({"userName": "a"}));
    }

    #[test]
    fn filters_are_shown_readably() {
        let path =
            parse_patch_path(r#"emails[type eq "work" and (value co "@x" or not (primary pr))].value"#)
                .expect("parses");
        assert_eq!(
            show_patch_path(&path),
            r#"emails[type eq "work" and (value co "@x" or not (primary pr))].value"#
        );
    }
}
