//! Verification of the JWTs scimgate trusts (design §6): one module, so that admin API tokens and
//! IdP ID tokens meet the same rules. [`keys`] holds where trusted keys come from and what makes
//! them acceptable (the key decides the algorithm); [`verify`](mod@verify) what a token's header
//! may say and which claims must hold, for any claims type; [`admin`] what an admin token grants;
//! [`remote`] an IdP's JWKS fetched from its URL, cached and re-fetched on key rollover.
//! Nothing here sees an HTTP request: routing reads the credential and calls in.

pub mod admin;
pub mod keys;
pub mod remote;
#[cfg(test)]
pub(crate) mod test_support;
pub mod verify;

pub use keys::KeySet;
pub use remote::{FetchFailure, RemoteError, RemoteJwks, RemoteSettings};
pub use verify::{AuthError, Expectations, verify};

#[cfg(test)]
mod tests {
    use std::path::Path;

    // Split in two so that this file does not hold what it looks for.
    const BEGIN: &str = "-----BEGIN ";
    const PRIVATE: &str = "PRIVATE KEY-----";

    /// Every file under `dir` whose text holds a private key block, as `path:line`.
    fn private_key_blocks(dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                private_key_blocks(&path, found);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for (n, line) in text.lines().enumerate() {
                if line.find(BEGIN).is_some_and(|at| line[at..].contains(PRIVATE)) {
                    found.push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }

    #[test]
    fn no_private_key_block_is_kept_under_src() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        private_key_blocks(&src, &mut found);
        assert!(
            found.is_empty(),
            "private key material belongs in tests/data/keys, not in src/: {found:?}"
        );
        // The positive control: the test keys themselves are found where they belong.
        let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys");
        private_key_blocks(&keys, &mut found);
        assert!(
            !found.is_empty(),
            "the scan finds no test key: it would miss one in src/ too"
        );
    }
}
