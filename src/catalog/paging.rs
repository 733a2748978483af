//! Cursor paging of the lists (RFC 9865): a page is the rows just beyond the cursor's position in
//! the list's order, so rows inserted or deleted elsewhere between pages neither shift a row onto
//! a second page nor off every page. A `/.search` list is Users then Groups: a position in Groups
//! is past every user. `nextCursor` is answered when a row follows the page, `previousCursor` when
//! one precedes it (never on the first page).

use crate::scim::error::{ScimError, ScimType};
use crate::scim::query::ListRequest;
use crate::scim::resource::Paging;
use crate::store::{Keyset, Position};

use super::cursor::{Binding, Cursor, CursorError, ListKind, Section, now_secs};
use super::groups::{PendingGroup, for_no_type, for_one_type, list_query};
use super::{Catalog, CatalogError};

/// One cursor page: the resources in list order, the total the filter matches, and the cursors.
pub(super) struct CursorPage {
    pub total: u64,
    pub resources: Vec<PendingGroup>,
    pub paging: Paging,
}

/// Rows of one section read for a page.
struct Fetched {
    total: u64,
    rows: Vec<(Position, PendingGroup)>,
}

impl Catalog {
    /// The page of `kind` that `request.cursor` names (empty: the first).
    pub(super) async fn cursor_page(
        &self,
        kind: ListKind,
        request: &ListRequest,
    ) -> Result<CursorPage, CatalogError> {
        let key = self.cursors.key(&self.store).await?;
        let binding = Binding::new(self.tenant.org_id, kind, &request.query_key, request.count);
        let cursor = match request.cursor.as_deref() {
            None | Some("") => None,
            Some(text) => Some(key.decode(text, &binding, now_secs()).map_err(refused)?),
        };
        let sections = kind.sections();
        // The section the page starts in: the cursor's, else the list's first.
        let start = match &cursor {
            Some(c) => sections
                .iter()
                .position(|s| *s == c.section)
                .ok_or_else(|| refused(CursorError::Invalid))?,
            None => 0,
        };
        let backward = cursor.as_ref().is_some_and(|c| c.backward);
        let from = cursor.map(|c| c.position);
        let walk = if backward {
            self.walk_backward(kind, request, sections, start, from).await?
        } else {
            self.walk_forward(kind, request, sections, start, from).await?
        };
        let issued = now_secs();
        let cursor_at = |section: Section, position: &Position, backward: bool| {
            let cursor = Cursor {
                section,
                position: position.clone(),
                backward,
            };
            key.encode(&cursor, &binding, issued)
        };
        let next = match (walk.more_after, walk.rows.last()) {
            (true, Some((section, position, _))) => Some(cursor_at(*section, position, false)),
            _ => None,
        };
        let previous = match (walk.more_before, walk.rows.first()) {
            (true, Some((section, position, _))) => Some(cursor_at(*section, position, true)),
            _ => None,
        };
        Ok(CursorPage {
            total: walk.totals.iter().sum(),
            resources: walk.rows.into_iter().map(|(_, _, r)| r).collect(),
            paging: Paging::Cursor { next, previous },
        })
    }

    /// The rows after `from` (in section `sections[start]`; none: from the list's start), up to
    /// `count`, continuing into the following sections.
    async fn walk_forward(
        &self,
        kind: ListKind,
        request: &ListRequest,
        sections: &[Section],
        start: usize,
        from: Option<Position>,
    ) -> Result<Walk, CatalogError> {
        let mut walk = Walk::new(sections.len());
        let mut applicable = false;
        for (i, &section) in sections.iter().enumerate() {
            // Sections before the cursor's are only counted; the rows before it too (totalResults).
            let remaining = if i < start {
                0
            } else {
                request.count - walk.rows.len() as u64
            };
            let keyset = Keyset {
                from: if i == start { from.clone() } else { None },
                backward: false,
                count_total: true,
            };
            let limit = if remaining > 0 { remaining + 1 } else { 0 };
            let Some(mut fetched) = self.fetch(kind, section, request, keyset, limit).await? else {
                continue;
            };
            applicable = true;
            walk.totals[i] = fetched.total;
            if i < start {
                continue;
            }
            if remaining == 0 {
                // The page is full; a later section with rows follows it.
                walk.more_after |= i > start && fetched.total > 0;
                continue;
            }
            if fetched.rows.len() as u64 > remaining {
                walk.more_after = true;
                fetched.rows.truncate(remaining as usize);
            }
            walk.rows
                .extend(fetched.rows.into_iter().map(|(p, r)| (section, p, r)));
        }
        walk.check_applicable(applicable)?;
        // Before the page's first row: a row of its section (a one-row probe), or any row of an
        // earlier section. The first page has none by definition (RFC 9865 §2).
        if from.is_some()
            && let Some((section, position, _)) = walk.rows.first()
        {
            let (section, position) = (*section, position.clone());
            let at = index_of(sections, section);
            walk.more_before = walk.totals[..at].iter().any(|t| *t > 0)
                || self.probe(kind, section, request, position, true).await?;
        }
        Ok(walk)
    }

    /// The rows before `from` (in section `sections[start]`), up to `count`, continuing into the
    /// preceding sections; in list order.
    async fn walk_backward(
        &self,
        kind: ListKind,
        request: &ListRequest,
        sections: &[Section],
        start: usize,
        from: Option<Position>,
    ) -> Result<Walk, CatalogError> {
        let mut walk = Walk::new(sections.len());
        let mut applicable = false;
        for (i, &section) in sections.iter().enumerate().rev() {
            let remaining = if i > start {
                0
            } else {
                request.count - walk.rows.len() as u64
            };
            let keyset = Keyset {
                from: if i == start { from.clone() } else { None },
                backward: true,
                count_total: true,
            };
            let limit = if remaining > 0 { remaining + 1 } else { 0 };
            let Some(mut fetched) = self.fetch(kind, section, request, keyset, limit).await? else {
                continue;
            };
            applicable = true;
            walk.totals[i] = fetched.total;
            if i > start {
                continue;
            }
            if remaining == 0 {
                walk.more_before |= i < start && fetched.total > 0;
                continue;
            }
            if fetched.rows.len() as u64 > remaining {
                // The rows nearest the position are the last ones (list order).
                walk.more_before = true;
                let extra = fetched.rows.len() - remaining as usize;
                fetched.rows.drain(..extra);
            }
            let mut rows: Vec<_> = fetched.rows.into_iter().map(|(p, r)| (section, p, r)).collect();
            rows.append(&mut walk.rows);
            walk.rows = rows;
        }
        walk.check_applicable(applicable)?;
        if let Some((section, position, _)) = walk.rows.last() {
            let (section, position) = (*section, position.clone());
            let at = index_of(sections, section);
            walk.more_after = walk.totals[at + 1..].iter().any(|t| *t > 0)
                || self.probe(kind, section, request, position, false).await?;
        }
        Ok(walk)
    }

    /// Whether a row of `section` lies before (or after) `position`: one row read, nothing counted.
    async fn probe(
        &self,
        kind: ListKind,
        section: Section,
        request: &ListRequest,
        position: Position,
        before: bool,
    ) -> Result<bool, CatalogError> {
        let keyset = Keyset {
            from: Some(position),
            backward: before,
            count_total: false,
        };
        let found = self.fetch(kind, section, request, keyset, 1).await?;
        Ok(found.is_some_and(|f| !f.rows.is_empty()))
    }

    /// Up to `limit` rows of one section beyond the keyset's position, rendered. `None` when a
    /// `/.search` filter or sort does not apply to the section's type (it then matches none of it).
    async fn fetch(
        &self,
        kind: ListKind,
        section: Section,
        request: &ListRequest,
        keyset: Keyset,
        limit: u64,
    ) -> Result<Option<Fetched>, CatalogError> {
        let mut query = list_query(request);
        query.count = limit;
        query.keyset = Some(keyset);
        let org = self.tenant.org_id;
        let fetched = match section {
            Section::Users => self.store.list_users(org, &query).await.map(|page| Fetched {
                total: page.total,
                rows: page
                    .positions
                    .into_iter()
                    .zip(&page.rows)
                    .map(|(p, row)| {
                        let body = self.user_resource(row, &request.projection).body;
                        (p, PendingGroup::Whole(body))
                    })
                    .collect(),
            }),
            Section::Groups => self.store.list_groups(org, &query).await.map(|page| Fetched {
                total: page.total,
                rows: page
                    .positions
                    .into_iter()
                    .zip(page.rows)
                    .map(|(p, row)| (p, self.pending_group(row, &request.projection)))
                    .collect(),
            }),
        };
        let fetched = fetched.map_err(CatalogError::from);
        if kind == ListKind::All {
            for_one_type(fetched)
        } else {
            fetched.map(Some)
        }
    }
}

/// A page being gathered: rows with their section and position, in list order.
struct Walk {
    rows: Vec<(Section, Position, PendingGroup)>,
    /// What each section's filter matches.
    totals: Vec<u64>,
    more_before: bool,
    more_after: bool,
}

impl Walk {
    fn new(sections: usize) -> Walk {
        Walk {
            rows: Vec::new(),
            totals: vec![0; sections],
            more_before: false,
            more_after: false,
        }
    }

    /// A `/.search` filter that applies to no type is the client's mistake, as in index paging.
    fn check_applicable(&self, applicable: bool) -> Result<(), CatalogError> {
        if applicable { Ok(()) } else { Err(for_no_type()) }
    }
}

fn index_of(sections: &[Section], section: Section) -> usize {
    sections.iter().position(|s| *s == section).unwrap_or(0)
}

/// The SCIM error of a refused cursor (RFC 9865 §2.1).
fn refused(e: CursorError) -> CatalogError {
    let (scim_type, detail) = match e {
        CursorError::Invalid => (
            ScimType::InvalidCursor,
            "the cursor was not issued by this server for this query: send every parameter as on \
             the first page (filter, sortBy, sortOrder), and the cursor empty to start over",
        ),
        CursorError::Expired => (
            ScimType::ExpiredCursor,
            "the cursor has expired (see cursorTimeout in /ServiceProviderConfig): start over with an empty cursor",
        ),
        CursorError::CountChanged => (
            ScimType::InvalidCount,
            "count must be the same on every page of a cursor-paged query",
        ),
    };
    ScimError::bad_request(scim_type, detail).into()
}
