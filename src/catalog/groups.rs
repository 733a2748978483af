//! SCIM Groups of one organization: the catalog rows whose display names are unique instance-wide.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::scim::error::{ScimError, ScimType};

use super::{Catalog, CatalogError, NameHolder, Resource};
use crate::scim::patch::{GroupChange, group_changes, parse_patch_request};
use crate::scim::projection::Projection;
use crate::scim::query::ListRequest;
use crate::scim::resource::IfMatch;
use crate::scim::resource::{self, GroupView, Meta, parse_group};
use crate::store::groups::{GroupRow, Remover};
use crate::store::{ListQuery, StoreError, Violation, WriteError};

impl Catalog {
    /// POST /Groups.
    pub async fn create_group(&self, body: &Value) -> Result<Resource, CatalogError> {
        let input = parse_group(body)?;
        let row = self
            .store
            .insert_group(
                self.tenant.org_id,
                &input.display_name,
                input.external_id.as_deref(),
                &input.members,
                &self.audit,
            )
            .await;
        match row {
            Ok(row) => self.group_resource(row, &Projection::default()).await,
            Err(e) => Err(self.group_write_error(e, "", &input.display_name).await),
        }
    }

    /// GET /Groups/{id}.
    pub async fn get_group(&self, id: &str, projection: &Projection) -> Result<Resource, CatalogError> {
        let row = self
            .store
            .find_group(self.tenant.org_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        self.group_resource(row, projection).await
    }

    /// GET /Groups with filter, paging and projection; members are read only when returned.
    pub async fn list_groups(&self, request: &ListRequest) -> Result<Box<RawValue>, CatalogError> {
        let (total, resources) = self.page_groups(request).await?;
        Ok(resource::list_response_raw(
            total,
            request.start_index,
            &resources,
        ))
    }

    /// One page of rendered groups and the number matching.
    pub(super) async fn page_groups(
        &self,
        request: &ListRequest,
    ) -> Result<(u64, Vec<Box<RawValue>>), CatalogError> {
        let page = self
            .store
            .list_groups(self.tenant.org_id, &list_query(request))
            .await?;
        let resources = self
            .render_groups(page.rows, &request.projection)
            .await?
            .into_iter()
            .map(|r| r.body)
            .collect();
        Ok((page.total, resources))
    }

    /// POST /.search: Users, then Groups, paged as one list. A filter one type cannot answer
    /// (say `userName` for Groups) matches none of that type; one that neither can is a 400.
    pub async fn search_all(&self, request: &ListRequest) -> Result<Box<RawValue>, CatalogError> {
        let no_match = |r: Result<(u64, Vec<Box<RawValue>>), CatalogError>| match r {
            Err(CatalogError::Invalid(e)) if e.scim_type == Some(ScimType::InvalidFilter) => Ok(None),
            other => other.map(Some),
        };
        let users = no_match(self.page_users(request).await)?;
        let users_total = users.as_ref().map_or(0, |u| u.0);
        // The groups' window starts where the users ran out.
        let taken = users.as_ref().map_or(0, |u| u.1.len() as u64);
        let groups_request = ListRequest {
            start_index: request.start_index.saturating_sub(users_total).max(1),
            count: request.count - taken,
            ..request.clone()
        };
        let groups = no_match(self.page_groups(&groups_request).await)?;
        if users.is_none() && groups.is_none() {
            return Err(ScimError::invalid_filter("the filter applies to neither Users nor Groups").into());
        }
        let (groups_total, group_resources) = groups.unwrap_or_default();
        let mut resources = users.map(|u| u.1).unwrap_or_default();
        resources.extend(group_resources);
        Ok(resource::list_response_raw(
            users_total + groups_total,
            request.start_index,
            &resources,
        ))
    }

    /// PUT /Groups/{id}: replaces name, externalId and membership (diffed into deltas).
    pub async fn replace_group(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&IfMatch>,
    ) -> Result<Resource, CatalogError> {
        let input = parse_group(body)?;
        let writes = [
            GroupChange::SetDisplayName(input.display_name.clone()),
            GroupChange::SetExternalId(input.external_id),
            GroupChange::ReplaceMembers(input.members),
        ];
        match self
            .store
            .update_group(self.tenant.org_id, id, if_match, &writes, &self.audit)
            .await
        {
            Ok(row) => self.group_resource(row, &Projection::default()).await,
            Err(e) => Err(self.group_write_error(e, id, &input.display_name).await),
        }
    }

    /// PATCH /Groups/{id}, atomically; the resource is rendered only when `projection` asks for it.
    pub async fn patch_group(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&IfMatch>,
        projection: Option<&Projection>,
    ) -> Result<Option<Resource>, CatalogError> {
        let ops = parse_patch_request(body)?;
        let changes = group_changes(&ops, id)?;
        // The name a clash would be about: the last rename of this PATCH.
        let new_name = changes
            .iter()
            .rev()
            .find_map(|c| match c {
                GroupChange::SetDisplayName(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let row = match self
            .store
            .update_group(self.tenant.org_id, id, if_match, &changes, &self.audit)
            .await
        {
            Ok(row) => row,
            Err(e) => return Err(self.group_write_error(e, id, &new_name).await),
        };
        match projection {
            Some(p) => Ok(Some(self.group_resource(row, p).await?)),
            None => Ok(None),
        }
    }

    /// DELETE /Groups/{id}: removes the catalog row, orphans its team and purges the team's
    /// DELEGATED members in one transaction; answers after the commit.
    pub async fn delete_group(&self, id: &str, if_match: Option<&IfMatch>) -> Result<(), CatalogError> {
        self.remove_catalog_row(id, if_match, Remover::Scim).await
    }

    /// Removes a catalog row for SCIM or for the organization's owner (see [`Remover`]).
    pub(super) async fn remove_catalog_row(
        &self,
        id: &str,
        if_match: Option<&IfMatch>,
        remover: Remover,
    ) -> Result<(), CatalogError> {
        let removal = self
            .store
            .remove_catalog_row(self.tenant.org_id, id, if_match, remover, &self.audit)
            .await
            .map_err(|e| CatalogError::from_write(e, "Group", id))?;
        if let Some(team) = removal.orphaned_team {
            tracing::info!(
                org = self.tenant.org_id,
                group = id,
                team,
                purged = removal.purged_members,
                correlation_id = %self.audit.correlation_id,
                "catalog row removed; team orphaned and its delegated members purged"
            );
        }
        Ok(())
    }

    /// Renders rows in order; members are read (in one query) only when the projection returns them.
    async fn render_groups(
        &self,
        rows: Vec<GroupRow>,
        projection: &Projection,
    ) -> Result<Vec<Resource>, CatalogError> {
        // `excludedAttributes=members` must never touch the membership table (Entra asks for it
        // on every lookup of a group that may have 100 000 members).
        let mut members = if projection.includes("members") {
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            Some(self.store.group_members(self.tenant.org_id, &ids).await?)
        } else {
            None
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let view = GroupView {
                    members: members.as_mut().map(|m| m.remove(&row.id).unwrap_or_default()),
                    meta: Meta {
                        created: row.created_at,
                        last_modified: row.updated_at,
                        version: row.version,
                    },
                    id: row.id,
                    display_name: row.display_name,
                    external_id: row.external_id,
                };
                let (version, location) =
                    (view.meta.version, format!("{}/Groups/{}", self.base_url, view.id));
                Resource {
                    body: resource::group_json(&self.base_url, view, projection),
                    version,
                    location,
                }
            })
            .collect())
    }

    async fn group_resource(&self, row: GroupRow, projection: &Projection) -> Result<Resource, CatalogError> {
        let id = row.id.clone();
        self.render_groups(vec![row], projection)
            .await?
            .pop()
            .ok_or_else(|| not_found(&id))
    }

    /// Turns a refused group write into what the IdP admin needs to know; a display-name clash
    /// names the organization holding it (unless the instance is configured not to).
    pub(super) async fn group_write_error(
        &self,
        e: WriteError,
        id: &str,
        display_name: &str,
    ) -> CatalogError {
        match e {
            WriteError::Store(StoreError::Violation(Violation::GroupDisplayName)) => {
                let found = match self.store.display_name_holder(display_name).await {
                    Ok(found) => found,
                    Err(e) => return e.into(),
                };
                if let Some(h) = &found {
                    // Kept until the name frees up; a failure to record must not hide the 409.
                    if let Err(e) = self
                        .store
                        .record_conflict(self.tenant.org_id, h.org_id, display_name)
                        .await
                    {
                        tracing::warn!(error = %e, "could not record an open uniqueness conflict");
                    }
                }
                let holder = match found {
                    Some(h) if h.org_id == self.tenant.org_id => NameHolder::SameOrg { group_id: h.group_id },
                    Some(_) if self.conflict_detail == super::ConflictDetail::Anonymous => {
                        NameHolder::OtherOrgHidden
                    }
                    Some(h) => NameHolder::OtherOrg {
                        org_id: h.org_id,
                        org_name: h.org_name,
                    },
                    None => NameHolder::Unknown,
                };
                metrics::counter!(
                    "scimgate_uniqueness_conflicts_total",
                    "org" => self.tenant.org_id.to_string(),
                    "kind" => holder.kind()
                )
                .increment(1);
                CatalogError::DisplayNameTaken {
                    name: display_name.to_owned(),
                    holder,
                    requester: self.tenant.org_name.clone(),
                }
            }
            WriteError::Store(StoreError::Violation(Violation::GroupExternalId)) => {
                CatalogError::Taken("externalId is already used by another group of this organization".into())
            }
            WriteError::UnknownUsers(ids) => {
                metrics::counter!("scimgate_unknown_members_total", "org" => self.tenant.org_id.to_string())
                    .increment(ids.len() as u64);
                CatalogError::UnknownMembers(ids)
            }
            other => CatalogError::from_write(other, "Group", id),
        }
    }
}

fn not_found(id: &str) -> CatalogError {
    CatalogError::NotFound {
        kind: "Group",
        id: id.to_owned(),
    }
}

/// The store's view of a list request.
pub(super) fn list_query(request: &ListRequest) -> ListQuery {
    ListQuery {
        filter: request.filter.clone(),
        sort_by: request.sort_by.clone(),
        descending: request.descending,
        start_index: request.start_index,
        count: request.count,
    }
}
