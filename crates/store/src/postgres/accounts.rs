//! Accounts, API keys and the credit ledger on PostgreSQL.

use super::{narrow, now, parse_mode, PgStore};
use crate::billing::{billing_period, renewal_day};
use crate::{
    Account, Accounts, AuthRecord, KeyRecord, Keys, LedgerEntry, NewKey, StoreError, StoreResult,
};
use deadpool_postgres::GenericClient;
use peakreel_domain::PlanTable;
use peakreel_types::ids::{random_alphanumeric, Mode};
use tokio_postgres::Row;

const ACCOUNT_COLUMNS: &str = "id, name, plan, renewal_day, created_at, deleted_at";

fn account_from_row(r: &Row, offset: usize) -> Account {
    Account {
        id: r.get(offset),
        name: r.get(offset + 1),
        plan: r.get(offset + 2),
        renewal_day: narrow(r.get::<_, i64>(offset + 3)),
        created_at: r.get(offset + 4),
        deleted_at: r.get(offset + 5),
    }
}

const KEY_COLUMNS: &str =
    "k.id, k.account_id, k.mode, k.key_hint, k.name, k.created_at, k.last_used_at, k.expires_at, k.revoked_at";

fn key_from_row(r: &Row) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        id: r.get(0),
        account_id: r.get(1),
        mode: parse_mode(r.get(2))?,
        key_hint: r.get(3),
        name: r.get(4),
        created_at: r.get(5),
        last_used_at: r.get(6),
        expires_at: r.get(7),
        revoked_at: r.get(8),
    })
}

pub(crate) async fn balance_tx(c: &impl GenericClient, account_id: &str) -> StoreResult<i64> {
    Ok(c.query_one(
        "SELECT COALESCE(SUM(amount), 0)::BIGINT FROM credit_ledger WHERE account_id = $1",
        &[&account_id],
    )
    .await?
    .get(0))
}

/// Lock the live account's row for the rest of the transaction: every balance check
/// followed by a ledger write for one account runs one at a time, in any process.
/// Returns `(plan, renewal_day, last_refresh_period)`, `None` for a missing or deleted
/// account.
pub(crate) async fn lock_account(
    c: &impl GenericClient,
    account_id: &str,
) -> StoreResult<Option<(String, u8, Option<String>)>> {
    Ok(c.query_opt(
        "SELECT plan, renewal_day, last_refresh_period FROM accounts
             WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        &[&account_id],
    )
    .await?
    .map(|r| (r.get(0), narrow(r.get::<_, i64>(1)), r.get(2))))
}

/// Top the balance up to the plan's monthly credits once per billing period (the rule
/// of the SQLite store). Locks the account row.
pub(crate) async fn refresh_if_due(
    c: &impl GenericClient,
    plans: &PlanTable,
    account_id: &str,
    at: i64,
) -> StoreResult<()> {
    let Some((plan, renewal_day, last)) = lock_account(c, account_id).await? else {
        return Ok(());
    };
    let period = billing_period(at, renewal_day);
    // A period at or before the last refreshed one is done (a clock stepped back must
    // not top up twice).
    if last.as_deref().is_some_and(|l| l >= period.as_str()) {
        return Ok(());
    }
    let monthly = plans.get(&plan).map_or(0, |p| p.monthly_credits);
    let balance = balance_tx(c, account_id).await?;
    if monthly > balance {
        c.execute(
            "INSERT INTO credit_ledger (account_id, kind, amount, note, created_at)
             VALUES ($1, 'monthly_refresh', $2, $3, $4)",
            &[
                &account_id,
                &(monthly - balance),
                &format!("period {period}"),
                &at,
            ],
        )
        .await?;
    }
    c.execute(
        "UPDATE accounts SET last_refresh_period = $2 WHERE id = $1",
        &[&account_id, &period],
    )
    .await?;
    Ok(())
}

impl PgStore {
    /// Apply a due monthly refresh as of `at` (exposed for tests of the billing rule).
    pub async fn refresh_credits_at(&self, account_id: &str, at: i64) -> StoreResult<i64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        refresh_if_due(&tx, &self.plans, account_id, at).await?;
        let balance = balance_tx(&tx, account_id).await?;
        tx.commit().await?;
        Ok(balance)
    }
}

#[async_trait::async_trait]
impl Accounts for PgStore {
    async fn create_account(
        &self,
        name: &str,
        plan: &str,
        initial_credits: i64,
    ) -> StoreResult<Account> {
        let at = now();
        let account = Account {
            id: format!("acct_{}", random_alphanumeric(24)),
            name: name.to_string(),
            plan: plan.to_string(),
            renewal_day: renewal_day(at),
            created_at: at,
            deleted_at: None,
        };
        let a = &account;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO accounts (id, name, plan, renewal_day, last_refresh_period, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &a.id,
                &a.name,
                &a.plan,
                &i64::from(a.renewal_day),
                &billing_period(at, a.renewal_day),
                &at,
            ],
        )
        .await?;
        if initial_credits != 0 {
            tx.execute(
                "INSERT INTO credit_ledger (account_id, kind, amount, note, created_at)
                 VALUES ($1, 'grant', $2, 'initial credits', $3)",
                &[&a.id, &initial_credits, &at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(account)
    }

    async fn get_account(&self, id: &str) -> StoreResult<Option<Account>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
            ))
            .await?;
        Ok(client
            .query_opt(&stmt, &[&id])
            .await?
            .map(|r| account_from_row(&r, 0)))
    }

    async fn set_plan(&self, id: &str, plan: &str) -> StoreResult<()> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE accounts SET plan = $2 WHERE id = $1 AND deleted_at IS NULL",
                &[&id, &plan],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound("account"));
        }
        Ok(())
    }

    async fn delete_account(&self, id: &str) -> StoreResult<()> {
        // Soft delete: keys then answer USER_NOT_FOUND and the ledger stays intact.
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE accounts SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
                &[&id, &now()],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound("account"));
        }
        Ok(())
    }

    async fn grant_credits(&self, id: &str, amount: i64, note: &str) -> StoreResult<i64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if lock_account(&tx, id).await?.is_none() {
            return Err(StoreError::NotFound("account"));
        }
        let at = now();
        refresh_if_due(&tx, &self.plans, id, at).await?;
        tx.execute(
            "INSERT INTO credit_ledger (account_id, kind, amount, note, created_at)
             VALUES ($1, 'grant', $2, $3, $4)",
            &[&id, &amount, &note, &at],
        )
        .await?;
        let balance = balance_tx(&tx, id).await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn balance(&self, id: &str) -> StoreResult<i64> {
        self.refresh_credits_at(id, now()).await
    }

    async fn ledger(&self, id: &str) -> StoreResult<Vec<LedgerEntry>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, kind, amount, task_id, note, created_at FROM credit_ledger
                 WHERE account_id = $1 ORDER BY id",
                &[&id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| LedgerEntry {
                id: r.get(0),
                kind: r.get(1),
                amount: r.get(2),
                task_id: r.get(3),
                note: r.get(4),
                created_at: r.get(5),
            })
            .collect())
    }

    async fn in_flight(&self, id: &str, mode: Mode) -> StoreResult<u32> {
        let client = self.client().await?;
        Ok(narrow(in_flight_tx(&client, id, mode).await?))
    }
}

/// Tasks of one account and mode that are queued or processing.
pub(crate) async fn in_flight_tx(
    c: &impl GenericClient,
    account_id: &str,
    mode: Mode,
) -> StoreResult<i64> {
    Ok(c.query_one(
        "SELECT COUNT(*) FROM tasks WHERE account_id = $1 AND mode = $2
           AND status IN ('queued', 'processing')",
        &[&account_id, &mode.as_str()],
    )
    .await?
    .get(0))
}

#[async_trait::async_trait]
impl Keys for PgStore {
    async fn create_key(&self, key: NewKey) -> StoreResult<KeyRecord> {
        let at = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locked so a concurrent account deletion cannot slip between check and insert.
        if lock_account(&tx, &key.account_id).await?.is_none() {
            return Err(StoreError::NotFound("account"));
        }
        tx.execute(
            "INSERT INTO api_keys (id, account_id, mode, key_hash, key_hint, name, webhook_secret, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &key.id, &key.account_id, &key.mode.as_str(), &&key.key_hash[..], &key.key_hint,
                &key.name, &key.webhook_secret, &at, &key.expires_at,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(KeyRecord {
            id: key.id,
            account_id: key.account_id,
            mode: key.mode,
            key_hint: key.key_hint,
            name: key.name,
            created_at: at,
            last_used_at: None,
            expires_at: key.expires_at,
            revoked_at: None,
        })
    }

    async fn find_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<AuthRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS}, k.key_hash, k.webhook_secret, a.id, a.name, a.plan, a.renewal_day, a.created_at, a.deleted_at
                 FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1"
            ))
            .await?;
        let Some(r) = client.query_opt(&stmt, &[&&hash[..]]).await? else {
            return Ok(None);
        };
        let stored: Vec<u8> = r.get(9);
        let mut key_hash = [0u8; 32];
        if stored.len() == 32 {
            key_hash.copy_from_slice(&stored);
        }
        Ok(Some(AuthRecord {
            key: key_from_row(&r)?,
            key_hash,
            webhook_secret: r.get(10),
            account: account_from_row(&r, 11),
        }))
    }

    async fn touch_key(&self, key_id: &str, at: i64) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE api_keys SET last_used_at = $2 WHERE id = $1",
                &[&key_id, &at],
            )
            .await?;
        Ok(())
    }

    async fn list_keys(&self, account_id: &str) -> StoreResult<Vec<KeyRecord>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = $1
                     ORDER BY k.created_at, k.id COLLATE \"C\""
                ),
                &[&account_id],
            )
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, key_id: &str) -> StoreResult<()> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                &[&key_id, &now()],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound("key"));
        }
        Ok(())
    }
}
