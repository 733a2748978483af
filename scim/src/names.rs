//! The caseless key under which display names, user names and e-mails are compared.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

/// Version of the folding rule stored beside each key, so a future rule change can re-key rows.
pub const KEY_VERSION: i32 = 1;

/// Unicode canonical caseless form (D145: NFD, full case folding, NFD), recomposed to NFC so keys
/// stay compact. "Engineering", "ENGINEERING" and decomposed/composed "Ångström" share one key.
pub fn fold_key(name: &str) -> String {
    name.nfd().default_case_fold().nfd().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::fold_key;

    #[test]
    fn case_variants_share_a_key() {
        assert_eq!(fold_key("Engineering"), fold_key("ENGINEERING"));
        assert_eq!(fold_key("engineering"), fold_key("EnGiNeErInG"));
    }

    #[test]
    fn composed_and_decomposed_share_a_key() {
        assert_eq!(
            fold_key("\u{00C5}ngstr\u{00F6}m"),
            fold_key("A\u{030A}ngstro\u{0308}m")
        );
        assert_eq!(
            fold_key("\u{00C5}NGSTR\u{00D6}M"),
            fold_key("a\u{030A}ngstro\u{0308}m")
        );
    }

    #[test]
    fn full_case_folding_not_just_ascii() {
        assert_eq!(fold_key("STRASSE"), fold_key("stra\u{00DF}e"));
        assert_eq!(
            fold_key("\u{0391}\u{0392}\u{0393}"),
            fold_key("\u{03B1}\u{03B2}\u{03B3}")
        );
    }

    #[test]
    fn different_names_differ() {
        assert_ne!(fold_key("Engineering"), fold_key("Engineering "));
        assert_ne!(fold_key("eng"), fold_key("ops"));
    }
}
