//! The layers of design §6, checked on the sources: the HTTP layer (`src/routing`) holds services
//! and never names the store; the service layer is the only way to the data.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable source");
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

#[test]
fn the_http_layer_never_names_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sources(&root.join("src/routing"));
    assert!(files.len() > 10, "the routing sources were found");
    for (path, text) in files {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            assert!(
                !code.contains("crate::store") && !code.contains("scimgate::store"),
                "{path}:{}: the HTTP layer reaches the store: {line}",
                n + 1
            );
        }
    }
}

#[test]
fn configuration_depends_on_no_other_module() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config.rs");
    let text = std::fs::read_to_string(&path).expect("src/config.rs");
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        // `super::` only reaches outside from the top level (its test module's is config itself).
        let top_level = !line.starts_with(' ');
        assert!(
            !(code.contains("crate::") || (top_level && code.contains("super::"))),
            "src/config.rs:{}: configuration reaches another module: {line}",
            n + 1
        );
    }
}
