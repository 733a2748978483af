//! sea-orm entities for scimgate's tables. The schema itself (indexes, foreign keys) lives in the
//! `migration` crate; these types only describe rows.

pub mod account;
pub mod audit_event;
pub mod claim_conflict;
pub mod group_member;
pub mod idp_group;
pub mod org_member;
pub mod organization;
pub mod scim_activity;
pub mod scim_activity_error;
pub mod scim_activity_hour;
pub mod scim_token;
pub mod scim_user;
pub mod scim_user_email;
pub mod team;
pub mod team_member;
pub mod uniqueness_conflict;
