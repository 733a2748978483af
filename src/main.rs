//! The `scimgate` binary: `serve` (default), `migrate`, `org`, `token`, `admin-jwt`, `id-token`. Settings are
//! checked before any command opens (or migrates) the database.

use std::io::IsTerminal;
use std::process::ExitCode;

use scimgate::app;
use scimgate::config::{Cli, Command, DbArgs, LogArgs, LogFormat, OrgCommand, TokenArgs, TokenCommand};
use scimgate::store::tokens::IssueMode;

fn init_logging(log: &LogArgs) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.log_filter)
        .map_err(|e| format!("SCIMGATE_LOG \"{}\" is not a log filter: {e}", log.log_filter))?;
    // Logs go to standard error: standard output is for values scripts capture.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match log.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse_args();
    let result = match init_logging(&command.log()) {
        Ok(()) => run(command).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimgate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Checks a command's database settings, then opens and migrates the database.
async fn open(mut db: DbArgs) -> Result<(scimgate::store::Store, DbArgs), Box<dyn std::error::Error>> {
    db.check()?;
    let store = app::open_store(&db).await?;
    Ok((store, db))
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve(mut serve) => {
            serve.check()?;
            let prepared = app::prepare(&serve.db, &serve.serve, &serve.admin)?;
            let store = app::open_store(&serve.db).await?;
            app::serve(prepared.with_store(store), &serve.serve).await?;
        }
        // Minting is local: it must work without (and never create or migrate) a database.
        Command::AdminJwt(mut cmd) => {
            cmd.admin.read_secret_files()?;
            println!("{}", app::admin_jwt(&cmd.admin, &cmd)?);
        }
        Command::IdToken(mut cmd) => {
            cmd.idp.read_secret_files()?;
            println!("{}", app::id_token(&cmd)?);
        }
        Command::Migrate(cmd) => {
            open(cmd.db).await?;
            eprintln!("migrations applied");
        }
        Command::Org(OrgCommand::Create { name, sso, db }) => {
            let (store, db) = open(db).await?;
            let org = app::instance(store, &db)
                .create_organization(&name, sso)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", org.id);
        }
        Command::Org(OrgCommand::List { db }) => {
            let (store, db) = open(db).await?;
            for org in app::instance(store, &db)
                .organizations()
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{}\t{}\tsso={}", org.id, org.name, org.sso_active);
            }
        }
        Command::Token(cmd) => token(cmd).await?,
    }
    Ok(())
}

async fn token(cmd: TokenCommand) -> Result<(), Box<dyn std::error::Error>> {
    let (mode, TokenArgs { org, db }) = match cmd {
        TokenCommand::Generate(args) => (Some(IssueMode::Generate), args),
        TokenCommand::Rotate(args) => (Some(IssueMode::Rotate), args),
        TokenCommand::Revoke(args) => (None, args),
    };
    let (store, db) = open(db).await?;
    let org = org.get();
    match mode {
        Some(mode) => match app::issue_token(&store, &app::hasher(&db), org, mode).await? {
            Some(token) => println!("{token}"),
            None => return Err(format!("organization {org} has no active token to rotate").into()),
        },
        None => {
            if !app::revoke_token(&store, org).await? {
                return Err(format!("organization {org} has no active token").into());
            }
            eprintln!("token of organization {org} revoked");
        }
    }
    Ok(())
}
