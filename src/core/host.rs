//! The host as the protocol sees it: a value model, the metadata KV, the
//! vault and the clock. The binding implements these over JS objects; the
//! native tests over deterministic fakes that record and fail calls.
//!
//! Every value the host hands over (rows, fields, secrets, thrown errors)
//! stays an opaque `Val`/`Err`: the protocol reads only the fields it needs,
//! with JavaScript's semantics, and never copies a secret into Rust memory.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use super::row::{Carried, EntryFacts, Field, RowState, INFO};

/// The host's `+new Date(x)`, as the clock reads it.
pub type DateMs<'a, V> = &'a dyn Fn(&<V as Values>::Val) -> Result<f64, <V as Values>::Err>;

/// The host's dynamic values, with the few JavaScript operations the
/// protocol applies to them (SPEC §3: rows are read as JS reads them).
pub trait Values {
    /// Any host value: a row, a field, a secret, an entry, an array.
    type Val: Clone;
    /// A value the host threw or rejected with, passed on as the same value.
    type Err;

    fn undefined(&self) -> Self::Val;
    fn boolean(&self, b: bool) -> Self::Val;
    fn string(&self, s: &str) -> Self::Val;
    /// `v === undefined`
    fn is_undefined(&self, v: &Self::Val) -> bool;
    /// `v === null || v === undefined` (the left side of `??`)
    fn is_nullish(&self, v: &Self::Val) -> bool;
    /// `!!v`
    fn is_truthy(&self, v: &Self::Val) -> bool;
    /// `v === true`
    fn is_true(&self, v: &Self::Val) -> bool;
    /// `a === b`
    fn strict_eq(&self, a: &Self::Val, b: &Self::Val) -> bool;
    /// The number, if `v` is one.
    fn as_number(&self, v: &Self::Val) -> Option<f64>;
    /// A thrown value as a value (to report it inside an object).
    fn error_value(&self, e: Self::Err) -> Self::Val;
    /// The string, if `v` is one.
    fn as_string(&self, v: &Self::Val) -> Option<String>;
    /// `a + b` of two strings: ids are built host-side so they need not cross as text.
    fn concat(&self, a: &Self::Val, b: &Self::Val) -> Self::Val;
    /// `typeof s === "string" && s.startsWith(prefix)`
    fn starts_with(&self, s: &Self::Val, prefix: &Self::Val) -> bool;
    /// `v?.[name]`; a getter may throw.
    fn get(&self, v: &Self::Val, name: Field) -> Result<Self::Val, Self::Err>;
    /// `options.expiresAt.toISOString()`, as the TS store calls it.
    fn expires_at_iso(&self, options: &Self::Val) -> Result<Self::Val, Self::Err>;
    /// A fresh plain object with these own properties, in this order.
    fn object(&self, props: &[(Field, &Self::Val)]) -> Self::Val;
    /// `{ ...v, ...props }`; a getter of `v` may throw.
    fn spread(&self, v: &Self::Val, props: &[(Field, &Self::Val)]) -> Result<Self::Val, Self::Err>;
    /// A fresh array.
    fn array(&self, items: Vec<Self::Val>) -> Self::Val;
    /// The elements, or `None` when `v` is not an array.
    fn array_items(&self, v: &Self::Val) -> Option<Vec<Self::Val>>;
    /// `Array.isArray(v)`, without reading the elements.
    fn is_array(&self, v: &Self::Val) -> bool {
        self.array_items(v).is_some()
    }

    // Batched reads. Each has a plain definition in terms of the methods
    // above; a host may do the same reads in fewer boundary crossings.

    /// For a string `key`: whether its text (UTF-8) passes `is_key` (the key
    /// grammar), and the id `prefix + key`; `None` for any other value.
    fn key_and_id(
        &self,
        prefix: &Self::Val,
        key: &Self::Val,
        is_key: &dyn Fn(&[u8]) -> bool,
    ) -> Option<(bool, Self::Val)> {
        let text = self.as_string(key)?;
        Some((is_key(text.as_bytes()), self.concat(prefix, key)))
    }

    /// put's step 3 reads, in the TS store's order: `options?.label ??
    /// existing?.label`, the same for `provider`, `existing?.createdAt`, then
    /// `options?.expiresAt ? options.expiresAt.toISOString() :
    /// existing?.expiresAt`.
    fn carried_fields(&self, options: &Self::Val, existing: &Self::Val) -> Result<Carried<Self::Val>, Self::Err> {
        let option_or_existing = |f: Field| {
            let given = self.get(options, f)?;
            if self.is_nullish(&given) {
                self.get(existing, f)
            } else {
                Ok(given)
            }
        };
        let label = option_or_existing(Field::Label)?;
        let provider = option_or_existing(Field::Provider)?;
        let created_at = self.get(existing, Field::CreatedAt)?;
        let created_at = (!self.is_nullish(&created_at)).then_some(created_at);
        let expires_at = if self.is_truthy(&self.get(options, Field::ExpiresAt)?) {
            self.expires_at_iso(options)?
        } else {
            self.get(existing, Field::ExpiresAt)?
        };
        Ok(Carried { label, provider, created_at, expires_at })
    }

    /// `!row`, then `row.pending === true`, then (if asked) `row.expiresAt
    /// !== undefined`: the reads the TS store makes, in its order.
    fn row_state(&self, row: &Self::Val, read_expiry: bool) -> Result<RowState, Self::Err> {
        if !self.is_truthy(row) {
            return Ok(RowState::Missing);
        }
        if self.is_true(&self.get(row, Field::Pending)?) {
            return Ok(RowState::Pending);
        }
        let expires = read_expiry && !self.is_undefined(&self.get(row, Field::ExpiresAt)?);
        Ok(RowState::Committed { expires })
    }

    /// [`EntryFacts`] of every entry of a listing array; the state (pending,
    /// expiry) only when `read_state` (listMetadata: deleteAll and the
    /// orphan listing read no more than scope, as the TS store's deleteAll);
    /// `date_ms` is the host's `+new Date(x)` (the clock's).
    fn scan_entries(
        &self,
        entries: &Self::Val,
        prefix: &Self::Val,
        user_id: &Self::Val,
        project_id: &Self::Val,
        read_state: bool,
        date_ms: DateMs<'_, Self>,
    ) -> Result<Vec<EntryFacts>, Self::Err> {
        let mut all = Vec::new();
        for entry in self.array_items(entries).unwrap_or_default() {
            let mut f = EntryFacts::OUT;
            f.key_in_scope = self.starts_with(&self.get(&entry, Field::Key)?, prefix);
            if f.key_in_scope {
                let row = self.get(&entry, Field::Value)?;
                f.row_present = self.is_truthy(&row);
                f.user_matches = f.row_present && self.strict_eq(&self.get(&row, Field::UserId)?, user_id);
                f.project_matches = f.user_matches && self.strict_eq(&self.get(&row, Field::ProjectId)?, project_id);
                if read_state && f.in_scope() {
                    f.state = self.row_state(&row, true)?;
                    if f.state == (RowState::Committed { expires: true }) {
                        f.expires_ms = date_ms(&self.get(&row, Field::ExpiresAt)?)?;
                    }
                }
            }
            all.push(f);
        }
        Ok(all)
    }

    /// `entries[i].key` and `entries[i].value`.
    fn entry(&self, entries: &Self::Val, i: usize) -> Result<(Self::Val, Self::Val), Self::Err> {
        let entry = self.array_items(entries).unwrap_or_default().get(i).cloned().unwrap_or_else(|| self.undefined());
        Ok((self.get(&entry, Field::Key)?, self.get(&entry, Field::Value)?))
    }

    /// `indices.map(i => entries[i].key)`.
    fn entry_keys(&self, entries: &Self::Val, indices: &[usize]) -> Result<Vec<Self::Val>, Self::Err> {
        indices.iter().map(|&i| Ok(self.entry(entries, i)?.0)).collect()
    }

    /// `indices.map(i => ({ key: row.key, label: row.label, … }))` over `entries[i].value`.
    fn entry_infos(&self, entries: &Self::Val, indices: &[usize]) -> Result<Self::Val, Self::Err> {
        let mut infos = Vec::with_capacity(indices.len());
        for &i in indices {
            let (_, row) = self.entry(entries, i)?;
            let mut props = Vec::with_capacity(INFO.len());
            for f in INFO {
                props.push((f, self.get(&row, f)?));
            }
            infos.push(self.object(&refs(&props)));
        }
        Ok(self.array(infos))
    }

    /// `list.map(x => x[name])`, `list` being an array.
    fn pluck(&self, list: &Self::Val, name: Field) -> Result<Self::Val, Self::Err> {
        let items = self.array_items(list).unwrap_or_default();
        let plucked = items.iter().map(|x| self.get(x, name)).collect::<Result<Vec<_>, _>>()?;
        Ok(self.array(plucked))
    }
}

/// The caller's metadata KV (`IKvStorage<string, CredentialMetadataRow>`).
/// Each call is awaited before the next one; none holds a lock. The store
/// awaits every returned future at once, so an implementation may make the
/// host call when the method is called (the JS binding does).
pub trait MetadataKv<V: Values> {
    fn get(&self, id: &V::Val) -> impl Future<Output = Result<V::Val, V::Err>>;
    fn put(&self, id: &V::Val, row: &V::Val) -> impl Future<Output = Result<(), V::Err>>;
    fn delete(&self, id: &V::Val) -> impl Future<Output = Result<(), V::Err>>;
    /// The raw result of `getAll()`: an array of `{ key, value }`, or undefined.
    fn get_all(&self) -> impl Future<Output = Result<V::Val, V::Err>>;
    /// The optional capability `getByPrefix(prefix)`: the `{ key, value }`
    /// entries whose key starts with `prefix`. `None` when the KV lacks it.
    fn get_by_prefix(&self, _prefix: &V::Val) -> impl Future<Output = Option<Result<V::Val, V::Err>>> {
        core::future::ready(None)
    }
}

/// The caller's vault: holds the secret bytes, keyed by vault id.
pub trait SecretVault<V: Values> {
    fn set_secret(&self, id: &V::Val, secret: &V::Val) -> impl Future<Output = Result<(), V::Err>>;
    fn get_secret(&self, id: &V::Val) -> impl Future<Output = Result<V::Val, V::Err>>;
    fn delete_secret(&self, id: &V::Val) -> impl Future<Output = Result<(), V::Err>>;
}

/// The host's `Date`, read at each use so fake timers apply.
pub trait Clock<V: Values> {
    /// `new Date().toISOString()`
    fn now_iso(&self) -> Result<V::Val, V::Err>;
    /// `+new Date()`
    fn now_ms(&self) -> Result<f64, V::Err>;
    /// `+new Date(v)`: NaN for an unparseable date.
    fn date_ms(&self, v: &V::Val) -> Result<f64, V::Err>;
    /// `+new Date(row.expiresAt)`, then `+new Date()`: what an expiry check
    /// reads, in the TS store's order. A host may do both in one crossing.
    fn expiry_and_now(&self, v: &V, row: &V::Val) -> Result<(f64, f64), V::Err> {
        let at = self.date_ms(&v.get(row, Field::ExpiresAt)?)?;
        Ok((at, self.now_ms()?))
    }
    /// Strict mode: a version token for a fresh vault id, unique across
    /// processes (time and randomness); `[A-Za-z0-9-]`, at most 64 chars.
    fn version_token(&self) -> String;
}

/// The public object the caller holds. The TypeScript store's `get`/`has`
/// call `this.delete(key)` on an expired row and `keys` calls
/// `this.listMetadata()`, so a subclass override or an instance spy sees
/// those calls. `None`: there is no such method; the store uses its own.
pub trait Facade<V: Values> {
    fn delete(&self, key: &V::Val) -> impl Future<Output = Option<Result<V::Val, V::Err>>>;
    fn list_metadata(&self) -> impl Future<Output = Option<Result<V::Val, V::Err>>>;
}

/// No public object: the store calls its own methods.
pub struct NoFacade;

impl<V: Values> Facade<V> for NoFacade {
    fn delete(&self, _key: &V::Val) -> impl Future<Output = Option<Result<V::Val, V::Err>>> {
        core::future::ready(None)
    }
    fn list_metadata(&self) -> impl Future<Output = Option<Result<V::Val, V::Err>>> {
        core::future::ready(None)
    }
}

/// `(field, &value)` pairs of owned ones, for [`Values::object`] and [`Values::spread`].
pub fn refs<T>(props: &[(Field, T)]) -> Vec<(Field, &T)> {
    props.iter().map(|(f, v)| (*f, v)).collect()
}
