//! Translates a parsed SCIM filter into a SQL condition, so lists are filtered by the database and
//! never by loading rows. What cannot be translated is refused (the caller answers 400
//! `invalidFilter`): an empty 200 for a filter we do not understand makes IdPs create duplicates.

use entity::{group_member, idp_group, scim_user, scim_user_email};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, IntoIden, LikeExpr, Query, SelectStatement};
use serde_json::Value;

use crate::scim::ast::{AttrPath, CompareOp, Filter, GROUP_SCHEMA, USER_SCHEMA};
use crate::scim::names::fold_key;

/// Which resource a filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Groups,
    Users,
}

/// A filter the store cannot run; the message goes to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

type Res<T> = Result<T, Unsupported>;

fn unsupported<T>(message: impl Into<String>) -> Res<T> {
    Err(Unsupported(message.into()))
}

/// How an attribute is stored.
#[derive(Debug, Clone)]
enum Column {
    /// A text column; `folded` columns hold `fold_key` of the value (case-insensitive attributes).
    Text {
        col: Expr,
        folded: bool,
        nullable: bool,
    },
    Bool(Expr),
    /// Microseconds since the epoch; compared with RFC 3339 values.
    Time(Expr),
}

// `Expr` is not `Copy`; rebuild column expressions on demand instead.
impl Column {
    fn expr(&self) -> Expr {
        match self {
            Column::Text { col, .. } | Column::Bool(col) | Column::Time(col) => col.clone(),
        }
    }
}

/// A multi-valued attribute kept in its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MultiValued {
    Members,
    Emails,
}

enum Attr {
    Single(Column),
    Multi(MultiValued, Option<String>),
}

/// Builds the SQL condition for `filter` on `target`, for the `backend` it will run on.
pub fn condition(filter: &Filter, target: Target, backend: DbBackend) -> Res<Expr> {
    match filter {
        Filter::And(a, b) => Ok(condition(a, target, backend)?.and(condition(b, target, backend)?)),
        Filter::Or(a, b) => Ok(condition(a, target, backend)?.or(condition(b, target, backend)?)),
        Filter::Not(inner) => Ok(condition(inner, target, backend)?.not()),
        Filter::Present(path) => match resolve(path, target)? {
            Attr::Single(col) => Ok(present(&col)),
            Attr::Multi(kind, sub) => exists(kind, sub_present(kind, sub.as_deref())?),
        },
        Filter::Compare { path, op, value } => match resolve(path, target)? {
            Attr::Single(col) => compare(&col, *op, value, &path_name(path), backend),
            Attr::Multi(kind, sub) => {
                let sub = sub.unwrap_or_else(|| "value".to_owned());
                exists(
                    kind,
                    compare(&sub_column(kind, &sub)?, *op, value, &path_name(path), backend)?,
                )
            }
        },
        Filter::ValuePath { path, filter } => match resolve(path, target)? {
            Attr::Multi(kind, None) => exists(kind, inner_condition(kind, filter, backend)?),
            _ => unsupported(format!("\"{}\" does not take a value filter", path_name(path))),
        },
        Filter::ValuePathCompare {
            path,
            filter,
            sub_attr,
            op,
            value,
        } => match resolve(path, target)? {
            Attr::Multi(kind, None) => {
                let col = sub_column(kind, sub_attr)?;
                let selected = match op {
                    Some(op) => compare(&col, *op, value, sub_attr, backend)?,
                    None => present(&col),
                };
                exists(kind, inner_condition(kind, filter, backend)?.and(selected))
            }
            _ => unsupported(format!("\"{}\" does not take a value filter", path_name(path))),
        },
    }
}

/// An attribute path as the client wrote it, without its URN (for messages and look-ups).
pub(super) fn path_name(path: &AttrPath) -> String {
    match &path.sub_attr {
        Some(sub) => format!("{}.{}", path.attr, sub),
        None => path.attr.clone(),
    }
}

fn resolve(path: &AttrPath, target: Target) -> Res<Attr> {
    let schema = match target {
        Target::Groups => GROUP_SCHEMA,
        Target::Users => USER_SCHEMA,
    };
    if let Some(urn) = &path.urn
        && !urn.eq_ignore_ascii_case(schema)
    {
        return unsupported(format!("filtering on attributes of {urn} is not supported"));
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
    let single = |col: Column| match &sub {
        None => Ok(Attr::Single(col)),
        Some(_) => unsupported(format!("\"{}\" has no sub-attributes", path.attr)),
    };
    match (target, attr.as_str()) {
        (Target::Groups, "id") => single(text(
            idp_group::Column::Id.into_iden(),
            Target::Groups,
            false,
            false,
        )),
        (Target::Groups, "externalid") => single(text(
            idp_group::Column::ExternalId.into_iden(),
            Target::Groups,
            false,
            true,
        )),
        (Target::Groups, "displayname") => single(text(
            idp_group::Column::DisplayKey.into_iden(),
            Target::Groups,
            true,
            false,
        )),
        (Target::Groups, "members") => Ok(Attr::Multi(MultiValued::Members, sub)),
        (Target::Users, "id") => single(text(
            scim_user::Column::Id.into_iden(),
            Target::Users,
            false,
            false,
        )),
        (Target::Users, "externalid") => single(text(
            scim_user::Column::ExternalId.into_iden(),
            Target::Users,
            false,
            true,
        )),
        (Target::Users, "username") => single(text(
            scim_user::Column::UserNameKey.into_iden(),
            Target::Users,
            true,
            false,
        )),
        (Target::Users, "displayname") => single(text(
            scim_user::Column::DisplayNameKey.into_iden(),
            Target::Users,
            true,
            true,
        )),
        (Target::Users, "active") => single(Column::Bool(qualified(
            Target::Users,
            scim_user::Column::Active.into_iden(),
        ))),
        (Target::Users, "emails") => Ok(Attr::Multi(MultiValued::Emails, sub)),
        (_, "meta") => {
            let (created, modified) = match target {
                Target::Groups => (
                    idp_group::Column::CreatedAt.into_iden(),
                    idp_group::Column::UpdatedAt.into_iden(),
                ),
                Target::Users => (
                    scim_user::Column::CreatedAt.into_iden(),
                    scim_user::Column::UpdatedAt.into_iden(),
                ),
            };
            match sub.as_deref() {
                Some("created") => Ok(Attr::Single(Column::Time(qualified(target, created)))),
                Some("lastmodified") => Ok(Attr::Single(Column::Time(qualified(target, modified)))),
                _ => unsupported(format!("filtering on \"{}\" is not supported", path_name(path))),
            }
        }
        _ => unsupported(format!(
            "filtering on \"{}\" is not supported; supported: {}",
            path_name(path),
            match target {
                Target::Groups =>
                    "id, externalId, displayName, members.value, meta.created, meta.lastModified",
                Target::Users =>
                    "id, externalId, userName, displayName, active, emails.value, emails.type, meta.created, meta.lastModified",
            }
        )),
    }
}

fn qualified(target: Target, col: sea_orm::sea_query::DynIden) -> Expr {
    let table = match target {
        Target::Groups => Alias::new("idp_groups").into_iden(),
        Target::Users => Alias::new("scim_users").into_iden(),
    };
    Expr::col((table, col))
}

fn text(col: sea_orm::sea_query::DynIden, target: Target, folded: bool, nullable: bool) -> Column {
    Column::Text {
        col: qualified(target, col),
        folded,
        nullable,
    }
}

fn present(col: &Column) -> Expr {
    match col {
        Column::Text {
            col, nullable: true, ..
        } => col.clone().is_not_null().and(col.clone().ne("")),
        _ => Expr::val(true).eq(true),
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `col >= prefix AND col < (prefix with its last character raised by one)`: the strings that
/// start with `prefix` in SQLite's BINARY order (bytes; UTF-8 keeps code point order), which an
/// index on `col` serves as a range. SQLite derives this range from `LIKE 'abc%'` itself only for a
/// pattern it can read while planning, and the query planner stability guarantee (see
/// `store::enable_query_planner_stability`) hides bound values from the planner. Not on
/// PostgreSQL: it orders text by the column's collation, where a prefix's strings are not a range.
fn prefix_range(col: &Expr, prefix: &str) -> Expr {
    let from = col.clone().gte(prefix);
    match prefix_successor(prefix) {
        Some(to) => from.and(col.clone().lt(to)),
        None => from,
    }
}

/// The least string greater than every string that starts with `prefix`, if there is one (none
/// when every character is U+10FFFF, or `prefix` is empty).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value: past the surrogates, none past U+10FFFF (then carry).
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn compare(col: &Column, op: CompareOp, value: &Value, name: &str, backend: DbBackend) -> Res<Expr> {
    match col {
        Column::Text { folded, nullable, .. } => {
            let Some(raw) = value.as_str() else {
                return unsupported(format!("\"{name}\" compares with a string value"));
            };
            let v = if *folded { fold_key(raw) } else { raw.to_owned() };
            let c = col.expr();
            let like = |pattern: String| c.clone().like(LikeExpr::new(pattern).escape('\\'));
            let cmp = match op {
                CompareOp::Eq => c.clone().eq(v),
                CompareOp::Ne => {
                    let ne = c.clone().ne(v);
                    return Ok(if *nullable { c.is_null().or(ne) } else { ne });
                }
                CompareOp::Co => like(format!("%{}%", escape_like(&v))),
                CompareOp::Sw => {
                    let starts = like(format!("{}%", escape_like(&v)));
                    match backend {
                        DbBackend::Sqlite => prefix_range(&c, &v).and(starts),
                        _ => starts,
                    }
                }
                CompareOp::Ew => like(format!("%{}", escape_like(&v))),
                CompareOp::Gt => c.clone().gt(v),
                CompareOp::Ge => c.clone().gte(v),
                CompareOp::Lt => c.clone().lt(v),
                CompareOp::Le => c.clone().lte(v),
            };
            // Keeps NOT well-defined on absent values: NOT (NULL = 'x') would be NULL, i.e. false.
            Ok(if *nullable { c.is_not_null().and(cmp) } else { cmp })
        }
        Column::Bool(c) => {
            let v = match value {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return unsupported(format!("\"{name}\" compares with true or false")),
            };
            match op {
                CompareOp::Eq => Ok(c.clone().eq(v)),
                CompareOp::Ne => Ok(c.clone().ne(v)),
                _ => unsupported(format!("\"{name}\" is a boolean: only eq and ne apply")),
            }
        }
        Column::Time(c) => {
            let micros = value
                .as_str()
                .and_then(|s| {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
                })
                .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000).ok());
            let Some(v) = micros else {
                return unsupported(format!("\"{name}\" compares with an RFC 3339 date-time"));
            };
            match op {
                CompareOp::Eq => Ok(c.clone().eq(v)),
                CompareOp::Ne => Ok(c.clone().ne(v)),
                CompareOp::Gt => Ok(c.clone().gt(v)),
                CompareOp::Ge => Ok(c.clone().gte(v)),
                CompareOp::Lt => Ok(c.clone().lt(v)),
                CompareOp::Le => Ok(c.clone().lte(v)),
                _ => unsupported(format!("\"{name}\" is a date-time: co, sw and ew do not apply")),
            }
        }
    }
}

fn sub_column(kind: MultiValued, sub: &str) -> Res<Column> {
    let sub_lower = sub.to_ascii_lowercase();
    let col = |c: sea_orm::sea_query::DynIden| Expr::col((Alias::new("m").into_iden(), c));
    match (kind, sub_lower.as_str()) {
        (MultiValued::Members, "value") => Ok(Column::Text {
            col: col(group_member::Column::UserId.into_iden()),
            folded: false,
            nullable: false,
        }),
        (MultiValued::Emails, "value") => Ok(Column::Text {
            col: col(scim_user_email::Column::ValueKey.into_iden()),
            folded: true,
            nullable: false,
        }),
        (MultiValued::Emails, "type") => Ok(Column::Text {
            col: col(scim_user_email::Column::Kind.into_iden()),
            folded: false,
            nullable: true,
        }),
        (MultiValued::Emails, "primary") => {
            Ok(Column::Bool(col(scim_user_email::Column::IsPrimary.into_iden())))
        }
        (MultiValued::Members, _) => unsupported(format!(
            "filtering on members.{sub} is not supported; use members.value"
        )),
        (MultiValued::Emails, _) => unsupported(format!("filtering on emails.{sub} is not supported")),
    }
}

fn sub_present(kind: MultiValued, sub: Option<&str>) -> Res<Expr> {
    match sub {
        None => Ok(Expr::val(true).eq(true)),
        Some(sub) => Ok(present(&sub_column(kind, sub)?)),
    }
}

/// A value filter's condition on the rows of the multi-valued attribute's table.
fn inner_condition(kind: MultiValued, filter: &Filter, backend: DbBackend) -> Res<Expr> {
    match filter {
        Filter::And(a, b) => Ok(inner_condition(kind, a, backend)?.and(inner_condition(kind, b, backend)?)),
        Filter::Or(a, b) => Ok(inner_condition(kind, a, backend)?.or(inner_condition(kind, b, backend)?)),
        Filter::Not(inner) => Ok(inner_condition(kind, inner, backend)?.not()),
        Filter::Compare { path, op, value } if path.sub_attr.is_none() && path.urn.is_none() => {
            compare(&sub_column(kind, &path.attr)?, *op, value, &path.attr, backend)
        }
        Filter::Present(path) if path.sub_attr.is_none() && path.urn.is_none() => {
            Ok(present(&sub_column(kind, &path.attr)?))
        }
        _ => unsupported("value filters may only compare sub-attributes"),
    }
}

/// `EXISTS (SELECT 1 FROM <table> m WHERE m.<owner> = <outer id> AND cond)`.
fn exists(kind: MultiValued, cond: Expr) -> Res<Expr> {
    let m = Alias::new("m");
    let mut select: SelectStatement = Query::select();
    select.expr(Expr::val(1));
    match kind {
        MultiValued::Members => {
            select.from_as(group_member::Entity, m.clone()).and_where(
                Expr::col((m.clone(), group_member::Column::GroupId))
                    .equals((Alias::new("idp_groups"), idp_group::Column::Id)),
            );
        }
        MultiValued::Emails => {
            select.from_as(scim_user_email::Entity, m.clone()).and_where(
                Expr::col((m.clone(), scim_user_email::Column::UserId))
                    .equals((Alias::new("scim_users"), scim_user::Column::Id)),
            );
        }
    }
    select.and_where(cond);
    Ok(Expr::exists(select))
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn a_prefix_successor_bounds_every_string_that_starts_with_it() {
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("caf\u{e9}").as_deref(), Some("caf\u{ea}"));
        assert_eq!(prefix_successor("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_successor("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10ffff}\u{10ffff}"), None);
        assert_eq!(prefix_successor(""), None);
        // Byte order (SQLite's BINARY) agrees: longer strings with the prefix sort below it.
        for (prefix, longer) in [("abc", "abc\u{10ffff}\u{10ffff}"), ("a\u{7f}", "a\u{7f}\u{7ff}z")] {
            let upper = prefix_successor(prefix).expect("a successor");
            assert!(longer.as_bytes() < upper.as_bytes(), "{longer:?} < {upper:?}");
            assert!(prefix.as_bytes() <= longer.as_bytes());
        }
    }
}
