//! The `scimgate` binary: `serve` (default), `migrate`, `org`, `token`, `admin-jwt`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use scimgate::app;
use scimgate::config::{Cli, Command, LogFormat, OrgCommand, TokenCommand};
use scimgate::instance::Instance;
use scimgate::store::tokens::IssueMode;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn"));
    // Logs go to standard error: standard output is for values scripts capture.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.serve.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scimgate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Minting is local: it must work without (and never create or migrate) a database.
    if let Some(Command::AdminJwt(cmd)) = &cli.command {
        println!("{}", app::admin_jwt(&cli.admin, cmd)?);
        return Ok(ExitCode::SUCCESS);
    }
    let store = app::open_store(&cli.db).await?;
    match cli.command {
        None | Some(Command::Serve) => app::serve(store, &cli.db, &cli.serve, &cli.admin).await?,
        // Answered above, before the store was opened.
        Some(Command::AdminJwt(_)) => {}
        Some(Command::Migrate) => eprintln!("migrations applied"),
        Some(Command::Org(OrgCommand::Create { name, sso })) => {
            let org = Instance::new(store)
                .create_organization(&name, sso)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", org.id);
        }
        Some(Command::Org(OrgCommand::List)) => {
            for org in Instance::new(store)
                .organizations()
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{}\t{}\tsso={}", org.id, org.name, org.sso_active);
            }
        }
        Some(Command::Token(cmd)) => {
            let hasher = app::hasher(&cli.db);
            match cmd {
                TokenCommand::Generate { org } => {
                    if let Some(token) = app::issue_token(&store, &hasher, org, IssueMode::Generate).await? {
                        println!("{token}");
                    }
                }
                TokenCommand::Rotate { org } => {
                    match app::issue_token(&store, &hasher, org, IssueMode::Rotate).await? {
                        Some(token) => println!("{token}"),
                        None => {
                            return Err(format!("organization {org} has no active token to rotate").into());
                        }
                    }
                }
                TokenCommand::Revoke { org } => {
                    if !app::revoke_token(&store, org).await? {
                        return Err(format!("organization {org} has no active token").into());
                    }
                    eprintln!("token of organization {org} revoked");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
