//! List request parameters (RFC 7644 §3.4.2): filter, paging, sorting and projection. Paging is by
//! index (`startIndex`) or by cursor (RFC 9865 `cursor`), never both in one request.

use std::collections::HashMap;

use super::ast::{AttrPath, Filter};
use super::discovery::MAX_RESULTS;
use super::error::{ScimError, ScimType, excerpt};
use super::filter::{parse_attr_path, parse_filter};
use super::projection::Projection;

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based, at least 1.
    pub start_index: u64,
    /// At most [`MAX_RESULTS`].
    pub count: u64,
    pub projection: Projection,
    /// Cursor paging (RFC 9865): `Some` when the request names `cursor`, empty for the first page
    /// (the text is checked by whoever issued it); `None` pages by `startIndex`.
    pub cursor: Option<String>,
    /// The filter, `sortBy` and `sortOrder` as the client sent them, in one text: what a cursor is
    /// bound to (RFC 9865 §2: the next page repeats every parameter but the cursor).
    pub query_key: String,
}

/// Longest cursor accepted: a cursor of this server holds one row's sort key and id, far below it.
pub const MAX_CURSOR_CHARS: usize = 4096;

/// Looks a query parameter up case-insensitively; unknown parameters are ignored (Entra appends
/// its own flags to the tenant URL).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An integer parameter; present but empty (`startIndex=`) counts as absent.
fn integer(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ScimError> {
    param(params, name)
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| {
            raw.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not \"{}\"", excerpt(raw)))
            })
        })
        .transpose()
}

impl ListRequest {
    /// Parses the query string of a list request.
    pub fn parse(params: &HashMap<String, String>) -> Result<ListRequest, ScimError> {
        let filter_text = param(params, "filter").map_or("", str::trim);
        let filter = match param(params, "filter").map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(parse_filter(raw).map_err(|e| ScimError::invalid_filter(e.to_string()))?),
        };
        let sort_by = match param(params, "sortBy").map(str::trim) {
            None | Some("") => None,
            Some(raw) => {
                Some(parse_attr_path(raw).map_err(|e| ScimError::invalid_value(format!("sortBy: {e}")))?)
            }
        };
        let descending = match param(params, "sortOrder").map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", not \"{}\"",
                    excerpt(o)
                )));
            }
        };
        let cursor = param(params, "cursor").map(str::trim).map(str::to_owned);
        if let Some(cursor) = &cursor {
            check_cursor(cursor)?;
            if param(params, "startIndex").is_some_and(|s| !s.trim().is_empty()) {
                return Err(ScimError::invalid_value(
                    "cursor and startIndex cannot be combined: page by cursor or by index",
                ));
            }
        }
        let sort_text = param(params, "sortBy").map_or(String::new(), |s| s.trim().to_ascii_lowercase());
        let query_key = format!(
            "{}:{filter_text}|{}:{sort_text}|{}",
            filter_text.len(),
            sort_text.len(),
            if descending { "descending" } else { "ascending" }
        );
        // RFC 7644 §3.4.2.4: a startIndex below 1 means 1, a negative count means 0.
        let start_index = integer(params, "startIndex")?.unwrap_or(1).max(1) as u64;
        let count = integer(params, "count")?.map_or(MAX_RESULTS, |c| (c.max(0) as u64).min(MAX_RESULTS));
        let projection = Projection::parse(param(params, "attributes"), param(params, "excludedAttributes"))?;
        Ok(ListRequest {
            filter,
            sort_by,
            descending,
            start_index,
            count,
            projection,
            cursor,
            query_key,
        })
    }
}

/// A cursor can only be what this server issues: RFC 3986 unreserved characters (RFC 9865 §2), of a
/// bounded length. Anything else is refused before it reaches a decoder.
fn check_cursor(cursor: &str) -> Result<(), ScimError> {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if cursor.len() > MAX_CURSOR_CHARS || !cursor.chars().all(unreserved) {
        return Err(ScimError::bad_request(
            ScimType::InvalidCursor,
            "the cursor is not one this server issued: send it empty for the first page, then nextCursor or previousCursor",
        ));
    }
    Ok(())
}

impl ListRequest {
    /// Parses a `POST …/.search` body (RFC 7644 §3.4.3): the same parameters as a query string.
    pub fn from_search(body: &serde_json::Value) -> Result<ListRequest, ScimError> {
        use serde_json::Value;
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax("a SearchRequest must be a JSON object"));
        };
        let mut params = HashMap::new();
        for (key, value) in obj {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::invalid_value(format!("{} must list strings", excerpt(key)))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                Value::Null | Value::Bool(_) | Value::Object(_) => continue,
            };
            params.insert(key.clone(), text);
        }
        ListRequest::parse(&params)
    }
}

/// Parses `attributes`/`excludedAttributes` for single-resource requests.
pub fn projection(params: &HashMap<String, String>) -> Result<Projection, ScimError> {
    Projection::parse(param(params, "attributes"), param(params, "excludedAttributes"))
}

/// Whether the client asked for a body explicitly (Group PATCH answers 204 otherwise).
pub fn asks_for_attributes(params: &HashMap<String, String>) -> bool {
    param(params, "attributes").is_some_and(|a| !a.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_clamps() {
        let r = ListRequest::parse(&q(&[])).unwrap();
        assert_eq!((r.start_index, r.count, r.descending), (1, MAX_RESULTS, false));
        let r = ListRequest::parse(&q(&[("startIndex", "0"), ("count", "-5")])).unwrap();
        assert_eq!((r.start_index, r.count), (1, 0));
        let r = ListRequest::parse(&q(&[("COUNT", "100000"), ("sortorder", "Descending")])).unwrap();
        assert_eq!((r.count, r.descending), (MAX_RESULTS, true));
    }

    #[test]
    fn bad_values_are_400s() {
        assert_eq!(
            ListRequest::parse(&q(&[("count", "ten")])).unwrap_err().status,
            400
        );
        let e = ListRequest::parse(&q(&[("filter", "userName eq")])).unwrap_err();
        assert_eq!(e.scim_type, Some(super::super::error::ScimType::InvalidFilter));
        assert!(ListRequest::parse(&q(&[("sortOrder", "sideways")])).is_err());
    }

    #[test]
    fn nul_in_any_parameter_is_a_400_with_its_scim_type() {
        let cases = [
            ("filter", "userName eq \"a\u{0}b\"", "invalidFilter"),
            ("filter", "userName eq \"a\\u0000b\"", "invalidFilter"),
            ("sortBy", "userName\u{0}", "invalidValue"),
            ("sortOrder", "ascending\u{0}", "invalidValue"),
            ("attributes", "userName,\u{0}", "invalidValue"),
            ("excludedAttributes", "\u{0}emails", "invalidValue"),
            ("startIndex", "1\u{0}", "invalidValue"),
            ("count", "\u{0}", "invalidValue"),
        ];
        for (name, value, scim_type) in cases {
            let e = ListRequest::parse(&q(&[(name, value)])).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type.map(|t| t.as_str())),
                (400, Some(scim_type)),
                "{name}"
            );
        }
    }

    #[test]
    fn echoed_values_are_excerpts() {
        let huge = "9".repeat(100_000) + "x";
        for name in ["count", "startIndex", "sortOrder"] {
            let e = ListRequest::parse(&q(&[(name, &huge)])).unwrap_err();
            assert!(e.detail.len() < 200, "{name}: {} bytes", e.detail.len());
        }
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert!(
            ListRequest::parse(&q(&[
                ("aadOptscim062020", ""),
                ("filter", "displayName eq \"x\"")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn a_cursor_is_parsed_and_an_empty_one_asks_for_the_first_page() {
        assert_eq!(ListRequest::parse(&q(&[])).unwrap().cursor, None);
        assert_eq!(
            ListRequest::parse(&q(&[("cursor", "")]))
                .unwrap()
                .cursor
                .as_deref(),
            Some("")
        );
        assert_eq!(
            ListRequest::parse(&q(&[("Cursor", "AbC-_9")]))
                .unwrap()
                .cursor
                .as_deref(),
            Some("AbC-_9")
        );
        let search = serde_json::json!({"cursor": "", "count": 5});
        let r = ListRequest::from_search(&search).unwrap();
        assert_eq!((r.cursor.as_deref(), r.count), (Some(""), 5));
    }

    #[test]
    fn a_cursor_with_a_start_index_is_an_invalid_value() {
        let e = ListRequest::parse(&q(&[("cursor", ""), ("startIndex", "3")])).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        // An empty startIndex is no startIndex.
        assert!(ListRequest::parse(&q(&[("cursor", ""), ("startIndex", "")])).is_ok());
    }

    #[test]
    fn a_cursor_of_foreign_characters_or_length_is_an_invalid_cursor() {
        let long = "a".repeat(MAX_CURSOR_CHARS + 1);
        for bad in ["a b", "a/b", "a+b", "a=", "é", long.as_str()] {
            let e = ListRequest::parse(&q(&[("cursor", bad)])).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidCursor)),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_query_key_tells_filters_and_sorts_apart() {
        let key = |pairs: &[(&str, &str)]| ListRequest::parse(&q(pairs)).unwrap().query_key;
        let base = key(&[("filter", "displayName sw \"a\""), ("sortBy", "displayName")]);
        assert_eq!(
            base,
            key(&[("filter", " displayName sw \"a\" "), ("sortby", "DISPLAYNAME")])
        );
        assert_ne!(
            base,
            key(&[("filter", "displayName sw \"b\""), ("sortBy", "displayName")])
        );
        assert_ne!(
            base,
            key(&[("filter", "displayName sw \"a\""), ("sortBy", "externalId")])
        );
        assert_ne!(
            base,
            key(&[
                ("filter", "displayName sw \"a\""),
                ("sortBy", "displayName"),
                ("sortOrder", "descending")
            ])
        );
        assert_ne!(base, key(&[("filter", "displayName sw \"a\"")]));
    }
}
