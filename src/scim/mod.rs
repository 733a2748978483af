//! The SCIM 2.0 protocol as pure code: filter grammar, PATCH, resource shapes, discovery, errors.
//! Nothing here knows of HTTP or the database.

pub mod ast;
pub mod body;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod names;
pub mod patch;
pub mod projection;
pub mod query;
pub mod resource;
pub mod schema;
pub mod user_doc;
