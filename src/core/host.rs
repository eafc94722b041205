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

use super::row::{Carried, Field, RowState, INFO};

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
    /// A value as something thrown (JavaScript can throw any value).
    fn thrown(&self, v: Self::Val) -> Self::Err;
    /// JavaScript's ToString, as `RegExp#test` applies it (a Symbol, or a
    /// `toString` that throws, throws). Text the host cannot give as UTF-8
    /// (lone surrogates) is replaced by U+FFFD: the key grammar is ASCII.
    fn to_text(&self, v: &Self::Val) -> Result<String, Self::Err>;
    /// `` `${a}${b}` ``: ids are built host-side so they need not cross as text.
    fn template(&self, a: &Self::Val, b: &Self::Val) -> Result<Self::Val, Self::Err>;
    /// `id.slice(prefix.length)`, both strings: a KV id's key as the host's own text.
    fn key_of_id(&self, id: &Self::Val, prefix: &Self::Val) -> Self::Val;
    /// `s.startsWith(prefix)` as JavaScript calls it: a non-string `s`
    /// throws the host's TypeError.
    fn call_starts_with(&self, s: &Self::Val, prefix: &Self::Val) -> Result<bool, Self::Err>;
    /// `v[name]`: a getter may throw, and so does `v` null or undefined.
    fn member(&self, v: &Self::Val, name: Field) -> Result<Self::Val, Self::Err>;
    /// `[...v]`, as `for…of` iterates: a non-iterable throws the host's TypeError.
    fn iterate(&self, v: &Self::Val) -> Result<Vec<Self::Val>, Self::Err>;
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

    /// SPEC §2 for a key: `SAFE_SEGMENT.test(key)` on its ToString (`is_key`
    /// is the grammar), then the id `` `${prefix}${key}` ``; `None` when the
    /// key fails the grammar (no id is built), `Err` when ToString throws.
    fn key_id(
        &self,
        prefix: &Self::Val,
        key: &Self::Val,
        is_key: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Option<Self::Val>, Self::Err> {
        if !is_key(self.to_text(key)?.as_bytes()) {
            return Ok(None);
        }
        self.template(prefix, key).map(Some)
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

    /// delete's reads (SPEC §3): only `row === undefined` is missing, then
    /// `row.pending === true` read as JavaScript reads it (`null.pending`
    /// throws the host's TypeError); anything else is committed.
    fn delete_state(&self, row: &Self::Val) -> Result<RowState, Self::Err> {
        if self.is_undefined(row) {
            return Ok(RowState::Missing);
        }
        if self.is_true(&self.member(row, Field::Pending)?) {
            return Ok(RowState::Pending);
        }
        Ok(RowState::Committed { expires: false })
    }

    /// listMetadata's loop (SPEC §4) over a truthy listing answer `all`:
    /// `for (const entry of all)`, `entry.key.startsWith(prefix)`, the row's
    /// scope, `pending === true`, `expired(row)` when `row.expiresAt !==
    /// undefined`, then the info `{ key, label, provider, createdAt,
    /// updatedAt, expiresAt }`, each entry read whole before the next.
    fn list_infos(
        &self,
        all: &Self::Val,
        scope: [&Self::Val; 3],
        expired: &dyn Fn(&Self::Val) -> Result<bool, Self::Err>,
    ) -> Result<Self::Val, Self::Err> {
        let mut out = Vec::new();
        for entry in self.iterate(all)? {
            let Some(row) = self.scoped_row(&entry, scope)? else { continue };
            if self.is_true(&self.member(&row, Field::Pending)?) {
                continue;
            }
            if !self.is_undefined(&self.member(&row, Field::ExpiresAt)?) && expired(&row)? {
                continue;
            }
            let mut props = Vec::with_capacity(INFO.len());
            for f in INFO {
                props.push((f, self.member(&row, f)?));
            }
            out.push(self.object(&refs(&props)));
        }
        Ok(self.array(out))
    }

    /// deleteAll's scan (SPEC §4): the same loop up to its scope check, each
    /// in-scope entry's `entry.key` (read again, as the loop pushes it) and,
    /// when `rows`, its row (else undefined).
    fn scan_scope(
        &self,
        all: &Self::Val,
        scope: [&Self::Val; 3],
        rows: bool,
    ) -> Result<Vec<(Self::Val, Self::Val)>, Self::Err> {
        let mut out = Vec::new();
        for entry in self.iterate(all)? {
            let Some(row) = self.scoped_row(&entry, scope)? else { continue };
            out.push((self.member(&entry, Field::Key)?, if rows { row } else { self.undefined() }));
        }
        Ok(out)
    }

    /// One entry's scope check, `scope` being `[prefix, userId, projectId]`:
    /// `entry.key.startsWith(prefix)`, then `row = entry.value`, `row.userId
    /// !== userId || row.projectId !== projectId`. The row when in scope.
    fn scoped_row(
        &self,
        entry: &Self::Val,
        [prefix, user_id, project_id]: [&Self::Val; 3],
    ) -> Result<Option<Self::Val>, Self::Err> {
        if !self.call_starts_with(&self.member(entry, Field::Key)?, prefix)? {
            return Ok(None);
        }
        let row = self.member(entry, Field::Value)?;
        let in_scope = self.strict_eq(&self.member(&row, Field::UserId)?, user_id)
            && self.strict_eq(&self.member(&row, Field::ProjectId)?, project_id);
        Ok(in_scope.then_some(row))
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
    /// The optional capability of conditional writes, `putIf(id, row,
    /// expected)`: writes only if the row stored now is the row `expected`
    /// that `get` returned (undefined: only if there is none), and answers
    /// whether it wrote. `None` when the KV lacks it (strict mode then relies
    /// on its in-process write turns).
    fn put_if(
        &self,
        _id: &V::Val,
        _row: &V::Val,
        _expected: &V::Val,
    ) -> impl Future<Output = Option<Result<bool, V::Err>>> {
        core::future::ready(None)
    }
    /// `deleteIf(id, expected)`: deletes only if the row stored now is `expected`.
    fn delete_if(&self, _id: &V::Val, _expected: &V::Val) -> impl Future<Output = Option<Result<bool, V::Err>>> {
        core::future::ready(None)
    }
}

/// The caller's vault: holds the secret bytes, keyed by vault id.
pub trait SecretVault<V: Values> {
    fn set_secret(&self, id: &V::Val, secret: &V::Val) -> impl Future<Output = Result<(), V::Err>>;
    fn get_secret(&self, id: &V::Val) -> impl Future<Output = Result<V::Val, V::Err>>;
    fn delete_secret(&self, id: &V::Val) -> impl Future<Output = Result<(), V::Err>>;
    /// The optional capability `listIds(prefix)`: every vault id starting
    /// with `prefix`, as an array of strings. `None` when the vault lacks it.
    fn list_ids(&self, _prefix: &V::Val) -> impl Future<Output = Option<Result<V::Val, V::Err>>> {
        core::future::ready(None)
    }
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
