//! The reference peer: `scim2-server` (pure Python, in memory, PyPI), installed into a venv under
//! `target/bench/` on first use and started on loopback. It answers HTTP/1.0 and closes every
//! connection, so its figures include a connect per request: that is how it serves.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::Res;

pub const VERSION: &str = "0.8.3";

pub struct Peer {
    _child: Child,
    pub addr: String,
    pub token: String,
}

/// The venv the benchmark and the plot script share.
pub fn venv(bench_dir: &Path) -> PathBuf {
    bench_dir.join("venv")
}

/// Installs `scim2-server` (and matplotlib, for the plots) into the venv if missing. `Err` with
/// the reason when it cannot (no python3, PyPI unreachable): the caller skips the peer.
pub async fn install(venv: &Path) -> Res<PathBuf> {
    let server = venv.join("bin/scim2-server");
    if server.exists() {
        return Ok(server);
    }
    eprintln!(
        "installing scim2-server=={VERSION} and matplotlib into {}",
        venv.display()
    );
    run("python3", &["-m", "venv", &venv.display().to_string()]).await?;
    let pip = venv.join("bin/pip").display().to_string();
    run(
        &pip,
        &["install", "-q", &format!("scim2-server=={VERSION}"), "matplotlib"],
    )
    .await?;
    if server.exists() {
        Ok(server)
    } else {
        Err(format!("{} missing after pip install", server.display()))
    }
}

async fn run(program: &str, args: &[&str]) -> Res<()> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Starts the peer on a free loopback port and waits until it answers.
pub async fn start(server: &Path) -> Res<Peer> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        listener.local_addr().map_err(|e| format!("addr: {e}"))?.port()
    };
    let token = format!("peer-{}", uuid::Uuid::now_v7().simple());
    let child = Command::new(server)
        .args([
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--bearer-token",
            &token,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", server.display()))?;
    let addr = format!("127.0.0.1:{port}");
    let probe = crate::client::Http::new(&addr, "/v2", &token);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(a) = probe.get("/ServiceProviderConfig").await
            && a.ok()
        {
            break;
        }
        if Instant::now() > deadline {
            return Err("scim2-server did not answer within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Peer {
        _child: child,
        addr,
        token,
    })
}
