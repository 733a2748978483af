//! SCIM Users of one organization: filterable columns, e-mail rows, and the JSON document.

use entity::{scim_user, scim_user_email};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QuerySelect,
};
use serde_json::{Map, Value};

use super::audit::AuditContext;
use super::deprovision::{Leavers, Reason, deprovision};
use super::filter_sql::Target;
use super::{
    ListError, ListQuery, Page, Store, StoreError, WriteError, Written, now_micros, sort_column, unstorable,
};
use crate::scim::error::ScimError;
use crate::scim::names::fold_key;
use crate::scim::resource::IfMatch;
use crate::scim::user_doc;

/// What Users sort by (`sortBy`, compared case-insensitively) and the column behind it.
const SORTABLE: &[(&str, scim_user::Column)] = &[
    ("id", scim_user::Column::Id),
    ("userName", scim_user::Column::UserNameKey),
    ("displayName", scim_user::Column::DisplayNameKey),
    ("externalId", scim_user::Column::ExternalId),
    ("meta.created", scim_user::Column::CreatedAt),
    ("meta.lastModified", scim_user::Column::UpdatedAt),
];

/// One user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: String,
    pub org_id: i64,
    pub document: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl TryFrom<scim_user::Model> for UserRow {
    type Error = StoreError;
    fn try_from(m: scim_user::Model) -> Result<Self, StoreError> {
        let document = serde_json::from_str(&m.document)
            .map_err(|e| StoreError::Other(sea_orm::DbErr::Json(format!("user {}: {e}", m.id))))?;
        Ok(UserRow {
            id: m.id,
            org_id: m.org_id,
            document,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        })
    }
}

/// The columns derived from a document; the document stays the source of truth.
fn columns(doc: &Map<String, Value>) -> (String, String, Option<String>, bool, Option<String>, String) {
    let user_name = user_doc::user_name(doc).to_owned();
    let key = fold_key(&user_name);
    (
        user_name,
        key,
        user_doc::external_id(doc).map(str::to_owned),
        user_doc::active(doc),
        user_doc::display_name(doc).map(fold_key),
        Value::Object(doc.clone()).to_string(),
    )
}

impl Store {
    /// Inserts a user from a validated document.
    pub async fn insert_user(&self, org_id: i64, doc: &Map<String, Value>) -> Result<UserRow, WriteError> {
        let txn = self.begin_write().await?;
        let (user_name, user_name_key, external_id, active, display_name_key, document) = columns(doc);
        let now = now_micros();
        let row = scim_user::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            org_id: Set(org_id),
            user_name: Set(user_name),
            user_name_key: Set(user_name_key),
            external_id: Set(external_id),
            active: Set(active),
            display_name_key: Set(display_name_key),
            document: Set(document),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
        }
        .insert(&txn)
        .await?;
        write_emails(&txn, org_id, &row.id, doc).await?;
        txn.commit().await?;
        Ok(row.try_into()?)
    }

    /// One user of `org_id`.
    pub async fn find_user(&self, org_id: i64, id: &str) -> Result<Option<UserRow>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        let row = scim_user::Entity::find_by_id(id.to_owned())
            .filter(scim_user::Column::OrgId.eq(org_id))
            .one(self.conn())
            .await?;
        row.map(UserRow::try_from).transpose()
    }

    /// A filtered, sorted page of the users of `org_id`.
    pub async fn list_users(&self, org_id: i64, query: &ListQuery) -> Result<Page<UserRow>, ListError> {
        let select = scim_user::Entity::find().filter(scim_user::Column::OrgId.eq(org_id));
        let sort = query
            .sort_by
            .as_ref()
            .map(|p| sort_column(p, SORTABLE))
            .transpose()?;
        let page = self
            .page(select, query, Target::Users, sort, scim_user::Column::Id)
            .await?;
        let rows = page
            .rows
            .into_iter()
            .map(UserRow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            total: page.total,
            rows,
            positions: page.positions,
        })
    }

    /// Reads, changes and writes one user in one transaction. `change` gets the stored document
    /// and returns the new one (PUT replaces it, PATCH edits it); `if_match` is checked against the
    /// version read under the lock. A user it deactivates loses its accounts' DELEGATED team
    /// memberships in the organization (design §3.8), matched by the user as it was.
    pub async fn update_user<F>(
        &self,
        org_id: i64,
        id: &str,
        if_match: Option<&IfMatch>,
        change: F,
        audit: &AuditContext,
    ) -> Result<Written<UserRow>, WriteError>
    where
        F: FnOnce(Map<String, Value>) -> Result<Map<String, Value>, ScimError>,
    {
        if unstorable(id) {
            return Err(WriteError::NotFound);
        }
        let txn = self.begin_write().await?;
        let current: UserRow = scim_user::Entity::find_by_id(id.to_owned())
            .filter(scim_user::Column::OrgId.eq(org_id))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(WriteError::NotFound)?
            .try_into()?;
        if if_match.is_some_and(|m| !m.admits(current.version)) {
            return Err(WriteError::VersionMismatch);
        }
        let doc = change(current.document.clone()).map_err(WriteError::Rejected)?;
        if doc == current.document {
            txn.commit().await?;
            return Ok(Written::unchanged(current));
        }
        let (user_name, user_name_key, external_id, active, display_name_key, document) = columns(&doc);
        let mut deprovisioned = 0;
        if user_doc::active(&current.document) && !active {
            let leaver = Leavers::User {
                user_id: id,
                reason: Reason::UserDeactivated,
            };
            deprovisioned = deprovision(&txn, audit, org_id, leaver).await?;
        }
        let now = now_micros();
        let version = current.version + 1;
        let mut update = Query::update();
        update
            .table(scim_user::Entity)
            .value(scim_user::Column::UserName, user_name)
            .value(scim_user::Column::UserNameKey, user_name_key)
            .value(scim_user::Column::ExternalId, external_id)
            .value(scim_user::Column::Active, active)
            .value(scim_user::Column::DisplayNameKey, display_name_key)
            .value(scim_user::Column::Document, document)
            .value(scim_user::Column::UpdatedAt, now)
            .value(scim_user::Column::Version, version)
            .and_where(scim_user::Column::Id.eq(id))
            .and_where(scim_user::Column::OrgId.eq(org_id));
        txn.execute(&update).await?;
        scim_user_email::Entity::delete_many()
            .filter(scim_user_email::Column::UserId.eq(id))
            .exec(&txn)
            .await?;
        write_emails(&txn, org_id, id, &doc).await?;
        txn.commit().await?;
        Ok(Written {
            row: UserRow {
                document: doc,
                updated_at: now,
                version,
                ..current
            },
            deprovisioned,
        })
    }

    /// Deletes one user; its e-mails and group memberships cascade, and its accounts lose their
    /// DELEGATED team memberships in the organization (design §3.8). Answers how many they lost.
    pub async fn delete_user(
        &self,
        org_id: i64,
        id: &str,
        if_match: Option<&IfMatch>,
        audit: &AuditContext,
    ) -> Result<u64, WriteError> {
        if unstorable(id) {
            return Err(WriteError::NotFound);
        }
        let txn = self.begin_write().await?;
        let current = scim_user::Entity::find_by_id(id.to_owned())
            .filter(scim_user::Column::OrgId.eq(org_id))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(WriteError::NotFound)?;
        if if_match.is_some_and(|m| !m.admits(current.version)) {
            return Err(WriteError::VersionMismatch);
        }
        let leaver = Leavers::User {
            user_id: id,
            reason: Reason::UserDeleted,
        };
        let deprovisioned = deprovision(&txn, audit, org_id, leaver).await?;
        scim_user::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
        txn.commit().await?;
        Ok(deprovisioned)
    }
}

async fn write_emails(
    txn: &DatabaseTransaction,
    org_id: i64,
    user_id: &str,
    doc: &Map<String, Value>,
) -> Result<(), StoreError> {
    let emails = user_doc::emails(doc);
    if emails.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert();
    insert.into_table(scim_user_email::Entity).columns([
        scim_user_email::Column::UserId,
        scim_user_email::Column::Position,
        scim_user_email::Column::OrgId,
        scim_user_email::Column::Value,
        scim_user_email::Column::ValueKey,
        scim_user_email::Column::Kind,
        scim_user_email::Column::IsPrimary,
    ]);
    for (position, email) in (0i32..).zip(emails) {
        let key = fold_key(&email.value);
        insert.values_panic([
            user_id.into(),
            position.into(),
            org_id.into(),
            email.value.into(),
            key.into(),
            email.kind.into(),
            email.primary.into(),
        ]);
    }
    txn.execute(&insert).await?;
    Ok(())
}
