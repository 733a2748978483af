//! The audit trail: events are written by the store inside the transaction of the change they
//! record, so a rolled-back change leaves no event and a committed one always has its events.

use std::collections::{BTreeSet, HashMap};

use entity::{account, audit_event};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use super::{Store, StoreError, now_micros, unstorable};

/// Who is changing things, and the correlation id shared by every event of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditContext {
    /// A user's subject, or `System` for SCIM and login evaluation.
    pub actor: String,
    /// For SCIM: the token's masked id and the client address.
    pub actor_detail: Option<Value>,
    pub correlation_id: String,
}

impl AuditContext {
    /// The actor name of automated changes (SCIM, login evaluation, the CLI).
    pub const SYSTEM: &'static str = "System";

    /// A context for `actor` with a fresh correlation id.
    pub fn new(actor: impl Into<String>) -> Self {
        AuditContext {
            actor: actor.into(),
            actor_detail: None,
            correlation_id: uuid::Uuid::now_v7().to_string(),
        }
    }
}

/// One event as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub org_id: Option<i64>,
    pub event_type: String,
    pub actor: String,
    pub actor_detail: Option<Value>,
    pub target: String,
    pub correlation_id: String,
    pub at: i64,
    pub data: Option<Value>,
    /// For a membership event, the e-mail of the account it names (when the account has one).
    pub target_email: Option<String>,
}

/// Writes one event on `conn` (the transaction of the change).
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    ctx: &AuditContext,
    org_id: Option<i64>,
    event_type: &str,
    target: &str,
    data: Option<Value>,
) -> Result<(), StoreError> {
    audit_event::ActiveModel {
        org_id: Set(org_id),
        event_type: Set(event_type.to_owned()),
        actor: Set(ctx.actor.clone()),
        actor_detail: Set(ctx.actor_detail.as_ref().map(Value::to_string)),
        target: Set(target.to_owned()),
        correlation_id: Set(ctx.correlation_id.clone()),
        at: Set(now_micros()),
        data: Set(data.map(|d| d.to_string())),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The columns a set-based INSERT of events fills, in the order of its values.
const EVENT_COLUMNS: [audit_event::Column; 8] = [
    audit_event::Column::OrgId,
    audit_event::Column::EventType,
    audit_event::Column::Actor,
    audit_event::Column::ActorDetail,
    audit_event::Column::Target,
    audit_event::Column::CorrelationId,
    audit_event::Column::At,
    audit_event::Column::Data,
];

/// Events written by [`record_each`] per statement: 8 values each, well under every backend's
/// limit of bound parameters.
const EVENTS_PER_STATEMENT: usize = 1_000;

/// Writes one event per `(org, target, data)` on `conn`, a multi-row INSERT per thousand: for
/// changes whose rows a statement answered (`DELETE … RETURNING`), so each event is a row that
/// really went.
pub(crate) async fn record_each<C: ConnectionTrait>(
    conn: &C,
    ctx: &AuditContext,
    event_type: &str,
    events: Vec<(i64, String, Value)>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Query;
    let at = now_micros();
    let detail = ctx.actor_detail.as_ref().map(Value::to_string);
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let mut insert = Query::insert();
        insert.into_table(audit_event::Entity).columns(EVENT_COLUMNS);
        for (org_id, target, data) in chunk {
            insert.values_panic([
                (*org_id).into(),
                event_type.into(),
                ctx.actor.as_str().into(),
                detail.clone().into(),
                target.as_str().into(),
                ctx.correlation_id.as_str().into(),
                at.into(),
                data.to_string().into(),
            ]);
        }
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    /// Only events about this team: its own (`team_*`, by target) and its memberships' (by
    /// `data.teamId`).
    pub team_id: Option<i64>,
    /// Only events older than this id (the previous page's last id).
    pub before: Option<i64>,
    pub limit: u64,
}

impl Store {
    /// Events of `org_id`, newest first.
    pub async fn audit_events(&self, org_id: i64, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let filters = [&query.event_type, &query.correlation_id];
        if filters.into_iter().flatten().any(|f| unstorable(f)) {
            return Ok(vec![]);
        }
        let mut select = audit_event::Entity::find().filter(audit_event::Column::OrgId.eq(org_id));
        if let Some(t) = &query.event_type {
            select = select.filter(audit_event::Column::EventType.eq(t.as_str()));
        }
        if let Some(c) = &query.correlation_id {
            select = select.filter(audit_event::Column::CorrelationId.eq(c.as_str()));
        }
        if let Some(team) = query.team_id {
            // `data` is JSON text written only by the store; PostgreSQL compares the member's
            // `teamId` as text so that no stored value can make the cast fail.
            let member_of_team = match self.backend() {
                DbBackend::Postgres => {
                    Expr::cust_with_values("(data::jsonb ->> 'teamId') = $1", [team.to_string()])
                }
                _ => Expr::cust_with_values("json_extract(data, '$.teamId') = ?", [team]),
            };
            select = select.filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(audit_event::Column::EventType.is_in(TEAM_EVENTS))
                            .add(audit_event::Column::Target.eq(team.to_string())),
                    )
                    .add(member_of_team),
            );
        }
        if let Some(before) = query.before {
            select = select.filter(audit_event::Column::Id.lt(before));
        }
        let rows = select
            .order_by_desc(audit_event::Column::Id)
            .limit(query.limit)
            .all(self.conn())
            .await?;
        let emails = self.member_event_emails(&rows).await?;
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(rows
            .into_iter()
            .map(|r| AuditEvent {
                target_email: emails.get(&r.target).cloned(),
                id: r.id,
                org_id: r.org_id,
                event_type: r.event_type,
                actor: r.actor,
                actor_detail: json(r.actor_detail),
                target: r.target,
                correlation_id: r.correlation_id,
                at: r.at,
                data: json(r.data),
            })
            .collect())
    }
}

/// The events whose target is a team (membership events name the account instead).
const TEAM_EVENTS: [&str; 3] = ["team_created", "team_updated", "team_deleted"];

impl Store {
    /// The e-mails of the accounts that the membership events among `rows` name: one indexed
    /// statement per page, so an owner reads who was added or removed, not an opaque id.
    async fn member_event_emails(
        &self,
        rows: &[audit_event::Model],
    ) -> Result<HashMap<String, String>, StoreError> {
        let ids: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.event_type.starts_with("team_member_"))
            .map(|r| r.target.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found = account::Entity::find()
            .filter(account::Column::Id.is_in(ids))
            .all(self.conn())
            .await?;
        Ok(found.into_iter().filter_map(|a| Some((a.id, a.email?))).collect())
    }
}

/// One `team_member_deleted` event per DELEGATED membership that `group_id` brought to `team_id`,
/// written by one INSERT … SELECT so a 100 000-member purge stays one statement.
pub(crate) async fn record_team_member_purge<C: ConnectionTrait>(
    conn: &C,
    ctx: &AuditContext,
    org_id: i64,
    team_id: i64,
    group_id: &str,
    group_name: &str,
) -> Result<(), StoreError> {
    use entity::team_member;
    use sea_orm::sea_query::{Expr, Query};
    let data = serde_json::json!({"teamId": team_id, "provenance": "DELEGATED", "reason": "idp_group_deleted", "idpGroup": group_name});
    let mut select = Query::select();
    select
        .expr(Expr::val(org_id))
        .expr(Expr::val("team_member_deleted"))
        .expr(Expr::val(ctx.actor.as_str()))
        .expr(Expr::val(ctx.actor_detail.as_ref().map(Value::to_string)))
        .column(team_member::Column::AccountId)
        .expr(Expr::val(ctx.correlation_id.as_str()))
        .expr(Expr::val(now_micros()))
        .expr(Expr::val(data.to_string()))
        .from(team_member::Entity)
        .and_where(team_member::Column::DelegatedFrom.eq(group_id))
        .and_where(team_member::Column::OrgId.eq(org_id))
        .and_where(team_member::Column::TeamId.eq(team_id));
    let mut insert = Query::insert();
    insert
        .into_table(audit_event::Entity)
        .columns(EVENT_COLUMNS)
        .select_from(select)
        .map_err(|e| StoreError::Other(sea_orm::DbErr::Custom(e.to_string())))?;
    conn.execute(&insert).await?;
    Ok(())
}
