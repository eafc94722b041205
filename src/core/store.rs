//! The protocol of SPEC §4, one function per step. Each host call is awaited
//! before the next; no lock is held, so calls on one store interleave at
//! every await exactly as the TypeScript store's do.

use super::error::{DeleteOp, HostResult, StoreError};
use super::host::{Clock, MetadataKv, SecretVault, Values};
use super::key::Scope;
use super::row::{self, BaseRow, Field, OrphanReason};

type Result<T, V> = std::result::Result<T, StoreError<<V as Values>::Err>>;

/// A project-scoped credential store over a metadata KV, a vault and a clock.
pub struct Store<V: Values, K, S, C> {
    v: V,
    kv: K,
    vault: S,
    clock: C,
    scope: Scope,
    /// `userId` / `projectId` as host values, written into every row.
    user_id: V::Val,
    project_id: V::Val,
    /// `userId/projectId/` as a host value, the start of every id.
    prefix: V::Val,
}

/// A valid key and its vault id (also its metadata KV key).
struct Addressed<T> {
    key: T,
    id: T,
}

impl<V, K, S, C> Store<V, K, S, C>
where
    V: Values,
    K: MetadataKv<V>,
    S: SecretVault<V>,
    C: Clock<V>,
{
    /// SPEC §2: both scope parts must be strings matching SAFE_SEGMENT.
    pub fn new(
        v: V,
        kv: K,
        vault: S,
        clock: C,
        user_id: &V::Val,
        project_id: &V::Val,
    ) -> Result<Self, V> {
        let (Some(user), Some(project)) = (v.as_string(user_id), v.as_string(project_id)) else {
            return Err(StoreError::InvalidScope);
        };
        let scope = Scope::new(&user, &project).ok_or(StoreError::InvalidScope)?;
        let prefix = v.string(scope.prefix());
        Ok(Store {
            prefix,
            user_id: user_id.clone(),
            project_id: project_id.clone(),
            v,
            kv,
            vault,
            clock,
            scope,
        })
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// `None` for a non-string key or one that fails the grammar.
    fn address(&self, key: &V::Val) -> Option<Addressed<V::Val>> {
        let key_text = self.v.as_string(key)?;
        self.scope.id_of(&key_text)?;
        Some(Addressed { key: key.clone(), id: self.v.concat(&self.prefix, key) })
    }

    /// get(key) → the secret, or undefined (SPEC §4 get).
    pub async fn get(&self, key: &V::Val) -> Result<V::Val, V> {
        let Some(a) = self.address(key) else {
            return Ok(self.v.undefined());
        };
        if self.live_row(&a).await?.is_none() {
            return Ok(self.v.undefined());
        }
        self.vault.get_secret(&a.id).await.host()
    }

    /// has(key): get without touching the vault.
    pub async fn has(&self, key: &V::Val) -> Result<bool, V> {
        let Some(a) = self.address(key) else {
            return Ok(false);
        };
        Ok(self.live_row(&a).await?.is_some())
    }

    /// Steps 2–3 of get/has: the committed, unexpired row, or `None`.
    /// An expired row is deleted on the way, and that delete's failure swallowed.
    async fn live_row(&self, a: &Addressed<V::Val>) -> Result<Option<V::Val>, V> {
        let row = self.kv.get(&a.id).await.host()?;
        if row::is_missing(&self.v, &row) || row::is_pending(&self.v, &row).host()? {
            return Ok(None);
        }
        if row::is_expired(&self.v, &self.clock, &row).host()? {
            let _ = self.delete(&a.key).await;
            return Ok(None);
        }
        Ok(Some(row))
    }

    /// put(key, value, options?) (SPEC §4 put). `value` goes to the vault untouched.
    pub async fn put(&self, key: &V::Val, value: &V::Val, options: &V::Val) -> Result<(), V> {
        let a = self.address(key).ok_or(StoreError::InvalidKey)?;
        let now = self.clock.now_iso().host()?;
        let existing = self.kv.get(&a.id).await.host()?;
        let base = self.base_row(&existing, options, now).host()?;
        if self.v.is_undefined(&existing) {
            self.put_new(&a, value, &base).await
        } else {
            self.put_update(&a, value, &base).await
        }
    }

    /// Step 3: label/provider from options or carried over, createdAt kept,
    /// expiresAt from `options.expiresAt.toISOString()` or carried over.
    /// No other field of `existing` survives.
    fn base_row(
        &self,
        existing: &V::Val,
        options: &V::Val,
        now: V::Val,
    ) -> std::result::Result<BaseRow<V::Val>, V::Err> {
        let v = &self.v;
        let option_or_existing = |f: Field| -> std::result::Result<V::Val, V::Err> {
            let given = v.get(options, f)?;
            if v.is_nullish(&given) {
                v.get(existing, f)
            } else {
                Ok(given)
            }
        };
        let label = option_or_existing(Field::Label)?;
        let provider = option_or_existing(Field::Provider)?;
        let created_at = v.get(existing, Field::CreatedAt)?;
        let created_at = if v.is_nullish(&created_at) {
            now.clone()
        } else {
            created_at
        };
        let expires_at = if v.is_truthy(&v.get(options, Field::ExpiresAt)?) {
            v.expires_at_iso(options)?
        } else {
            v.get(existing, Field::ExpiresAt)?
        };
        Ok(BaseRow {
            label,
            provider,
            created_at,
            updated_at: now,
            expires_at,
        })
    }

    /// `{ userId, projectId, key, label, provider, createdAt, updatedAt, expiresAt, ...extra }`
    fn row(
        &self,
        a: &Addressed<V::Val>,
        base: &BaseRow<V::Val>,
        extra: &[(Field, V::Val)],
    ) -> V::Val {
        let mut props = vec![
            (Field::UserId, self.user_id.clone()),
            (Field::ProjectId, self.project_id.clone()),
            (Field::Key, a.key.clone()),
            (Field::Label, base.label.clone()),
            (Field::Provider, base.provider.clone()),
            (Field::CreatedAt, base.created_at.clone()),
            (Field::UpdatedAt, base.updated_at.clone()),
            (Field::ExpiresAt, base.expires_at.clone()),
        ];
        props.extend_from_slice(extra);
        self.v.object(&props)
    }

    /// Step 4: pending row first, then the vault, then the commit; each
    /// failure rolls back or leaves an orphan marker an operator can find.
    async fn put_new(
        &self,
        a: &Addressed<V::Val>,
        value: &V::Val,
        base: &BaseRow<V::Val>,
    ) -> Result<(), V> {
        let pending = self.row(a, base, &[(Field::Pending, self.v.boolean(true))]);
        self.kv.put(&a.id, &pending).await.host()?;

        if let Err(e) = self.vault.set_secret(&a.id, value).await {
            return match self.kv.delete(&a.id).await {
                Ok(()) => Err(StoreError::Host(e)),
                Err(_) => {
                    self.put_base_marker(a, base, OrphanReason::VaultWriteFailed)
                        .await;
                    Err(StoreError::VaultWriteOrphaned {
                        id: self.id_text(&a.id),
                        cause: e,
                    })
                }
            };
        }

        let committed = self.row(a, base, &[(Field::Pending, self.v.boolean(false))]);
        if let Err(c) = self.kv.put(&a.id, &committed).await {
            self.put_base_marker(a, base, OrphanReason::MetadataCommitFailed)
                .await;
            return Err(StoreError::CommitOrphaned {
                id: self.id_text(&a.id),
                cause: c,
            });
        }
        Ok(())
    }

    /// Best effort: `metadata.put(id, { ...base, pending: true, orphanedAt, orphanReason })`.
    async fn put_base_marker(
        &self,
        a: &Addressed<V::Val>,
        base: &BaseRow<V::Val>,
        reason: OrphanReason,
    ) {
        if let Ok(now) = self.clock.now_iso() {
            let marker = self.row(a, base, &row::marker_props(&self.v, now, reason));
            let _ = self.kv.put(&a.id, &marker).await;
        }
    }

    /// Step 5: vault, then row; failures reject raw and nothing is rolled back.
    async fn put_update(
        &self,
        a: &Addressed<V::Val>,
        value: &V::Val,
        base: &BaseRow<V::Val>,
    ) -> Result<(), V> {
        self.vault.set_secret(&a.id, value).await.host()?;
        self.kv.put(&a.id, &self.row(a, base, &[])).await.host()
    }

    /// delete(key) → whether a committed row was deleted (SPEC §4 delete).
    /// A pending row is left alone: it protects an in-flight put or an orphan marker.
    pub async fn delete(&self, key: &V::Val) -> Result<bool, V> {
        let Some(a) = self.address(key) else {
            return Ok(false);
        };
        let row = self.kv.get(&a.id).await.host()?;
        if row::is_missing(&self.v, &row) || row::is_pending(&self.v, &row).host()? {
            return Ok(false);
        }
        self.commit_delete(&a.id, &row, DeleteOp::Delete)
            .await?;
        Ok(true)
    }

    /// Metadata first, then the vault; a vault failure leaves a marker
    /// spreading the whole existing row so the bytes stay discoverable.
    async fn commit_delete(&self, id: &V::Val, row: &V::Val, op: DeleteOp) -> Result<(), V> {
        self.kv.delete(id).await.host()?;
        let Err(e) = self.vault.delete_secret(id).await else {
            return Ok(());
        };
        let marker_persisted = match self.delete_marker(row) {
            Ok(marker) => self.kv.put(id, &marker).await.is_ok(),
            Err(_) => false,
        };
        Err(StoreError::VaultDeleteOrphaned {
            op,
            key: self.key_text(id),
            marker_persisted,
            cause: e,
        })
    }

    /// The id as text, for an error message (the failure path only).
    fn id_text(&self, id: &V::Val) -> String {
        self.v.as_string(id).unwrap_or_default()
    }

    /// The key an id in this scope names, for an error message.
    fn key_text(&self, id: &V::Val) -> String {
        let id = self.id_text(id);
        self.scope.key_of(&id).unwrap_or(&id).to_owned()
    }

    fn delete_marker(&self, row: &V::Val) -> std::result::Result<V::Val, V::Err> {
        let now = self.clock.now_iso()?;
        self.v.spread(
            row,
            &row::marker_props(&self.v, now, OrphanReason::VaultDeleteFailed),
        )
    }

    /// keys(): the `key` of each listMetadata entry.
    pub async fn keys(&self) -> Result<V::Val, V> {
        let infos = self.list_infos().await?;
        let keys = infos
            .iter()
            .map(|info| self.v.get(info, Field::Key))
            .collect::<std::result::Result<_, _>>();
        Ok(self.v.array(keys.host()?))
    }

    /// listMetadata(): committed, unexpired rows of this scope, in the KV's order.
    pub async fn list_metadata(&self) -> Result<V::Val, V> {
        Ok(self.v.array(self.list_infos().await?))
    }

    async fn list_infos(&self) -> Result<Vec<V::Val>, V> {
        let mut infos = Vec::new();
        for (_, row) in self.scoped_entries().await? {
            if row::is_pending(&self.v, &row).host()?
                || row::is_expired(&self.v, &self.clock, &row).host()?
            {
                continue;
            }
            infos.push(row::info(&self.v, &row).host()?);
        }
        Ok(infos)
    }

    /// deleteAll(): every scoped id, pending, orphaned and expired included;
    /// one id's failure does not stop the rest, and all are reported together.
    pub async fn delete_all(&self) -> Result<(), V> {
        let mut errors = Vec::new();
        for (id, _) in self.scoped_entries().await? {
            if let Err(e) = self.delete_scoped_id(&id).await {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::DeleteAll(errors))
        }
    }

    async fn delete_scoped_id(&self, id: &V::Val) -> Result<(), V> {
        let row = self.kv.get(id).await.host()?;
        if row::is_missing(&self.v, &row) {
            return Ok(());
        }
        self.commit_delete(id, &row, DeleteOp::DeleteAll).await
    }

    /// `getAll()` entries whose KV key has this scope's prefix and whose row
    /// names this userId and projectId (defence in depth), as `(id, row)`.
    /// An entry that is not `{ key: string, value: truthy }` is no row of ours.
    async fn scoped_entries(&self) -> Result<Vec<(V::Val, V::Val)>, V> {
        let v = &self.v;
        let all = self.kv.get_all().await.host()?;
        if v.is_nullish(&all) {
            return Ok(Vec::new());
        }
        let entries = v.array_items(&all).ok_or(StoreError::NotAnArray)?;
        let mut scoped = Vec::new();
        for entry in entries {
            let id = v.get(&entry, Field::Key).host()?;
            if !v.starts_with(&id, &self.prefix) {
                continue;
            }
            let row = v.get(&entry, Field::Value).host()?;
            if row::is_missing(v, &row)
                || !v.strict_eq(&v.get(&row, Field::UserId).host()?, &self.user_id)
                || !v.strict_eq(&v.get(&row, Field::ProjectId).host()?, &self.project_id)
            {
                continue;
            }
            scoped.push((id, row));
        }
        Ok(scoped)
    }
}
