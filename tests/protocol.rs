//! Every path of SPEC §2–§5 on the native core, with fakes that record the
//! host-call sequence and fail any single call.

mod common;

use std::rc::Rc;

use common::exec::{block_on, Pool};
use common::fake::{iso, Js, World, T0};
use server_credential_store_wasm::core::{DeleteOp, StoreError};

const SECRET: &str = "s3cr3t-value-never-in-errors";

fn world() -> (Rc<World>, Rc<common::fake::FakeStore>) {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    (w, s)
}

fn run<T: 'static>(f: impl std::future::Future<Output = T> + 'static) -> T {
    block_on(f)
}

fn put(s: &Rc<common::fake::FakeStore>, key: &str, value: &Js, options: Js) -> Result<(), StoreError<Js>> {
    let (s, k, v) = (s.clone(), Js::s(key), value.clone());
    run(async move { s.put(&k, &v, &options).await })
}

fn get(s: &Rc<common::fake::FakeStore>, key: &Js) -> Result<Js, StoreError<Js>> {
    let (s, k) = (s.clone(), key.clone());
    run(async move { s.get(&k).await })
}

fn has(s: &Rc<common::fake::FakeStore>, key: &Js) -> Result<bool, StoreError<Js>> {
    let (s, k) = (s.clone(), key.clone());
    run(async move { s.has(&k).await })
}

fn delete(s: &Rc<common::fake::FakeStore>, key: &Js) -> Result<bool, StoreError<Js>> {
    let (s, k) = (s.clone(), key.clone());
    run(async move { s.delete(&k).await })
}

fn list(s: &Rc<common::fake::FakeStore>) -> Result<Js, StoreError<Js>> {
    let s = s.clone();
    run(async move { s.list_metadata().await })
}

fn delete_all(s: &Rc<common::fake::FakeStore>) -> Result<(), StoreError<Js>> {
    let s = s.clone();
    run(async move { s.delete_all().await })
}

/// A store over `w` with scope ids given as host values.
fn store_of(w: &Rc<World>, u: &Js, p: &Js) -> Result<common::fake::FakeStore, StoreError<Js>> {
    server_credential_store_wasm::core::Store::new(
        common::fake::FakeValues,
        common::fake::FakeKv(w.clone()),
        common::fake::FakeVault(w.clone()),
        common::fake::FakeClock(w.clone()),
        u,
        p,
    )
}

fn no_opts() -> Js {
    Js::Undefined
}

/// A committed row as the TypeScript store writes it (SPEC §3).
fn ts_row(key: &str, extra: &[(&str, Js)]) -> Js {
    let row = Js::obj(&[
        ("userId", Js::s("u1")),
        ("projectId", Js::s("p1")),
        ("key", Js::s(key)),
        ("label", Js::Undefined),
        ("provider", Js::Undefined),
        ("createdAt", Js::s("2025-01-01T00:00:00.000Z")),
        ("updatedAt", Js::s("2025-01-01T00:00:00.000Z")),
        ("expiresAt", Js::Undefined),
    ]);
    for (k, v) in extra {
        common::fake::set(&row, k, v.clone());
    }
    row
}

fn seed(w: &World, key: &str, extra: &[(&str, Js)], secret: &str) {
    let id = format!("u1/p1/{key}");
    w.set_row(&id, ts_row(key, extra));
    w.secrets.borrow_mut().insert(id, Js::s(secret));
}

fn host_err(e: StoreError<Js>) -> Js {
    match e {
        StoreError::Host(v) => v,
        other => panic!("expected a raw rethrow, got {other}"),
    }
}

const ROW_KEYS: [&str; 8] = ["userId", "projectId", "key", "label", "provider", "createdAt", "updatedAt", "expiresAt"];

fn keys_with(extra: &[&str]) -> Vec<String> {
    ROW_KEYS.iter().chain(extra).map(|s| s.to_string()).collect()
}

// ---- §2 construction -------------------------------------------------------

#[test]
fn construction_rejects_bad_scope_without_echoing_it() {
    let w = World::new();
    // Tested after ToString: an object is "[object Object]" (a space), an array its joined items.
    let bad = [
        Js::s(""),
        Js::s("a/b"),
        Js::s(&"x".repeat(129)),
        Js::s("é"),
        Js::obj(&[]),
        Js::Arr(Rc::new(vec![Js::s("a/b")])),
        Js::Arr(Rc::new(vec![])),
    ];
    for b in &bad {
        for (u, p) in [(b.clone(), Js::s("p")), (Js::s("u"), b.clone())] {
            let r = store_of(&w, &u, &p);
            let Err(e) = r else { panic!("{u:?}/{p:?} accepted") };
            assert!(matches!(e, StoreError::InvalidScope));
            assert_eq!(e.to_string(), "ServerCredentialStore: invalid userId/projectId");
        }
    }
    let ok = w.store(&"u".repeat(128), "a.B_c:d-9");
    assert_eq!(ok.scope().prefix(), format!("{}/a.B_c:d-9/", "u".repeat(128)));
    assert!(w.take_calls().is_empty(), "construction touches no host object");
}

#[test]
fn construction_converts_scope_ids_with_to_string_and_keeps_them_as_given() {
    let w = World::new();
    for (u, p, prefix) in [
        (Js::Num(42.0), Js::s("p"), "42/p/"),
        (Js::Null, Js::Undefined, "null/undefined/"),
        (Js::Arr(Rc::new(vec![Js::s("u")])), Js::Bool(true), "u/true/"),
    ] {
        let s = Rc::new(store_of(&w, &u, &p).unwrap_or_else(|_| panic!("{u:?}/{p:?} refused")));
        assert_eq!(s.scope().prefix(), prefix);
        put(&s, "k", &Js::s(SECRET), no_opts()).unwrap();
        let row = w.row(&format!("{prefix}k"));
        assert!(row.prop("userId").same(&u) && row.prop("projectId").same(&p), "rows carry the ids as given");
        assert_eq!(list(&s).unwrap().items().len(), 1, "the scope check compares the ids as given");
    }
}

// ---- §4 get / has ----------------------------------------------------------

#[test]
fn get_of_invalid_key_is_undefined_without_host_calls() {
    let (w, s) = world();
    let empty = Js::Arr(Rc::new(vec![]));
    for k in [Js::s("a/b"), Js::s(""), empty, Js::obj(&[]), Js::s(&"k".repeat(129))] {
        assert!(matches!(get(&s, &k).unwrap(), Js::Undefined));
        assert!(!has(&s, &k).unwrap());
        assert!(!delete(&s, &k).unwrap());
    }
    assert!(w.take_calls().is_empty());
}

#[test]
fn non_string_keys_address_their_to_string() {
    let (w, s) = world();
    for (k, id) in
        [(Js::Num(5.0), "u1/p1/5"), (Js::Null, "u1/p1/null"), (Js::Arr(Rc::new(vec![Js::s("k")])), "u1/p1/k")]
    {
        w.take_calls();
        assert!(matches!(get(&s, &k).unwrap(), Js::Undefined));
        assert_eq!(w.take_calls(), [format!("metadata.get {id}")]);
    }
    let (s2, k) = (s.clone(), Js::Num(42.0));
    run(async move { s2.put(&k, &Js::s(SECRET), &Js::Undefined).await }).unwrap();
    let row = w.row("u1/p1/42");
    assert!(row.prop("key").same(&Js::Num(42.0)), "the row keeps the key as given");
    assert!(has(&s, &Js::s("42")).unwrap());
    assert!(delete(&s, &Js::Num(42.0)).unwrap());
}

#[test]
fn get_reads_row_then_vault_and_returns_the_vaults_value_itself() {
    let (w, s) = world();
    let secret = Js::obj(&[("not", Js::s("a string"))]);
    w.set_row("u1/p1/k", ts_row("k", &[]));
    w.secrets.borrow_mut().insert("u1/p1/k".into(), secret.clone());
    assert!(get(&s, &Js::s("k")).unwrap().same(&secret));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "vault.getSecret u1/p1/k"]);
    assert!(has(&s, &Js::s("k")).unwrap());
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k"], "has never touches the vault");
}

#[test]
fn missing_falsy_and_pending_rows_read_as_absent() {
    let (w, s) = world();
    for row in [Js::Undefined, Js::Null, Js::Bool(false), Js::Num(0.0), Js::s("")] {
        w.set_row("u1/p1/k", row);
        assert!(matches!(get(&s, &Js::s("k")).unwrap(), Js::Undefined));
        assert_eq!(w.take_calls(), ["metadata.get u1/p1/k"]);
    }
    w.set_row("u1/p1/k", ts_row("k", &[("pending", Js::Bool(true))]));
    assert!(matches!(get(&s, &Js::s("k")).unwrap(), Js::Undefined));
    assert!(!has(&s, &Js::s("k")).unwrap());
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "metadata.get u1/p1/k"]);
    // Only `pending === true` hides a row.
    for pending in [Js::Bool(false), Js::s("true"), Js::Num(1.0), Js::Null] {
        seed(&w, "k", &[("pending", pending)], "v");
        assert!(has(&s, &Js::s("k")).unwrap());
    }
}

#[test]
fn expired_row_is_deleted_by_get_and_reads_as_absent() {
    let (w, s) = world();
    seed(&w, "k", &[("expiresAt", Js::s(&iso(T0 - 1.0)))], "v");
    assert!(matches!(get(&s, &Js::s("k")).unwrap(), Js::Undefined));
    assert_eq!(
        w.take_calls(),
        ["metadata.get u1/p1/k", "metadata.get u1/p1/k", "metadata.delete u1/p1/k", "vault.deleteSecret u1/p1/k"]
    );
    assert!(w.row("u1/p1/k").same(&Js::Undefined));
    assert!(w.secret("u1/p1/k").is_none());
}

#[test]
fn expiry_is_inclusive_null_is_epoch_and_unparseable_never_expires() {
    let (w, s) = world();
    seed(&w, "now", &[("expiresAt", Js::s(&iso(T0)))], "v");
    assert!(!has(&s, &Js::s("now")).unwrap(), "expiresAt == now is expired");
    seed(&w, "null", &[("expiresAt", Js::Null)], "v");
    assert!(!has(&s, &Js::s("null")).unwrap(), "null is new Date(0)");
    seed(&w, "later", &[("expiresAt", Js::s(&iso(T0 + 1.0)))], "v");
    assert!(has(&s, &Js::s("later")).unwrap());
    seed(&w, "garbage", &[("expiresAt", Js::s("not a date"))], "v");
    assert!(has(&s, &Js::s("garbage")).unwrap(), "NaN is never <= now");
    seed(&w, "epoch-num", &[("expiresAt", Js::Num(5.0))], "v");
    assert!(!has(&s, &Js::s("epoch-num")).unwrap());
}

#[test]
fn get_swallows_a_failure_of_the_expiry_delete() {
    let (w, s) = world();
    seed(&w, "k", &[("expiresAt", Js::s(&iso(T0 - 1.0)))], "v");
    w.fail("vault", "deleteSecret", 0, &Js::error("Error", "vault down"));
    assert!(matches!(get(&s, &Js::s("k")).unwrap(), Js::Undefined));
    // The delete's own marker is still written (it is delete's behaviour).
    let marker = w.row("u1/p1/k");
    assert_eq!(marker.prop("orphanReason").str(), Some("vault-delete-failed"));
}

#[test]
fn get_rejects_raw_when_a_host_call_fails() {
    let (w, s) = world();
    let e = Js::error("Error", "kv down");
    w.fail("metadata", "get", 0, &e);
    assert!(host_err(get(&s, &Js::s("k")).unwrap_err()).same(&e));
    seed(&w, "k", &[], "v");
    let e2 = Js::s("a plain string rejection");
    w.fail("vault", "getSecret", 0, &e2);
    assert!(host_err(get(&s, &Js::s("k")).unwrap_err()).same(&e2));
}

#[test]
fn a_throwing_row_getter_rejects_with_that_value() {
    let (w, s) = world();
    let e = Js::error("Error", "getter");
    w.set_row("u1/p1/k", Js::obj_throwing(&[], "pending", e.clone()));
    assert!(host_err(get(&s, &Js::s("k")).unwrap_err()).same(&e));
    // …and the store still works afterwards.
    seed(&w, "j", &[], "v");
    assert!(has(&s, &Js::s("j")).unwrap());
}

// ---- §4 put ----------------------------------------------------------------

#[test]
fn new_put_writes_pending_then_vault_then_commit_with_exact_rows() {
    let (w, s) = world();
    let value = Js::s(SECRET);
    let opts = Js::obj(&[("label", Js::s("L")), ("provider", Js::s("P"))]);
    put(&s, "k", &value, opts).unwrap();
    let calls = w.take_full_calls();
    let short: Vec<_> = calls.iter().map(|c| c.short()).collect();
    assert_eq!(
        short,
        ["metadata.get u1/p1/k", "metadata.put u1/p1/k", "vault.setSecret u1/p1/k", "metadata.put u1/p1/k"]
    );
    let now = iso(T0);
    let expect = |pending: bool| {
        format!(
            "{{userId: \"u1\", projectId: \"p1\", key: \"k\", label: \"L\", provider: \"P\", createdAt: {now:?}, updatedAt: {now:?}, expiresAt: undefined, pending: {pending}}}"
        )
    };
    assert_eq!(format!("{:?}", calls[1].arg.as_ref().unwrap()), expect(true));
    assert!(calls[2].arg.as_ref().unwrap().same(&value), "the value reaches the vault untouched");
    assert_eq!(format!("{:?}", calls[3].arg.as_ref().unwrap()), expect(false));
    assert!(!calls[1].arg.as_ref().unwrap().same(calls[3].arg.as_ref().unwrap()), "each write is a fresh object");
}

#[test]
fn put_of_invalid_key_rejects_with_type_error_and_no_host_call() {
    let (w, s) = world();
    for k in ["", "a/b", "../x", "ключ"] {
        let e = put(&s, k, &Js::s(SECRET), no_opts()).unwrap_err();
        assert!(matches!(e, StoreError::InvalidKey));
        assert_eq!(e.to_string(), "ServerCredentialStore: invalid key");
    }
    let (s2, k) = (s.clone(), Js::obj(&[]));
    assert!(matches!(run(async move { s2.put(&k, &Js::Null, &Js::Undefined).await }), Err(StoreError::InvalidKey)));
    assert!(w.take_calls().is_empty());
}

#[test]
fn update_writes_vault_then_base_row_carrying_over_fields() {
    let (w, s) = world();
    seed(
        &w,
        "k",
        &[
            ("label", Js::s("old")),
            ("provider", Js::s("prov")),
            ("expiresAt", Js::s("2099-01-01T00:00:00.000Z")),
            ("pending", Js::Bool(false)),
            ("extra", Js::s("x")),
        ],
        "v1",
    );
    w.now_ms.set(T0 + 5000.0);
    put(&s, "k", &Js::s("v2"), Js::obj(&[("label", Js::s("new"))])).unwrap();
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "vault.setSecret u1/p1/k", "metadata.put u1/p1/k"]);
    let row = w.row("u1/p1/k");
    assert_eq!(row.keys(), keys_with(&[]), "base carries no other field, not even pending");
    assert_eq!(row.prop("label").str(), Some("new"));
    assert_eq!(row.prop("provider").str(), Some("prov"));
    assert_eq!(row.prop("createdAt").str(), Some("2025-01-01T00:00:00.000Z"));
    assert_eq!(row.prop("updatedAt").str(), Some(iso(T0 + 5000.0).as_str()));
    assert_eq!(row.prop("expiresAt").str(), Some("2099-01-01T00:00:00.000Z"));
    assert_eq!(w.secret("u1/p1/k").unwrap().str(), Some("v2"));
}

#[test]
fn update_takes_expires_at_from_options_and_label_null_falls_back() {
    let (w, s) = world();
    seed(&w, "k", &[("label", Js::s("keep"))], "v1");
    let opts = Js::obj(&[("label", Js::Null), ("expiresAt", Js::Date(T0 + 60_000.0))]);
    put(&s, "k", &Js::s("v2"), opts).unwrap();
    let row = w.row("u1/p1/k");
    assert_eq!(row.prop("label").str(), Some("keep"), "`??` treats null as absent");
    assert_eq!(row.prop("expiresAt").str(), Some(iso(T0 + 60_000.0).as_str()));
}

#[test]
fn a_pending_existing_row_is_updated_not_recreated() {
    let (w, s) = world();
    seed(&w, "k", &[("pending", Js::Bool(true))], "v1");
    put(&s, "k", &Js::s("v2"), no_opts()).unwrap();
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "vault.setSecret u1/p1/k", "metadata.put u1/p1/k"]);
    assert!(!w.row("u1/p1/k").has_own("pending"), "the update row drops pending");
}

#[test]
fn a_null_existing_row_takes_the_update_path() {
    let (w, s) = world();
    w.set_row("u1/p1/k", Js::Null);
    put(&s, "k", &Js::s("v"), no_opts()).unwrap();
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "vault.setSecret u1/p1/k", "metadata.put u1/p1/k"]);
    assert_eq!(w.row("u1/p1/k").prop("createdAt").str(), Some(iso(T0).as_str()));
}

#[test]
fn invalid_expires_at_rejects_with_the_hosts_error_after_reading_the_row() {
    let (w, s) = world();
    let e = put(&s, "k", &Js::s(SECRET), Js::obj(&[("expiresAt", Js::Date(f64::NAN))])).unwrap_err();
    assert_eq!(host_err(e).prop("name").str(), Some("RangeError"));
    let e = put(&s, "k", &Js::s(SECRET), Js::obj(&[("expiresAt", Js::s("tomorrow"))])).unwrap_err();
    assert_eq!(host_err(e).prop("name").str(), Some("TypeError"));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "metadata.get u1/p1/k"]);
    // A falsy expiresAt is ignored, as `options.expiresAt ? … : …` does.
    put(&s, "k", &Js::s(SECRET), Js::obj(&[("expiresAt", Js::s(""))])).unwrap();
}

#[test]
fn new_put_whose_pending_write_fails_rejects_raw_and_never_touches_the_vault() {
    let (w, s) = world();
    let e = Js::error("Error", "kv put");
    w.fail("metadata", "put", 0, &e);
    assert!(host_err(put(&s, "k", &Js::s(SECRET), no_opts()).unwrap_err()).same(&e));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "metadata.put u1/p1/k"]);
    assert!(w.secrets.borrow().is_empty());
}

#[test]
fn vault_write_failure_rolls_back_the_pending_row_and_rejects_raw() {
    let (w, s) = world();
    let e = Js::error("Error", "vault");
    w.fail("vault", "setSecret", 0, &e);
    assert!(host_err(put(&s, "k", &Js::s(SECRET), no_opts()).unwrap_err()).same(&e));
    assert_eq!(
        w.take_calls(),
        ["metadata.get u1/p1/k", "metadata.put u1/p1/k", "vault.setSecret u1/p1/k", "metadata.delete u1/p1/k"]
    );
    assert!(w.rows.borrow().is_empty());
}

#[test]
fn vault_write_and_rollback_failure_leave_a_vault_write_failed_marker() {
    let (w, s) = world();
    let (e, d) = (Js::error("Error", "vault"), Js::error("Error", "rollback"));
    w.fail("vault", "setSecret", 0, &e);
    w.fail("metadata", "delete", 0, &d);
    w.now_ms.set(T0 + 7.0);
    let err = put(&s, "k", &Js::s(SECRET), Js::obj(&[("label", Js::s("L"))])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id u1/p1/k"
    );
    let StoreError::VaultWriteOrphaned { cause, .. } = err else { panic!() };
    assert!(cause.same(&e), "cause is the vault's error itself");
    assert_eq!(w.take_calls().len(), 5);
    let marker = w.row("u1/p1/k");
    assert_eq!(marker.keys(), keys_with(&["pending", "orphanedAt", "orphanReason"]));
    assert!(matches!(marker.prop("pending"), Js::Bool(true)));
    assert_eq!(marker.prop("orphanedAt").str(), Some(iso(T0 + 7.0).as_str()));
    assert_eq!(marker.prop("orphanReason").str(), Some("vault-write-failed"));
    assert_eq!(marker.prop("label").str(), Some("L"));
}

#[test]
fn a_failed_marker_write_does_not_change_the_put_error() {
    let (w, s) = world();
    let e = Js::error("Error", "vault");
    w.fail("vault", "setSecret", 0, &e);
    w.fail("metadata", "delete", 0, &Js::Null);
    w.fail("metadata", "put", 1, &Js::Null); // the marker write
    let err = put(&s, "k", &Js::s(SECRET), no_opts()).unwrap_err();
    assert!(matches!(&err, StoreError::VaultWriteOrphaned { cause, .. } if cause.same(&e)));
    // The pending row is still there, invisible.
    assert!(matches!(w.row("u1/p1/k").prop("pending"), Js::Bool(true)));
    assert!(!has(&s, &Js::s("k")).unwrap());
}

#[test]
fn commit_failure_keeps_the_vault_bytes_and_leaves_a_commit_marker() {
    let (w, s) = world();
    let c = Js::error("Error", "commit");
    w.fail("metadata", "put", 1, &c);
    let err = put(&s, "k", &Js::s(SECRET), no_opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id u1/p1/k; row left as orphan marker"
    );
    assert!(matches!(&err, StoreError::CommitOrphaned { cause, .. } if cause.same(&c)));
    assert_eq!(
        w.take_calls(),
        [
            "metadata.get u1/p1/k",
            "metadata.put u1/p1/k",
            "vault.setSecret u1/p1/k",
            "metadata.put u1/p1/k",
            "metadata.put u1/p1/k"
        ]
    );
    assert_eq!(w.row("u1/p1/k").prop("orphanReason").str(), Some("metadata-commit-failed"));
    assert_eq!(w.secret("u1/p1/k").unwrap().str(), Some(SECRET));
    assert!(!delete(&s, &Js::s("k")).unwrap(), "delete leaves a marker alone");
}

#[test]
fn update_failures_reject_raw_and_roll_nothing_back() {
    let (w, s) = world();
    seed(&w, "k", &[], "v1");
    let e = Js::error("Error", "vault");
    w.fail("vault", "setSecret", 0, &e);
    assert!(host_err(put(&s, "k", &Js::s("v2"), no_opts()).unwrap_err()).same(&e));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "vault.setSecret u1/p1/k"]);
    let m = Js::error("Error", "kv");
    w.fail("metadata", "put", 0, &m);
    assert!(host_err(put(&s, "k", &Js::s("v3"), no_opts()).unwrap_err()).same(&m));
    assert_eq!(w.secret("u1/p1/k").unwrap().str(), Some("v3"), "the vault keeps the new value");
    assert_eq!(w.row("u1/p1/k").prop("updatedAt").str(), Some("2025-01-01T00:00:00.000Z"));
}

// ---- §4 delete -------------------------------------------------------------

#[test]
fn delete_removes_metadata_first_then_the_vault() {
    let (w, s) = world();
    seed(&w, "k", &[], "v");
    assert!(delete(&s, &Js::s("k")).unwrap());
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "metadata.delete u1/p1/k", "vault.deleteSecret u1/p1/k"]);
    assert!(!delete(&s, &Js::s("k")).unwrap());
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k"]);
}

#[test]
fn delete_reads_odd_rows_as_the_ts_store_does() {
    let (w, s) = world();
    // `null.pending` throws: the host's error, nothing deleted.
    w.set_row("u1/p1/k", Js::Null);
    w.secrets.borrow_mut().insert("u1/p1/k".into(), Js::s("v"));
    assert!(matches!(delete(&s, &Js::s("k")), Err(StoreError::Host(_))));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k"]);
    // Falsy but defined rows are committed rows: deleted.
    for odd in [Js::Num(0.0), Js::s(""), Js::Bool(false)] {
        w.set_row("u1/p1/k", odd);
        w.secrets.borrow_mut().insert("u1/p1/k".into(), Js::s("v"));
        assert!(delete(&s, &Js::s("k")).unwrap());
        assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "metadata.delete u1/p1/k", "vault.deleteSecret u1/p1/k"]);
        assert!(w.secret("u1/p1/k").is_none());
    }
    // get/has read `!row`: missing.
    w.set_row("u1/p1/k", Js::Num(0.0));
    assert!(!has(&s, &Js::s("k")).unwrap());
}

#[test]
fn delete_of_pending_row_touches_nothing() {
    let (w, s) = world();
    seed(&w, "k", &[("pending", Js::Bool(true))], "v");
    assert!(!delete(&s, &Js::s("k")).unwrap());
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k"]);
    assert!(w.secret("u1/p1/k").is_some());
}

#[test]
fn delete_whose_metadata_delete_fails_rejects_raw_and_keeps_the_vault() {
    let (w, s) = world();
    seed(&w, "k", &[], "v");
    let e = Js::error("Error", "kv");
    w.fail("metadata", "delete", 0, &e);
    assert!(host_err(delete(&s, &Js::s("k")).unwrap_err()).same(&e));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "metadata.delete u1/p1/k"]);
    assert!(w.secret("u1/p1/k").is_some());
}

#[test]
fn vault_delete_failure_leaves_a_marker_spreading_the_whole_row() {
    let (w, s) = world();
    seed(&w, "k", &[("custom", Js::s("kept")), ("pending", Js::Bool(false))], "v");
    let e = Js::error("Error", "vault");
    w.fail("vault", "deleteSecret", 0, &e);
    w.now_ms.set(T0 + 9.0);
    let err = delete(&s, &Js::s("k")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ServerCredentialStore.delete: metadata removed but vault delete failed for key k; orphan marker persisted"
    );
    assert!(
        matches!(&err, StoreError::VaultDeleteOrphaned { cause, op: DeleteOp::Delete, marker_persisted: true, .. } if cause.same(&e))
    );
    let marker = w.row("u1/p1/k");
    assert_eq!(
        marker.keys(),
        keys_with(&["custom", "pending", "orphanedAt", "orphanReason"]),
        "pending keeps its place"
    );
    assert_eq!(marker.prop("custom").str(), Some("kept"));
    assert!(matches!(marker.prop("pending"), Js::Bool(true)));
    assert_eq!(marker.prop("orphanedAt").str(), Some(iso(T0 + 9.0).as_str()));
    assert_eq!(marker.prop("orphanReason").str(), Some("vault-delete-failed"));
}

#[test]
fn vault_delete_failure_whose_marker_also_fails_says_so() {
    let (w, s) = world();
    seed(&w, "k", &[], "v");
    w.fail("vault", "deleteSecret", 0, &Js::Num(42.0));
    w.fail("metadata", "put", 0, &Js::Null);
    let err = delete(&s, &Js::s("k")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ServerCredentialStore.delete: metadata removed but vault delete failed for key k; orphan marker also failed to persist"
    );
    assert!(matches!(&err, StoreError::VaultDeleteOrphaned { cause: Js::Num(n), .. } if *n == 42.0));
}

// ---- §4 listMetadata / keys ------------------------------------------------

#[test]
fn list_metadata_keeps_only_committed_unexpired_rows_of_this_scope_in_kv_order() {
    let (w, s) = world();
    seed(&w, "b", &[("label", Js::s("B")), ("custom", Js::s("never listed"))], "v");
    seed(&w, "pending", &[("pending", Js::Bool(true))], "v");
    seed(&w, "expired", &[("expiresAt", Js::s(&iso(T0 - 1.0)))], "v");
    w.set_row("u1/p2/x", ts_row("x", &[]));
    w.set_row("u1/p1x/y", ts_row("y", &[]));
    let foreign = ts_row("z", &[]);
    common::fake::set(&foreign, "userId", Js::s("u2"));
    w.set_row("u1/p1/z", foreign);
    seed(&w, "a", &[], "v");
    let list = list(&s).unwrap().items();
    assert_eq!(list.len(), 2);
    assert_eq!(format!("{:?}", list[0]), "{key: \"b\", label: \"B\", provider: undefined, createdAt: \"2025-01-01T00:00:00.000Z\", updatedAt: \"2025-01-01T00:00:00.000Z\", expiresAt: undefined}");
    assert_eq!(list[1].prop("key").str(), Some("a"));
    assert_eq!(w.take_calls(), ["metadata.getAll"], "listing never deletes expired rows nor reads the vault");
    let s2 = s.clone();
    let keys = run(async move { s2.keys().await }).unwrap();
    assert_eq!(format!("{keys:?}"), "[\"b\", \"a\"]");
}

#[test]
fn falsy_get_all_lists_nothing_and_a_non_iterable_rejects_with_the_hosts_error() {
    let (w, s) = world();
    assert_eq!(list(&s).unwrap().items().len(), 0);
    for falsy in [Js::Null, Js::Num(0.0), Js::s(""), Js::Bool(false)] {
        *w.get_all_override.borrow_mut() = Some(falsy);
        assert_eq!(list(&s).unwrap().items().len(), 0);
        delete_all(&s).unwrap();
    }
    for odd in [Js::obj(&[]), Js::Num(3.0)] {
        *w.get_all_override.borrow_mut() = Some(odd);
        assert!(matches!(list(&s).unwrap_err(), StoreError::Host(_)));
        assert!(matches!(delete_all(&s).unwrap_err(), StoreError::Host(_)));
    }
}

#[test]
fn get_all_entries_are_read_as_the_loop_reads_them() {
    let (w, s) = world();
    let good = Js::obj(&[("key", Js::s("u1/p1/ok")), ("value", ts_row("ok", &[]))]);
    // Entries of other scopes and rows that name no scope are skipped.
    let entries = vec![
        Js::obj(&[("key", Js::s("u2/p1/x")), ("value", Js::Null)]),
        Js::obj(&[("key", Js::s("u1/p1/str")), ("value", Js::s("row as string"))]),
        good.clone(),
    ];
    *w.get_all_override.borrow_mut() = Some(Js::Arr(Rc::new(entries)));
    let listed = list(&s).unwrap().items();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].prop("key").str(), Some("ok"));
    // A null entry, a non-string key or a missing row in scope: the host's TypeError.
    for bad in [
        Js::Null,
        Js::obj(&[("key", Js::Num(1.0)), ("value", ts_row("n", &[]))]),
        Js::obj(&[("key", Js::s("u1/p1/nov"))]),
    ] {
        *w.get_all_override.borrow_mut() = Some(Js::Arr(Rc::new(vec![good.clone(), bad])));
        assert!(matches!(list(&s).unwrap_err(), StoreError::Host(_)));
        assert!(matches!(delete_all(&s).unwrap_err(), StoreError::Host(_)));
    }
}

// ---- §4 deleteAll ----------------------------------------------------------

#[test]
fn delete_all_removes_every_scoped_row_including_pending_orphaned_and_expired() {
    let (w, s) = world();
    seed(&w, "a", &[], "v");
    seed(&w, "p", &[("pending", Js::Bool(true))], "v");
    seed(&w, "o", &[("pending", Js::Bool(true)), ("orphanedAt", Js::s("x"))], "v");
    seed(&w, "e", &[("expiresAt", Js::s(&iso(T0 - 1.0)))], "v");
    w.set_row("u1/p2/x", ts_row("x", &[]));
    w.secrets.borrow_mut().insert("u1/p2/x".into(), Js::s("other"));
    delete_all(&s).unwrap();
    let calls = w.take_calls();
    assert_eq!(calls[0], "metadata.getAll");
    assert_eq!(calls[1..4], ["metadata.get u1/p1/a", "metadata.delete u1/p1/a", "vault.deleteSecret u1/p1/a"]);
    assert_eq!(calls.len(), 1 + 4 * 3);
    assert_eq!(w.rows.borrow().len(), 1);
    assert!(w.secret("u1/p2/x").is_some(), "other scopes untouched");
}

#[test]
fn delete_all_skips_vanished_rows_and_aggregates_failures_in_order() {
    let (w, s) = world();
    for k in ["a", "b", "c", "d"] {
        seed(&w, k, &[], "v");
    }
    let s2 = s.clone();
    let w2 = w.clone();
    // b vanishes between getAll and its get; a's metadata.delete fails; c's vault delete fails.
    let ea = Js::error("Error", "a");
    let ec = Js::error("Error", "c");
    w.fail("metadata", "delete", 0, &ea);
    w.fail("vault", "deleteSecret", 0, &ec);
    let pool = Pool::default();
    w.yielding.set(true);
    let gate = w.hold("metadata", "get");
    let h = pool.spawn(async move { s2.delete_all().await });
    pool.run_until_stalled();
    w2.rows.borrow_mut().retain(|(k, _)| k != "u1/p1/b");
    gate.open();
    pool.run_until_stalled();
    let err = h.take().unwrap_err();
    assert_eq!(err.to_string(), "ServerCredentialStore.deleteAll: one or more entries failed");
    let StoreError::DeleteAll(errors) = err else { panic!() };
    assert_eq!(errors.len(), 2);
    assert!(matches!(&errors[0], StoreError::Host(v) if v.same(&ea)));
    assert_eq!(
        errors[1].to_string(),
        "ServerCredentialStore.deleteAll: metadata removed but vault delete failed for key c; orphan marker persisted"
    );
    assert!(w.row("u1/p1/d").same(&Js::Undefined), "d is deleted after the failures");
    assert!(w.take_calls().iter().all(|c| !c.contains("u1/p1/b") || c == "metadata.get u1/p1/b"));
}

// ---- concurrency (§1: calls interleave at every await) ---------------------

#[test]
fn update_in_flight_read_sees_old_row_with_new_value() {
    let (w, s) = world();
    seed(&w, "k", &[("label", Js::s("old"))], "v1");
    let gate = w.hold("metadata", "put");
    let pool = Pool::default();
    let (s1, s2) = (s.clone(), s.clone());
    let p = pool.spawn(async move { s1.put(&Js::s("k"), &Js::s("v2"), &Js::obj(&[("label", Js::s("new"))])).await });
    pool.run_until_stalled();
    // The vault already holds v2; the row is still the old one.
    let g = pool.spawn(async move { s2.get(&Js::s("k")).await });
    pool.run_until_stalled();
    assert_eq!(g.take().unwrap().str(), Some("v2"));
    assert_eq!(w.row("u1/p1/k").prop("label").str(), Some("old"));
    gate.open();
    pool.run_until_stalled();
    p.take().unwrap();
    assert_eq!(w.row("u1/p1/k").prop("label").str(), Some("new"));
}

#[test]
fn new_put_in_flight_is_invisible_and_a_racing_delete_touches_nothing() {
    let (w, s) = world();
    let gate = w.hold("vault", "setSecret");
    let pool = Pool::default();
    let s1 = s.clone();
    let p = pool.spawn(async move { s1.put(&Js::s("k"), &Js::s(SECRET), &Js::Undefined).await });
    pool.run_until_stalled();
    w.take_calls();
    let (a, b, c, d) = (s.clone(), s.clone(), s.clone(), s.clone());
    let g = pool.spawn(async move { a.get(&Js::s("k")).await });
    let h = pool.spawn(async move { b.has(&Js::s("k")).await });
    let k = pool.spawn(async move { c.keys().await });
    let del = pool.spawn(async move { d.delete(&Js::s("k")).await });
    pool.run_until_stalled();
    assert!(matches!(g.take().unwrap(), Js::Undefined));
    assert!(!h.take().unwrap());
    assert_eq!(k.take().unwrap().items().len(), 0);
    assert!(!del.take().unwrap());
    assert!(w.take_calls().iter().all(|c| c.starts_with("metadata.get")), "nothing but reads while pending");
    gate.open();
    pool.run_until_stalled();
    p.take().unwrap();
    assert!(has(&s, &Js::s("k")).unwrap());
}

#[test]
fn many_concurrent_operations_on_one_store_never_fail_each_other() {
    let (w, s) = world();
    w.yielding.set(true);
    let pool = Pool::default();
    let mut handles = Vec::new();
    for i in 0..50 {
        let s = s.clone();
        handles.push(pool.spawn(async move {
            let k = Js::s(&format!("k{}", i % 7));
            s.put(&k, &Js::s(&format!("v{i}")), &Js::Undefined).await?;
            s.get(&k).await?;
            s.list_metadata().await?;
            s.delete(&k).await.map(|_| ())
        }));
    }
    pool.run_until_stalled();
    for h in handles {
        h.take().unwrap();
    }
}

// ---- §5 security -----------------------------------------------------------

#[test]
fn no_error_message_contains_the_secret_or_an_invalid_key() {
    let (w, s) = world();
    let value = Js::s(SECRET);
    let mut messages = Vec::new();
    let plans: [&[(&'static str, &'static str, usize)]; 5] = [
        &[("vault", "setSecret", 0)],
        &[("vault", "setSecret", 0), ("metadata", "delete", 0)],
        &[("metadata", "put", 1)],
        &[("metadata", "put", 1), ("metadata", "put", 2)],
        &[("vault", "deleteSecret", 0)],
    ];
    for plan in plans {
        w.rows.borrow_mut().clear();
        for (t, m, n) in plan {
            w.fail(t, m, *n, &Js::error("Error", "host"));
        }
        if let Err(e) = put(&s, "k", &value, no_opts()) {
            messages.push(e.to_string());
        }
        if let Err(e) = delete(&s, &Js::s("k")) {
            messages.push(e.to_string());
        }
    }
    messages.push(put(&s, &format!("{SECRET}/x"), &value, no_opts()).unwrap_err().to_string());
    assert!(messages.len() >= 5);
    for m in &messages {
        assert!(!m.contains(SECRET), "{m}");
    }
}

#[test]
fn rows_written_match_the_ts_format_and_ts_rows_read_back() {
    // A row exactly as the TS store writes it, plus an old marker without orphanReason.
    let (w, s) = world();
    seed(&w, "ts", &[("label", Js::s("from ts")), ("pending", Js::Bool(false))], "tsv");
    w.set_row(
        "u1/p1/old",
        ts_row("old", &[("pending", Js::Bool(true)), ("orphanedAt", Js::s("2025-01-01T00:00:00.000Z"))]),
    );
    assert_eq!(get(&s, &Js::s("ts")).unwrap().str(), Some("tsv"));
    assert!(!has(&s, &Js::s("old")).unwrap());
    let listed = list(&s).unwrap().items();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].prop("label").str(), Some("from ts"));
    put(&s, "mine", &Js::s("v"), no_opts()).unwrap();
    let row = w.row("u1/p1/mine");
    assert_eq!(row.keys(), keys_with(&["pending"]));
    assert!(row.has_own("label") && matches!(row.prop("label"), Js::Undefined), "undefined fields are own properties");
}
