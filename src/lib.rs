//! scimgate: a multi-tenant SCIM 2.0 gateway. Layers, outermost first: [`server`] (connections and
//! their time bounds) → [`routing`] (HTTP, tokens, tenant resolution) → [`catalog`] (one
//! organization's Groups and Users) → [`store`] (SQL). The SCIM protocol itself ([`scim`]) is pure
//! code that knows nothing of HTTP or the database: a workspace crate of its own (`scim/`), so that
//! is a Cargo fact, which `.ci/run` checks.

pub mod app;
pub mod catalog;
pub mod config;
pub mod instance;
pub mod retention;
pub mod routing;
/// The SCIM protocol crate (`scim/`), reachable as `crate::scim` and `scimgate::scim`.
pub use ::scim;
pub mod server;
pub mod store;
pub mod tokens;
