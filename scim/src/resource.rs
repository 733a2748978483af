//! Resource shapes on the wire: Group and User bodies in and out, ListResponse, Error, ETags.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::ast::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use super::error::ScimError;
use super::projection::Projection;

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

/// An `If-Match` precondition: the versions a write may apply to. Checked by the store against
/// the version it reads under the write's lock, so no other writer can slip in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(pub String);

impl IfMatch {
    /// Whether a resource at `version` satisfies the precondition.
    pub fn admits(&self, version: i64) -> bool {
        etag_matches(&self.0, version)
    }
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

/// How a ListResponse page is placed in its result: by index (`startIndex`, RFC 7644 §3.4.2.4) or
/// by cursor (RFC 9865 §2: `nextCursor` absent on the last page, `previousCursor` on the first, and
/// no `startIndex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// The 1-based index of the page's first resource.
    Index(u64),
    /// The cursors of the pages around this one.
    Cursor {
        next: Option<String>,
        previous: Option<String>,
    },
}

/// The shape of a ListResponse, over rendered (`Value`) or serialized (`RawValue`) resources.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse<'a, T> {
    schemas: [&'static str; 1],
    total_results: u64,
    items_per_page: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_cursor: Option<&'a str>,
    #[serde(rename = "Resources")]
    resources: &'a [T],
}

impl<'a, T> ListResponse<'a, T> {
    fn new(total: u64, paging: &'a Paging, resources: &'a [T]) -> Self {
        let (start_index, next_cursor, previous_cursor) = match paging {
            Paging::Index(start) => (Some(*start), None, None),
            Paging::Cursor { next, previous } => (None, next.as_deref(), previous.as_deref()),
        };
        ListResponse {
            schemas: [LIST_RESPONSE_SCHEMA],
            total_results: total,
            items_per_page: resources.len(),
            start_index,
            next_cursor,
            previous_cursor,
            resources,
        }
    }
}

/// A ListResponse page of rendered documents (discovery).
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    serde_json::to_value(ListResponse::new(total, &Paging::Index(start_index), &resources))
        .unwrap_or(Value::Null)
}

/// A ListResponse page of serialized resources, copied into the page as they are.
pub fn list_response_raw(total: u64, paging: &Paging, resources: &[Box<RawValue>]) -> Box<RawValue> {
    raw(&ListResponse::new(total, paging, resources))
}

/// Serializes a document; serializing maps of strings, numbers and booleans cannot fail, and
/// an empty object stands in if it ever did.
pub fn raw<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| empty_object())
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_default()
}

/// A Group serialized with `projection` applied. With nothing projected away, members are written
/// straight into the output instead of as a JSON tree: a group may have 100 000 of them, and a
/// tree of them costs several times the JSON.
pub fn group_json(base: &str, mut group: GroupView, projection: &Projection) -> Box<RawValue> {
    let open = match &group.members {
        Some(_) => group_open(base, &group, projection),
        None => None,
    };
    let Some(mut out) = open else {
        let mut body = render_group(base, &group);
        projection.apply(&mut body);
        return raw(&body);
    };
    let members = group.members.take().unwrap_or_default();
    let writer = MemberWriter::new(base);
    out.reserve(members.len() * writer.bytes_per_member());
    writer.push(&mut out, &members, true);
    out.push_str(GROUP_CLOSE);
    RawValue::from_string(out).unwrap_or_else(|_| empty_object())
}

/// The text of a whole Group up to its members, projected: the rendered group (without members)
/// reopened before its closing brace, then `,"members":[`. Members follow (see [`MemberWriter`]),
/// then [`GROUP_CLOSE`]; the pieces together are what [`group_json`] answers. `None` when the
/// projection drops the members or reshapes them (`attributes=members.value`): only a group whose
/// member objects are returned whole can be written member by member.
pub fn group_open(base: &str, group: &GroupView, projection: &Projection) -> Option<String> {
    let head = if projection.is_all() {
        // Nothing projected (every unprojected list and write answer): no probe to render.
        render_group(
            base,
            &GroupView {
                members: None,
                ..group.clone()
            },
        )
    } else {
        // One stand-in member shows what the projection does to every member.
        let probe = GroupView {
            members: Some(vec!["probe".to_owned()]),
            ..group.clone()
        };
        let mut head = render_group(base, &probe);
        let whole = head.get("members").cloned();
        projection.apply(&mut head);
        if head.get("members") != whole.as_ref() {
            return None;
        }
        head.shift_remove("members");
        head
    };
    let head = serde_json::to_string(&head).unwrap_or_else(|_| "{}".to_owned());
    // `head` is an object that always has `schemas` and `id`: reopen it before its closing brace.
    let mut out = String::with_capacity(head.len() + 16);
    out.push_str(head.strip_suffix('}').unwrap_or("{"));
    out.push_str(",\"members\":[");
    Some(out)
}

/// What closes a Group opened by [`group_open`].
pub const GROUP_CLOSE: &str = "]}";

/// Writes member objects (`{"value":…,"$ref":…,"type":"User"}`) as JSON text, chunk by chunk.
#[derive(Debug, Clone)]
pub struct MemberWriter {
    /// The base URL as it appears inside a JSON string literal.
    base_inner: String,
}

impl MemberWriter {
    /// A writer for members of a group under the organization's SCIM base URL `base`.
    pub fn new(base: &str) -> Self {
        let quoted = serde_json::to_string(base).unwrap_or_else(|_| "\"\"".to_owned());
        MemberWriter {
            base_inner: unquote(&quoted).to_owned(),
        }
    }

    /// About how many bytes one member takes, to size buffers.
    pub fn bytes_per_member(&self) -> usize {
        2 * MEMBER_ID_CHARS + self.base_inner.len() + 48
    }

    /// Appends `ids` as members; `first` when nothing precedes them in the array (no comma).
    pub fn push(&self, out: &mut String, ids: &[String], first: bool) {
        for (i, id) in ids.iter().enumerate() {
            if i > 0 || !first {
                out.push(',');
            }
            let quoted = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".to_owned());
            out.push_str("{\"value\":");
            out.push_str(&quoted);
            out.push_str(",\"$ref\":\"");
            out.push_str(&self.base_inner);
            out.push_str("/Users/");
            out.push_str(unquote(&quoted));
            out.push_str("\",\"type\":\"User\"}");
        }
    }
}

/// The text of a ListResponse up to its first resource (`…,"Resources":[`); the resources follow,
/// separated by commas, then [`LIST_CLOSE`]. Together, byte for byte what [`list_response_raw`]
/// writes for the same resources.
pub fn list_open(total: u64, paging: &Paging, items_per_page: usize) -> String {
    let none: [Box<RawValue>; 0] = [];
    let mut shape = ListResponse::new(total, paging, &none);
    shape.items_per_page = items_per_page;
    let text = serde_json::to_string(&shape).unwrap_or_default();
    match text.strip_suffix(LIST_CLOSE) {
        Some(open) => open.to_owned(),
        None => text,
    }
}

/// What closes a ListResponse opened by [`list_open`].
pub const LIST_CLOSE: &str = "]}";

/// The inside of a JSON string literal: exactly one quote off each end (an escaped `\"` at the
/// end of the text must stay).
fn unquote(literal: &str) -> &str {
    literal
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or(literal)
}

/// Characters of a member id as this server makes them (a UUID).
const MEMBER_ID_CHARS: usize = 36;

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

/// How `scim::body` keeps member items it has already read and checked: a run of them becomes
/// one string, each item this mark followed by its id (nothing for a `null` item). A member list
/// then costs about its ids' bytes, where a tree of one-entry objects costs 500 bytes a member:
/// that is what lets a 100 000-member body be read in a few times its size. Input cannot forge
/// the mark: every write body is refused when any of its strings holds U+0000.
pub(crate) const CHECKED_MEMBER: char = '\0';

/// The ids of member values: objects whose `value` (any case) is the id; `display`, `$ref`
/// (even `null`) and `type` are ignored, `null` items are unassigned.
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    let listed = items
        .iter()
        .map(|item| match item {
            Value::String(run) if run.starts_with(CHECKED_MEMBER) => run.matches(CHECKED_MEMBER).count(),
            _ => 1,
        })
        .sum();
    let mut ids = Vec::with_capacity(listed);
    // Counts items as the client listed them: a run of checked ones stands for several.
    let mut index = 0;
    for item in items {
        match item {
            Value::String(run) if run.starts_with(CHECKED_MEMBER) => {
                for id in run[CHECKED_MEMBER.len_utf8()..].split(CHECKED_MEMBER) {
                    if !id.is_empty() {
                        ids.push(id.to_owned());
                    }
                    index += 1;
                }
            }
            item => {
                if let Some(id) = member_id(index, item)? {
                    ids.push(id.to_owned());
                }
                index += 1;
            }
        }
    }
    Ok(ids)
}

/// The id of the member item at index `i` of a member list; `None` for a `null` item.
pub(crate) fn member_id(i: usize, item: &Value) -> Result<Option<&str>, ScimError> {
    let item = match item {
        Value::Null => return Ok(None),
        Value::Object(item) => item,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "members[{i}] must be an object like {{\"value\": \"<user id>\"}}"
            )));
        }
    };
    match get_ci(item, "value") {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(Some(id)),
        Some(Value::String(_)) => Err(ScimError::invalid_value(format!("members[{i}].value is blank"))),
        None | Some(Value::Null) => Err(ScimError::invalid_value(format!(
            "members[{i}] has no \"value\" (the id of a User)"
        ))),
        Some(_) => Err(ScimError::invalid_value(format!(
            "members[{i}].value must be a string"
        ))),
    }
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
    fn group_json_writes_members_like_the_tree_does() {
        let view = GroupView {
            id: "g1".into(),
            display_name: "Eng \"core\"".into(),
            external_id: Some("x".into()),
            members: Some(vec!["u1".into(), "u\"2".into(), "u3\"".into()]),
            meta: Meta {
                created: 0,
                last_modified: 1,
                version: 3,
            },
        };
        let base = "https://scim.example/api/orgs/1/scim/v2";
        let fast: Value =
            serde_json::from_str(group_json(base, view.clone(), &Projection::default()).get()).unwrap();
        let tree = Value::Object(render_group(base, &view));
        assert_eq!(fast, tree);
        let empty: Value = serde_json::from_str(
            group_json(
                base,
                GroupView {
                    members: Some(vec![]),
                    ..view.clone()
                },
                &Projection::default(),
            )
            .get(),
        )
        .unwrap();
        assert_eq!(empty["members"], json!([]));
        let projected = Projection::parse(Some("members.value"), None).unwrap();
        let narrow: Value = serde_json::from_str(group_json(base, view, &projected).get()).unwrap();
        assert_eq!(
            narrow["members"],
            json!([{"value": "u1"}, {"value": "u\"2"}, {"value": "u3\""}])
        );
    }

    #[test]
    fn list_responses_are_the_same_raw_or_rendered() {
        let rendered = list_response(5, 2, vec![json!({"id": "a"})]);
        let serialized: Value =
            serde_json::from_str(list_response_raw(5, &Paging::Index(2), &[raw(&json!({"id": "a"}))]).get())
                .unwrap();
        assert_eq!(rendered, serialized);
        assert_eq!(rendered["Resources"][0]["id"], "a");
        assert_eq!(rendered["totalResults"], 5);
        assert_eq!(rendered["itemsPerPage"], 1);
    }

    #[test]
    fn list_pieces_are_the_list_byte_for_byte() {
        let items = [raw(&json!({"id": "a"})), raw(&json!({"id": "b", "x": [1]}))];
        let texts: Vec<&str> = items.iter().map(|r| r.get()).collect();
        let cursors = Paging::Cursor {
            next: Some("n-1".into()),
            previous: Some("p_2".into()),
        };
        for paging in [Paging::Index(3), cursors] {
            let whole = list_response_raw(7, &paging, &items);
            let pieces = format!(
                "{}{}{}",
                list_open(7, &paging, items.len()),
                texts.join(","),
                LIST_CLOSE
            );
            assert_eq!(pieces, whole.get());
            assert_eq!(
                format!("{}{}", list_open(0, &paging, 0), LIST_CLOSE),
                list_response_raw(0, &paging, &[]).get()
            );
        }
    }

    #[test]
    fn a_cursor_page_names_its_neighbours_and_no_start_index() {
        let items = [raw(&json!({"id": "a"}))];
        let page = |next: Option<&str>, previous: Option<&str>| -> Value {
            let paging = Paging::Cursor {
                next: next.map(str::to_owned),
                previous: previous.map(str::to_owned),
            };
            serde_json::from_str(list_response_raw(9, &paging, &items).get()).unwrap()
        };
        let middle = page(Some("N"), Some("P"));
        assert_eq!(
            (middle["nextCursor"].as_str(), middle["previousCursor"].as_str()),
            (Some("N"), Some("P"))
        );
        assert!(middle.get("startIndex").is_none());
        assert_eq!(
            (middle["totalResults"].as_u64(), middle["itemsPerPage"].as_u64()),
            (Some(9), Some(1))
        );
        let only = page(None, None);
        assert!(only.get("nextCursor").is_none() && only.get("previousCursor").is_none());
    }

    #[test]
    fn group_pieces_are_the_group_byte_for_byte() {
        let view = GroupView {
            id: "g1".into(),
            display_name: "Eng".into(),
            external_id: None,
            members: Some(vec!["u1".into(), "u2".into(), "u3".into()]),
            meta: Meta {
                created: 0,
                last_modified: 1,
                version: 3,
            },
        };
        let base = "https://scim.example/api/orgs/1/scim/v2";
        let whole = group_json(base, view.clone(), &Projection::default());
        let writer = MemberWriter::new(base);
        let mut pieces = group_open(base, &view, &Projection::default()).unwrap();
        writer.push(&mut pieces, &["u1".to_owned()], true);
        writer.push(&mut pieces, &[], false);
        writer.push(&mut pieces, &["u2".to_owned(), "u3".to_owned()], false);
        pieces.push_str(GROUP_CLOSE);
        assert_eq!(pieces, whole.get());
    }

    #[test]
    fn projected_groups_stream_their_members_only_when_kept_whole() {
        let view = GroupView {
            id: "g1".into(),
            display_name: "Eng".into(),
            external_id: None,
            members: Some(vec!["u1".into(), "u2".into()]),
            meta: Meta {
                created: 0,
                last_modified: 1,
                version: 3,
            },
        };
        let base = "https://scim.example/api/orgs/1/scim/v2";
        for (attributes, excluded, streams) in [
            (Some("members"), None, true),
            (Some("displayName,members"), None, true),
            (None, Some("displayName"), true),
            (Some("members.value"), None, false),
            (None, Some("members.type"), false),
            (Some("displayName"), None, false),
        ] {
            let projection = Projection::parse(attributes, excluded).unwrap();
            assert_eq!(
                group_open(base, &view, &projection).is_some(),
                streams,
                "{attributes:?} {excluded:?}"
            );
            let fast: Value =
                serde_json::from_str(group_json(base, view.clone(), &projection).get()).unwrap();
            let mut tree = render_group(base, &view);
            projection.apply(&mut tree);
            assert_eq!(fast, Value::Object(tree), "{attributes:?} {excluded:?}");
        }
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
