//! The real binary's configuration: values that cannot work are refused with a message naming the
//! setting before any database is opened; every secret can come from a file (`*_FILE`, as
//! Kubernetes mounts them); each command's `--help` lists only its own options.

mod common;

use std::path::PathBuf;

use common::process::{HASH_KEY, Server, cli, scimgate};

/// A fresh SQLite path of this test and its URL; the file does not exist yet.
fn fresh_sqlite() -> (PathBuf, String) {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scimgate-config-{}.db", uuid::Uuid::now_v7().simple()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    (path, url)
}

/// A file of this test holding `content`.
fn secret_file(content: &str) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scimgate-secret-{}", uuid::Uuid::now_v7().simple()));
    std::fs::write(&path, content).expect("write secret file");
    path
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_before_the_database_is_opened() {
    let cases: &[(&str, &str, &str)] = &[
        ("SCIMGATE_ORG_RATE_LIMIT", "0", "SCIMGATE_ORG_RATE_LIMIT is 0"),
        ("SCIMGATE_ORG_BURST", "0", "SCIMGATE_ORG_BURST is 0"),
        (
            "SCIMGATE_ORG_MAX_CONCURRENCY",
            "0",
            "SCIMGATE_ORG_MAX_CONCURRENCY is 0",
        ),
        ("SCIMGATE_MAX_CONNECTIONS", "0", "SCIMGATE_MAX_CONNECTIONS is 0"),
        ("SCIMGATE_DB_POOL_SIZE", "1", "SCIMGATE_DB_POOL_SIZE is 1"),
        ("SCIMGATE_PUBLIC_URL", "scim.example.com", "SCIMGATE_PUBLIC_URL"),
        (
            "SCIMGATE_PUBLIC_URL",
            "ftp://scim.example.com",
            "must start with https://",
        ),
        ("SCIMGATE_PUBLIC_URL", "https://scim.example.com/?x=1", "query"),
        (
            "SCIMGATE_REQUEST_TIMEOUT",
            "0",
            "SCIMGATE_REQUEST_TIMEOUT must be longer than 0",
        ),
        (
            "SCIMGATE_HEADER_READ_TIMEOUT",
            "0s",
            "SCIMGATE_HEADER_READ_TIMEOUT",
        ),
        ("SCIMGATE_WRITE_TIMEOUT", "0ms", "SCIMGATE_WRITE_TIMEOUT"),
        ("SCIMGATE_REQUEST_TIMEOUT", "soon", "is not a duration"),
        (
            "SCIMGATE_IDP_DELEGATION_ALLOWED_ORGS",
            "1,two",
            "\"two\" is not an organization id",
        ),
        (
            "SCIMGATE_METRICS_LISTEN",
            "127.0.0.1:8080",
            "SCIMGATE_METRICS_LISTEN must differ",
        ),
        ("SCIMGATE_LOG", "info,[", "SCIMGATE_LOG"),
        (
            "SCIMGATE_TRUSTED_PROXIES",
            "10.0.0.0/33",
            "SCIMGATE_TRUSTED_PROXIES",
        ),
        (
            "SCIMGATE_ADMIN_JWT_HS256_SECRET",
            "too-short",
            "at least 32 are required",
        ),
        (
            "SCIMGATE_ADMIN_JWT_KEYS",
            "/nonexistent/keys.pem",
            "SCIMGATE_ADMIN_JWT_ISSUER is required",
        ),
        (
            "SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE",
            "/nonexistent/secret",
            "cannot read /nonexistent/secret",
        ),
        (
            "SCIMGATE_CURSOR_KEY",
            "too-short",
            "SCIMGATE_CURSOR_KEY is 9 bytes",
        ),
        (
            "SCIMGATE_CURSOR_KEY_FILE",
            "/nonexistent/cursor-key",
            "cannot read /nonexistent/cursor-key",
        ),
    ];
    for (setting, value, expected) in cases {
        let (path, url) = fresh_sqlite();
        let output = scimgate(&url, &["serve"])
            .env(setting, value)
            .output()
            .await
            .expect("run scimgate serve");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{setting}={value} was accepted");
        assert!(
            stderr.contains(expected),
            "{setting}={value}: the message must say what is wrong: {stderr}"
        );
        assert!(
            !path.exists(),
            "{setting}={value}: the database was opened before the check"
        );
    }
}

#[tokio::test]
async fn a_database_url_that_is_not_sqlite_or_postgres_is_refused_without_echoing_it() {
    let output = scimgate("mysql://root:hunter2@db/scim", &["org", "list"])
        .output()
        .await
        .expect("run scimgate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("SCIMGATE_DATABASE_URL must start with"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

#[tokio::test]
async fn the_database_url_and_the_token_hash_key_can_come_from_files() {
    let (path, url) = fresh_sqlite();
    // Mounted secrets often end with a newline: it is not part of the value.
    let url_file = secret_file(&format!("{url}\n"));
    let key_file = secret_file(&format!("{HASH_KEY}\n"));
    let from_files = |args: &[&str]| {
        let mut command = scimgate("unused://", args);
        command
            .env_remove("SCIMGATE_DATABASE_URL")
            .env_remove("SCIMGATE_TOKEN_HASH_KEY")
            .env("SCIMGATE_DATABASE_URL_FILE", &url_file)
            .env("SCIMGATE_TOKEN_HASH_KEY_FILE", &key_file);
        command
    };
    let output = from_files(&["org", "create", &common::unique("files")])
        .output()
        .await
        .expect("org create");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(path.exists(), "the URL from the file names this database");
    let org = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();
    let output = from_files(&["token", "generate", &org])
        .output()
        .await
        .expect("token");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();

    // A server given the same key directly accepts the token hashed under the file's key, so
    // the file's content (without its newline) was the key.
    let mut server = Server::start(&url, "files").await;
    assert_eq!(
        server
            .status(&format!("/api/orgs/{org}/scim/v2/Users"), &token)
            .await,
        200
    );
    drop(server);
    let mut other_key = Server::start_with(
        &url,
        "files-other",
        &[("SCIMGATE_TOKEN_HASH_KEY", "another-key-0123456789abcdef0123456")],
    )
    .await;
    assert_eq!(
        other_key
            .status(&format!("/api/orgs/{org}/scim/v2/Users"), &token)
            .await,
        401
    );

    // Both the value and its file: ambiguous, refused.
    let output = from_files(&["org", "list"])
        .env("SCIMGATE_DATABASE_URL", &url)
        .output()
        .await
        .expect("org list");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
    // An empty secret file is a mistake, not an empty secret.
    let output = scimgate("unused://", &["org", "list"])
        .env_remove("SCIMGATE_DATABASE_URL")
        .env("SCIMGATE_DATABASE_URL_FILE", secret_file("\n"))
        .output()
        .await
        .expect("org list");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is empty"));
}

#[tokio::test]
async fn the_admin_secret_can_come_from_a_file() {
    let secret = "admin-secret-from-a-file-0123456789abcdef";
    let (_, url) = fresh_sqlite();
    let (org, _) = common::process::cli_org(&url, "admin-file").await;
    let output = scimgate(&url, &["admin-jwt", "--org", &format!("{org}=read")])
        .env(
            "SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE",
            secret_file(&format!("{secret}\n")),
        )
        .output()
        .await
        .expect("admin-jwt");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let jwt = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();
    let file = secret_file(secret);
    let mut server = Server::start_with(
        &url,
        "admin-file",
        &[(
            "SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE",
            file.to_str().expect("path"),
        )],
    )
    .await;
    assert_eq!(
        server.status(&format!("/api/orgs/{org}/idp-groups"), &jwt).await,
        200
    );
    assert_eq!(
        server
            .status(&format!("/api/orgs/{org}/idp-groups"), "not-a-jwt")
            .await,
        401
    );
}

#[tokio::test]
async fn each_command_lists_only_its_own_options_under_headings() {
    let help = |args: &'static [&'static str]| async move { cli("unused://", args).await.0 };
    let serve = help(&["serve", "--help"]).await;
    for heading in [
        "Database:",
        "HTTP, limits and provisioning:",
        "Admin API tokens:",
        "Logging:",
    ] {
        assert!(serve.contains(heading), "serve --help lacks {heading}: {serve}");
    }
    for documented in [
        "env: SCIMGATE_LOG=",
        "SCIMGATE_DB_POOL_SIZE",
        "SCIMGATE_HEADER_READ_TIMEOUT",
        "SCIMGATE_METRICS_LISTEN",
        "SCIMGATE_DATABASE_URL_FILE",
        "SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE",
    ] {
        assert!(serve.contains(documented), "serve --help lacks {documented}");
    }
    let generate = help(&["token", "generate", "--help"]).await;
    assert!(
        generate.contains("<ORG>") && generate.contains("The organization's id"),
        "{generate}"
    );
    assert!(generate.contains("--database-url"), "{generate}");
    for foreign in ["--listen", "--admin-jwt", "--org-rate-limit", "--log-format"] {
        assert!(
            !generate.contains(foreign),
            "token generate --help lists {foreign}"
        );
    }
    let mint = help(&["admin-jwt", "--help"]).await;
    assert!(mint.contains("--admin-jwt-hs256-secret"), "{mint}");
    for foreign in ["--database-url", "--listen"] {
        assert!(!mint.contains(foreign), "admin-jwt --help lists {foreign}");
    }
    let create = help(&["org", "create", "--help"]).await;
    assert!(
        !create.contains("--listen") && !create.contains("--admin-jwt"),
        "{create}"
    );
}

#[tokio::test]
async fn the_cursor_key_can_come_from_a_file() {
    use sea_orm::ConnectionTrait;
    let (_, url) = fresh_sqlite();
    let key = "cursor-key-from-a-file-0123456789abcdef";
    let (org, token) = common::process::cli_org(&url, "cursor-file").await;
    let sql = sea_orm::Database::connect(url.as_str()).await.expect("connect");
    let prefix = common::short_prefix();
    sql.execute_unprepared(&format!(
        "INSERT INTO idp_groups (id, org_id, display_name, display_key, display_key_version, source, \
         created_at, updated_at, version) VALUES ('{prefix}1', {org}, '{prefix}A', '{prefix}a', 1, 'SCIM', 1, 1, 1), \
         ('{prefix}2', {org}, '{prefix}B', '{prefix}b', 1, 'SCIM', 1, 1, 1)"
    ))
    .await
    .expect("seed groups");
    let file = secret_file(&format!("{key}\n"));
    let file = file.to_str().expect("utf-8 path");
    let mut server = Server::start_with(&url, "cursor-file", &[("SCIMGATE_CURSOR_KEY_FILE", file)]).await;
    let (status, body) = server
        .request(
            "GET",
            &format!("/api/orgs/{org}/scim/v2/Groups?count=1&cursor="),
            Some(&token),
        )
        .await
        .expect("request");
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("json");
    let cursor = body["nextCursor"].as_str().expect("a nextCursor");
    // The file's content without its newline signed it.
    let signer = scimgate::catalog::cursor::CursorKey::new(key.as_bytes());
    assert!(
        signer.restamp(cursor, 0).is_ok(),
        "signed with the key of the file"
    );
    let other = scimgate::catalog::cursor::CursorKey::new(format!("{key}\n").as_bytes());
    assert!(other.restamp(cursor, 0).is_err(), "positive control");
}
