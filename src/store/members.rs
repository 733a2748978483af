//! Reads of group membership in keyset chunks: each chunk is one short statement that returns
//! its connection to the pool before the caller does anything else with the ids (say, write
//! them to a slow client), so a huge group never pins a connection or memory for its whole size.

use entity::group_member;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Store, StoreError};

impl Store {
    /// Up to `limit` member user ids of one group of `org_id`, in user-id order, strictly after
    /// `after` (the last id of the previous chunk; `None` for the first). Served by the primary
    /// key (group_id, user_id): each chunk is an index range scan, whatever the group's size.
    pub async fn member_chunk(
        &self,
        org_id: i64,
        group_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut select = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::UserId)
            .filter(group_member::Column::GroupId.eq(group_id))
            .filter(group_member::Column::OrgId.eq(org_id));
        if let Some(after) = after {
            select = select.filter(group_member::Column::UserId.gt(after));
        }
        Ok(select
            .order_by_asc(group_member::Column::UserId)
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await?)
    }
}
