//! Bulk requests (RFC 7644 §3.7) as pure code: the envelope read without copying its operations'
//! data (each `data` stays a slice of the body until its turn), the order operations run in, and
//! `bulkId:` references resolved into the ids of resources created earlier in the same request.
//!
//! Ordering: operations run in request order, except that one whose `bulkId:` references name
//! POSTs not yet performed waits until they are (RFC 7644 §3.7.2: a Group may be POSTed before
//! its member Users). Operations whose references are circular (§3.7.1) fail with 409, as do
//! those that depend on them; a reference to a bulkId no POST of the request declares fails its
//! operation with 400 `invalidValue`. Nothing here does I/O: the gateway performs each operation.
//!
//! Memory: reading the envelope keeps nothing in proportion to what a client pads it with. At most
//! [`MAX_OPERATIONS`] operations are kept (the 413 comes as soon as one more is read, not after
//! listing them all), and of the root and of each operation only the members this module reads
//! (unknown members, however many, are skipped unkept); `schemas` and scalar members are checked
//! as they are read, never built into a tree. References are kept as the indices of the POSTs
//! they name (at most one per POST and operation), never as the strings of the body.

use std::array;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::body;
use super::error::{MAX_DETAIL_CHARS, ScimError, excerpt, truncate_chars};
use super::patch::PatchOperation;
use super::resource::{CHECKED_MEMBER, GroupInput, error_body};

/// Schema URN of a Bulk request.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Schema URN of a Bulk response.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// The advertised `bulk.maxOperations`.
pub const MAX_OPERATIONS: usize = 1000;
/// The advertised `bulk.maxPayloadSize`, in bytes (16 MiB, the `/Groups` write limit).
pub const MAX_PAYLOAD_SIZE: usize = 16 * 1024 * 1024;
/// The prefix of a value that names a resource by the bulkId of the POST that creates it.
pub const BULK_ID_PREFIX: &str = "bulkId:";

/// The method of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// The resource type an operation's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    /// The endpoint name (`Users`, `Groups`).
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Users => "Users",
            Kind::Groups => "Groups",
        }
    }
}

/// The resource id in an operation's path: a literal id, or the bulkId of a POST of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRef {
    Literal(String),
    BulkId(String),
}

/// One operation of a Bulk request, its `data` still a slice of the body.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    pub method: Method,
    pub kind: Kind,
    /// The resource (none for a POST, which names a collection).
    pub id: Option<IdRef>,
    pub bulk_id: Option<String>,
    /// The `version`: an `If-Match` for PUT, PATCH and DELETE.
    pub version: Option<String>,
    pub data: Option<&'a RawValue>,
    /// The POSTs whose bulkIds this operation refers to (in its path and anywhere in its data),
    /// as indices into the request's operations, once each, ascending.
    pub references: Vec<usize>,
    /// The first (in sort order) bulkId it refers to that no POST of the request declares.
    pub unknown_reference: Option<String>,
}

/// A Bulk request: its operations in request order, and after how many errors to stop.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation<'a>>,
}

/// The 413 of a request with more than [`MAX_OPERATIONS`] operations (RFC 7644 §3.7.4: no
/// `scimType`, the detail names the limit). Reading stops at the first operation too many, so
/// the count is not known.
pub fn too_many_operations() -> ScimError {
    ScimError::new(
        413,
        format!("The bulk request has more operations than maxOperations ({MAX_OPERATIONS})"),
    )
}

/// The 413 of a body larger than [`MAX_PAYLOAD_SIZE`].
pub fn payload_too_large() -> ScimError {
    ScimError::new(
        413,
        format!("The size of the bulk request exceeds maxPayloadSize ({MAX_PAYLOAD_SIZE} bytes)"),
    )
}

/// The 409 of an operation that refers to a bulkId whose POST failed (or was never performed).
pub fn failed_reference(bulk_id: &str) -> ScimError {
    ScimError::new(
        409,
        format!(
            "bulkId \"{}\" names an operation of this request that failed, so this one was not performed",
            excerpt(bulk_id)
        ),
    )
}

fn unknown_reference(bulk_id: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "bulkId \"{}\" is not the bulkId of any POST in this request",
        excerpt(bulk_id)
    ))
}

fn circular_reference() -> ScimError {
    ScimError::new(
        409,
        "circular bulkId references: this operation depends, through bulkIds, on an operation that depends on it",
    )
}

/// Reads a Bulk request. Errors here concern the request as a whole (nothing is performed):
/// not JSON, not a BulkRequest, no `Operations`, too many of them (413), an operation that is not
/// an object, an unknown method or endpoint, a POST without a bulkId, a bulkId listed twice.
pub fn parse_request(bytes: &[u8]) -> Result<Request<'_>, ScimError> {
    let text = body::text(bytes)?;
    let root: &RawValue = serde_json::from_str(text).map_err(body::not_json)?;
    let [schemas, failure_limit, listed] = members(root, ROOT_MEMBERS)
        .map_err(|_| ScimError::invalid_syntax("a Bulk request must be a JSON object"))?;
    check_schemas(schemas)?;
    let fail_on_errors = match failure_limit {
        None => None,
        Some(raw) => fail_on_errors(raw)?,
    };
    let listed = match listed {
        Some(raw) if raw.get() != "null" => operation_list(raw)?,
        _ => {
            return Err(ScimError::invalid_syntax(
                "a Bulk request needs an \"Operations\" list",
            ));
        }
    };
    if listed.is_empty() {
        return Err(ScimError::invalid_value(
            "\"Operations\" is empty: a Bulk request needs at least one operation",
        ));
    }
    let mut operations = listed
        .into_iter()
        .enumerate()
        .map(|(i, raw)| operation(i, raw))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashMap::new();
    for (i, op) in operations.iter().enumerate() {
        if let Some(id) = &op.bulk_id
            && let Some(first) = seen.insert(id.as_str(), i)
        {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}] repeats the bulkId \"{}\" of Operations[{first}]: bulkIds must be unique within a request",
                excerpt(id)
            )));
        }
    }
    let declared: HashMap<&str, usize> = operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == Method::Post)
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let found = operations
        .iter()
        .map(|op| references(op, &declared))
        .collect::<Result<Vec<_>, _>>()?;
    drop(declared);
    for (op, (references, unknown)) in operations.iter_mut().zip(found) {
        op.references = references;
        op.unknown_reference = unknown;
    }
    Ok(Request {
        fail_on_errors,
        operations,
    })
}

/// The members of a request read: its `schemas`, `failOnErrors` and `Operations`.
const ROOT_MEMBERS: [&str; 3] = ["schemas", "failOnErrors", "Operations"];
/// The members of an operation read.
const OPERATION_MEMBERS: [&str; 5] = ["method", "path", "bulkId", "version", "data"];

/// The members `names` of the JSON object `raw`, matched case-insensitively (RFC 7643 §2.1);
/// every other member is skipped without being kept. A member spelled exactly as named wins over
/// other spellings; among members spelled alike, the last wins (as a map of them did).
fn members<'a, const N: usize>(
    raw: &'a RawValue,
    names: [&'static str; N],
) -> Result<[Option<&'a RawValue>; N], serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(raw.get());
    let found = Members(names).deserialize(&mut reader)?;
    reader.end()?;
    Ok(found)
}

/// Reads an object keeping only the members it names (see [`members`]).
struct Members<const N: usize>([&'static str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for Members<N> {
    type Value = [Option<&'de RawValue>; N];

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Members<N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut exact: [Option<&'de RawValue>; N] = [None; N];
        let mut folded: [Option<&'de RawValue>; N] = [None; N];
        while let Some(name) = map.next_key_seed(MemberName(&self.0))? {
            match name {
                Some((i, true)) => exact[i] = Some(map.next_value()?),
                Some((i, false)) => folded[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(array::from_fn(|i| exact[i].or(folded[i])))
    }
}

/// Reads a member name as the index of the name it matches, and whether exactly; `None` for
/// any other name (which is not kept).
struct MemberName<'n>(&'n [&'static str]);

impl<'de> DeserializeSeed<'de> for MemberName<'_> {
    type Value = Option<(usize, bool)>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberName<'_> {
    type Value = Option<(usize, bool)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .iter()
            .position(|n| *n == v)
            .map(|i| (i, true))
            .or_else(|| {
                self.0
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(v))
                    .map(|i| (i, false))
            }))
    }
}

/// The operations of `Operations`, at most [`MAX_OPERATIONS`]: one more is the 413 at once.
fn operation_list(raw: &RawValue) -> Result<Vec<&RawValue>, ScimError> {
    let mut too_many = false;
    let mut reader = serde_json::Deserializer::from_str(raw.get());
    OperationList(&mut too_many)
        .deserialize(&mut reader)
        .and_then(|listed| reader.end().map(|()| listed))
        .map_err(|_| match too_many {
            true => too_many_operations(),
            false => ScimError::invalid_syntax("\"Operations\" must be a list of operations"),
        })
}

/// Reads a list of operations left as text, noting in its flag when there are too many.
struct OperationList<'f>(&'f mut bool);

impl<'de> DeserializeSeed<'de> for OperationList<'_> {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OperationList<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of operations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut listed = Vec::new();
        while let Some(op) = seq.next_element()? {
            if listed.len() == MAX_OPERATIONS {
                *self.0 = true;
                return Err(de::Error::custom("too many operations"));
            }
            listed.push(op);
        }
        Ok(listed)
    }
}

/// `schemas`, when present and not null, must list the BulkRequest URN (as PATCH does with its own).
fn check_schemas(raw: Option<&RawValue>) -> Result<(), ScimError> {
    let Some(raw) = raw else { return Ok(()) };
    let mut reader = serde_json::Deserializer::from_str(raw.get());
    let listed = Schemas { top: true }
        .deserialize(&mut reader)
        .map_err(body::not_json)?;
    if listed {
        Ok(())
    } else {
        Err(ScimError::invalid_syntax(format!(
            "schemas must include {BULK_REQUEST_SCHEMA} in a Bulk request"
        )))
    }
}

/// Whether a `schemas` value lists the BulkRequest URN: null (at the top), the URN, or a list
/// holding it; read without keeping the list.
struct Schemas {
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Schemas {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Schemas {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of schema URNs")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(self.top)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v.trim().eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut listed = false;
        if self.top {
            while let Some(is_bulk) = seq.next_element_seed(Schemas { top: false })? {
                listed |= is_bulk;
            }
        } else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(listed)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

fn fail_on_errors(raw: &RawValue) -> Result<Option<usize>, ScimError> {
    match serde_json::from_str::<Option<u64>>(raw.get()) {
        Ok(None) => Ok(None),
        Ok(Some(n)) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        _ => Err(invalid_fail_on_errors()),
    }
}

fn invalid_fail_on_errors() -> ScimError {
    ScimError::invalid_value("failOnErrors must be a positive integer")
}

/// A string member of operation `i`, or `None`; refused when not a string or holding U+0000.
/// (A value that is not a string is refused as its first character is read.)
fn string_field(i: usize, raw: Option<&RawValue>, name: &str) -> Result<Option<String>, ScimError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match serde_json::from_str::<Option<String>>(raw.get()) {
        Ok(Some(s)) if s.contains('\0') => Err(ScimError::invalid_value(format!(
            "Operations[{i}].{name} contains a NUL character (U+0000)"
        ))),
        Ok(s) => Ok(s),
        Err(_) => Err(ScimError::invalid_syntax(format!(
            "Operations[{i}].{name} must be a string"
        ))),
    }
}

fn operation(i: usize, raw: &RawValue) -> Result<Operation<'_>, ScimError> {
    let [method, path, bulk_id, version, data] = members(raw, OPERATION_MEMBERS)
        .map_err(|_| ScimError::invalid_syntax(format!("Operations[{i}] must be an object")))?;
    let method = match string_field(i, method, "method")? {
        Some(m) => match m.trim().to_ascii_uppercase().as_str() {
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "Operations[{i}].method \"{}\" is not one of POST, PUT, PATCH, DELETE",
                    excerpt(&m)
                )));
            }
        },
        None => {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}] needs a \"method\""
            )));
        }
    };
    let Some(path) = string_field(i, path, "path")? else {
        return Err(ScimError::invalid_path(format!(
            "Operations[{i}] needs a \"path\" such as \"/Users\" or \"/Groups/{{id}}\""
        )));
    };
    let (kind, id) = parse_path(i, method, &path)?;
    let bulk_id = string_field(i, bulk_id, "bulkId")?;
    match &bulk_id {
        None if method == Method::Post => {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}] is a POST without a \"bulkId\" (RFC 7644 §3.7: required for POST)"
            )));
        }
        Some(b) if b.is_empty() => {
            return Err(ScimError::invalid_value(format!(
                "Operations[{i}].bulkId is empty"
            )));
        }
        _ => {}
    }
    let version = string_field(i, version, "version")?;
    let data = data.filter(|d| d.get() != "null");
    if data.is_none() && method != Method::Delete {
        return Err(ScimError::invalid_value(format!(
            "Operations[{i}] ({}) needs \"data\"",
            method.as_str()
        )));
    }
    Ok(Operation {
        method,
        kind,
        id,
        bulk_id,
        version,
        data,
        // Filled once every operation's bulkId is known.
        references: Vec::new(),
        unknown_reference: None,
    })
}

/// `/Users`, `/Groups` (POST) or `/Users/{id}`, `/Groups/{id}` (the others), the endpoint matched
/// case-insensitively; `{id}` may be `bulkId:x`.
fn parse_path(i: usize, method: Method, path: &str) -> Result<(Kind, Option<IdRef>), ScimError> {
    let bad =
        |why: &str| ScimError::invalid_path(format!("Operations[{i}].path \"{}\" {why}", excerpt(path)));
    let relative = path.strip_prefix('/').unwrap_or(path);
    let (endpoint, id) = match relative.split_once('/') {
        Some((endpoint, id)) => (endpoint, Some(id)),
        None => (relative, None),
    };
    let kind = if endpoint.eq_ignore_ascii_case("Users") {
        Kind::Users
    } else if endpoint.eq_ignore_ascii_case("Groups") {
        Kind::Groups
    } else {
        return Err(bad("does not name /Users or /Groups"));
    };
    let id = match (method, id) {
        (Method::Post, None) => None,
        (Method::Post, Some(_)) => return Err(bad("must name a collection (/Users or /Groups) for POST")),
        (_, None | Some("")) => return Err(bad("must name one resource, as /Users/{id}")),
        (_, Some(id)) if id.contains(['/', '?', '#']) => {
            return Err(bad("must name one resource, as /Users/{id}"));
        }
        (_, Some(id)) => Some(match id.strip_prefix(BULK_ID_PREFIX) {
            Some(bulk_id) => IdRef::BulkId(bulk_id.to_owned()),
            None => IdRef::Literal(id.to_owned()),
        }),
    };
    Ok((kind, id))
}

/// The references of `op` (its path's bulkId, and string values `"bulkId:x"` anywhere in its
/// data): the POSTs of `declared` (bulkId → index) they name, and the first other bulkId.
fn references(
    op: &Operation<'_>,
    declared: &HashMap<&str, usize>,
) -> Result<(Vec<usize>, Option<String>), ScimError> {
    let mut found = References {
        declared,
        posts: BTreeSet::new(),
        unknown: None,
    };
    if let Some(IdRef::BulkId(b)) = &op.id {
        found.note(b);
    }
    if let Some(data) = op.data {
        let mut reader = serde_json::Deserializer::from_str(data.get());
        Collect(&mut found)
            .deserialize(&mut reader)
            .map_err(body::not_json)?;
    }
    Ok((found.posts.into_iter().collect(), found.unknown))
}

/// The references of one operation as they are found: bounded by the number of POSTs.
struct References<'d> {
    declared: &'d HashMap<&'d str, usize>,
    posts: BTreeSet<usize>,
    unknown: Option<String>,
}

impl References<'_> {
    fn note(&mut self, bulk_id: &str) {
        match self.declared.get(bulk_id) {
            Some(&post) => {
                self.posts.insert(post);
            }
            None if self.unknown.as_deref().is_none_or(|first| bulk_id < first) => {
                self.unknown = Some(bulk_id.to_owned());
            }
            None => {}
        }
    }
}

/// A visitor that walks a value without keeping it, noting `bulkId:` references.
struct Collect<'c, 'd>(&'c mut References<'d>);

impl Collect<'_, '_> {
    fn note(&mut self, s: &str) {
        if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
            self.0.note(id);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Collect<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.note(v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Collect(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Collect(&mut *self.0))?;
        }
        Ok(())
    }
}

/// One operation's turn: its index in the request, and the error it fails with without being
/// performed (an unknown or circular reference), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub refused: Option<ScimError>,
}

/// The order to perform `operations` in: request order, except that an operation comes after
/// the POSTs whose bulkIds it refers to (as early as they allow). Every operation appears once.
/// Operations in a reference cycle are refused (409); an unknown reference is refused (400
/// `invalidValue`); what depends on a refused or failed operation is the caller's to fail (see
/// [`failed_reference`]) when its turn comes.
pub fn schedule(operations: &[Operation<'_>]) -> Vec<Step> {
    let n = operations.len();
    let mut refused: Vec<Option<ScimError>> = vec![None; n];
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, op) in operations.iter().enumerate() {
        match &op.unknown_reference {
            Some(r) => refused[i] = Some(unknown_reference(r)),
            None => deps[i] = op.references.iter().copied().filter(|&j| j < n).collect(),
        }
    }
    for i in in_cycles(&deps) {
        refused[i] = Some(circular_reference());
        deps[i].clear();
    }
    // Kahn's algorithm, always taking the earliest operation that is ready.
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let dependents = reverse(&deps);
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        order.push(Step {
            index: i,
            refused: refused[i].take(),
        });
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    // Unreachable (every cycle was cut above), kept so that no operation can go unanswered.
    for (i, placed) in placed.iter().enumerate() {
        if !placed {
            order.push(Step {
                index: i,
                refused: Some(circular_reference()),
            });
        }
    }
    order
}

/// `dependents[j]` lists the operations that depend on `j`.
fn reverse(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut dependents = vec![Vec::new(); deps.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &j in ds {
            dependents[j].push(i);
        }
    }
    dependents
}

/// The operations on reference cycles (and on paths between cycles): what is left once every
/// operation that can run has run (Kahn), less what merely waits on the cycles (peeled off from
/// the end that nothing left depends on). Linear in operations and references, no recursion.
fn in_cycles(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let dependents = reverse(deps);
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut queue: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut done = vec![false; n];
    while let Some(i) = queue.pop() {
        done[i] = true;
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                queue.push(d);
            }
        }
    }
    // Among what is left: how many left operations depend on each.
    let mut needed_by: Vec<usize> = (0..n)
        .map(|j| dependents[j].iter().filter(|&&d| !done[d]).count())
        .collect();
    let mut peel: Vec<usize> = (0..n).filter(|&i| !done[i] && needed_by[i] == 0).collect();
    let mut peeled = vec![false; n];
    while let Some(i) = peel.pop() {
        peeled[i] = true;
        for &j in &deps[i] {
            if !done[j] {
                needed_by[j] -= 1;
                if needed_by[j] == 0 {
                    peel.push(j);
                }
            }
        }
    }
    (0..n).filter(|&i| !done[i] && !peeled[i]).collect()
}

/// The ids of the resources an operation's references name, by bulkId.
pub type Resolved = HashMap<String, String>;

/// Replaces a `bulkId:x` string by the id `x` was created with; `\0`-joined member runs (the body
/// reader's compact form of checked member ids) are resolved item by item.
fn resolve_str(s: &mut String, ids: &Resolved) {
    if let Some(run) = s.strip_prefix(CHECKED_MEMBER) {
        if !run.contains(BULK_ID_PREFIX) {
            return;
        }
        let resolved: Vec<String> = run
            .split(CHECKED_MEMBER)
            .map(|item| {
                let mut item = item.to_owned();
                resolve_str(&mut item, ids);
                item
            })
            .collect();
        let mut joined = String::from(CHECKED_MEMBER);
        joined.push_str(&resolved.join(&CHECKED_MEMBER.to_string()));
        *s = joined;
        return;
    }
    if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(|b| ids.get(b)) {
        *s = id.clone();
    }
}

/// Resolves every `bulkId:` string value of `value` (keys are left alone).
pub fn resolve_value(value: &mut Value, ids: &Resolved) {
    match value {
        Value::String(s) => resolve_str(s, ids),
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_value(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| resolve_value(v, ids)),
        _ => {}
    }
}

/// Resolves the `bulkId:` references of a Group body (members, and any other string it keeps).
pub fn resolve_group(group: &mut GroupInput, ids: &Resolved) {
    resolve_str(&mut group.display_name, ids);
    if let Some(external_id) = &mut group.external_id {
        resolve_str(external_id, ids);
    }
    group.members.iter_mut().for_each(|m| resolve_str(m, ids));
}

/// Resolves the `bulkId:` references in the values of PATCH operations.
pub fn resolve_patch(operations: &mut [PatchOperation], ids: &Resolved) {
    for op in operations {
        if let Some(value) = &mut op.value {
            resolve_value(value, ids);
        }
    }
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    /// The resource's URL (absent for a POST that failed, or a path whose bulkId did not resolve).
    pub location: Option<String>,
    /// The resource's ETag after the operation.
    pub version: Option<String>,
    /// Why it failed: answered as the operation's `response`.
    pub error: Option<ScimError>,
}

/// One entry of a BulkResponse's `Operations`. `status` is a string, as in RFC 7644's examples;
/// a failure carries its SCIM error as `response`, with the detail capped as any error's is.
pub fn operation_response(op: &Operation<'_>, outcome: &Outcome) -> Value {
    let mut entry = Map::new();
    entry.insert("method".into(), op.method.as_str().into());
    if let Some(b) = &op.bulk_id {
        entry.insert("bulkId".into(), b.as_str().into());
    }
    if let Some(version) = &outcome.version {
        entry.insert("version".into(), version.as_str().into());
    }
    if let Some(location) = &outcome.location {
        entry.insert("location".into(), location.as_str().into());
    }
    entry.insert("status".into(), outcome.status.to_string().into());
    if let Some(error) = &outcome.error {
        let mut error = error.clone();
        error.detail = truncate_chars(&error.detail, MAX_DETAIL_CHARS);
        entry.insert("response".into(), error_body(&error));
    }
    Value::Object(entry)
}

/// The BulkResponse of the operations answered (in request order).
pub fn response(operations: Vec<Value>) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), Value::from(vec![BULK_RESPONSE_SCHEMA]));
    doc.insert("Operations".into(), Value::Array(operations));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: &Value) -> Result<Vec<Operation<'static>>, ScimError> {
        let text: &'static [u8] = Box::leak(v.to_string().into_bytes().into_boxed_slice());
        parse_request(text).map(|r| r.operations)
    }

    fn bulk(ops: Value) -> Value {
        json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops})
    }

    fn post(bulk_id: &str, path: &str, data: Value) -> Value {
        json!({"method": "POST", "path": path, "bulkId": bulk_id, "data": data})
    }

    fn order(ops: &[Operation<'_>]) -> Vec<(usize, Option<u16>)> {
        schedule(ops)
            .into_iter()
            .map(|s| (s.index, s.refused.map(|e| e.status)))
            .collect()
    }

    #[test]
    fn the_envelope_is_read_with_case_insensitive_names_and_data_left_as_text() {
        let body = json!({
            "SCHEMAS": [BULK_REQUEST_SCHEMA],
            "failonerrors": 2,
            "operations": [
                {"Method": "post", "PATH": "/users", "bulkId": "q", "data": {"userName": "a"}},
                {"method": "DELETE", "path": "/Groups/abc", "version": "W/\"3\""},
                {"method": "PATCH", "path": "Groups/bulkId:q", "data": {"Operations": []}},
            ],
        });
        let text = body.to_string();
        let request = parse_request(text.as_bytes()).unwrap();
        assert_eq!(request.fail_on_errors, Some(2));
        let ops = &request.operations;
        assert_eq!(
            (ops[0].method, ops[0].kind, &ops[0].id),
            (Method::Post, Kind::Users, &None)
        );
        assert_eq!(ops[0].data.map(RawValue::get), Some(r#"{"userName":"a"}"#));
        assert_eq!(ops[1].id, Some(IdRef::Literal("abc".into())));
        assert_eq!(ops[1].version.as_deref(), Some("W/\"3\""));
        assert_eq!(ops[2].id, Some(IdRef::BulkId("q".into())));
        assert_eq!(ops[2].references, vec![0]);
    }

    #[test]
    fn request_level_mistakes_name_their_scim_type() {
        let cases = [
            (b"{".to_vec(), "invalidSyntax"),
            (b"[]".to_vec(), "invalidSyntax"),
            (b"\xff".to_vec(), "invalidSyntax"),
            (
                json!({"schemas": ["urn:x"], "Operations": []})
                    .to_string()
                    .into_bytes(),
                "invalidSyntax",
            ),
            (
                json!({"schemas": [BULK_REQUEST_SCHEMA]}).to_string().into_bytes(),
                "invalidSyntax",
            ),
            (bulk(json!([])).to_string().into_bytes(), "invalidValue"),
            (
                bulk(json!([{"method": "POST", "path": "/Users", "data": {}}]))
                    .to_string()
                    .into_bytes(),
                "invalidValue",
            ),
            (
                bulk(json!([{"method": "GET", "path": "/Users/x"}]))
                    .to_string()
                    .into_bytes(),
                "invalidValue",
            ),
            (
                bulk(json!([{"method": "DELETE", "path": "/Teams/x"}]))
                    .to_string()
                    .into_bytes(),
                "invalidPath",
            ),
            (
                bulk(json!([{"method": "DELETE", "path": "/Users"}]))
                    .to_string()
                    .into_bytes(),
                "invalidPath",
            ),
            (
                bulk(json!([post("a", "/Users/x", json!({}))]))
                    .to_string()
                    .into_bytes(),
                "invalidPath",
            ),
            (
                bulk(json!([{"method": "PUT", "path": "/Users/x"}]))
                    .to_string()
                    .into_bytes(),
                "invalidValue",
            ),
            (
                bulk(json!([
                    post("a", "/Users", json!({})),
                    post("a", "/Groups", json!({}))
                ]))
                .to_string()
                .into_bytes(),
                "invalidValue",
            ),
            (bulk(json!(["x"])).to_string().into_bytes(), "invalidSyntax"),
            (
                json!({"Operations": [post("a", "/Users", json!({}))], "failOnErrors": 0})
                    .to_string()
                    .into_bytes(),
                "invalidValue",
            ),
            (
                bulk(json!([{"method": "DELETE", "path": "/Users/x", "bulkId": "a\u{0}"}]))
                    .to_string()
                    .into_bytes(),
                "invalidValue",
            ),
        ];
        for (body, scim_type) in cases {
            let error = parse_request(&body).unwrap_err();
            assert_eq!(error.status, 400, "{}", String::from_utf8_lossy(&body));
            assert_eq!(
                error.scim_type.map(|t| t.as_str()),
                Some(scim_type),
                "{}: {}",
                String::from_utf8_lossy(&body),
                error.detail
            );
        }
    }

    #[test]
    fn more_than_max_operations_is_a_413_naming_the_limit() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
            .collect();
        let error = parse(&bulk(Value::Array(ops))).unwrap_err();
        assert_eq!((error.status, error.scim_type), (413, None));
        assert!(error.detail.contains("maxOperations (1000)"), "{}", error.detail);
        let ops: Vec<Value> = (0..MAX_OPERATIONS)
            .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
            .collect();
        assert_eq!(parse(&bulk(Value::Array(ops))).unwrap().len(), MAX_OPERATIONS);
    }

    #[test]
    fn the_413_comes_at_the_first_operation_too_many_however_long_the_list() {
        // 8 million entries: read one past the limit, never listed (nor even all scanned).
        let mut text = format!("{{\"schemas\":[\"{BULK_REQUEST_SCHEMA}\"],\"Operations\":[0");
        text.push_str(&",0".repeat(8_000_000));
        text.push_str("]}");
        let error = parse_request(text.as_bytes()).unwrap_err();
        assert_eq!((error.status, error.scim_type), (413, None));
        assert!(error.detail.contains("maxOperations (1000)"), "{}", error.detail);
        // At the limit the list is read (and its items are then refused for what they are).
        let at_limit = format!("{{\"Operations\":[{}]}}", vec!["0"; MAX_OPERATIONS].join(","));
        let error = parse_request(at_limit.as_bytes()).unwrap_err();
        assert_eq!(error.status, 400, "{}", error.detail);
        assert!(
            error.detail.contains("Operations[0] must be an object"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn unknown_members_are_skipped_and_known_ones_read_whatever_their_case() {
        let mut op = String::from("{\"method\":\"DELETE\"");
        for i in 0..100_000 {
            op.push_str(&format!(",\"k{i}\":[{{\"x\":[1,2]}}]"));
        }
        op.push_str(",\"PATH\":\"/Users/a\"}");
        let text = format!("{{\"x\":{{}},\"OPERATIONS\":[{op}],\"y\":[[]]}}");
        let ops = parse_request(text.as_bytes()).unwrap().operations;
        assert_eq!(ops[0].id, Some(IdRef::Literal("a".into())));
    }

    #[test]
    fn of_members_named_alike_the_exact_spelling_wins_then_the_last() {
        let text = r#"{"Operations":[{"method":"DELETE","path":"/Users/exact","PATH":"/Users/other","Path":"/Users/later"}]}"#;
        let ops = parse_request(text.as_bytes()).unwrap().operations;
        assert_eq!(ops[0].id, Some(IdRef::Literal("exact".into())));
        let text = r#"{"Operations":[{"method":"DELETE","path":"/Users/first","PATH":"/Users/x","path":"/Users/last"}]}"#;
        let ops = parse_request(text.as_bytes()).unwrap().operations;
        assert_eq!(ops[0].id, Some(IdRef::Literal("last".into())));
        let text = r#"{"Operations":[{"method":"DELETE","PATH":"/Users/first","Path":"/Users/last"}]}"#;
        let ops = parse_request(text.as_bytes()).unwrap().operations;
        assert_eq!(ops[0].id, Some(IdRef::Literal("last".into())));
    }

    #[test]
    fn schemas_are_checked_as_they_are_read() {
        let op = r#"{"method":"DELETE","path":"/Users/a"}"#;
        let with = |schemas: &str| format!(r#"{{"schemas":{schemas},"Operations":[{op}]}}"#);
        for listed in [
            format!(
                r#"["x",1,{{"a":[]}},[],null," {} "]"#,
                BULK_REQUEST_SCHEMA.to_uppercase()
            ),
            format!(r#""{BULK_REQUEST_SCHEMA}""#),
            "null".to_owned(),
        ] {
            assert!(parse_request(with(&listed).as_bytes()).is_ok(), "{listed}");
        }
        for not_listed in [
            format!(r#"[["{BULK_REQUEST_SCHEMA}"]]"#),
            format!(r#"[{{"{BULK_REQUEST_SCHEMA}":1}}]"#),
            "[null]".to_owned(),
            "1".to_owned(),
            "{}".to_owned(),
            format!("[{}\"x\"]", "\"x\",".repeat(1_000_000)),
        ] {
            let error = parse_request(with(&not_listed).as_bytes()).unwrap_err();
            assert_eq!(error.status, 400, "{not_listed}");
            assert_eq!(error.scim_type.map(|t| t.as_str()), Some("invalidSyntax"));
        }
    }

    #[test]
    fn members_of_the_wrong_type_are_refused_without_reading_them_whole() {
        let cases = [
            (r#"{"method":[0,0,0],"path":"/Users/a"}"#, "invalidSyntax"),
            (r#"{"method":"DELETE","path":{"a":1}}"#, "invalidSyntax"),
            (
                r#"{"method":"DELETE","path":"/Users/a","version":7}"#,
                "invalidSyntax",
            ),
        ];
        for (op, scim_type) in cases {
            let text = format!(r#"{{"Operations":[{op}]}}"#);
            let error = parse_request(text.as_bytes()).unwrap_err();
            assert_eq!(error.scim_type.map(|t| t.as_str()), Some(scim_type), "{op}");
        }
        for limit in ["0", "-1", "1.5", "\"2\"", "[2]", "1e3", "99999999999999999999"] {
            let text = format!(
                r#"{{"failOnErrors":{limit},"Operations":[{{"method":"DELETE","path":"/Users/a"}}]}}"#
            );
            let error = parse_request(text.as_bytes()).unwrap_err();
            assert_eq!(
                error.scim_type.map(|t| t.as_str()),
                Some("invalidValue"),
                "{limit}"
            );
        }
        let text = r#"{"failOnErrors":null,"Operations":[{"method":"DELETE","path":"/Users/a"}]}"#;
        assert_eq!(parse_request(text.as_bytes()).unwrap().fail_on_errors, None);
    }

    #[test]
    fn references_are_found_anywhere_in_data_once_each() {
        let ops = parse(&bulk(json!([
            post(
                "g",
                "/Groups",
                json!({"displayName": "x", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}, {"value": "bulkId:u1"}, {"value": "plain"}], "x": {"y": ["bulkId:u3"]}}),
            ),
            post("u3", "/Users", json!({})),
            post("u2", "/Users", json!({})),
            post("u1", "/Users", json!({})),
            {"method": "DELETE", "path": "/Users/bulkId:zz", "data": ["bulkId:u2", "bulkId:yy", "bulkId:zy"]},
        ])))
        .unwrap();
        assert_eq!(ops[0].references, vec![1, 2, 3]);
        assert_eq!(ops[0].unknown_reference, None);
        assert_eq!(ops[4].references, vec![2]);
        assert_eq!(ops[4].unknown_reference.as_deref(), Some("yy"));
    }

    #[test]
    fn a_group_posted_before_its_users_waits_for_them() {
        let ops = parse(&bulk(json!([
            post("g", "/Groups", json!({"displayName": "g", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]})),
            post("u1", "/Users", json!({"userName": "u1"})),
            {"method": "DELETE", "path": "/Users/other"},
            post("u2", "/Users", json!({"userName": "u2"})),
            post("h", "/Groups", json!({"displayName": "h"})),
        ])))
        .unwrap();
        assert_eq!(
            order(&ops),
            vec![(1, None), (2, None), (3, None), (0, None), (4, None)]
        );
    }

    #[test]
    fn cycles_are_refused_with_409_and_what_waits_on_them_is_scheduled_after() {
        // RFC 7644 §3.7.1's example: two groups that name each other.
        let ops = parse(&bulk(json!([
            post("a", "/Groups", json!({"displayName": "A", "members": [{"value": "bulkId:b"}]})),
            post("b", "/Groups", json!({"displayName": "B", "members": [{"value": "bulkId:a"}]})),
            post("c", "/Groups", json!({"displayName": "C", "members": [{"value": "bulkId:a"}]})),
            post("self", "/Groups", json!({"displayName": "S", "members": [{"value": "bulkId:self"}]})),
            post("d", "/Groups", json!({"displayName": "D", "members": [{"value": "bulkId:nope"}]})),
            {"method": "PATCH", "path": "/Groups/bulkId:d", "data": {"Operations": []}},
            post("u", "/Users", json!({"userName": "u"})),
        ])))
        .unwrap();
        let steps = schedule(&ops);
        let refused: Vec<(usize, Option<u16>)> = order(&ops);
        assert_eq!(steps.len(), ops.len());
        let status_of = |i: usize| refused.iter().find(|(j, _)| *j == i).and_then(|(_, s)| *s);
        assert_eq!(status_of(0), Some(409));
        assert_eq!(status_of(1), Some(409));
        assert_eq!(status_of(3), Some(409));
        assert_eq!(status_of(4), Some(400));
        assert_eq!(status_of(2), None, "waits on a cycle: fails when its turn comes");
        assert_eq!(
            status_of(5),
            None,
            "waits on a refused POST: fails when its turn comes"
        );
        assert_eq!(status_of(6), None);
        let position = |i: usize| refused.iter().position(|(j, _)| *j == i).unwrap();
        assert!(position(2) > position(0));
        assert!(position(5) > position(4));
        let unknown = steps
            .iter()
            .find(|s| s.index == 4)
            .unwrap()
            .refused
            .clone()
            .unwrap();
        assert_eq!(unknown.scim_type.map(|t| t.as_str()), Some("invalidValue"));
    }

    #[test]
    fn a_long_chain_is_ordered_without_recursion() {
        // Operation i references i+1: the last runs first.
        let n = MAX_OPERATIONS;
        let ops: Vec<Value> = (0..n)
            .map(|i| {
                let data = if i + 1 < n {
                    json!({"displayName": format!("g{i}"), "members": [{"value": format!("bulkId:{}", i + 1)}]})
                } else {
                    json!({"displayName": "last"})
                };
                post(&i.to_string(), "/Groups", data)
            })
            .collect();
        let ops = parse(&bulk(Value::Array(ops))).unwrap();
        let steps = schedule(&ops);
        assert_eq!(steps.first().map(|s| s.index), Some(n - 1));
        assert_eq!(steps.last().map(|s| s.index), Some(0));
        assert!(steps.iter().all(|s| s.refused.is_none()));
    }

    #[test]
    fn references_resolve_in_values_paths_and_member_runs() {
        let ids: Resolved = [
            ("u1".to_owned(), "id-1".to_owned()),
            ("u2".to_owned(), "id-2".to_owned()),
        ]
        .into_iter()
        .collect();
        let mut value = json!({"a": ["bulkId:u1", {"value": "bulkId:u2"}], "bulkId:u1": "bulkId:unknown"});
        resolve_value(&mut value, &ids);
        assert_eq!(
            value,
            json!({"a": ["id-1", {"value": "id-2"}], "bulkId:u1": "bulkId:unknown"})
        );
        let run = format!("{CHECKED_MEMBER}bulkId:u1{CHECKED_MEMBER}plain{CHECKED_MEMBER}bulkId:u2");
        let mut run = Value::String(run);
        resolve_value(&mut run, &ids);
        assert_eq!(
            run,
            Value::String(format!(
                "{CHECKED_MEMBER}id-1{CHECKED_MEMBER}plain{CHECKED_MEMBER}id-2"
            ))
        );
        let mut group = GroupInput {
            display_name: "g".into(),
            external_id: None,
            members: vec!["bulkId:u2".into(), "x".into()],
        };
        resolve_group(&mut group, &ids);
        assert_eq!(group.members, vec!["id-2", "x"]);
    }

    #[test]
    fn responses_carry_string_statuses_and_error_bodies() {
        let ops = parse(&bulk(json!([post("q", "/Users", json!({}))]))).unwrap();
        let ok = operation_response(
            &ops[0],
            &Outcome {
                status: 201,
                location: Some("https://x/Users/1".into()),
                version: Some("W/\"1\"".into()),
                error: None,
            },
        );
        assert_eq!(
            ok,
            json!({"method": "POST", "bulkId": "q", "version": "W/\"1\"", "location": "https://x/Users/1", "status": "201"})
        );
        let failed = operation_response(
            &ops[0],
            &Outcome {
                status: 400,
                location: None,
                version: None,
                error: Some(ScimError::invalid_value("x".repeat(5000))),
            },
        );
        assert_eq!(failed["status"], "400");
        assert_eq!(failed["response"]["scimType"], "invalidValue");
        assert_eq!(failed["response"]["status"], "400");
        assert!(failed["response"]["detail"].as_str().unwrap().chars().count() <= MAX_DETAIL_CHARS + 1);
        assert_eq!(response(vec![ok])["schemas"], json!([BULK_RESPONSE_SCHEMA]));
    }
}
