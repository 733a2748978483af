//! Verification of the JWTs scimgate trusts (design §6): one module, so admin API tokens and IdP
//! ID tokens meet the same rules. Nothing here sees an HTTP request.

pub mod admin;
