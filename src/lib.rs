//! scimgate: a multi-tenant SCIM 2.0 gateway.
//!
//! # Layout
//! Layers, outermost first; each calls only the one below it:
//! - [`server`]: connections and their time bounds.
//! - [`routing`]: HTTP — extractors, tenant resolution's HTTP side, error bodies, metrics labels.
//!   It holds [`services::Services`] and never names the store (`tests/architecture.rs`).
//! - [`services`]: the service layer, built once — per-tenant [`catalog`]s, the [`instance`],
//!   the [`login`] service (cross-organization routing at SSO login), the [`tokens`] service,
//!   the [`activity`] service (SCIM requests per organization, buffered). The only callers of the
//!   store.
//! - [`store`]: every SQL statement (sea-orm; one transaction per write) over SQLite or PostgreSQL.
//!
//! Beside the layers: [`scim`] is the SCIM protocol, pure code that knows nothing of HTTP or the
//! database — a workspace crate of its own (`scim/`), so that is a Cargo fact, which `.ci/run`
//! checks; [`auth`] verifies JWTs (key sources and policy, header and claim rules, what an admin
//! token grants) for routing and for the login service's ID tokens; [`config`] holds the settings and
//! depends on no other module; [`app`] wires them together for the binary.

pub mod activity;
pub mod app;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod instance;
pub mod login;
pub mod retention;
pub mod routing;
/// The SCIM protocol crate (`scim/`), reachable as `crate::scim` and `scimgate::scim`.
pub use ::scim;
pub mod server;
pub mod services;
pub mod store;
pub mod tokens;
