//! `tianshu user`: people who may log in to the page and the API.
//!
//! There is no default account and no password on the command line (it would sit in shell history and
//! `ps`): `tianshu user add --store URL --username U --role ROLE [--unit UNIT] --password-stdin` reads
//! the password from standard input and stores only its argon2 hash.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use tianshu_model::{Timestamp, UnitId};
use tianshu_store::Store;
use tianshu_store::access::{Audit, AuditEntry, NewUser, Role, User};

use super::StoreArg;

/// `tianshu user ...`
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add(AddArgs),
    /// Print every user (never a password hash), as JSON lines.
    List(StoreArg),
    /// Delete a user.
    Delete(DeleteArgs),
}

/// Arguments of `tianshu user add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// administrator, dispatcher, inspector, supervisor or requester.
    #[arg(long)]
    pub role: String,
    /// The user's unit: a path as in the registry (`黄石市/市委办公室`) or a unit id. Required for supervisors and requesters.
    #[arg(long)]
    pub unit: Option<String>,
    /// Read the password from standard input (the first line). Required: passwords are never flags.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Arguments of `tianshu user delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// Login name.
    #[arg(long)]
    pub username: String,
}

/// Resolves a unit given as a path (`黄石市/市委办公室`) or an id.
pub async fn resolve_unit(store: &Store, unit: &str) -> anyhow::Result<UnitId> {
    let units = store.units().await?;
    if let Ok(id) = unit.trim().parse::<i64>()
        && units.iter().any(|u| u.id.0 == id)
    {
        return Ok(UnitId(id));
    }
    let segments: Vec<&str> = unit.split('/').map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut parent: Option<UnitId> = None;
    for seg in &segments {
        let found = units.iter().find(|u| u.name == *seg && u.parent == parent);
        match found {
            Some(u) => parent = Some(u.id),
            None => bail!("no unit {unit:?} in the registry (import the registry first)"),
        }
    }
    parent.with_context(|| format!("empty unit {unit:?}"))
}

/// The units a report's `--unit` names: that unit and the units below it (`None`: every unit).
pub async fn resolve_subtree(store: &Store, unit: Option<&str>) -> anyhow::Result<Option<Vec<UnitId>>> {
    let Some(u) = unit else {
        return Ok(None);
    };
    let root = resolve_unit(store, u).await?;
    let units = store.units().await?;
    Ok(Some(
        tianshu_api::scope::subtree(&units, root).into_iter().collect(),
    ))
}

/// Runs `tianshu user ...`.
pub fn run(command: UserCommand) -> anyhow::Result<ExitCode> {
    super::block_on(async move {
        match command {
            UserCommand::Add(args) => add(args).await,
            UserCommand::List(args) => {
                let store = args.open().await?;
                for u in store.access().users().await? {
                    println!("{}", serde_json::to_string(&u)?);
                }
                Ok(ExitCode::SUCCESS)
            }
            UserCommand::Delete(args) => {
                let (store, _) = args.store.open_audited(None).await?;
                let audit = cli_audit("user.delete", args.username.clone(), |_, _| {});
                match store.access().delete_user(&args.username).audited(audit).await {
                    Err(tianshu_store::Error::NotFound(_)) => bail!("no user {:?}", args.username),
                    done => done?,
                }
                println!("deleted {}", args.username);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// The audit record of a change made from the command line, committed with it.
fn cli_audit<R>(action: &str, detail: String, describe: fn(&R, &mut AuditEntry)) -> Option<Audit<R>> {
    let entry = AuditEntry {
        actor: std::env::var("USER").unwrap_or_else(|_| "-".into()),
        role: "cli".into(),
        action: action.into(),
        remote: "local command line".into(),
        detail,
        ..Default::default()
    };
    Some(Audit {
        time: Timestamp(chrono_now_ms()),
        entry,
        describe,
    })
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    if !args.password_stdin {
        bail!("give --password-stdin and type the password on standard input; passwords are never flags");
    }
    let role: Role = args.role.parse()?;
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    let (store, _) = args.store.open_audited(None).await?;
    let unit = match &args.unit {
        Some(u) => Some(resolve_unit(&store, u).await?),
        None => None,
    };
    tianshu_api::validate_new_user(&args.username, &password, role, unit).map_err(anyhow::Error::msg)?;
    let password_hash = tianshu_api::hash_password(&password).map_err(anyhow::Error::msg)?;
    let audit = cli_audit("user.create", String::new(), |u: &User, e| {
        e.detail = format!("{} as {}", u.username, u.role);
    });
    let user = store
        .access()
        .create_user(&NewUser {
            username: args.username.clone(),
            role,
            unit,
            password_hash,
        })
        .audited(audit)
        .await?;
    println!(
        "created {} ({}{})",
        user.username,
        user.role,
        unit.map(|u| format!(", unit {u}")).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
