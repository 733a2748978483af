//! scimgate: a multi-tenant SCIM 2.0 gateway. Layers, outermost first: [`server`] (connections and
//! their time bounds) → [`routing`] (HTTP, tokens, tenant resolution) → [`catalog`] (one
//! organization's Groups and Users) → [`store`] (SQL). The SCIM protocol itself ([`scim`]) is pure
//! code that knows nothing of HTTP or the database.
//!
//! Beside the layers: [`auth`] verifies JWTs (key sources and policy, header and claim rules, what
//! an admin token grants) for routing, which only reads the credential; [`config`] holds the
//! settings and depends on no other module.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod instance;
pub mod retention;
pub mod routing;
pub mod scim;
pub mod server;
pub mod services;
pub mod store;
pub mod tokens;
