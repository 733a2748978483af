//! The SCIM 2.0 protocol as pure code, in a crate of its own so that its purity is a Cargo fact:
//! no I/O, no database, no HTTP. It depends on serde and text crates only; `.ci/run` fails if it
//! ever gains sea-orm, sqlx, axum, hyper or tokio. The gateway (`scimgate`) re-exports it as
//! `scimgate::scim`.
//!
//! Layout, from the grammar up:
//! - [`ast`], [`filter`]: filter expressions, attribute paths and PATCH paths, parsed within fixed
//!   bounds from untrusted text.
//! - [`schema`], [`discovery`]: the one table of supported attributes, and the discovery documents
//!   rendered from it.
//! - [`resource`], [`user_doc`], [`names`]: Group and User shapes on the wire, the stored User
//!   document, and the caseless key names are compared under.
//! - [`body`], [`patch`]: write bodies read without holding the whole document, and PATCH as
//!   changes the store applies.
//! - [`query`], [`projection`]: list parameters and which attributes an answer carries.
//! - [`bulk`]: Bulk requests: the envelope, the order operations run in, `bulkId:` references.
//! - [`error`]: protocol errors, free of HTTP types; the gateway turns them into responses.

pub mod ast;
pub mod body;
pub mod bulk;
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
