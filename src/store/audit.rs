//! The audit trail: events are written by the store inside the transaction of the change they
//! record, so a rolled-back change leaves no event and a committed one always has its events.

use std::collections::{BTreeSet, HashMap};

use entity::{account, audit_event};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
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
        team_id: Set(team_of(event_type, target, data.as_ref())),
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

/// The team an event is about, kept in its own indexed column for the Teams page's filter: a
/// team's own events name it as their target, membership events in `data.teamId`. The one rule of
/// every write; the migration that added the column filled it by the same rule.
fn team_of(event_type: &str, target: &str, data: Option<&Value>) -> Option<i64> {
    if TEAM_EVENTS.contains(&event_type) {
        target.parse().ok()
    } else if event_type.starts_with(MEMBER_EVENTS) {
        data?.get("teamId")?.as_i64()
    } else {
        None
    }
}

/// The prefix of the events whose target is an account and whose `data.teamId` names the team.
const MEMBER_EVENTS: &str = "team_member_";

/// The columns a set-based INSERT of events fills, in the order of its values.
const EVENT_COLUMNS: [audit_event::Column; 9] = [
    audit_event::Column::OrgId,
    audit_event::Column::EventType,
    audit_event::Column::Actor,
    audit_event::Column::ActorDetail,
    audit_event::Column::Target,
    audit_event::Column::CorrelationId,
    audit_event::Column::At,
    audit_event::Column::Data,
    audit_event::Column::TeamId,
];

/// Events written by [`record_each`] per statement: 9 values each, well under every backend's
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
                team_of(event_type, target, Some(data)).into(),
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
    /// `data.teamId`), as their `team_id` column records.
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
        let rows = events_select(org_id, query).all(self.conn()).await?;
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

/// The page of `org_id`'s events that `query` asks for, newest first: a range of the index
/// (org_id, id), or of (org_id, team_id, id) for one team's.
fn events_select(org_id: i64, query: &AuditQuery) -> Select<audit_event::Entity> {
    let mut select = audit_event::Entity::find().filter(audit_event::Column::OrgId.eq(org_id));
    if let Some(t) = &query.event_type {
        select = select.filter(audit_event::Column::EventType.eq(t.as_str()));
    }
    if let Some(c) = &query.correlation_id {
        select = select.filter(audit_event::Column::CorrelationId.eq(c.as_str()));
    }
    if let Some(team) = query.team_id {
        select = select.filter(audit_event::Column::TeamId.eq(team));
    }
    if let Some(before) = query.before {
        select = select.filter(audit_event::Column::Id.lt(before));
    }
    select.order_by_desc(audit_event::Column::Id).limit(query.limit)
}

impl Store {
    /// The e-mails of the accounts that the membership events among `rows` name: one indexed
    /// statement per page, so an owner reads who was added or removed, not an opaque id.
    async fn member_event_emails(
        &self,
        rows: &[audit_event::Model],
    ) -> Result<HashMap<String, String>, StoreError> {
        let ids: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.event_type.starts_with(MEMBER_EVENTS))
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
    const EVENT: &str = "team_member_deleted";
    let data = serde_json::json!({"teamId": team_id, "provenance": "DELEGATED", "reason": "idp_group_deleted", "idpGroup": group_name});
    // Every row is a membership of `team_id`: the target (an account) does not name the team.
    let team = team_of(EVENT, "", Some(&data));
    let mut select = Query::select();
    select
        .expr(Expr::val(org_id))
        .expr(Expr::val(EVENT))
        .expr(Expr::val(ctx.actor.as_str()))
        .expr(Expr::val(ctx.actor_detail.as_ref().map(Value::to_string)))
        .column(team_member::Column::AccountId)
        .expr(Expr::val(ctx.correlation_id.as_str()))
        .expr(Expr::val(now_micros()))
        .expr(Expr::val(data.to_string()))
        .expr(Expr::val(team))
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

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait, Statement, TransactionTrait};
    use serde_json::json;

    use super::super::pool_tests::{TempSqlite, postgres_store, sqlite_plan};
    use super::*;

    /// A page of one team's events, as the Teams page asks for it.
    fn team_page() -> AuditQuery {
        AuditQuery {
            team_id: Some(7),
            limit: 50,
            ..AuditQuery::default()
        }
    }

    #[test]
    fn an_event_names_its_team_by_target_or_by_data_team_id() {
        let member = json!({"teamId": 7, "provenance": "MANUAL"});
        assert_eq!(team_of("team_created", "7", None), Some(7));
        assert_eq!(team_of("team_deleted", "7", Some(&json!({"teamId": 9}))), Some(7));
        assert_eq!(team_of("team_member_created", "acct-1", Some(&member)), Some(7));
        assert_eq!(team_of("team_member_deleted", "acct-1", Some(&member)), Some(7));
        assert_eq!(team_of("team_updated", "not-a-number", None), None);
        assert_eq!(
            team_of("team_member_deleted", "7", Some(&json!({"teamId": "7"}))),
            None
        );
        assert_eq!(team_of("team_member_deleted", "7", None), None);
        assert_eq!(team_of("org_member_created", "7", Some(&member)), None);
        assert_eq!(team_of("idp_group_updated", "7", None), None);
    }

    /// One team's events are a range of the index (org_id, team_id, id) on SQLite, in the
    /// order asked for: the organization's trail is not read to find them.
    #[tokio::test]
    async fn a_teams_events_are_a_range_of_the_team_index_on_sqlite() {
        let temp = TempSqlite::new(2).await;
        temp.store.migrate().await.expect("migrate");
        let (sql, values) = events_select(1, &team_page())
            .into_query()
            .build(sea_orm::sea_query::SqliteQueryBuilder);
        let plan = sqlite_plan(temp.store.conn(), &sql, values.0).await;
        assert!(
            plan.contains("USING INDEX ix_audit_events_org_team (org_id=? AND team_id=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "sorted by the index: {plan}");
    }

    /// The same on PostgreSQL: with sequential scans priced out, the plan reads the team index.
    #[tokio::test]
    #[ignore = "needs PostgreSQL"]
    async fn a_teams_events_are_a_range_of_the_team_index_on_postgres() {
        let store = postgres_store(std::time::Duration::from_secs(5)).await;
        store.migrate().await.expect("migrate");
        let (sql, values) = events_select(1, &team_page())
            .into_query()
            .build(sea_orm::sea_query::PostgresQueryBuilder);
        let txn = store.conn().begin().await.expect("begin");
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("set");
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("EXPLAIN {sql}"),
                values.0,
            ))
            .await
            .expect("explain");
        let plan: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("plan line"))
            .collect();
        let plan = plan.join("\n");
        txn.rollback().await.expect("rollback");
        assert!(plan.contains("ix_audit_events_org_team"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }

    /// The migration's backfill sets `team_id` of events written without it by the same rule as
    /// [`team_of`], and leaves it empty (without failing) for values that are not integers.
    #[tokio::test]
    async fn the_backfill_names_the_team_of_events_written_without_it_on_sqlite() {
        let temp = TempSqlite::new(2).await;
        temp.store.migrate().await.expect("migrate");
        check_backfill(&temp.store).await;
    }

    /// The same on PostgreSQL, on events of an organization of this test's own.
    #[tokio::test]
    #[ignore = "needs PostgreSQL"]
    async fn the_backfill_names_the_team_of_events_written_without_it_on_postgres() {
        let store = postgres_store(std::time::Duration::from_secs(5)).await;
        store.migrate().await.expect("migrate");
        check_backfill(&store).await;
    }

    /// Writes events without `team_id` (as a replica without the column would), runs the
    /// backfill, and reads back what it set.
    async fn check_backfill(store: &Store) {
        let org = store
            .create_org(&format!("backfill-{}", uuid::Uuid::now_v7().simple()), true)
            .await
            .expect("org")
            .id;
        let events: [(&str, &str, Option<&str>, Option<i64>); 9] = [
            ("team_created", "12", None, Some(12)),
            (
                "team_updated",
                "12",
                Some(r#"{"name":{"old":"a","new":"b"}}"#),
                Some(12),
            ),
            ("team_deleted", "abc", None, None),
            ("team_deleted", "99999999999999999999", None, None),
            (
                "team_member_created",
                "acct",
                Some(r#"{"teamId":7,"provenance":"MANUAL"}"#),
                Some(7),
            ),
            ("team_member_deleted", "acct", Some(r#"{"teamId":"7"}"#), None),
            ("team_member_deleted", "acct", Some(r#"{"teamId":1.5}"#), None),
            ("team_member_deleted", "acct", None, None),
            ("org_member_created", "5", Some(r#"{"teamId":5}"#), None),
        ];
        let backend = store.backend();
        for (event_type, target, data, _) in &events {
            let insert = format!(
                "INSERT INTO audit_events (org_id, event_type, actor, target, correlation_id, at, data) \
                 VALUES ({org}, {}, 'System', {}, 'backfill', 1, {})",
                super::super::param(backend, 1),
                super::super::param(backend, 2),
                super::super::param(backend, 3),
            );
            store
                .write_conn()
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    insert,
                    [
                        (*event_type).into(),
                        (*target).into(),
                        data.map(str::to_owned).into(),
                    ],
                ))
                .await
                .expect("insert an event the old way");
        }
        store
            .write_conn()
            .execute_unprepared(migration::backfill_team_ids(backend))
            .await
            .expect("backfill");
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::OrgId.eq(org))
            .order_by_asc(audit_event::Column::Id)
            .all(store.conn())
            .await
            .expect("events");
        let got: Vec<(&str, Option<i64>)> = rows.iter().map(|r| (r.event_type.as_str(), r.team_id)).collect();
        let want: Vec<(&str, Option<i64>)> = events.iter().map(|(t, _, _, team)| (*t, *team)).collect();
        assert_eq!(got, want);
        // The rule of the writes agrees with the backfill's on every one of them.
        for row in &rows {
            let data = row.data.as_deref().and_then(|d| serde_json::from_str(d).ok());
            assert_eq!(
                team_of(&row.event_type, &row.target, data.as_ref()),
                row.team_id,
                "{row:?}"
            );
        }
    }
}
