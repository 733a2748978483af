//! Identifiers as they arrive from outside (paths, tokens, commands), each parsed by exactly one
//! function. An organization id is canonical decimal only: "007", "+7" or " 7" parse as nothing,
//! so no spelling can alias organization 7 on one route and not on another. A leaf module: it
//! depends on nothing of ours, so configuration may use it too.

use std::fmt;
use std::str::FromStr;

/// An organization's id, known to be in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct OrgId(i64);

/// Text that is not a canonical organization id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an organization id is a decimal number without sign or leading zeros")]
pub struct NotAnOrgId;

impl OrgId {
    /// The id as the database stores it.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl FromStr for OrgId {
    type Err = NotAnOrgId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // 18 digits always fit an i64; ids never come close.
        let canonical = !s.is_empty()
            && s.len() <= 18
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s.len() == 1 || !s.starts_with('0'));
        if !canonical {
            return Err(NotAnOrgId);
        }
        s.parse().map(OrgId).map_err(|_| NotAnOrgId)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<OrgId> for i64 {
    fn from(id: OrgId) -> i64 {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_decimal_ids_parse() {
        assert_eq!("7".parse::<OrgId>().map(OrgId::get), Ok(7));
        assert_eq!("120".parse::<OrgId>().map(OrgId::get), Ok(120));
        assert_eq!("0".parse::<OrgId>().map(OrgId::get), Ok(0));
        for bad in [
            "",
            "+7",
            "-7",
            "007",
            " 7",
            "7 ",
            "7a",
            "0x7",
            "1e3",
            "99999999999999999999",
            "٧",
        ] {
            assert_eq!(bad.parse::<OrgId>(), Err(NotAnOrgId), "{bad:?}");
        }
    }
}
