//! Paging cursors (RFC 9865): a keyset position (the sort value and id of a row, and for
//! `/.search` which resource type it is in) that the client carries between pages. A cursor is
//! signed with HMAC-SHA256 under the instance's cursor key, so it cannot be forged or altered;
//! it is bound to the organization, the endpoint and the filter and sort that issued it, and it
//! is honoured for [`CURSOR_TIMEOUT_SECS`] after it was issued. Nothing is kept on the server.
//!
//! Layout, then base64url without padding (RFC 3986 unreserved characters only): version (1) ·
//! flags (1: backward, in Groups) · issued at (8, Unix seconds) · binding (16) · count (8) · sort
//! value (tag 0 absent, 1 text + u32 length, 2 integer) · id (u16 length + bytes) · tag (32).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{digest, hmac};
use tokio::sync::OnceCell;

use crate::scim::discovery::CURSOR_TIMEOUT_SECS;
use crate::store::{Position, SortValue, Store, StoreError};

const VERSION: u8 = 1;
const BACKWARD: u8 = 0b01;
const IN_GROUPS: u8 = 0b10;
const TAG_LEN: usize = 32;
const BINDING_LEN: usize = 16;

/// Which list a cursor pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `/Users` (and `/Users/.search`).
    Users,
    /// `/Groups` (and `/Groups/.search`).
    Groups,
    /// `/.search` at the root: Users, then Groups.
    All,
}

impl ListKind {
    /// The sections of the list, in order.
    pub(super) fn sections(self) -> &'static [Section] {
        match self {
            ListKind::Users => &[Section::Users],
            ListKind::Groups => &[Section::Groups],
            ListKind::All => &[Section::Users, Section::Groups],
        }
    }

    fn tag(self) -> u8 {
        match self {
            ListKind::Users => 0,
            ListKind::Groups => 1,
            ListKind::All => 2,
        }
    }
}

/// The resource type a position is in (a `/.search` list holds every user before any group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Users,
    Groups,
}

/// A cursor's content once its signature, binding and age are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub section: Section,
    /// The page starts beyond this row (which it excludes).
    pub position: Position,
    /// The page holds the rows before the position (a `previousCursor`).
    pub backward: bool,
}

/// The query a cursor belongs to (RFC 9865 §2: the next request repeats every parameter but the
/// cursor): organization, list, filter and sort, digested. The count travels apart, so that a
/// changed count can be named (`invalidCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    digest: [u8; BINDING_LEN],
    count: u64,
}

impl Binding {
    /// The binding of a list request of `org_id`; `query_key` is the request's filter and sort.
    pub fn new(org_id: i64, kind: ListKind, query_key: &str, count: u64) -> Binding {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"scimgate cursor binding\0");
        ctx.update(&org_id.to_be_bytes());
        ctx.update(&[kind.tag()]);
        ctx.update(query_key.as_bytes());
        let mut out = [0u8; BINDING_LEN];
        out.copy_from_slice(&ctx.finish().as_ref()[..BINDING_LEN]);
        Binding { digest: out, count }
    }
}

/// Why a cursor is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    /// Not issued by this instance, altered, or issued for another query (`invalidCursor`).
    Invalid,
    /// Issued longer than [`CURSOR_TIMEOUT_SECS`] ago (`expiredCursor`).
    Expired,
    /// Issued for pages of another `count` (`invalidCount`).
    CountChanged,
}

/// The key cursors are signed with; its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct CursorKey(hmac::Key);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

impl CursorKey {
    /// A key from its bytes (a configured secret, or the instance's stored one).
    pub fn new(bytes: &[u8]) -> CursorKey {
        CursorKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The cursor for `cursor` in the list of `binding`, issued at `issued_at` (Unix seconds).
    pub fn encode(&self, cursor: &Cursor, binding: &Binding, issued_at: i64) -> String {
        let mut out = Vec::with_capacity(96 + cursor.position.id.len());
        out.push(VERSION);
        let mut flags = 0;
        if cursor.backward {
            flags |= BACKWARD;
        }
        if cursor.section == Section::Groups {
            flags |= IN_GROUPS;
        }
        out.push(flags);
        out.extend_from_slice(&issued_at.to_be_bytes());
        out.extend_from_slice(&binding.digest);
        out.extend_from_slice(&binding.count.to_be_bytes());
        match &cursor.position.value {
            SortValue::Null => out.push(0),
            SortValue::Text(text) => {
                out.push(1);
                out.extend_from_slice(&(text.len() as u32).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            SortValue::Int(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_be_bytes());
            }
        }
        let id = cursor.position.id.as_bytes();
        out.extend_from_slice(&(id.len() as u16).to_be_bytes());
        out.extend_from_slice(id);
        let tag = hmac::sign(&self.0, &out);
        out.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The cursor `text` says, if this key signed it for `binding` less than the timeout before `now`.
    pub fn decode(&self, text: &str, binding: &Binding, now: i64) -> Result<Cursor, CursorError> {
        let (fields, issued_at) = self.verified(text)?;
        if fields.binding != binding.digest {
            return Err(CursorError::Invalid);
        }
        if now.saturating_sub(issued_at) > CURSOR_TIMEOUT_SECS as i64 {
            return Err(CursorError::Expired);
        }
        if fields.count != binding.count {
            return Err(CursorError::CountChanged);
        }
        Ok(fields.cursor)
    }

    /// The same cursor issued at another time (an operator's tooling; tests of expiry).
    pub fn restamp(&self, text: &str, issued_at: i64) -> Result<String, CursorError> {
        let (fields, _) = self.verified(text)?;
        let binding = Binding {
            digest: fields.binding,
            count: fields.count,
        };
        Ok(self.encode(&fields.cursor, &binding, issued_at))
    }

    /// The fields of a cursor whose signature holds, and when it was issued.
    fn verified(&self, text: &str) -> Result<(Fields, i64), CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Invalid)?;
        let split = bytes.len().checked_sub(TAG_LEN).ok_or(CursorError::Invalid)?;
        let (body, tag) = bytes.split_at(split);
        // Constant time: ring compares the tags without an early exit.
        hmac::verify(&self.0, body, tag).map_err(|_| CursorError::Invalid)?;
        parse(body).ok_or(CursorError::Invalid)
    }
}

/// What a signed cursor holds besides its issue time.
struct Fields {
    cursor: Cursor,
    binding: [u8; BINDING_LEN],
    count: u64,
}

/// Reads a cursor body; `None` for anything but exactly the layout above (signed by us, so only
/// a key shared with a future layout could get here).
fn parse(body: &[u8]) -> Option<(Fields, i64)> {
    let mut r = Reader(body);
    if r.take(1)?[0] != VERSION {
        return None;
    }
    let flags = r.take(1)?[0];
    let issued_at = i64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let binding: [u8; BINDING_LEN] = r.take(BINDING_LEN)?.try_into().ok()?;
    let count = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
    let value = match r.take(1)?[0] {
        0 => SortValue::Null,
        1 => {
            let len = u32::from_be_bytes(r.take(4)?.try_into().ok()?) as usize;
            SortValue::Text(String::from_utf8(r.take(len)?.to_vec()).ok()?)
        }
        2 => SortValue::Int(i64::from_be_bytes(r.take(8)?.try_into().ok()?)),
        _ => return None,
    };
    let id_len = u16::from_be_bytes(r.take(2)?.try_into().ok()?) as usize;
    let id = String::from_utf8(r.take(id_len)?.to_vec()).ok()?;
    if !r.0.is_empty() {
        return None;
    }
    let cursor = Cursor {
        section: if flags & IN_GROUPS != 0 {
            Section::Groups
        } else {
            Section::Users
        },
        position: Position { value, id },
        backward: flags & BACKWARD != 0,
    };
    Some((
        Fields {
            cursor,
            binding,
            count,
        },
        issued_at,
    ))
}

/// Reads fields off the front of a byte string.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

/// Unix seconds now.
pub(super) fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The instance's cursor key: `SCIMGATE_CURSOR_KEY` when configured, else the key stored in the
/// database (read once per process, the same for every replica). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cursors {
    configured: Option<CursorKey>,
    stored: Arc<OnceCell<CursorKey>>,
}

impl Cursors {
    /// Cursors signed with `configured` if given, else with the database's key.
    pub fn new(configured: Option<&[u8]>) -> Cursors {
        Cursors {
            configured: configured.map(CursorKey::new),
            stored: Arc::default(),
        }
    }

    /// The key; the first call without a configured one reads (or writes) the database's.
    pub(super) async fn key(&self, store: &Store) -> Result<CursorKey, StoreError> {
        if let Some(key) = &self.configured {
            return Ok(key.clone());
        }
        self.stored
            .get_or_try_init(|| async { Ok(CursorKey::new(store.cursor_key().await?.as_bytes())) })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn key() -> CursorKey {
        CursorKey::new(b"0123456789abcdef0123456789abcdef")
    }

    fn binding() -> Binding {
        Binding::new(7, ListKind::Groups, "filter|sort", 100)
    }

    fn cursor(value: SortValue) -> Cursor {
        Cursor {
            section: Section::Groups,
            position: Position {
                value,
                id: "0190c0de-0000-7000-8000-000000000001".into(),
            },
            backward: true,
        }
    }

    #[test]
    fn a_cursor_reads_back_what_it_was_issued_with() {
        for value in [
            SortValue::Null,
            SortValue::Text("ünïcode name".into()),
            SortValue::Text(String::new()),
            SortValue::Int(-42),
        ] {
            let c = cursor(value);
            let text = key().encode(&c, &binding(), NOW);
            assert!(
                text.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
                "{text}"
            );
            assert_eq!(key().decode(&text, &binding(), NOW + 10), Ok(c));
        }
    }

    #[test]
    fn any_altered_character_makes_a_cursor_invalid() {
        let text = key().encode(&cursor(SortValue::Text("eng".into())), &binding(), NOW);
        for i in 0..text.len() {
            let mut chars: Vec<char> = text.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let altered: String = chars.into_iter().collect();
            if altered == text {
                continue;
            }
            assert_eq!(
                key().decode(&altered, &binding(), NOW),
                Err(CursorError::Invalid),
                "character {i}"
            );
        }
        for junk in ["", "A", "not base64!", &text[..text.len() - 1]] {
            assert_eq!(key().decode(junk, &binding(), NOW), Err(CursorError::Invalid));
        }
    }

    #[test]
    fn another_key_org_list_or_query_makes_a_cursor_invalid() {
        let text = key().encode(&cursor(SortValue::Null), &binding(), NOW);
        let other_key = CursorKey::new(b"another key, just as long as the first");
        assert_eq!(
            other_key.decode(&text, &binding(), NOW),
            Err(CursorError::Invalid)
        );
        for other in [
            Binding::new(8, ListKind::Groups, "filter|sort", 100),
            Binding::new(7, ListKind::Users, "filter|sort", 100),
            Binding::new(7, ListKind::All, "filter|sort", 100),
            Binding::new(7, ListKind::Groups, "filter2|sort", 100),
        ] {
            assert_eq!(key().decode(&text, &other, NOW), Err(CursorError::Invalid));
        }
    }

    #[test]
    fn a_cursor_expires_after_the_timeout_and_not_before() {
        let text = key().encode(&cursor(SortValue::Int(5)), &binding(), NOW);
        let limit = NOW + CURSOR_TIMEOUT_SECS as i64;
        assert!(key().decode(&text, &binding(), limit).is_ok());
        assert_eq!(
            key().decode(&text, &binding(), limit + 1),
            Err(CursorError::Expired)
        );
        let old = key().restamp(&text, NOW - 7200).expect("restamped");
        assert_eq!(key().decode(&old, &binding(), NOW), Err(CursorError::Expired));
    }

    #[test]
    fn a_cursor_of_another_count_is_named_as_such() {
        let text = key().encode(&cursor(SortValue::Null), &binding(), NOW);
        let other_count = Binding::new(7, ListKind::Groups, "filter|sort", 50);
        assert_eq!(
            key().decode(&text, &other_count, NOW),
            Err(CursorError::CountChanged)
        );
    }
}
