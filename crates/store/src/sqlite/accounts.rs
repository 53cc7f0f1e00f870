//! Accounts, API keys and the credit ledger.

use super::{mode_str, now, parse_mode, SqliteStore};
use crate::billing::{billing_period, renewal_day};
use crate::{
    Account, Accounts, AuthRecord, KeyRecord, Keys, LedgerEntry, NewKey, StoreError, StoreResult,
};
use peakreel_domain::PlanTable;
use peakreel_types::ids::{random_alphanumeric, Mode};
use r2d2_sqlite::rusqlite::{params, OptionalExtension, Row, Transaction};

const ACCOUNT_COLUMNS: &str = "id, name, plan, renewal_day, created_at, deleted_at";

fn account_from_row(r: &Row, offset: usize) -> r2d2_sqlite::rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(offset)?,
        name: r.get(offset + 1)?,
        plan: r.get(offset + 2)?,
        renewal_day: r.get(offset + 3)?,
        created_at: r.get(offset + 4)?,
        deleted_at: r.get(offset + 5)?,
    })
}

const KEY_COLUMNS: &str =
    "k.id, k.account_id, k.mode, k.key_hint, k.name, k.created_at, k.last_used_at, k.expires_at, k.revoked_at";

fn key_from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: r.get(0)?,
        account_id: r.get(1)?,
        mode: parse_mode(&r.get::<_, String>(2)?)?,
        key_hint: r.get(3)?,
        name: r.get(4)?,
        created_at: r.get(5)?,
        last_used_at: r.get(6)?,
        expires_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

pub(crate) fn balance_tx(tx: &Transaction, account_id: &str) -> StoreResult<i64> {
    Ok(tx.query_row(
        "SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    )?)
}

/// Top the balance up to the plan's monthly credits once per billing period
/// (api.md §2 **Decision**: unused credits do not accumulate past that).
pub(crate) fn refresh_if_due(
    tx: &Transaction,
    plans: &PlanTable,
    account_id: &str,
    at: i64,
) -> StoreResult<()> {
    let row: Option<(String, u8, Option<String>)> = tx
        .query_row(
            "SELECT plan, renewal_day, last_refresh_period FROM accounts WHERE id = ?1 AND deleted_at IS NULL",
            [account_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((plan, renewal_day, last)) = row else {
        return Ok(());
    };
    let period = billing_period(at, renewal_day);
    // `YYYY-MM` orders as text. A period at or before the last refreshed one is done: a
    // clock stepped back (or a skewed peer) must not reopen it and top up twice.
    if last.as_deref().is_some_and(|l| l >= period.as_str()) {
        return Ok(());
    }
    let monthly = plans.get(&plan).map_or(0, |p| p.monthly_credits);
    let balance = balance_tx(tx, account_id)?;
    if monthly > balance {
        tx.execute(
            "INSERT INTO credit_ledger (account_id, kind, amount, note, created_at)
             VALUES (?1, 'monthly_refresh', ?2, ?3, ?4)",
            params![
                account_id,
                monthly - balance,
                format!("period {period}"),
                at
            ],
        )?;
    }
    tx.execute(
        "UPDATE accounts SET last_refresh_period = ?2 WHERE id = ?1",
        params![account_id, period],
    )?;
    Ok(())
}

impl SqliteStore {
    /// Apply a due monthly refresh as of `at` (exposed for tests of the billing rule).
    pub async fn refresh_credits_at(&self, account_id: &str, at: i64) -> StoreResult<i64> {
        let (id, plans) = (account_id.to_string(), self.plans.clone());
        self.with_tx(move |tx| {
            refresh_if_due(tx, &plans, &id, at)?;
            balance_tx(tx, &id)
        })
        .await
    }
}

#[async_trait::async_trait]
impl Accounts for SqliteStore {
    async fn create_account(
        &self,
        name: &str,
        plan: &str,
        initial_credits: i64,
    ) -> StoreResult<Account> {
        let at = now();
        let day = renewal_day(at);
        let account = Account {
            id: format!("acct_{}", random_alphanumeric(24)),
            name: name.to_string(),
            plan: plan.to_string(),
            renewal_day: day,
            created_at: at,
            deleted_at: None,
        };
        let a = account.clone();
        self.with_tx(move |tx| {
            tx.execute(
                "INSERT INTO accounts (id, name, plan, renewal_day, last_refresh_period, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.id, a.name, a.plan, a.renewal_day, billing_period(at, a.renewal_day), at],
            )?;
            if initial_credits != 0 {
                tx.execute(
                    "INSERT INTO credit_ledger (account_id, kind, amount, note, created_at)
                     VALUES (?1, 'grant', ?2, 'initial credits', ?3)",
                    params![a.id, initial_credits, at],
                )?;
            }
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(account)
    }

    async fn get_account(&self, id: &str) -> StoreResult<Option<Account>> {
        let id = id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
                [id],
                |r| account_from_row(r, 0),
            )
            .optional()?)
        })
        .await
    }

    async fn set_plan(&self, id: &str, plan: &str) -> StoreResult<()> {
        let (id, plan) = (id.to_string(), plan.to_string());
        self.with_tx(move |tx| {
            let n = tx.execute(
                "UPDATE accounts SET plan = ?2 WHERE id = ?1 AND deleted_at IS NULL",
                params![id, plan],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("account"));
            }
            Ok(())
        })
        .await
    }

    async fn delete_account(&self, id: &str) -> StoreResult<()> {
        // Soft delete: keys then answer USER_NOT_FOUND and the ledger stays intact.
        let id = id.to_string();
        self.with_tx(move |tx| {
            let n = tx.execute(
                "UPDATE accounts SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
                params![id, now()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("account"));
            }
            Ok(())
        })
        .await
    }

    async fn grant_credits(&self, id: &str, amount: i64, note: &str) -> StoreResult<i64> {
        let (id, note, plans) = (id.to_string(), note.to_string(), self.plans.clone());
        self.with_tx(move |tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM accounts WHERE id = ?1 AND deleted_at IS NULL", [&id], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NotFound("account"));
            }
            let at = now();
            refresh_if_due(tx, &plans, &id, at)?;
            tx.execute(
                "INSERT INTO credit_ledger (account_id, kind, amount, note, created_at) VALUES (?1, 'grant', ?2, ?3, ?4)",
                params![id, amount, note, at],
            )?;
            balance_tx(tx, &id)
        })
        .await
    }

    async fn balance(&self, id: &str) -> StoreResult<i64> {
        self.refresh_credits_at(id, now()).await
    }

    async fn ledger(&self, id: &str) -> StoreResult<Vec<LedgerEntry>> {
        let id = id.to_string();
        self.with_conn(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, kind, amount, task_id, note, created_at FROM credit_ledger WHERE account_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok(LedgerEntry {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    amount: r.get(2)?,
                    task_id: r.get(3)?,
                    note: r.get(4)?,
                    created_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn in_flight(&self, id: &str, mode: Mode) -> StoreResult<u32> {
        let id = id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM tasks WHERE account_id = ?1 AND mode = ?2 AND status IN ('queued', 'processing')",
                params![id, mode_str(mode)],
                |r| r.get(0),
            )?)
        })
        .await
    }
}

#[async_trait::async_trait]
impl Keys for SqliteStore {
    async fn create_key(&self, key: NewKey) -> StoreResult<KeyRecord> {
        let at = now();
        self.with_tx(move |tx| {
            let live: Option<i64> = tx
                .query_row("SELECT 1 FROM accounts WHERE id = ?1 AND deleted_at IS NULL", [&key.account_id], |r| r.get(0))
                .optional()?;
            if live.is_none() {
                return Err(StoreError::NotFound("account"));
            }
            tx.execute(
                "INSERT INTO api_keys (id, account_id, mode, key_hash, key_hint, name, webhook_secret, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    key.id, key.account_id, mode_str(key.mode), &key.key_hash[..], key.key_hint,
                    key.name, key.webhook_secret, at, key.expires_at
                ],
            )?;
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
        })
        .await
    }

    async fn find_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<AuthRecord>> {
        let hash = *hash;
        self.with_conn(move |c| {
            let sql = format!(
                "SELECT {KEY_COLUMNS}, k.key_hash, k.webhook_secret, a.id, a.name, a.plan, a.renewal_day, a.created_at, a.deleted_at
                 FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?1"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            Ok(stmt
                .query_row([&hash[..]], |r| {
                    let stored: Vec<u8> = r.get(9)?;
                    let mut key_hash = [0u8; 32];
                    if stored.len() == 32 {
                        key_hash.copy_from_slice(&stored);
                    }
                    Ok(AuthRecord {
                        key: key_from_row(r)?,
                        key_hash,
                        webhook_secret: r.get(10)?,
                        account: account_from_row(r, 11)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn touch_key(&self, key_id: &str, at: i64) -> StoreResult<()> {
        let key_id = key_id.to_string();
        self.with_conn(move |c| {
            c.execute(
                "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
                params![key_id, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn list_keys(&self, account_id: &str) -> StoreResult<Vec<KeyRecord>> {
        let account_id = account_id.to_string();
        self.with_conn(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = ?1 ORDER BY k.created_at, k.id"
            ))?;
            let rows = stmt.query_map([account_id], key_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_key(&self, key_id: &str) -> StoreResult<()> {
        let key_id = key_id.to_string();
        self.with_tx(move |tx| {
            let n = tx.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![key_id, now()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("key"));
            }
            Ok(())
        })
        .await
    }
}
