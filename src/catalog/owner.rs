//! What an organization's owner manages: the catalog's manual rows, teams and their delegation,
//! team members. The same rules and transactions as SCIM; only the actor differs.

use super::{Catalog, CatalogError};
use crate::scim::error::ScimError;
use crate::scim::resource::{MAX_NAME_CHARS, check_display_name};
use crate::store::audit::{AuditEvent, AuditQuery};
use crate::store::conflicts::OpenConflict;
use crate::store::deprovision::{ACCOUNT_MATCH_EMAIL, ACCOUNT_MATCH_EXTERNAL_ID};
use crate::store::groups::{GroupRow, Remover};
use crate::store::logins::{CLAIM_MATCH_DISPLAY_NAME, CLAIM_MATCH_EXTERNAL_ID};
pub use crate::store::orgs::{MatchSettings, MatchSettingsUpdate};
use crate::store::teams::{LinkChange, TeamFields, TeamMemberRow, TeamRow};
use crate::store::tokens::TokenInfo;

/// What the owner's SCIM settings page shows (never the token itself).
#[derive(Debug, Clone)]
pub struct ScimState {
    pub token: Option<TokenInfo>,
    pub group_count: u64,
    /// How logins and pushes match this organization's identities.
    pub settings: MatchSettings,
    /// Names this organization's IdP was refused, still held elsewhere.
    pub conflicts: Vec<RefusedName>,
}

/// A display name this organization's IdP was refused, and who holds it as far as the owner may
/// know (the instance's `SCIMGATE_CONFLICT_DETAIL`).
#[derive(Debug, Clone)]
pub struct RefusedName {
    pub display_name: String,
    pub held_by: HeldBy,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// Who holds a refused name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldBy {
    /// A MANUAL row or another group of the organization itself.
    ThisOrganization,
    /// Another organization, not named (anonymous instances).
    AnotherOrganization,
    /// Another organization, named.
    Organization { id: i64, name: String },
}

/// A catalog row as the owner sees it, with the team linked to it.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub row: GroupRow,
    pub linked_team: Option<TeamRow>,
}

fn org_not_found(id: i64) -> CatalogError {
    CatalogError::NotFound {
        kind: "Organization",
        id: id.to_string(),
    }
}

fn team_not_found(id: i64) -> CatalogError {
    CatalogError::NotFound {
        kind: "Team",
        id: id.to_string(),
    }
}

/// Validates a team name: present, not blank, at most [`MAX_NAME_CHARS`].
fn check_team_fields(name: &str, description: Option<String>) -> Result<TeamFields, CatalogError> {
    if name.trim().is_empty() {
        return Err(ScimError::invalid_value("a team needs a name").into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(
            ScimError::invalid_value(format!("a team name has at most {MAX_NAME_CHARS} characters")).into(),
        );
    }
    Ok(TeamFields {
        name: name.to_owned(),
        description,
    })
}

impl Catalog {
    /// The SCIM endpoint's state: active token, catalog size, open conflicts.
    pub async fn scim_state(&self) -> Result<ScimState, CatalogError> {
        let org = self.tenant.org_id;
        Ok(ScimState {
            token: self.store.active_token(org).await?,
            group_count: self.store.count_catalog(org).await?,
            settings: self
                .store
                .match_settings(org)
                .await?
                .ok_or_else(|| org_not_found(org))?,
            conflicts: self
                .store
                .open_conflicts(Some(org))
                .await?
                .into_iter()
                .map(|c| self.refused_name(c))
                .collect(),
        })
    }

    /// The anonymity rule of uniqueness conflicts, as the owner's page shows them.
    fn refused_name(&self, c: OpenConflict) -> RefusedName {
        let held_by = if c.holder_org_id == self.tenant.org_id {
            HeldBy::ThisOrganization
        } else if self.conflict_detail == super::ConflictDetail::Anonymous {
            HeldBy::AnotherOrganization
        } else {
            HeldBy::Organization {
                id: c.holder_org_id,
                name: c.holder_org_name,
            }
        };
        RefusedName {
            display_name: c.display_name,
            held_by,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
            count: c.count,
        }
    }

    /// Changes how logins and pushes match identities. Every value is checked before any is
    /// written: a mistake in one changes nothing.
    pub async fn update_settings(&self, update: MatchSettingsUpdate) -> Result<(), CatalogError> {
        let one_of = |name: &str, value: &Option<String>, allowed: [&str; 2]| match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(ScimError::invalid_value(format!(
                "{name} must be \"{}\" or \"{}\"",
                allowed[0], allowed[1]
            ))),
            _ => Ok(()),
        };
        one_of(
            "claimMatch",
            &update.claim_match,
            [CLAIM_MATCH_DISPLAY_NAME, CLAIM_MATCH_EXTERNAL_ID],
        )?;
        one_of(
            "accountMatch",
            &update.account_match,
            [ACCOUNT_MATCH_EMAIL, ACCOUNT_MATCH_EXTERNAL_ID],
        )?;
        let org = self.tenant.org_id;
        if self.store.update_match_settings(org, &update).await? {
            Ok(())
        } else {
            Err(org_not_found(org))
        }
    }

    /// The organization's audit trail, newest first.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, CatalogError> {
        Ok(self.store.audit_events(self.tenant.org_id, query).await?)
    }

    /// Every catalog row, sorted by name, with its linked team.
    pub async fn catalog(&self) -> Result<Vec<CatalogEntry>, CatalogError> {
        let rows = self.store.list_catalog(self.tenant.org_id).await?;
        let mut teams = self.store.teams_by_catalog_row(self.tenant.org_id).await?;
        Ok(rows
            .into_iter()
            .map(|row| CatalogEntry {
                linked_team: teams.remove(&row.id),
                row,
            })
            .collect())
    }

    /// Adds a MANUAL row; a name held anywhere on the instance is a 409 naming the holder.
    pub async fn add_manual_group(&self, display_name: &str) -> Result<GroupRow, CatalogError> {
        let name = check_display_name(Some(&serde_json::Value::String(display_name.to_owned())))?;
        match self
            .store
            .insert_manual_group(self.tenant.org_id, &name, &self.audit)
            .await
        {
            Ok(row) => Ok(row),
            Err(e) => Err(self.group_write_error(e, "", &name).await),
        }
    }

    /// Removes a MANUAL row (a SCIM-managed one only SCIM may remove), with the same purge as SCIM.
    pub async fn delete_manual_group(&self, id: &str) -> Result<(), CatalogError> {
        self.remove_catalog_row(id, None, Remover::Owner).await
    }

    /// Teams, by name.
    pub async fn teams(&self) -> Result<Vec<TeamRow>, CatalogError> {
        Ok(self.store.list_teams(self.tenant.org_id).await?)
    }

    /// One team.
    pub async fn team(&self, team_id: i64) -> Result<TeamRow, CatalogError> {
        self.store
            .find_team(self.tenant.org_id, team_id)
            .await?
            .ok_or_else(|| team_not_found(team_id))
    }

    /// Creates a team, optionally delegated to a catalog row.
    pub async fn create_team(
        &self,
        name: &str,
        description: Option<String>,
        idp_group_id: Option<&str>,
    ) -> Result<TeamRow, CatalogError> {
        let fields = check_team_fields(name, description)?;
        self.store
            .create_team(self.tenant.org_id, &fields, idp_group_id, &self.audit)
            .await
            .map_err(|e| CatalogError::from_write(e, "Team", ""))
    }

    /// Updates a team; `link` re-links, clears or keeps its delegation.
    pub async fn update_team(
        &self,
        team_id: i64,
        name: &str,
        description: Option<String>,
        link: LinkChange,
    ) -> Result<TeamRow, CatalogError> {
        let fields = check_team_fields(name, description)?;
        self.store
            .update_team(self.tenant.org_id, team_id, &fields, &link, &self.audit)
            .await
            .map_err(|e| CatalogError::from_write(e, "Team", &team_id.to_string()))
    }

    /// Deletes a MANUAL team.
    pub async fn delete_team(&self, team_id: i64) -> Result<(), CatalogError> {
        self.store
            .delete_team(self.tenant.org_id, team_id, &self.audit)
            .await
            .map_err(|e| CatalogError::from_write(e, "Team", &team_id.to_string()))
    }

    /// A team's members with their provenance.
    pub async fn team_members(&self, team_id: i64) -> Result<Vec<TeamMemberRow>, CatalogError> {
        self.store
            .team_members(self.tenant.org_id, team_id)
            .await?
            .ok_or_else(|| team_not_found(team_id))
    }

    /// Adds a member by e-mail to a MANUAL team (pre-creating the account if there is none).
    pub async fn add_team_member(&self, team_id: i64, email: &str) -> Result<TeamMemberRow, CatalogError> {
        let email = email.trim();
        if email.is_empty() || !email.contains('@') || email.chars().count() > MAX_NAME_CHARS {
            return Err(ScimError::invalid_value("a member needs a valid e-mail address").into());
        }
        self.store
            .add_manual_member(self.tenant.org_id, team_id, email, &self.audit)
            .await
            .map_err(|e| CatalogError::from_write(e, "Team", &team_id.to_string()))
    }

    /// Removes a member from a MANUAL team.
    pub async fn remove_team_member(&self, team_id: i64, account_id: &str) -> Result<(), CatalogError> {
        self.store
            .remove_manual_member(self.tenant.org_id, team_id, account_id, &self.audit)
            .await
            .map_err(|e| CatalogError::from_write(e, "Team member", account_id))
    }
}
