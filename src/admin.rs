//! `peakreel admin …`: accounts, plans, credits and keys, on the same database as the
//! server (cli.md). Machine-readable output goes to stdout alone.

use crate::config::Config;
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use peakreel_store::NewKey;
use peakreel_types::ids::{self, Mode};
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Accounts and their plans.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Credit grants.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        plan: String,
        /// Initial credits (default: the plan's monthly credits).
        #[arg(long)]
        credits: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Plan, balance, in-flight tasks and keys of an account.
    Show {
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an account's plan.
    SetPlan { account: String, plan: String },
    /// Delete an account (its keys then answer USER_NOT_FOUND).
    Delete { account: String },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add N credits (negative N removes credits) to an account.
    Grant {
        account: String,
        #[arg(allow_hyphen_values = true)]
        amount: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; prints the key and its webhook secret once.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long, value_parser = ["live", "test"])]
        mode: String,
        #[arg(long, default_value = "default")]
        name: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// List an account's keys (never the keys themselves).
    List { account: String },
    /// Revoke a key by its id.
    Revoke { key_id: String },
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub async fn run(config: &Config, command: AdminCommand) -> Result<()> {
    let store = crate::open_store(config).await?;
    let plans = config.plan_table();
    match command {
        AdminCommand::Account(AccountCommand::Create {
            name,
            plan,
            credits,
            json,
        }) => {
            let plan = plans
                .get(&plan)
                .ok_or_else(|| unknown_plan(&plan, config))?
                .clone();
            let credits = credits.unwrap_or(plan.monthly_credits);
            let account = store.create_account(&name, &plan.name, credits).await?;
            if json {
                println!(
                    "{}",
                    json!({ "account_id": account.id, "plan": plan.name, "credits": credits })
                );
            } else {
                println!("{}", account.id);
            }
        }
        AdminCommand::Account(AccountCommand::Show { account, json }) => {
            let acct = store
                .get_account(&account)
                .await?
                .ok_or_else(|| anyhow!("no account {account}"))?;
            let balance = store.balance(&account).await?;
            let live = store.in_flight(&account, Mode::Live).await?;
            let test = store.in_flight(&account, Mode::Test).await?;
            let keys = store.list_keys(&account).await?;
            if json {
                let keys: Vec<_> = keys.iter().map(|k| json!({
                    "key_id": k.id, "name": k.name, "mode": k.mode.as_str(), "hint": k.key_hint,
                    "created_at": k.created_at, "last_used_at": k.last_used_at,
                    "expires_at": k.expires_at, "revoked_at": k.revoked_at,
                })).collect();
                println!(
                    "{}",
                    json!({
                        "account_id": acct.id, "name": acct.name, "plan": acct.plan, "credits": balance,
                        "in_flight": { "live": live, "test": test }, "deleted": acct.deleted_at.is_some(),
                        "keys": keys,
                    })
                );
            } else {
                println!(
                    "account   {}{}",
                    acct.id,
                    if acct.deleted_at.is_some() {
                        " (deleted)"
                    } else {
                        ""
                    }
                );
                println!("name      {}", acct.name);
                println!("plan      {}", acct.plan);
                println!("credits   {balance}");
                println!("in flight live {live}, test {test}");
                for k in keys {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "key       {} {} {} {} ({state})",
                        k.id,
                        k.mode.as_str(),
                        k.key_hint,
                        k.name
                    );
                }
            }
        }
        AdminCommand::Account(AccountCommand::SetPlan { account, plan }) => {
            let plan = plans
                .get(&plan)
                .ok_or_else(|| unknown_plan(&plan, config))?;
            store.set_plan(&account, &plan.name).await?;
            println!("{account} is now on the {} plan", plan.name);
        }
        AdminCommand::Account(AccountCommand::Delete { account }) => {
            store.delete_account(&account).await?;
            println!("{account} deleted");
        }
        AdminCommand::Credits(CreditsCommand::Grant { account, amount }) => {
            let balance = store.grant_credits(&account, amount, "admin grant").await?;
            println!("{account} balance {balance}");
        }
        AdminCommand::Key(KeyCommand::Create {
            account,
            mode,
            name,
            expires_in_days,
            json,
        }) => {
            let mode = Mode::parse(&mode).ok_or_else(|| anyhow!("mode must be live or test"))?;
            let key = ids::new_api_key(mode);
            let secret = ids::new_webhook_secret();
            let record = store
                .create_key(NewKey {
                    id: format!("key_{}", ids::random_alphanumeric(24)),
                    account_id: account.clone(),
                    mode,
                    key_hash: Sha256::digest(key.as_bytes()).into(),
                    key_hint: format!("{}…{}", mode.key_prefix(), &key[key.len() - 4..]),
                    name,
                    webhook_secret: secret.clone(),
                    expires_at: expires_in_days.map(|d| now() + i64::from(d) * 86_400),
                })
                .await
                .map_err(|e| match e {
                    peakreel_store::StoreError::NotFound(_) => anyhow!("no account {account}"),
                    other => other.into(),
                })?;
            if json {
                println!(
                    "{}",
                    json!({ "key_id": record.id, "key": key, "webhook_secret": secret })
                );
            } else {
                println!("key_id          {}", record.id);
                println!("key             {key}");
                println!("webhook_secret  {secret}");
                eprintln!("Store the key and the webhook secret now: they are not shown again.");
            }
        }
        AdminCommand::Key(KeyCommand::List { account }) => {
            if store.get_account(&account).await?.is_none() {
                bail!("no account {account}");
            }
            for k in store.list_keys(&account).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{state}",
                    k.id,
                    k.mode.as_str(),
                    k.key_hint,
                    k.name
                );
            }
        }
        AdminCommand::Key(KeyCommand::Revoke { key_id }) => {
            store.revoke_key(&key_id).await?;
            println!("{key_id} revoked");
        }
    }
    Ok(())
}

fn unknown_plan(plan: &str, config: &Config) -> anyhow::Error {
    let names: Vec<_> = config.plans.iter().map(|p| p.name.as_str()).collect();
    anyhow!("unknown plan {plan}; plans: {}", names.join(", "))
}
