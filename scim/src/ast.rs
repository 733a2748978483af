//! Syntax trees shared by the filter grammar and PATCH paths (RFC 7644 §3.4.2.2, §3.5.2).

use serde_json::Value;

/// URN of the core User schema; attribute paths qualified with it are the same as unqualified ones.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// `[URI ":"] ATTRNAME *1subAttr`, e.g. `emails.value`, `urn:…:User:userName`, `urn:…:enterprise:2.0:User:manager.value`.
///
/// `attr` and `sub_attr` keep the client's spelling; compare them case-insensitively (RFC 7643 §2.1).
/// `urn` is the schema URN prefix if one was written (without the trailing colon), else `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

/// Comparison operators of the filter grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter expression (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op compValue`; `value` is a JSON string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `attrPath pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath "[" valFilter "]"`, e.g. `emails[type eq "work" and value co "@example.com"]`.
    /// Paths inside `filter` are relative to the multi-valued attribute `path` (their `attr` is the sub-attribute).
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
    /// Entra's non-RFC `emails[type eq "work"].value eq "x"`: a value filter selecting elements of
    /// `path`, then `sub_attr` of those elements compared with `op`/`value` (or `pr` when `op` is `None`).
    ValuePathCompare {
        path: AttrPath,
        filter: Box<Filter>,
        sub_attr: String,
        op: Option<CompareOp>,
        value: Value,
    },
}

/// A PATCH operation's `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (possibly with a sub-attribute when there is no value filter), e.g. `name.givenName`.
    pub attr: AttrPath,
    /// The value filter in brackets, e.g. `members[value eq "abc"]` → `Some(value eq "abc")`.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets, e.g. `emails[type eq "work"].value` → `Some("value")`.
    pub sub_attr: Option<String>,
}
