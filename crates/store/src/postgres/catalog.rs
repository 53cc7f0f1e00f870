//! Voices and avatars on PostgreSQL: public rows (no owner) plus each account's own, per
//! key mode. Names sort by code point (`COLLATE "C"`), as SQLite sorts them.

use super::{now, parse_json, parse_mode, PgStore};
use crate::{AvatarRecord, Catalog, Owner, StoreError, StoreResult, VoiceFilter, VoiceRecord};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

const VOICE_COLUMNS: &str =
    "id, account_id, mode, name, gender, accent, languages, provider, engine_json, preview_path, created_at, expires_at";

fn owner_from(account: Option<String>, mode: Option<String>) -> StoreResult<Option<Owner>> {
    match (account, mode) {
        (Some(account_id), Some(mode)) => Ok(Some(Owner {
            account_id,
            mode: parse_mode(&mode)?,
        })),
        _ => Ok(None),
    }
}

fn voice_from_row(r: &Row) -> StoreResult<VoiceRecord> {
    let languages = parse_json(Some(r.get(6)))?;
    Ok(VoiceRecord {
        id: r.get(0),
        owner: owner_from(r.get(1), r.get(2))?,
        name: r.get(3),
        gender: r.get(4),
        accent: r.get(5),
        languages: languages
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        provider: r.get(7),
        engine: parse_json(Some(r.get(8)))?.unwrap_or_default(),
        preview_path: r.get(9),
        created_at: r.get(10),
        expires_at: r.get(11),
    })
}

const AVATAR_COLUMNS: &str = "id, account_id, mode, name, image_path, created_at";

fn avatar_from_row(r: &Row) -> StoreResult<AvatarRecord> {
    Ok(AvatarRecord {
        id: r.get(0),
        owner: owner_from(r.get(1), r.get(2))?,
        name: r.get(3),
        image_path: r.get(4),
        created_at: r.get(5),
    })
}

fn owner_columns(owner: &Option<Owner>) -> (Option<String>, Option<&'static str>) {
    (
        owner.as_ref().map(|o| o.account_id.clone()),
        owner.as_ref().map(|o| o.mode.as_str()),
    )
}

fn languages_json(languages: &[String]) -> String {
    serde_json::to_string(languages).unwrap_or_else(|_| "[]".into())
}

/// Soft-delete an account's own voice or avatar (public rows cannot be deleted).
async fn soft_delete(
    c: &impl GenericClient,
    table: &'static str,
    id: &str,
    what: &'static str,
) -> StoreResult<()> {
    let n = c
        .execute(
            &format!(
                "UPDATE {table} SET deleted_at = $2
                 WHERE id = $1 AND account_id IS NOT NULL AND deleted_at IS NULL"
            ),
            &[&id, &now()],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound(what));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Catalog for PgStore {
    async fn seed_public(
        &self,
        voices: Vec<VoiceRecord>,
        avatars: Vec<AvatarRecord>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for v in voices {
            tx.execute(
                "INSERT INTO voices (id, name, gender, accent, languages, provider, engine_json, created_at, preview_path)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, gender = excluded.gender,
                   accent = excluded.accent, languages = excluded.languages,
                   provider = excluded.provider, engine_json = excluded.engine_json,
                   preview_path = COALESCE(excluded.preview_path, voices.preview_path)",
                &[
                    &v.id, &v.name, &v.gender, &v.accent, &languages_json(&v.languages),
                    &v.provider, &v.engine.to_string(), &v.created_at, &v.preview_path,
                ],
            )
            .await?;
        }
        for a in avatars {
            tx.execute(
                "INSERT INTO avatars (id, name, image_path, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, image_path = excluded.image_path",
                &[&a.id, &a.name, &a.image_path, &a.created_at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_voice(&self, id: &str) -> StoreResult<Option<VoiceRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {VOICE_COLUMNS} FROM voices WHERE id = $1 AND deleted_at IS NULL"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id])
            .await?
            .as_ref()
            .map(voice_from_row)
            .transpose()
    }

    async fn list_voices(
        &self,
        owner: &Owner,
        filter: &VoiceFilter,
    ) -> StoreResult<Vec<VoiceRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {VOICE_COLUMNS} FROM voices
                 WHERE deleted_at IS NULL
                   AND (account_id IS NULL OR (account_id = $1 AND mode = $2))
                   AND ($3::TEXT IS NULL OR jsonb_exists(languages::jsonb, $3::TEXT))
                   AND ($4::TEXT IS NULL OR gender = $4::TEXT)
                 ORDER BY account_id IS NOT NULL, name COLLATE \"C\", id COLLATE \"C\""
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &owner.account_id,
                    &owner.mode.as_str(),
                    &filter.language,
                    &filter.gender,
                ],
            )
            .await?;
        rows.iter().map(voice_from_row).collect()
    }

    async fn get_avatar(&self, id: &str) -> StoreResult<Option<AvatarRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {AVATAR_COLUMNS} FROM avatars WHERE id = $1 AND deleted_at IS NULL"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id])
            .await?
            .as_ref()
            .map(avatar_from_row)
            .transpose()
    }

    async fn list_avatars(&self, owner: &Owner) -> StoreResult<Vec<AvatarRecord>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {AVATAR_COLUMNS} FROM avatars
                     WHERE deleted_at IS NULL AND (account_id IS NULL OR (account_id = $1 AND mode = $2))
                     ORDER BY account_id IS NOT NULL, name COLLATE \"C\", id COLLATE \"C\""
                ),
                &[&owner.account_id, &owner.mode.as_str()],
            )
            .await?;
        rows.iter().map(avatar_from_row).collect()
    }

    async fn insert_voice(&self, voice: VoiceRecord) -> StoreResult<()> {
        self.insert_custom_voice(voice).await
    }

    async fn delete_voice(&self, id: &str) -> StoreResult<()> {
        soft_delete(&self.client().await?, "voices", id, "voice").await
    }

    async fn set_voice_preview(&self, id: &str, preview_path: &str) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE voices SET preview_path = $2 WHERE id = $1",
                &[&id, &preview_path],
            )
            .await?;
        Ok(())
    }

    async fn insert_avatar(&self, avatar: AvatarRecord) -> StoreResult<()> {
        self.insert_custom_avatar(avatar).await
    }

    async fn delete_avatar(&self, id: &str) -> StoreResult<()> {
        soft_delete(&self.client().await?, "avatars", id, "avatar").await
    }
}

impl PgStore {
    /// Insert a voice row as given (an account's custom voice when `owner` is set).
    pub async fn insert_custom_voice(&self, v: VoiceRecord) -> StoreResult<()> {
        let (account, mode) = owner_columns(&v.owner);
        self.client()
            .await?
            .execute(
                "INSERT INTO voices (id, account_id, mode, name, gender, accent, languages, provider, engine_json, created_at, expires_at, preview_path)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &v.id, &account, &mode, &v.name, &v.gender, &v.accent,
                    &languages_json(&v.languages), &v.provider, &v.engine.to_string(),
                    &v.created_at, &v.expires_at, &v.preview_path,
                ],
            )
            .await?;
        Ok(())
    }

    /// Insert an avatar row as given (an account's custom avatar when `owner` is set).
    pub async fn insert_custom_avatar(&self, a: AvatarRecord) -> StoreResult<()> {
        let (account, mode) = owner_columns(&a.owner);
        self.client()
            .await?
            .execute(
                "INSERT INTO avatars (id, account_id, mode, name, image_path, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &a.id,
                    &account,
                    &mode,
                    &a.name,
                    &a.image_path,
                    &a.created_at,
                ],
            )
            .await?;
        Ok(())
    }
}
