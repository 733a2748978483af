//! The `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.4.2.5, §3.9): which
//! attributes of a rendered resource go into a response.

use serde_json::{Map, Value};

use super::ast::ENTERPRISE_USER_SCHEMA;
use super::error::ScimError;
use super::filter::parse_attr_path;
use super::schema::{self, SchemaDef};

// Well above the ~130 distinct spellings (plain and URN-qualified) of every supported path, and
// low enough that matching stays cheap for a full page however long the query string is.
const MAX_PATHS: usize = 256;

// RFC 7643 §3.1 gives `id` returned "always"; `schemas` is what makes the JSON a SCIM resource at all.
const ALWAYS_RETURNED: [&str; 2] = ["id", "schemas"];

// Common attributes (RFC 7643 §3.1) sit beside the core schema's attributes and answer to its URN.
const COMMON: [&str; 4] = ["id", "externalId", "meta", "schemas"];

// schema.rs does not say which schemas are extensions; this is the one that is.
const EXTENSIONS: [&str; 1] = [ENTERPRISE_USER_SCHEMA];

// How much of a bad path an error message echoes back.
const ECHO_CHARS: usize = 200;

/// Which attributes a response carries, from the `attributes` / `excludedAttributes` parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    mode: Mode,
}

#[derive(Debug, Clone, Default, PartialEq)]
enum Mode {
    #[default]
    All,
    Only(Vec<Target>),
    Except(Vec<Target>),
}

/// One requested path. `attr == None` stands for a whole schema (`urn` is then always set);
/// `urn` holds the canonical spelling when the schema is known.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    urn: Option<String>,
    attr: Option<String>,
    sub: Option<String>,
}

impl Target {
    fn same_as(&self, other: &Target) -> bool {
        eq_opt(&self.urn, &other.urn) && eq_opt(&self.attr, &other.attr) && eq_opt(&self.sub, &other.sub)
    }
}

fn eq_opt(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

fn is_extension(urn: &str) -> bool {
    EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(urn))
}

fn known_schema(urn: &str) -> Option<&'static SchemaDef> {
    schema::ALL
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

fn core_schema(urn: &str) -> Option<&'static SchemaDef> {
    known_schema(urn).filter(|s| !is_extension(s.id))
}

fn is_common(attr: &str) -> bool {
    COMMON.iter().any(|c| c.eq_ignore_ascii_case(attr))
}

fn defines(def: &SchemaDef, attr: &str) -> bool {
    is_common(attr) || def.attr(attr).is_some()
}

fn echo(s: &str) -> String {
    let mut out: String = s.chars().take(ECHO_CHARS).collect();
    if s.chars().nth(ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn parse_target(entry: &str, param: &str) -> Result<Target, ScimError> {
    // Checked before the path grammar: a whole-schema URN has no attribute name of its own, and
    // its "2.0" must not be mistaken for an attribute followed by a sub-attribute.
    if let Some(def) = known_schema(entry) {
        return Ok(Target {
            urn: Some(def.id.to_string()),
            attr: None,
            sub: None,
        });
    }
    let path = parse_attr_path(entry).map_err(|e| {
        ScimError::invalid_value(format!("{param}: '{}': {}", echo(entry), echo(&e.to_string())))
    })?;
    let urn = path
        .urn
        .map(|u| known_schema(&u).map_or(u, |def| def.id.to_string()));
    Ok(Target {
        urn,
        attr: Some(path.attr),
        sub: path.sub_attr,
    })
}

fn parse_list(input: Option<&str>, param: &str) -> Result<Vec<Target>, ScimError> {
    let mut targets: Vec<Target> = Vec::new();
    for entry in input
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let target = parse_target(entry, param)?;
        if targets.iter().any(|t| t.same_as(&target)) {
            continue;
        }
        if targets.len() == MAX_PATHS {
            return Err(ScimError::invalid_value(format!(
                "{param}: at most {MAX_PATHS} attribute paths"
            )));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// What the targets say about one attribute at one level of a resource.
enum Selection<'a> {
    Whole,
    Subs(Vec<&'a str>),
    Nothing,
}

fn select<'a>(targets: &'a [Target], key: &str, applies: impl Fn(&Target) -> bool) -> Selection<'a> {
    let mut subs = Vec::new();
    for t in targets.iter().filter(|t| applies(t)) {
        match (&t.attr, &t.sub) {
            (None, _) => return Selection::Whole,
            (Some(a), None) if a.eq_ignore_ascii_case(key) => return Selection::Whole,
            (Some(a), Some(s)) if a.eq_ignore_ascii_case(key) => subs.push(s.as_str()),
            _ => {}
        }
    }
    if subs.is_empty() {
        Selection::Nothing
    } else {
        Selection::Subs(subs)
    }
}

fn retain_subs(obj: &mut Map<String, Value>, subs: &[&str], include: bool) {
    obj.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == include);
}

/// Applies a selection to one attribute value; `false` means the attribute goes.
fn project_value(value: &mut Value, selection: Selection<'_>, include: bool) -> bool {
    let subs = match selection {
        Selection::Whole => return include,
        Selection::Nothing => return !include,
        Selection::Subs(subs) => subs,
    };
    // An attribute, or element, left without sub-attributes is unassigned and therefore omitted
    // (RFC 7643 §2.5), rather than sent as `{}`.
    match value {
        Value::Object(obj) => {
            retain_subs(obj, &subs, include);
            !obj.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::Object(obj) => {
                    retain_subs(obj, &subs, include);
                    !obj.is_empty()
                }
                _ => !include,
            });
            !items.is_empty()
        }
        // A simple value has no sub-attributes to pick; excluding one of them leaves it whole.
        _ => !include,
    }
}

/// What one rendered resource says about its own schemas.
struct Shape {
    /// `schemas` entries naming the core schema(s) rather than an extension.
    core_urns: Vec<String>,
}

impl Shape {
    fn of(resource: &Map<String, Value>) -> Shape {
        let listed = resource
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
            .and_then(|(_, v)| v.as_array())
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        let core_urns = listed
            .into_iter()
            .filter(|u| !is_extension(u) && !resource.keys().any(|k| k.eq_ignore_ascii_case(u)))
            .map(str::to_string)
            .collect();
        Shape { core_urns }
    }

    fn is_core(&self, urn: &str) -> bool {
        self.core_urns.iter().any(|u| u.eq_ignore_ascii_case(urn))
    }

    /// Whether a target may select attributes of the resource's top level.
    fn core_scope(&self, t: &Target) -> bool {
        t.urn.as_deref().is_none_or(|u| self.is_core(u))
    }

    fn core_defines(&self, attr: &str) -> bool {
        is_common(attr)
            || self
                .core_urns
                .iter()
                .filter_map(|u| core_schema(u))
                .any(|def| defines(def, attr))
    }

    /// Whether a target may select attribute `key` of extension block `ext`.
    ///
    /// RFC 7644 §3.10 lets clients omit the URN of core attributes and asks them to qualify
    /// extension attributes; an unqualified name still reaches an extension attribute when the
    /// core schema has no attribute of that name, so `excludedAttributes=manager` does what it says.
    fn extension_scope(&self, t: &Target, ext: &str, key: &str) -> bool {
        match &t.urn {
            Some(u) => t.attr.is_some() && u.eq_ignore_ascii_case(ext),
            None => !self.core_defines(key),
        }
    }
}

/// Whether `t` may select top-level core attribute `attr` of some resource type.
fn may_select(t: &Target, attr: &str) -> bool {
    match (&t.urn, &t.attr) {
        (None, Some(a)) => a.eq_ignore_ascii_case(attr),
        // An unknown URN is kept as a possibility: a resource could list it in `schemas`.
        (Some(u), Some(a)) => {
            a.eq_ignore_ascii_case(attr)
                && !is_extension(u)
                && known_schema(u).is_none_or(|d| defines(d, attr))
        }
        (Some(u), None) => core_schema(u).is_some_and(|d| defines(d, attr)),
        (None, None) => false,
    }
}

/// Whether `t` selects top-level core attribute `attr` of every resource type that has it.
///
/// A URN-qualified path only reaches resources of its own schema, so it rules `attr` out
/// everywhere only when no other core schema has an attribute of that name.
fn always_selects(t: &Target, attr: &str) -> bool {
    let sole_owner = |u: &str| {
        let mut owners = schema::ALL
            .iter()
            .filter(|d| !is_extension(d.id) && defines(d, attr));
        matches!((owners.next(), owners.next()), (Some(d), None) if d.id.eq_ignore_ascii_case(u))
    };
    match (&t.urn, &t.attr) {
        (None, Some(a)) => a.eq_ignore_ascii_case(attr),
        (Some(u), Some(a)) => a.eq_ignore_ascii_case(attr) && sole_owner(u),
        (Some(u), None) => sole_owner(u),
        (None, None) => false,
    }
}

fn is_urn_key(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

impl Projection {
    /// Parses both query parameters; `attributes` wins when both are given (RFC 7644 §3.9: exclusive).
    pub fn parse(
        attributes: Option<&str>,
        excluded_attributes: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let only = parse_list(attributes, "attributes")?;
        if !only.is_empty() {
            return Ok(Projection {
                mode: Mode::Only(only),
            });
        }
        let except = parse_list(excluded_attributes, "excludedAttributes")?;
        if !except.is_empty() {
            return Ok(Projection {
                mode: Mode::Except(except),
            });
        }
        Ok(Projection::default())
    }

    /// Whether every attribute is returned (neither parameter narrowed the response).
    pub fn is_all(&self) -> bool {
        self.mode == Mode::All
    }

    /// Whether top-level core attribute `attr` (e.g. `members`) can appear in a projected resource.
    ///
    /// It does not know the resource type, so it answers `false` only when `apply` drops `attr`
    /// from any resource rendered from the schema table: a store may skip loading what it rules out.
    pub fn includes(&self, attr: &str) -> bool {
        if ALWAYS_RETURNED.iter().any(|a| a.eq_ignore_ascii_case(attr)) {
            return true;
        }
        match &self.mode {
            Mode::All => true,
            Mode::Only(targets) => targets.iter().any(|t| may_select(t, attr)),
            Mode::Except(targets) => !targets.iter().any(|t| t.sub.is_none() && always_selects(t, attr)),
        }
    }

    /// Removes what the projection leaves out from a fully rendered resource; `id` and `schemas` stay.
    pub fn apply(&self, resource: &mut Map<String, Value>) {
        let (targets, include) = match &self.mode {
            Mode::All => return,
            Mode::Only(targets) => (targets.as_slice(), true),
            Mode::Except(targets) => (targets.as_slice(), false),
        };
        let shape = Shape::of(resource);
        let mut dropped_extensions = Vec::new();
        // `retain` rather than `remove`: it keeps key order should serde_json's `preserve_order` be on.
        resource.retain(|key, value| {
            if ALWAYS_RETURNED.iter().any(|a| a.eq_ignore_ascii_case(key)) {
                return true;
            }
            if !is_urn_key(key) {
                return project_value(value, select(targets, key, |t| shape.core_scope(t)), include);
            }
            let keep = project_extension(targets, &shape, key, value, include);
            if !keep {
                dropped_extensions.push(key.clone());
            }
            keep
        });
        // RFC 7643 §3: `schemas` lists the schemas of the attributes present, so an extension whose
        // block was projected away leaves the list too.
        if !dropped_extensions.is_empty()
            && let Some(Value::Array(listed)) = resource.get_mut("schemas")
        {
            listed.retain(|u| {
                !u.as_str()
                    .is_some_and(|u| dropped_extensions.iter().any(|d| d.eq_ignore_ascii_case(u)))
            });
        }
    }
}

/// Projects the block of extension `ext`; `false` means the whole block goes.
fn project_extension(targets: &[Target], shape: &Shape, ext: &str, block: &mut Value, include: bool) -> bool {
    let whole = targets
        .iter()
        .any(|t| t.attr.is_none() && t.urn.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(ext)));
    if whole {
        return include;
    }
    let Value::Object(attrs) = block else {
        // Not a block of attributes: only a whole-schema path could have selected it.
        return !include;
    };
    attrs.retain(|key, value| {
        let selection = select(targets, key, |t| shape.extension_scope(t, ext, key));
        project_value(value, selection, include)
    });
    !attrs.is_empty()
}

#[cfg(test)]
mod tests {
    use super::super::ast::{GROUP_SCHEMA, USER_SCHEMA};
    use super::*;
    use serde_json::json;

    const ENT: &str = ENTERPRISE_USER_SCHEMA;

    fn user() -> Map<String, Value> {
        let v = json!({
            "schemas": [USER_SCHEMA, ENT],
            "id": "u-1",
            "externalId": "okta-1",
            "userName": "ada@example.com",
            "name": { "givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace" },
            "displayName": "Ada Lovelace",
            "active": true,
            "emails": [
                { "value": "ada@example.com", "type": "work", "primary": true },
                { "value": "ada@home.example", "type": "home" }
            ],
            "roles": [ { "display": "Engineer" } ],
            ENT: {
                "department": "Engines",
                "costCenter": "42",
                "manager": { "value": "u-0", "displayName": "Babbage" }
            },
            "meta": {
                "resourceType": "User",
                "created": "2026-01-01T00:00:00Z",
                "lastModified": "2026-01-02T00:00:00Z",
                "version": "W/\"3\"",
                "location": "https://scim.example.com/api/orgs/7/scim/v2/Users/u-1"
            }
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn group() -> Map<String, Value> {
        let v = json!({
            "schemas": [GROUP_SCHEMA],
            "id": "g-1",
            "externalId": "okta-g-1",
            "displayName": "Engineering",
            "members": [
                { "value": "u-1", "$ref": "https://x/Users/u-1", "display": "Ada", "type": "User" },
                { "value": "u-2", "$ref": "https://x/Users/u-2", "type": "User" }
            ],
            "meta": { "resourceType": "Group", "version": "W/\"1\"" }
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn project(resource: Map<String, Value>, attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let p = Projection::parse(attributes, excluded).expect("valid parameters");
        let mut r = resource;
        p.apply(&mut r);
        Value::Object(r)
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    }

    #[test]
    fn default_and_empty_parameters_return_everything() {
        assert!(Projection::default().is_all());
        for (a, e) in [
            (None, None),
            (Some(""), None),
            (None, Some("")),
            (Some(" , ,"), Some(" ")),
            (Some(","), None),
        ] {
            let p = Projection::parse(a, e).unwrap();
            assert_eq!(p, Projection::default(), "{a:?} {e:?}");
            let mut r = user();
            p.apply(&mut r);
            assert_eq!(r, user());
            assert!(p.includes("members"));
        }
    }

    #[test]
    fn attributes_keeps_simple_attributes_plus_id_and_schemas() {
        let out = project(user(), Some("userName,displayName"), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id", "userName", "displayName"]));
        assert_eq!(out["userName"], "ada@example.com");
        // The enterprise block went, so its URN leaves `schemas`.
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn attribute_names_are_case_insensitive_and_whitespace_tolerated() {
        let out = project(user(), Some("  USERNAME , Name.GivenName ,, "), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id", "userName", "name"]));
        assert_eq!(out["name"], json!({ "givenName": "Ada" }));
        let out = project(user(), None, Some("EMAILS,Meta"));
        assert!(out.get("emails").is_none() && out.get("meta").is_none());
        assert!(out.get("userName").is_some());
    }

    #[test]
    fn id_and_schemas_are_always_returned() {
        let out = project(user(), Some("nickName"), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id"]));
        let out = project(user(), None, Some("id,schemas,userName"));
        assert_eq!(out["id"], "u-1");
        assert!(out.get("schemas").is_some());
        assert!(out.get("userName").is_none());
        let p = Projection::parse(Some("displayName"), None).unwrap();
        assert!(p.includes("id") && p.includes("schemas"));
        let p = Projection::parse(None, Some("id")).unwrap();
        assert!(p.includes("id"));
    }

    #[test]
    fn meta_is_returned_by_default_only() {
        let out = project(user(), Some("userName"), None);
        assert!(out.get("meta").is_none());
        let out = project(user(), Some("userName,meta.version"), None);
        assert_eq!(out["meta"], json!({ "version": "W/\"3\"" }));
        let out = project(user(), None, Some("meta.location"));
        assert!(out["meta"].get("location").is_none());
        assert_eq!(out["meta"]["version"], "W/\"3\"");
    }

    #[test]
    fn sub_attribute_projection_of_complex_and_multi_valued() {
        let out = project(user(), Some("emails.value,name.familyName"), None);
        assert_eq!(
            out["emails"],
            json!([{ "value": "ada@example.com" }, { "value": "ada@home.example" }])
        );
        assert_eq!(out["name"], json!({ "familyName": "Lovelace" }));
        // Two sub-attributes of one attribute add up.
        let out = project(user(), Some("emails.value,emails.TYPE"), None);
        assert_eq!(
            out["emails"],
            json!([
                { "value": "ada@example.com", "type": "work" },
                { "value": "ada@home.example", "type": "home" },
            ])
        );
        // The whole attribute beats one of its sub-attributes.
        let out = project(user(), Some("emails.value,emails"), None);
        assert_eq!(out["emails"], user()["emails"]);
    }

    #[test]
    fn sub_attribute_projection_drops_what_ends_up_empty() {
        let out = project(user(), Some("emails.primary,roles.value,name.middleName"), None);
        assert_eq!(out["emails"], json!([{ "primary": true }]));
        assert!(out.get("roles").is_none());
        assert!(out.get("name").is_none());
        // A simple attribute has no sub-attributes to select.
        let out = project(user(), Some("userName.value"), None);
        assert!(out.get("userName").is_none());
    }

    #[test]
    fn excluded_sub_attributes() {
        let out = project(
            user(),
            None,
            Some("emails.type,name.givenName,name.familyName,name.formatted"),
        );
        assert_eq!(
            out["emails"],
            json!([{ "value": "ada@example.com", "primary": true }, { "value": "ada@home.example" }])
        );
        assert!(out.get("name").is_none());
        let out = project(user(), None, Some("userName.value"));
        assert_eq!(out["userName"], "ada@example.com");
        let out = project(group(), None, Some("members.$ref,members.display"));
        assert_eq!(
            out["members"],
            json!([{ "value": "u-1", "type": "User" }, { "value": "u-2", "type": "User" }])
        );
    }

    #[test]
    fn members_sub_attributes() {
        let out = project(group(), Some("members.value"), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id", "members"]));
        assert_eq!(out["members"], json!([{ "value": "u-1" }, { "value": "u-2" }]));
        let out = project(group(), Some("displayName,members.$ref"), None);
        assert_eq!(out["members"][0], json!({ "$ref": "https://x/Users/u-1" }));
    }

    #[test]
    fn excluded_attributes_removes_only_those() {
        let out = project(group(), None, Some("members"));
        let mut expected = group();
        expected.remove("members");
        assert_eq!(out, Value::Object(expected));
    }

    #[test]
    fn extension_attributes_qualified() {
        let out = project(user(), Some(&format!("{ENT}:department")), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id", ENT]));
        assert_eq!(out[ENT], json!({ "department": "Engines" }));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
        let out = project(user(), Some(&format!("{ENT}:manager.value")), None);
        assert_eq!(out[ENT], json!({ "manager": { "value": "u-0" } }));
        let out = project(
            user(),
            None,
            Some(&format!("{}:Department", ENT.to_ascii_uppercase())),
        );
        assert_eq!(
            out[ENT],
            json!({ "costCenter": "42", "manager": { "value": "u-0", "displayName": "Babbage" } })
        );
    }

    #[test]
    fn whole_extension() {
        let out = project(user(), Some(&format!("userName,{ENT}")), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id", "userName", ENT]));
        assert_eq!(out[ENT], user()[ENT]);
        let out = project(user(), None, Some(&ENT.to_ascii_lowercase()));
        assert!(out.get(ENT).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        assert_eq!(out["userName"], "ada@example.com");
        // Excluding every attribute of the block removes the block and its URN.
        let out = project(
            user(),
            None,
            Some(&format!("{ENT}:department,{ENT}:costCenter,{ENT}:manager")),
        );
        assert!(out.get(ENT).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn unqualified_names_reach_extension_attributes_the_core_lacks() {
        let out = project(user(), Some("department"), None);
        assert_eq!(out[ENT], json!({ "department": "Engines" }));
        let out = project(user(), None, Some("manager"));
        assert_eq!(out[ENT], json!({ "department": "Engines", "costCenter": "42" }));
        // `displayName` is a core User attribute, so it does not reach into the extension.
        let with_ext_display = || {
            let mut r = user();
            if let Some(Value::Object(block)) = r.get_mut(ENT) {
                block.insert("displayName".into(), json!("x"));
            }
            r
        };
        let out = project(with_ext_display(), Some("displayName"), None);
        assert!(out.get(ENT).is_none());
        let out = project(with_ext_display(), None, Some("displayName"));
        assert!(out.get("displayName").is_none());
        assert_eq!(out[ENT], with_ext_display()[ENT]);
    }

    #[test]
    fn core_urn_qualified_names() {
        let out = project(group(), Some(&format!("{GROUP_SCHEMA}:displayName")), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id", "displayName"]));
        let out = project(
            user(),
            Some(&format!(
                "{}:USERNAME,{USER_SCHEMA}:name.givenName",
                USER_SCHEMA.to_lowercase()
            )),
            None,
        );
        assert_eq!(keys(&out), sorted(&["schemas", "id", "userName", "name"]));
        // A Group path does not select anything of a User, nor a User path anything of a Group.
        let out = project(user(), Some(&format!("{GROUP_SCHEMA}:displayName")), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id"]));
        let out = project(group(), None, Some(&format!("{USER_SCHEMA}:displayName")));
        assert_eq!(out, Value::Object(group()));
        // Common attributes answer to the core URN too.
        let out = project(group(), Some(&format!("{GROUP_SCHEMA}:externalId")), None);
        assert_eq!(out["externalId"], "okta-g-1");
    }

    #[test]
    fn whole_core_schema() {
        let out = project(user(), Some(USER_SCHEMA), None);
        let mut expected = user();
        expected.remove(ENT);
        expected.insert("schemas".into(), json!([USER_SCHEMA]));
        assert_eq!(out, Value::Object(expected));
        let out = project(user(), None, Some(USER_SCHEMA));
        assert_eq!(keys(&out), sorted(&["schemas", "id", ENT]));
        // Another resource type's schema selects nothing.
        let out = project(group(), Some(USER_SCHEMA), None);
        assert_eq!(keys(&out), sorted(&["schemas", "id"]));
    }

    #[test]
    fn unknown_attributes_and_urns_select_nothing() {
        let out = project(
            user(),
            Some("doesNotExist,urn:example:foo:bar,urn:example:x:User:userName"),
            None,
        );
        assert_eq!(keys(&out), sorted(&["schemas", "id"]));
        let out = project(
            user(),
            None,
            Some("doesNotExist,urn:example:x:User:userName,name.nope"),
        );
        assert_eq!(out, Value::Object(user()));
    }

    #[test]
    fn attributes_wins_over_excluded_attributes() {
        let out = project(group(), Some("members"), Some("members"));
        assert!(out.get("members").is_some());
        assert!(out.get("displayName").is_none());
        // excludedAttributes is then not even parsed.
        assert!(Projection::parse(Some("displayName"), Some("[[[")).is_ok());
        // An empty attributes parameter defers to excludedAttributes.
        let out = project(group(), Some(""), Some("members"));
        assert!(out.get("members").is_none() && out.get("displayName").is_some());
    }

    #[test]
    fn includes_members_for_common_queries() {
        let p = |a: Option<&str>, e: Option<&str>| Projection::parse(a, e).unwrap();
        assert!(p(None, None).includes("members"));
        assert!(!p(None, Some("members")).includes("members"));
        assert!(!p(None, Some("Members")).includes("members"));
        assert!(!p(None, Some("displayName,members")).includes("members"));
        assert!(!p(Some("displayName"), None).includes("members"));
        assert!(!p(Some("id,externalId,displayName"), None).includes("members"));
        assert!(p(Some("members"), None).includes("members"));
        assert!(p(Some("displayName,members.value"), None).includes("members"));
        assert!(p(None, Some("members.display")).includes("members"));
        assert!(p(None, Some("displayName")).includes("members"));
        assert!(p(Some(&format!("{GROUP_SCHEMA}:members")), None).includes("members"));
        assert!(p(Some(GROUP_SCHEMA), None).includes("members"));
        assert!(!p(None, Some(&format!("{GROUP_SCHEMA}:members"))).includes("members"));
        assert!(!p(None, Some(GROUP_SCHEMA)).includes("members"));
        // Paths of other schemas say nothing about a Group's members.
        assert!(p(None, Some(&format!("{USER_SCHEMA}:members"))).includes("members"));
        assert!(p(None, Some(&format!("{ENT}:members"))).includes("members"));
        assert!(p(None, Some(USER_SCHEMA)).includes("members"));
        assert!(!p(Some(&format!("{ENT}:members")), None).includes("members"));
        assert!(!p(Some(ENT), None).includes("members"));
        // An unknown URN might be some resource's core schema: no reason to skip loading.
        assert!(p(Some("urn:example:x:Group:members"), None).includes("members"));
        assert!(p(None, Some("urn:example:x:Group:members")).includes("members"));
    }

    #[test]
    fn includes_never_rules_out_what_apply_keeps() {
        let g = GROUP_SCHEMA;
        let u = USER_SCHEMA;
        let queries: Vec<(Option<String>, Option<String>)> = [
            "displayName",
            "members",
            "members.value",
            "userName,emails",
            "externalId",
            g,
            u,
            ENT,
            &format!("{g}:members"),
            &format!("{g}:displayName"),
            &format!("{u}:displayName"),
            &format!("{u}:members"),
            &format!("{g}:meta"),
            &format!("{u}:externalId"),
            "urn:example:x:Group:members",
        ]
        .iter()
        .flat_map(|q| [(Some(q.to_string()), None), (None, Some(q.to_string()))])
        .chain([(None, None)])
        .collect();
        let attrs = [
            "members",
            "displayName",
            "externalId",
            "meta",
            "id",
            "userName",
            "emails",
            "name",
        ];
        for (a, e) in &queries {
            let p = Projection::parse(a.as_deref(), e.as_deref()).unwrap();
            for resource in [user(), group()] {
                let mut r = resource;
                p.apply(&mut r);
                for attr in attrs {
                    if r.contains_key(attr) {
                        assert!(
                            p.includes(attr),
                            "{a:?} {e:?}: {attr} kept but includes() says no"
                        );
                    }
                }
            }
        }
        // The precise answers the store relies on.
        let p = |a: Option<&str>, e: Option<&str>| Projection::parse(a, e).unwrap();
        assert!(!p(None, Some(&format!("{g}:members"))).includes("members"));
        assert!(p(None, Some(&format!("{g}:displayName"))).includes("displayName"));
        assert!(!p(None, Some("displayName")).includes("displayName"));
    }

    #[test]
    fn bad_input_is_invalid_value() {
        for bad in [
            "name..givenName",
            "emails[type eq \"work\"]",
            "a b",
            "1abc",
            "name.",
            ".name",
            "urn:",
            "émail",
        ] {
            let err = Projection::parse(Some(bad), None).expect_err(bad);
            assert_eq!(err.status, 400, "{bad}");
            assert_eq!(
                err.scim_type,
                Some(super::super::error::ScimType::InvalidValue),
                "{bad}"
            );
            assert!(err.detail.starts_with("attributes: "), "{}", err.detail);
            let err = Projection::parse(None, Some(bad)).expect_err(bad);
            assert!(err.detail.starts_with("excludedAttributes: "), "{}", err.detail);
        }
    }

    #[test]
    fn error_message_echo_is_bounded() {
        let long = format!("{}!", "a".repeat(10_000));
        let err = Projection::parse(Some(&long), None).unwrap_err();
        assert!(err.detail.len() < 1_000, "{}", err.detail.len());
        let multibyte = "é".repeat(500);
        assert!(Projection::parse(Some(&multibyte), None).is_err());
    }

    #[test]
    fn too_many_paths() {
        let many: Vec<String> = (0..=MAX_PATHS).map(|i| format!("a{i}")).collect();
        let err = Projection::parse(Some(&many.join(",")), None).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(Projection::parse(Some(&many[..MAX_PATHS].join(",")), None).is_ok());
        // Repeats, however many and however spelled, count once.
        let repeats = ["userName", "USERNAME", " username "].repeat(10_000).join(",");
        assert!(Projection::parse(Some(&repeats), None).is_ok());
    }

    #[test]
    fn odd_resources_do_not_panic() {
        let shapes = [
            json!({}),
            json!({ "id": "x" }),
            json!({ "schemas": "not-a-list", "userName": "a", "name": "not-an-object" }),
            json!({ "schemas": [1, null, USER_SCHEMA], "emails": [1, "x", null, {}], ENT: "not-a-block" }),
            json!({ "schemas": [ENT], "userName": "a" }),
            json!({ "urn:": { "a": 1 }, "u": null }),
        ];
        let queries = [
            (Some("userName,emails.value,name.givenName"), None),
            (None, Some("userName,emails.value,name.givenName")),
            (Some(ENT), None),
            (None, Some(ENT)),
            (Some(USER_SCHEMA), None),
            (None, Some(USER_SCHEMA)),
            (Some("department"), None),
        ];
        for shape in &shapes {
            for (a, e) in queries {
                let mut r = shape.as_object().unwrap().clone();
                Projection::parse(a, e).unwrap().apply(&mut r);
            }
        }
        // A URN listed in `schemas` without a block is not taken for the core schema.
        let mut r = json!({ "schemas": [USER_SCHEMA, ENT], "id": "1", "userName": "a" })
            .as_object()
            .unwrap()
            .clone();
        Projection::parse(Some(ENT), None).unwrap().apply(&mut r);
        assert!(r.get("userName").is_none());
    }

    #[test]
    fn simple_multi_valued_values_survive_sub_exclusion() {
        let mut r = json!({ "schemas": [USER_SCHEMA], "id": "1", "tags": ["a", "b"] })
            .as_object()
            .unwrap()
            .clone();
        Projection::parse(None, Some("tags.value")).unwrap().apply(&mut r);
        assert_eq!(r["tags"], json!(["a", "b"]));
        Projection::parse(Some("tags.value"), None).unwrap().apply(&mut r);
        assert!(r.get("tags").is_none());
    }
}
