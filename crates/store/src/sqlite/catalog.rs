//! Voices and avatars: public rows (no owner) plus each account's own, per key mode.

use super::{mode_str, parse_json, parse_mode, SqliteStore};
use crate::{AvatarRecord, Catalog, Owner, StoreResult, VoiceFilter, VoiceRecord};
use r2d2_sqlite::rusqlite::{params, OptionalExtension, Row};

const VOICE_COLUMNS: &str =
    "id, account_id, mode, name, gender, accent, languages, provider, engine_json, preview_path, created_at, expires_at";

fn owner_from(
    account: Option<String>,
    mode: Option<String>,
) -> r2d2_sqlite::rusqlite::Result<Option<Owner>> {
    match (account, mode) {
        (Some(account_id), Some(mode)) => Ok(Some(Owner {
            account_id,
            mode: parse_mode(&mode)?,
        })),
        _ => Ok(None),
    }
}

fn voice_from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<VoiceRecord> {
    let languages: Option<serde_json::Value> = parse_json(Some(r.get(6)?))?;
    Ok(VoiceRecord {
        id: r.get(0)?,
        owner: owner_from(r.get(1)?, r.get(2)?)?,
        name: r.get(3)?,
        gender: r.get(4)?,
        accent: r.get(5)?,
        languages: languages
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        provider: r.get(7)?,
        engine: parse_json(Some(r.get(8)?))?.unwrap_or_default(),
        preview_path: r.get(9)?,
        created_at: r.get(10)?,
        expires_at: r.get(11)?,
    })
}

const AVATAR_COLUMNS: &str = "id, account_id, mode, name, image_path, created_at";

fn avatar_from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<AvatarRecord> {
    Ok(AvatarRecord {
        id: r.get(0)?,
        owner: owner_from(r.get(1)?, r.get(2)?)?,
        name: r.get(3)?,
        image_path: r.get(4)?,
        created_at: r.get(5)?,
    })
}

#[async_trait::async_trait]
impl Catalog for SqliteStore {
    async fn insert_voice(&self, voice: VoiceRecord) -> StoreResult<()> {
        self.insert_custom_voice(voice).await
    }

    async fn delete_voice(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.with_conn(move |c| {
            let n = c.execute(
                "UPDATE voices SET deleted_at = ?2 WHERE id = ?1 AND account_id IS NOT NULL AND deleted_at IS NULL",
                params![id, super::now()],
            )?;
            if n == 0 {
                return Err(crate::StoreError::NotFound("voice"));
            }
            Ok(())
        })
        .await
    }

    async fn set_voice_preview(&self, id: &str, preview_path: &str) -> StoreResult<()> {
        let (id, path) = (id.to_string(), preview_path.to_string());
        self.with_conn(move |c| {
            c.execute(
                "UPDATE voices SET preview_path = ?2 WHERE id = ?1",
                params![id, path],
            )?;
            Ok(())
        })
        .await
    }

    async fn insert_avatar(&self, avatar: AvatarRecord) -> StoreResult<()> {
        self.insert_custom_avatar(avatar).await
    }

    async fn delete_avatar(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.with_conn(move |c| {
            let n = c.execute(
                "UPDATE avatars SET deleted_at = ?2 WHERE id = ?1 AND account_id IS NOT NULL AND deleted_at IS NULL",
                params![id, super::now()],
            )?;
            if n == 0 {
                return Err(crate::StoreError::NotFound("avatar"));
            }
            Ok(())
        })
        .await
    }

    async fn seed_public(
        &self,
        voices: Vec<VoiceRecord>,
        avatars: Vec<AvatarRecord>,
    ) -> StoreResult<()> {
        self.with_tx(move |tx| {
            for v in voices {
                tx.execute(
                    "INSERT INTO voices (id, name, gender, accent, languages, provider, engine_json, created_at, preview_path)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(id) DO UPDATE SET name = excluded.name, gender = excluded.gender,
                       accent = excluded.accent, languages = excluded.languages,
                       provider = excluded.provider, engine_json = excluded.engine_json,
                       preview_path = COALESCE(excluded.preview_path, voices.preview_path)",
                    params![
                        v.id, v.name, v.gender, v.accent,
                        serde_json::to_string(&v.languages).unwrap_or_else(|_| "[]".into()),
                        v.provider, v.engine.to_string(), v.created_at, v.preview_path
                    ],
                )?;
            }
            for a in avatars {
                tx.execute(
                    "INSERT INTO avatars (id, name, image_path, created_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET name = excluded.name, image_path = excluded.image_path",
                    params![a.id, a.name, a.image_path, a.created_at],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn get_voice(&self, id: &str) -> StoreResult<Option<VoiceRecord>> {
        let id = id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                &format!("SELECT {VOICE_COLUMNS} FROM voices WHERE id = ?1 AND deleted_at IS NULL"),
                [id],
                voice_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_voices(
        &self,
        owner: &Owner,
        filter: &VoiceFilter,
    ) -> StoreResult<Vec<VoiceRecord>> {
        let (owner, filter) = (owner.clone(), filter.clone());
        self.with_conn(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {VOICE_COLUMNS} FROM voices
                 WHERE deleted_at IS NULL
                   AND (account_id IS NULL OR (account_id = ?1 AND mode = ?2))
                   AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(voices.languages) WHERE value = ?3))
                   AND (?4 IS NULL OR gender = ?4)
                 ORDER BY account_id IS NOT NULL, name, id"
            ))?;
            let rows = stmt.query_map(
                params![owner.account_id, mode_str(owner.mode), filter.language, filter.gender],
                voice_from_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn get_avatar(&self, id: &str) -> StoreResult<Option<AvatarRecord>> {
        let id = id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {AVATAR_COLUMNS} FROM avatars WHERE id = ?1 AND deleted_at IS NULL"
                ),
                [id],
                avatar_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_avatars(&self, owner: &Owner) -> StoreResult<Vec<AvatarRecord>> {
        let owner = owner.clone();
        self.with_conn(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {AVATAR_COLUMNS} FROM avatars
                 WHERE deleted_at IS NULL AND (account_id IS NULL OR (account_id = ?1 AND mode = ?2))
                 ORDER BY account_id IS NOT NULL, name, id"
            ))?;
            let rows = stmt.query_map(params![owner.account_id, mode_str(owner.mode)], avatar_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

impl SqliteStore {
    /// Insert an account-owned voice (custom voices arrive with the voices issue; tests use
    /// this to exercise ownership and expiry rules now).
    pub async fn insert_custom_voice(&self, v: VoiceRecord) -> StoreResult<()> {
        self.with_conn(move |c| {
            let owner = v.owner.clone();
            c.execute(
                "INSERT INTO voices (id, account_id, mode, name, gender, accent, languages, provider, engine_json, created_at, expires_at, preview_path)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    v.id, owner.as_ref().map(|o| o.account_id.clone()), owner.as_ref().map(|o| mode_str(o.mode)),
                    v.name, v.gender, v.accent, serde_json::to_string(&v.languages).unwrap_or_default(),
                    v.provider, v.engine.to_string(), v.created_at, v.expires_at, v.preview_path
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn insert_custom_avatar(&self, a: AvatarRecord) -> StoreResult<()> {
        self.with_conn(move |c| {
            let owner = a.owner.clone();
            c.execute(
                "INSERT INTO avatars (id, account_id, mode, name, image_path, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    a.id, owner.as_ref().map(|o| o.account_id.clone()), owner.as_ref().map(|o| mode_str(o.mode)),
                    a.name, a.image_path, a.created_at
                ],
            )?;
            Ok(())
        })
        .await
    }
}
