//! Organizations.

use entity::organization;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder};

use super::{Store, StoreError, now_micros};

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

    /// One organization by id.
    pub async fn find_org(&self, id: i64) -> Result<Option<Org>, StoreError> {
        Ok(organization::Entity::find_by_id(id)
            .one(self.conn())
            .await?
            .map(Org::from))
    }
}
