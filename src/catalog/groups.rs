//! SCIM Groups of one organization: the catalog rows whose display names are unique instance-wide.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use serde_json::value::RawValue;

use crate::scim::error::{ScimError, ScimType};

use super::cursor::ListKind;
use super::{Catalog, CatalogError, NameHolder, Resource};
use crate::scim::patch::{GroupChange, PatchOperation, group_changes};
use crate::scim::projection::Projection;
use crate::scim::query::ListRequest;
use crate::scim::resource::IfMatch;
use crate::scim::resource::{self, GroupInput, GroupView, Meta, Paging};
use crate::store::deprovision::Reason;
use crate::store::groups::{GroupRow, Remover};
use crate::store::{ListQuery, StoreError, Violation, WriteError};

impl Catalog {
    /// POST /Groups.
    pub async fn create_group(&self, input: GroupInput) -> Result<GroupAnswer, CatalogError> {
        let row = self
            .store
            .insert_group(
                self.tenant.org_id,
                &input.display_name,
                input.external_id.as_deref(),
                input.members,
                &self.audit,
            )
            .await;
        match row {
            Ok(row) => Ok(self.group_answer(row, &Projection::default())),
            Err(e) => Err(self.group_write_error(e, "", &input.display_name).await),
        }
    }

    /// GET /Groups/{id}.
    pub async fn get_group(&self, id: &str, projection: &Projection) -> Result<GroupAnswer, CatalogError> {
        let row = self
            .store
            .find_group(self.tenant.org_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(self.group_answer(row, projection))
    }

    /// A group as answered: the row is read already (its version decides ETag and 304), the
    /// members are read chunk by chunk as the client reads, so even the answer to a write of
    /// 200 000 members never holds more than one chunk of them.
    fn group_answer(&self, row: GroupRow, projection: &Projection) -> GroupAnswer {
        let version = row.version;
        let id = row.id.clone();
        let location = format!("{}/Groups/{}", self.base_url, row.id);
        let mut pieces = VecDeque::new();
        self.pending_group(row, projection).into_pieces(&mut pieces);
        GroupAnswer {
            version,
            id,
            location,
            body: self.streamed(pieces),
        }
    }

    /// GET /Groups with filter, paging and projection; members are read only when returned, and
    /// then in chunks while the answer is written.
    pub async fn list_groups(&self, request: &ListRequest) -> Result<Streamed, CatalogError> {
        if request.cursor.is_some() {
            let page = self.cursor_page(ListKind::Groups, request).await?;
            return Ok(self.list_answer(page.total, &page.paging, page.resources));
        }
        let (total, groups) = self.page_groups(request).await?;
        Ok(self.list_answer(total, &Paging::Index(request.start_index), groups))
    }

    /// One page of groups, not yet rendered where members are still to be read, and the number matching.
    async fn page_groups(&self, request: &ListRequest) -> Result<(u64, Vec<PendingGroup>), CatalogError> {
        let page = self
            .store
            .list_groups(self.tenant.org_id, &list_query(request))
            .await?;
        let groups = page
            .rows
            .into_iter()
            .map(|row| self.pending_group(row, &request.projection))
            .collect();
        Ok((page.total, groups))
    }

    /// POST /.search: Users, then Groups, paged as one list. A filter one type cannot answer
    /// (say `userName` for Groups) matches none of that type; one that neither can is a 400.
    pub async fn search_all(&self, request: &ListRequest) -> Result<Streamed, CatalogError> {
        if request.cursor.is_some() {
            let page = self.cursor_page(ListKind::All, request).await?;
            return Ok(self.list_answer(page.total, &page.paging, page.resources));
        }
        let users = for_one_type(self.page_users(request).await)?;
        let users_total = users.as_ref().map_or(0, |u| u.0);
        // The groups' window starts where the users ran out.
        let taken = users.as_ref().map_or(0, |u| u.1.len() as u64);
        let groups_request = ListRequest {
            start_index: request.start_index.saturating_sub(users_total).max(1),
            count: request.count - taken,
            ..request.clone()
        };
        let groups = for_one_type(self.page_groups(&groups_request).await)?;
        if users.is_none() && groups.is_none() {
            return Err(for_no_type());
        }
        let (groups_total, groups) = groups.unwrap_or_default();
        let mut resources: Vec<PendingGroup> = users
            .map(|u| u.1)
            .unwrap_or_default()
            .into_iter()
            .map(PendingGroup::Whole)
            .collect();
        resources.extend(groups);
        Ok(self.list_answer(
            users_total + groups_total,
            &Paging::Index(request.start_index),
            resources,
        ))
    }

    /// A ListResponse of `resources`, to be written piece by piece.
    fn list_answer(&self, total: u64, paging: &Paging, resources: Vec<PendingGroup>) -> Streamed {
        let mut pieces = VecDeque::new();
        pieces.push_back(Piece::Text(resource::list_open(total, paging, resources.len())));
        for (i, pending) in resources.into_iter().enumerate() {
            if i > 0 {
                pieces.push_back(Piece::Text(",".to_owned()));
            }
            pending.into_pieces(&mut pieces);
        }
        pieces.push_back(Piece::Text(resource::LIST_CLOSE.to_owned()));
        self.streamed(pieces)
    }

    /// How one group of an answer will be written: whole now when its members are not returned,
    /// else streamed (nothing projected) or read and projected when its turn comes.
    pub(super) fn pending_group(&self, row: GroupRow, projection: &Projection) -> PendingGroup {
        if !projection.includes("members") {
            let view = group_view(row, None);
            return PendingGroup::Whole(resource::group_json(&self.base_url, view, projection));
        }
        // Members kept whole stream as they do unprojected; reshaped ones are rendered whole.
        match resource::group_open(&self.base_url, &group_view(row.clone(), None), projection) {
            Some(open) => PendingGroup::Members {
                open,
                group_id: row.id,
            },
            None => PendingGroup::Projected(row, projection.clone()),
        }
    }

    fn streamed(&self, pieces: VecDeque<Piece>) -> Streamed {
        Streamed {
            catalog: self.clone(),
            writer: resource::MemberWriter::new(&self.base_url),
            pieces,
            member_reads: 0,
            failed: false,
            share: None,
        }
    }

    /// PUT /Groups/{id}: replaces name, externalId and membership (diffed into deltas).
    pub async fn replace_group(
        &self,
        id: &str,
        input: GroupInput,
        if_match: Option<&IfMatch>,
    ) -> Result<GroupAnswer, CatalogError> {
        let display_name = input.display_name.clone();
        let writes = vec![
            GroupChange::SetDisplayName(input.display_name),
            GroupChange::SetExternalId(input.external_id),
            GroupChange::ReplaceMembers(input.members),
        ];
        match self
            .store
            .update_group(self.tenant.org_id, id, if_match, writes, &self.audit)
            .await
        {
            Ok(written) => {
                self.deprovisioned(Reason::MembershipRemoved, written.deprovisioned);
                Ok(self.group_answer(written.row, &Projection::default()))
            }
            Err(e) => Err(self.group_write_error(e, id, &display_name).await),
        }
    }

    /// PATCH /Groups/{id} with its operations already parsed (from a pruned body).
    pub async fn patch_group_ops(
        &self,
        id: &str,
        ops: &[PatchOperation],
        if_match: Option<&IfMatch>,
        projection: Option<&Projection>,
    ) -> Result<Option<GroupAnswer>, CatalogError> {
        let changes = group_changes(ops, id)?;
        // The name a clash would be about: the last rename of this PATCH.
        let new_name = changes
            .iter()
            .rev()
            .find_map(|c| match c {
                GroupChange::SetDisplayName(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let written = match self
            .store
            .update_group(self.tenant.org_id, id, if_match, changes, &self.audit)
            .await
        {
            Ok(written) => written,
            Err(e) => return Err(self.group_write_error(e, id, &new_name).await),
        };
        self.deprovisioned(Reason::MembershipRemoved, written.deprovisioned);
        Ok(projection.map(|p| self.group_answer(written.row, p)))
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

    /// One group rendered whole under a projection; its members are read (in one query) only
    /// when the projection returns them: `excludedAttributes=members` must never touch the
    /// membership table (Entra asks for it on every lookup of a group that may have 100 000).
    async fn group_resource(&self, row: GroupRow, projection: &Projection) -> Result<Resource, CatalogError> {
        let members = if projection.includes("members") {
            let ids = [row.id.clone()];
            let mut members = self.store.group_members(self.tenant.org_id, &ids).await?;
            Some(members.remove(&row.id).unwrap_or_default())
        } else {
            None
        };
        let view = group_view(row, members);
        let (version, location) = (view.meta.version, format!("{}/Groups/{}", self.base_url, view.id));
        let id = view.id.clone();
        Ok(Resource {
            body: resource::group_json(&self.base_url, view, projection),
            version,
            id,
            location,
        })
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
            WriteError::UnknownUsers(unknown) => {
                metrics::counter!("scimgate_unknown_members_total", "org" => self.tenant.org_id.to_string())
                    .increment(unknown.count);
                CatalogError::from_write(WriteError::UnknownUsers(unknown), "Group", id)
            }
            other => CatalogError::from_write(other, "Group", id),
        }
    }
}

fn group_view(row: GroupRow, members: Option<Vec<String>>) -> GroupView {
    GroupView {
        members,
        meta: Meta {
            created: row.created_at,
            last_modified: row.updated_at,
            version: row.version,
        },
        id: row.id,
        display_name: row.display_name,
        external_id: row.external_id,
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
        keyset: None,
    }
}

/// Member ids read per statement: big enough that a 200 000-member group costs 40 short
/// statements, small enough that one chunk's text (about 0.7 MB) is all an answer holds.
const MEMBER_CHUNK: u64 = 5_000;

/// Text pieces are joined up to this size before they are handed to the socket.
const TEXT_BATCH: usize = 64 * 1024;

/// A group as answered: its version (the ETag), where it lives, and its text, streamed.
pub struct GroupAnswer {
    /// The version the answer's row has (the members are read after it, chunk by chunk).
    pub version: i64,
    /// The group's id.
    pub id: String,
    /// The group's URL (the `Location` of a 201).
    pub location: String,
    /// The text.
    pub body: Streamed,
}

/// One resource of a streamed answer, before it is written.
pub(super) enum PendingGroup {
    /// Rendered already (a User, or a group whose members are not returned).
    Whole(Box<RawValue>),
    /// A group up to its members; the members are read when the client is ready for them.
    Members { open: String, group_id: String },
    /// A group whose members are returned under a projection: read and rendered when its turn comes.
    Projected(GroupRow, Projection),
}

impl PendingGroup {
    /// The resource, if it is rendered already.
    pub(super) fn into_whole(self) -> Option<Box<RawValue>> {
        match self {
            PendingGroup::Whole(body) => Some(body),
            _ => None,
        }
    }

    fn into_pieces(self, pieces: &mut VecDeque<Piece>) {
        match self {
            PendingGroup::Whole(body) => pieces.push_back(Piece::Text(String::from(Box::<str>::from(body)))),
            PendingGroup::Members { open, group_id } => {
                pieces.push_back(Piece::Text(open));
                pieces.push_back(Piece::Members {
                    group_id,
                    after: None,
                });
                pieces.push_back(Piece::Text(resource::GROUP_CLOSE.to_owned()));
            }
            PendingGroup::Projected(row, projection) => pieces.push_back(Piece::Projected(row, projection)),
        }
    }
}

/// What is left to write of a streamed answer.
enum Piece {
    Text(String),
    /// The members of a group after `after` (none yet: from the first).
    Members {
        group_id: String,
        after: Option<String>,
    },
    Projected(GroupRow, Projection),
}

/// An answer whose text is produced as the client reads it (see [`Streamed::next`]). Each
/// membership chunk is one statement that ends before its text is returned, so no database
/// connection waits on the client's socket; what the answer holds at any time is one chunk.
pub struct Streamed {
    catalog: Catalog,
    writer: resource::MemberWriter,
    pieces: VecDeque<Piece>,
    /// Membership statements run so far; [`Streamed::head`] runs the first before answering.
    member_reads: usize,
    /// After an error the answer ends: the client sees a cut connection, never wrong JSON.
    failed: bool,
    /// The organization's share of the database pool, taken around each statement that runs
    /// after the handler has returned (and released its own share).
    share: Option<Arc<Semaphore>>,
}

impl Streamed {
    /// From now on, each statement waits for one of `share`'s permits (the organization's fair
    /// share of the pool), so streamed answers count against it like requests do.
    pub fn within_share(mut self, share: Arc<Semaphore>) -> Self {
        self.share = Some(share);
        self
    }

    /// Waits for the organization's share, if the answer has one; a closed semaphore (never
    /// closed in practice) lets the statement run rather than fail the answer.
    async fn take_share(&self) -> Option<OwnedSemaphorePermit> {
        match &self.share {
            Some(share) => share.clone().acquire_owned().await.ok(),
            None => None,
        }
    }

    /// The first piece of the answer, read before the status line is sent: the page itself and
    /// the first membership chunk, so a database that cannot answer still gets a proper 503.
    pub async fn head(&mut self) -> Result<String, CatalogError> {
        let mut head = String::new();
        while self.member_reads == 0 && head.len() < TEXT_BATCH {
            match self.next().await? {
                Some(text) => head.push_str(&text),
                None => break,
            }
        }
        Ok(head)
    }

    /// The whole answer as one string (for small answers and tests: it holds everything at once).
    pub async fn collect(mut self) -> Result<String, CatalogError> {
        let mut all = self.head().await?;
        while let Some(text) = self.next().await? {
            all.push_str(&text);
        }
        Ok(all)
    }

    /// The next piece of the answer, `None` at its end. An error is logged here with the request's
    /// correlation id (the status is already sent: all the caller can do is cut the connection).
    pub async fn next(&mut self) -> Result<Option<String>, CatalogError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.produce().await;
        if let Err(e) = &result {
            self.failed = true;
            tracing::error!(
                error = ?e,
                org = self.catalog.tenant.org_id,
                correlation_id = %self.catalog.audit.correlation_id,
                "a streamed SCIM answer failed after its status was sent; the connection is cut"
            );
        }
        result
    }

    async fn produce(&mut self) -> Result<Option<String>, CatalogError> {
        let mut out = String::new();
        while let Some(front) = self.pieces.front() {
            let reads_database = !matches!(front, Piece::Text(_));
            if reads_database && !out.is_empty() {
                // Hand over what is ready before a statement runs.
                return Ok(Some(out));
            }
            // Waited for before the piece leaves the queue: giving up the wait loses nothing.
            let _share = if reads_database {
                self.take_share().await
            } else {
                None
            };
            let Some(piece) = self.pieces.pop_front() else {
                break;
            };
            match piece {
                Piece::Text(text) => {
                    out.push_str(&text);
                    if out.len() >= TEXT_BATCH {
                        return Ok(Some(out));
                    }
                }
                Piece::Members { group_id, after } => {
                    let text = self.member_chunk(group_id, after).await?;
                    if !text.is_empty() {
                        return Ok(Some(text));
                    }
                }
                Piece::Projected(row, projection) => {
                    self.member_reads += 1;
                    let rendered = self.catalog.group_resource(row, &projection).await?;
                    return Ok(Some(String::from(Box::<str>::from(rendered.body))));
                }
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Reads one chunk of members and renders it; queues the next chunk when this one was full.
    async fn member_chunk(
        &mut self,
        group_id: String,
        after: Option<String>,
    ) -> Result<String, CatalogError> {
        self.member_reads += 1;
        let ids = self
            .catalog
            .store
            .member_chunk(
                self.catalog.tenant.org_id,
                &group_id,
                after.as_deref(),
                MEMBER_CHUNK,
            )
            .await?;
        let mut text = String::with_capacity(ids.len() * self.writer.bytes_per_member());
        self.writer.push(&mut text, &ids, after.is_none());
        if ids.len() as u64 == MEMBER_CHUNK
            && let Some(last) = ids.last()
        {
            self.pieces.push_front(Piece::Members {
                group_id,
                after: Some(last.clone()),
            });
        }
        Ok(text)
    }
}

/// A `/.search` across types reads each type with the same filter: one that a type cannot answer
/// (`userName` for Groups) matches none of that type (`None`), rather than failing the search.
pub(super) fn for_one_type<T>(read: Result<T, CatalogError>) -> Result<Option<T>, CatalogError> {
    match read {
        Err(CatalogError::Invalid(e)) if e.scim_type == Some(ScimType::InvalidFilter) => Ok(None),
        other => other.map(Some),
    }
}

/// The 400 of a `/.search` whose filter no type can answer.
pub(super) fn for_no_type() -> CatalogError {
    ScimError::invalid_filter("the filter applies to neither Users nor Groups").into()
}
