//! `/api/orgs/{orgId}/teams`: teams, their delegation to catalog rows, and their members.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, Caller, Result, Right, json_body, json_response, org_catalog, time};
use crate::catalog::{DelegationState, LinkChange, TeamMemberRow, TeamRow};
use crate::routing::AppState;
use crate::scim::error::excerpt;

fn team_json(t: &TeamRow) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "idpGroupId": t.idp_group_id,
        "idpGroupName": t.idp_group_name,
        "delegationState": t.state().as_str(),
    });
    if t.state() == DelegationState::Orphaned {
        v["orphanedGroupName"] = json!(t.orphaned_group_name);
        v["orphanedAt"] = time(t.orphaned_at);
        v["warning"] = json!(format!(
            "The IdP group \"{}\" this team was delegated to has been removed; its delegated members were removed. \
             Link the team to another group or clear idpGroupId to manage it by hand.",
            t.orphaned_group_name.as_deref().unwrap_or_default()
        ));
    }
    v
}

fn member_json(m: &TeamMemberRow) -> Value {
    json!({"userId": m.account_id, "email": m.email, "provenance": m.provenance})
}

fn team_id(raw: &str) -> Result<i64> {
    raw.parse()
        .map_err(|_| AdminError::not_found(format!("team {} not found", excerpt(raw))))
}

/// The body of a team create or update. `idpGroupId` absent keeps the link, `null` clears it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    idp_group_id: Option<Option<String>>,
}

/// Distinguishes `"idpGroupId": null` (Some(None)) from an absent key (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// GET: teams with their delegation state and orphaned-team warnings.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let teams: Vec<Value> = catalog.teams().await?.iter().map(team_json).collect();
    Ok(json_response(StatusCode::OK, json!({"teams": teams})))
}

/// GET one team.
pub async fn describe(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, team)): Path<(String, String)>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    Ok(json_response(
        StatusCode::OK,
        team_json(&catalog.team(team_id(&team)?).await?),
    ))
}

/// POST `{name, description?, idpGroupId?}`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    body: Body,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    let input: TeamBody = json_body(body).await?;
    let link = input.idp_group_id.flatten();
    let team = catalog
        .create_team(
            input.name.as_deref().unwrap_or_default(),
            input.description,
            link.as_deref(),
        )
        .await?;
    Ok(json_response(StatusCode::CREATED, team_json(&team)))
}

/// PUT: same fields; `idpGroupId: null` clears the link (members stay, as MANUAL).
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, team)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    let id = team_id(&team)?;
    let input: TeamBody = json_body(body).await?;
    let link = match input.idp_group_id {
        None => LinkChange::Keep,
        Some(None) => LinkChange::Clear,
        Some(Some(group)) => LinkChange::Set(group),
    };
    let name = match input.name {
        Some(name) => name,
        None => catalog.team(id).await?.name,
    };
    let team = catalog.update_team(id, &name, input.description, link).await?;
    Ok(json_response(StatusCode::OK, team_json(&team)))
}

/// DELETE: only a MANUAL team (409 while delegated or orphaned).
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, team)): Path<(String, String)>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    catalog.delete_team(team_id(&team)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// GET `{members: [{userId, email, provenance}]}`.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, team)): Path<(String, String)>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let members: Vec<Value> = catalog
        .team_members(team_id(&team)?)
        .await?
        .iter()
        .map(member_json)
        .collect();
    Ok(json_response(StatusCode::OK, json!({"members": members})))
}

#[derive(Deserialize)]
struct NewMember {
    #[serde(default)]
    email: Option<String>,
}

/// POST `{email}`: a MANUAL member (the account is pre-created when there is none).
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, team)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    let input: NewMember = json_body(body).await?;
    let member = catalog
        .add_team_member(team_id(&team)?, input.email.as_deref().unwrap_or_default())
        .await?;
    Ok(json_response(StatusCode::CREATED, member_json(&member)))
}

/// DELETE a MANUAL member.
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, team, user_id)): Path<(String, String, String)>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    catalog.remove_team_member(team_id(&team)?, &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
