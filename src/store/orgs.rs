//! Organizations.

use entity::organization;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{Store, StoreError, now_micros};

/// How an organization's IdP identities meet the instance's accounts (`scim/config`): what a
/// login's `groups` claim is matched against (`claimMatch`, design §3.5), how a SCIM user is
/// matched to an account (`accountMatch`) and whether SCIM removals take delegated memberships
/// away (`pushDeprovisioning`, design §3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchSettings {
    pub claim_match: String,
    pub account_match: String,
    pub push_deprovisioning: bool,
}

/// A change of [`MatchSettings`]: each field set replaces the stored one, already validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchSettingsUpdate {
    pub claim_match: Option<String>,
    pub account_match: Option<String>,
    pub push_deprovisioning: Option<bool>,
}

/// An organization as the rest of the program sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub sso_active: bool,
}

impl From<organization::Model> for Org {
    fn from(m: organization::Model) -> Self {
        Org {
            id: m.id,
            name: m.name,
            sso_active: m.sso_active,
        }
    }
}

impl Store {
    /// Creates an organization; its name is unique on the instance.
    pub async fn create_org(&self, name: &str, sso_active: bool) -> Result<Org, StoreError> {
        let row = organization::ActiveModel {
            name: Set(name.to_owned()),
            sso_active: Set(sso_active),
            created_at: Set(now_micros()),
            ..Default::default()
        }
        .insert(self.write_conn())
        .await?;
        Ok(row.into())
    }

    /// Every organization, by id.
    pub async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        let rows = organization::Entity::find()
            .order_by_asc(organization::Column::Id)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(Org::from).collect())
    }

    /// Turns SSO on or off for one organization; `None` if it does not exist.
    /// Every replica hears of it at once (see [`super::notify`]).
    pub async fn set_sso_active(&self, id: i64, active: bool) -> Result<Option<Org>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = organization::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(None);
        };
        let mut row: organization::ActiveModel = row.into();
        row.sso_active = Set(active);
        let org = row.update(&txn).await?.into();
        super::notify::announce(&txn, id).await?;
        txn.commit().await?;
        Ok(Some(org))
    }

    /// An organization's [`MatchSettings`]; `None` for an unknown organization.
    pub async fn match_settings(&self, org_id: i64) -> Result<Option<MatchSettings>, StoreError> {
        let row: Option<(String, String, bool)> = organization::Entity::find_by_id(org_id)
            .select_only()
            .column(organization::Column::ClaimMatch)
            .column(organization::Column::AccountMatch)
            .column(organization::Column::PushDeprovisioning)
            .into_tuple()
            .one(self.conn())
            .await?;
        Ok(row.map(
            |(claim_match, account_match, push_deprovisioning)| MatchSettings {
                claim_match,
                account_match,
                push_deprovisioning,
            },
        ))
    }

    /// Applies `update` in one statement; false for an unknown organization. The next login
    /// or push on any replica reads the new values (nothing caches them).
    pub async fn update_match_settings(
        &self,
        org_id: i64,
        update: &MatchSettingsUpdate,
    ) -> Result<bool, StoreError> {
        if *update == MatchSettingsUpdate::default() {
            return Ok(self.find_org(org_id).await?.is_some());
        }
        let mut statement = Query::update();
        statement
            .table(organization::Entity)
            .and_where(organization::Column::Id.eq(org_id));
        if let Some(v) = &update.claim_match {
            statement.value(organization::Column::ClaimMatch, v.as_str());
        }
        if let Some(v) = &update.account_match {
            statement.value(organization::Column::AccountMatch, v.as_str());
        }
        if let Some(v) = update.push_deprovisioning {
            statement.value(organization::Column::PushDeprovisioning, v);
        }
        Ok(self.write_conn().execute(&statement).await?.rows_affected() == 1)
    }

    /// The organizations among `ids` that exist, by id.
    pub async fn find_orgs(&self, ids: &[i64]) -> Result<Vec<Org>, StoreError> {
        Ok(organization::Entity::find()
            .filter(organization::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(organization::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(Org::from)
            .collect())
    }

    /// One organization by id.
    pub async fn find_org(&self, id: i64) -> Result<Option<Org>, StoreError> {
        Ok(organization::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .map(Org::from))
    }
}
