//! SCIM Users of one organization: the IdP's directory (not platform accounts).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::cursor::ListKind;
use super::groups::{PendingGroup, list_query};
use super::{Catalog, CatalogError, Resource};
use crate::scim::error::ScimError;
use crate::scim::patch::{apply_user_patch, parse_patch_request};
use crate::scim::projection::Projection;
use crate::scim::query::ListRequest;
use crate::scim::resource::IfMatch;
use crate::scim::resource::{self, Meta, Paging};
use crate::scim::user_doc::normalise_user;
use crate::store::deprovision::Reason;
use crate::store::users::UserRow;
use crate::store::{StoreError, Violation, WriteError};

fn user_object(body: &Value) -> Result<&Map<String, Value>, ScimError> {
    body.as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a User must be a JSON object"))
}

impl Catalog {
    /// POST /Users.
    pub async fn create_user(&self, body: &Value) -> Result<Resource, CatalogError> {
        let doc = normalise_user(user_object(body)?)?;
        match self.store.insert_user(self.tenant.org_id, &doc).await {
            Ok(row) => Ok(self.user_resource(&row, &Projection::default())),
            Err(e) => Err(user_write_error(e, "")),
        }
    }

    /// GET /Users/{id}.
    pub async fn get_user(&self, id: &str, projection: &Projection) -> Result<Resource, CatalogError> {
        let row = self
            .store
            .find_user(self.tenant.org_id, id)
            .await?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "User",
                id: id.to_owned(),
            })?;
        Ok(self.user_resource(&row, projection))
    }

    /// GET /Users with filter, paging and projection.
    pub async fn list_users(&self, request: &ListRequest) -> Result<Box<RawValue>, CatalogError> {
        if request.cursor.is_some() {
            let page = self.cursor_page(ListKind::Users, request).await?;
            // Users are rendered whole as they are read: every one is a `Whole`.
            let resources: Vec<Box<RawValue>> = page
                .resources
                .into_iter()
                .filter_map(PendingGroup::into_whole)
                .collect();
            return Ok(resource::list_response_raw(page.total, &page.paging, &resources));
        }
        let (total, resources) = self.page_users(request).await?;
        Ok(resource::list_response_raw(
            total,
            &Paging::Index(request.start_index),
            &resources,
        ))
    }

    /// One page of rendered users and the number matching.
    pub(super) async fn page_users(
        &self,
        request: &ListRequest,
    ) -> Result<(u64, Vec<Box<RawValue>>), CatalogError> {
        let page = self
            .store
            .list_users(self.tenant.org_id, &list_query(request))
            .await?;
        let resources = page
            .rows
            .iter()
            .map(|row| self.user_resource(row, &request.projection).body)
            .collect();
        Ok((page.total, resources))
    }

    /// PUT /Users/{id}: replaces every writable attribute.
    pub async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&IfMatch>,
    ) -> Result<Resource, CatalogError> {
        let doc = normalise_user(user_object(body)?)?;
        match self
            .store
            .update_user(self.tenant.org_id, id, if_match, |_| Ok(doc), &self.audit)
            .await
        {
            Ok(written) => {
                self.deprovisioned(Reason::UserDeactivated, written.deprovisioned);
                Ok(self.user_resource(&written.row, &Projection::default()))
            }
            Err(e) => Err(user_write_error(e, id)),
        }
    }

    /// PATCH /Users/{id}, atomically; answers the resource (as Okta and Entra expect).
    pub async fn patch_user(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&IfMatch>,
        projection: &Projection,
    ) -> Result<Resource, CatalogError> {
        let ops = parse_patch_request(body)?;
        let result = self
            .store
            .update_user(
                self.tenant.org_id,
                id,
                if_match,
                |mut doc| {
                    apply_user_patch(&mut doc, &ops)?;
                    Ok(doc)
                },
                &self.audit,
            )
            .await;
        match result {
            Ok(written) => {
                self.deprovisioned(Reason::UserDeactivated, written.deprovisioned);
                Ok(self.user_resource(&written.row, projection))
            }
            Err(e) => Err(user_write_error(e, id)),
        }
    }

    /// DELETE /Users/{id}; memberships go with it, delegated team memberships too (design §3.8).
    pub async fn delete_user(&self, id: &str, if_match: Option<&IfMatch>) -> Result<(), CatalogError> {
        let deprovisioned = self
            .store
            .delete_user(self.tenant.org_id, id, if_match, &self.audit)
            .await
            .map_err(|e| user_write_error(e, id))?;
        self.deprovisioned(Reason::UserDeleted, deprovisioned);
        Ok(())
    }

    pub(super) fn user_resource(&self, row: &UserRow, projection: &Projection) -> Resource {
        let meta = Meta {
            created: row.created_at,
            last_modified: row.updated_at,
            version: row.version,
        };
        let mut body = resource::render_user(&self.base_url, &row.id, &row.document, meta);
        projection.apply(&mut body);
        Resource {
            body: resource::raw(&body),
            version: row.version,
            id: row.id.clone(),
            location: format!("{}/Users/{}", self.base_url, row.id),
        }
    }
}

fn user_write_error(e: WriteError, id: &str) -> CatalogError {
    match e {
        WriteError::Store(StoreError::Violation(Violation::UserName)) => {
            CatalogError::Taken("userName is already used by another user of this organization".into())
        }
        WriteError::Store(StoreError::Violation(Violation::UserExternalId)) => {
            CatalogError::Taken("externalId is already used by another user of this organization".into())
        }
        other => CatalogError::from_write(other, "User", id),
    }
}
