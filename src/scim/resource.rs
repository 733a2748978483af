//! Resource shapes on the wire: Group and User bodies in and out, ListResponse, Error, ETags.

use serde_json::{Map, Value, json};

use super::ast::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use super::error::ScimError;

/// `schemas` of a ListResponse.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// `schemas` of an Error.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Longest accepted `displayName`, `userName` or `externalId`, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// A Group as stored, ready to render.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member user ids; `None` when members were not read (excluded by the client).
    pub members: Option<Vec<String>>,
    pub meta: Meta,
}

/// Timestamps and version of a stored resource.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Microseconds since the Unix epoch.
    pub created: i64,
    pub last_modified: i64,
    pub version: i64,
}

/// A Group body from POST or PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
}

/// The weak ETag of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match`/`If-None-Match` header value names `version` (or is `*`).
pub fn etag_matches(header: &str, version: i64) -> bool {
    header.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || tag
                .trim_start_matches("W/")
                .trim_matches('"')
                .parse::<i64>()
                .is_ok_and(|v| v == version)
    })
}

/// RFC 3339 in UTC with millisecond precision.
pub fn format_time(micros: i64) -> String {
    let nanos = i128::from(micros) * 1_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn meta(resource_type: &str, location: &str, meta: Meta) -> Value {
    json!({
        "resourceType": resource_type,
        "created": format_time(meta.created),
        "lastModified": format_time(meta.last_modified),
        "version": etag(meta.version),
        "location": location,
    })
}

/// The Group resource; `base` is the organization's SCIM base URL.
pub fn render_group(base: &str, group: &GroupView) -> Map<String, Value> {
    let location = format!("{base}/Groups/{}", group.id);
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(group.id));
    if let Some(external_id) = &group.external_id {
        out.insert("externalId".into(), json!(external_id));
    }
    out.insert("displayName".into(), json!(group.display_name));
    if let Some(members) = &group.members {
        let members: Vec<Value> = members
            .iter()
            .map(|id| json!({"value": id, "$ref": format!("{base}/Users/{id}"), "type": "User"}))
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    out.insert("meta".into(), meta("Group", &location, group.meta));
    out
}

/// The User resource from its stored document.
pub fn render_user(base: &str, id: &str, document: &Map<String, Value>, m: Meta) -> Map<String, Value> {
    let location = format!("{base}/Users/{id}");
    let mut schemas = vec![json!(USER_SCHEMA)];
    if document.contains_key(ENTERPRISE_USER_SCHEMA) {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(id));
    for (k, v) in document {
        out.insert(k.clone(), v.clone());
    }
    out.insert("meta".into(), meta("User", &location, m));
    out
}

/// A ListResponse page.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

/// The SCIM Error body (`status` is a string, as RFC 7644 §3.12 shows).
pub fn error_body(error: &ScimError) -> Value {
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": error.status.to_string(),
        "detail": error.detail,
    });
    if let (Some(t), Some(obj)) = (error.scim_type, body.as_object_mut()) {
        obj.insert("scimType".into(), json!(t.as_str()));
    }
    body
}

/// Looks a key up case-insensitively (RFC 7643 §2.1: attribute names are case-insensitive).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Validates a display name: present, not blank, at most [`MAX_NAME_CHARS`].
pub fn check_display_name(value: Option<&Value>) -> Result<String, ScimError> {
    match value {
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(ScimError::invalid_value("displayName must not be blank"))
        }
        Some(Value::String(s)) if s.chars().count() > MAX_NAME_CHARS => Err(ScimError::invalid_value(
            format!("displayName is longer than {MAX_NAME_CHARS} characters"),
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(ScimError::invalid_value("displayName is required")),
        Some(_) => Err(ScimError::invalid_value("displayName must be a string")),
    }
}

/// Validates an externalId: absent/null, or a string of at most [`MAX_NAME_CHARS`].
pub fn check_external_id(value: Option<&Value>) -> Result<Option<String>, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > MAX_NAME_CHARS => Err(ScimError::invalid_value(
            format!("externalId is longer than {MAX_NAME_CHARS} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value("externalId must be a string")),
    }
}

/// The ids of member values: objects whose `value` (any case) is the id; `display`, `$ref`
/// (even `null`) and `type` are ignored, `null` items are unassigned.
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            if item.is_null() {
                continue;
            }
            return Err(ScimError::invalid_value(format!(
                "members[{i}] must be an object like {{\"value\": \"<user id>\"}}"
            )));
        };
        match get_ci(item, "value") {
            Some(Value::String(id)) if !id.trim().is_empty() => ids.push(id.clone()),
            Some(Value::String(_)) => {
                return Err(ScimError::invalid_value(format!("members[{i}].value is blank")));
            }
            None | Some(Value::Null) => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}] has no \"value\" (the id of a User)"
                )));
            }
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "members[{i}].value must be a string"
                )));
            }
        }
    }
    Ok(ids)
}

/// Parses a POST/PUT Group body; unknown and read-only attributes are ignored.
pub fn parse_group(body: &Value) -> Result<GroupInput, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax("a Group must be a JSON object"));
    };
    Ok(GroupInput {
        display_name: check_display_name(get_ci(obj, "displayName"))?,
        external_id: check_external_id(get_ci(obj, "externalId"))?,
        members: match get_ci(obj, "members") {
            Some(v) => member_ids(v)?,
            None => vec![],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        assert_eq!(etag(3), "W/\"3\"");
        assert!(etag_matches("W/\"3\"", 3));
        assert!(etag_matches("\"3\"", 3));
        assert!(etag_matches("W/\"2\", W/\"3\"", 3));
        assert!(etag_matches("*", 9));
        assert!(!etag_matches("W/\"4\"", 3));
        assert!(!etag_matches("garbage", 3));
    }

    #[test]
    fn group_bodies_parse_case_insensitively() {
        let g = parse_group(&json!({
            "schemas": [GROUP_SCHEMA, "urn:example:extra"],
            "DisplayName": "Eng",
            "externalId": "x1",
            "members": [{"value": "u1", "$ref": null}, {"Value": "u2"}],
            "id": "ignored",
        }))
        .unwrap();
        assert_eq!(
            g,
            GroupInput {
                display_name: "Eng".into(),
                external_id: Some("x1".into()),
                members: vec!["u1".into(), "u2".into()]
            }
        );
    }

    #[test]
    fn group_bodies_are_validated() {
        assert!(parse_group(&json!({"displayName": "  "})).is_err());
        assert!(parse_group(&json!({})).is_err());
        assert!(parse_group(&json!({"displayName": 5})).is_err());
        assert!(parse_group(&json!({"displayName": "x".repeat(257)})).is_err());
        assert!(parse_group(&json!({"displayName": "x".repeat(256)})).is_ok());
        assert!(parse_group(&json!({"displayName": "a", "members": [{"display": "no value"}]})).is_err());
        assert!(parse_group(&json!({"displayName": "a", "members": "u1"})).is_err());
        assert!(parse_group(&json!({"displayName": "a", "members": [{"value": " "}]})).is_err());
        assert!(parse_group(&json!([1])).is_err());
    }

    #[test]
    fn errors_carry_status_as_string() {
        let body = error_body(&ScimError::uniqueness("taken"));
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_500_000), "1970-01-01T00:00:01.5Z");
    }
}
