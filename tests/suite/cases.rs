//! The cases, each written once over a [`Backend`] (see `suite!`). Rows are
//! compared through `show`, which prints own properties in order with the
//! `undefined`-valued ones, so a check covers a row's exact shape (SPEC §3).
//! The clock is frozen at `T0`, so every timestamp is exact too.

use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::*;

const SECRET: &str = "s3cr3t-value";
const MINUTE: f64 = 60_000.0;
const HOUR: f64 = 3_600_000.0;

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn opt(v: Option<&str>) -> String {
    v.map(q).unwrap_or_else(|| "undefined".into())
}

/// The fields every row of scope u1/p1 starts with (SPEC §4 put step 3), as
/// `show` prints them, without braces so callers can append.
fn base(
    key: &str,
    label: Option<&str>,
    provider: Option<&str>,
    created: f64,
    updated: f64,
    expires: Option<f64>,
) -> String {
    format!(
        "userId:\"u1\",projectId:\"p1\",key:{},label:{},provider:{},createdAt:{},updatedAt:{},expiresAt:{}",
        q(key),
        opt(label),
        opt(provider),
        q(&iso(created)),
        q(&iso(updated)),
        opt(expires.map(iso).as_deref()),
    )
}

/// A row as another writer (the TypeScript store) leaves it: `extra`
/// overrides fields in place or appends new ones.
fn ts_row(user_id: &str, project_id: &str, key: &str, extra: &[(&str, JsValue)]) -> JsValue {
    let row = obj(&[
        ("userId", user_id.into()),
        ("projectId", project_id.into()),
        ("key", key.into()),
        ("label", JsValue::UNDEFINED),
        ("provider", JsValue::UNDEFINED),
        ("createdAt", iso(T0).into()),
        ("updatedAt", iso(T0).into()),
        ("expiresAt", JsValue::UNDEFINED),
    ]);
    for (name, value) in extra {
        js_sys::Reflect::set(&row, &(*name).into(), value).unwrap();
    }
    row
}

/// One `listMetadata()` entry of scope u1/p1, created at `T0`, as `show` prints it.
fn info(key: &str, label: Option<&str>, updated: f64, expires: Option<f64>) -> String {
    format!(
        "{{key:{},label:{},provider:undefined,createdAt:{},updatedAt:{},expiresAt:{}}}",
        q(key),
        opt(label),
        q(&iso(T0)),
        q(&iso(updated)),
        opt(expires.map(iso).as_deref())
    )
}

fn label(l: &str) -> JsValue {
    obj(&[("label", l.into())])
}

fn expires(ms: f64) -> JsValue {
    obj(&[("expiresAt", date_at(ms))])
}

fn string(v: JsValue) -> String {
    v.as_string().unwrap_or_else(|| panic!("not a string: {}", show(&v)))
}

fn class_name(v: &JsValue) -> String {
    string(prop(&prop(v, "constructor"), "name"))
}

/// A wrapped error of SPEC §4: a plain `Error`, the exact message, and the
/// host's own error object (not a copy) as `cause`.
fn assert_wrapped(err: &JsValue, message: &str, cause: &JsValue) {
    assert!(err.is_instance_of::<js_sys::Error>(), "not an Error: {}", show(err));
    assert_eq!(class_name(err), "Error");
    assert_eq!(string(prop(err, "message")), message);
    assert!(Object::is(&prop(err, "cause"), cause), "cause is not the host's error object");
}

fn assert_same(err: &JsValue, expected: &JsValue) {
    assert!(Object::is(err, expected), "expected the host's own error object, got {}", show(err));
}

// ---- happy paths ------------------------------------------------------------

pub async fn round_trip(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    let id = "u1/p1/k";
    assert!(put(s, "k", SECRET, label("L")).await.unwrap().is_undefined());
    // SPEC §4 new entry: pending row, vault write, commit.
    assert_eq!(
        fx.calls(),
        ["metadata.get u1/p1/k", "metadata.put u1/p1/k", "vault.setSecret u1/p1/k", "metadata.put u1/p1/k"]
    );
    let row = base("k", Some("L"), None, T0, T0, None);
    assert_eq!(show(&fx.hosts.args_of(1).get(1)), format!("{{{row},pending:true}}"));
    assert_eq!(show(&fx.hosts.args_of(3).get(1)), format!("{{{row},pending:false}}"));
    assert_eq!(show(&fx.row(id).await), format!("{{{row},pending:false}}"));
    assert_eq!(string(fx.secret(id).await), SECRET);

    fx.hosts.clear_calls();
    assert_eq!(string(get(s, "k").await.unwrap()), SECRET);
    assert_eq!(has(s, "k").await.unwrap(), JsValue::TRUE);
    assert_eq!(show(&keys(s).await.unwrap()), r#"["k"]"#);
    // has never reads the vault.
    assert_eq!(
        fx.calls(),
        ["metadata.get u1/p1/k", "vault.getSecret u1/p1/k", "metadata.get u1/p1/k", "metadata.getAll"]
    );

    fx.hosts.clear_calls();
    assert_eq!(delete(s, "k").await.unwrap(), JsValue::TRUE);
    // Metadata first, so a reader never sees a row whose secret is gone.
    assert_eq!(fx.calls(), ["metadata.get u1/p1/k", "metadata.delete u1/p1/k", "vault.deleteSecret u1/p1/k"]);
    assert!(fx.row(id).await.is_undefined());
    assert!(fx.secret(id).await.is_undefined());
    assert!(get(s, "k").await.unwrap().is_undefined());
    assert_eq!(has(s, "k").await.unwrap(), JsValue::FALSE);
    assert_eq!(delete(s, "k").await.unwrap(), JsValue::FALSE);
}

pub async fn value_passes_through_untouched(b: Backend) {
    let fx = Fx::new(b).await;
    // Not a string: the store neither checks nor converts nor copies it.
    let value = obj(&[("token", "t".into()), ("n", 1.into())]);
    settle(fx.store.call("put", &["k".into(), value.clone()])).await.unwrap();
    assert_eq!(fx.calls()[2], "vault.setSecret u1/p1/k");
    assert!(Object::is(&fx.hosts.args_of(2).get(1), &value), "setSecret got a copy");
    // The Map vault hands back the object itself, IndexedDB a structured clone.
    assert_eq!(show(&get(&fx.store, "k").await.unwrap()), show(&value));
}

pub async fn update_keeps_created_at_and_drops_unknown_fields(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    let id = "u1/p1/k";
    let options = obj(&[("label", "L".into()), ("provider", "P".into()), ("expiresAt", date_at(T0 + HOUR))]);
    put(s, "k", "v1", options).await.unwrap();
    // A field only another writer knows: an update's row does not carry it.
    let row = fx.row(id).await;
    js_sys::Reflect::set(&row, &"note".into(), &"x".into()).unwrap();
    fx.put_row(id, &row).await;

    advance_clock(1000.0);
    fx.hosts.clear_calls();
    put(s, "k", "v2", JsValue::UNDEFINED).await.unwrap();
    // SPEC §4 update: vault first, then the row; no pending step.
    assert_eq!(fx.calls(), ["metadata.get u1/p1/k", "vault.setSecret u1/p1/k", "metadata.put u1/p1/k"]);
    assert_eq!(
        show(&fx.row(id).await),
        format!("{{{}}}", base("k", Some("L"), Some("P"), T0, T0 + 1000.0, Some(T0 + HOUR)))
    );
    assert_eq!(string(get(s, "k").await.unwrap()), "v2");

    advance_clock(1000.0);
    put(s, "k", "v3", label("L2")).await.unwrap();
    assert_eq!(
        show(&fx.row(id).await),
        format!("{{{}}}", base("k", Some("L2"), Some("P"), T0, T0 + 2000.0, Some(T0 + HOUR)))
    );
}

pub async fn list_metadata_shows_only_committed_live_rows_of_the_scope(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    // Empty: both backends' getAll() resolve to undefined.
    assert_eq!(show(&list(s).await.unwrap()), "[]");
    assert_eq!(show(&keys(s).await.unwrap()), "[]");

    put(s, "a", SECRET, obj(&[("label", "A".into()), ("expiresAt", date_at(T0 + HOUR))])).await.unwrap();
    put(s, "b", SECRET, JsValue::UNDEFINED).await.unwrap();
    // Rows the listing must skip or trim, written in id order so that the Map
    // (insertion order) and IndexedDB (key order) list alike.
    let pending = ts_row("u1", "p1", "c", &[("pending", true.into())]);
    let expired = ts_row("u1", "p1", "d", &[("expiresAt", iso(T0 - 1.0).into())]);
    let other_user = ts_row("u2", "p1", "e", &[]);
    let extra = ts_row("u1", "p1", "g", &[("pending", false.into()), ("note", "not listed".into())]);
    let other_project = ts_row("u1", "p2", "a", &[]);
    fx.put_row("u1/p1/c", &pending).await;
    fx.put_row("u1/p1/d", &expired).await;
    fx.put_row("u1/p1/e", &other_user).await;
    fx.put_row("u1/p1/g", &extra).await;
    fx.put_row("u1/p2/a", &other_project).await;

    fx.hosts.clear_calls();
    assert_eq!(
        show(&list(s).await.unwrap()),
        format!(
            "[{},{},{}]",
            info("a", Some("A"), T0, Some(T0 + HOUR)),
            info("b", None, T0, None),
            info("g", None, T0, None)
        )
    );
    assert_eq!(fx.calls(), ["metadata.getAll"]);
    assert_eq!(show(&keys(s).await.unwrap()), r#"["a","b","g"]"#);
}

pub async fn expiry_follows_the_host_clock(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    put(s, "soon", SECRET, expires(T0 + MINUTE)).await.unwrap();
    put(s, "later", SECRET, expires(T0 + HOUR)).await.unwrap();
    put(s, "never", SECRET, JsValue::UNDEFINED).await.unwrap();
    assert_eq!(string(get(s, "soon").await.unwrap()), SECRET);

    // Now == expiresAt: expired (`expiresAt <= now`). A read deletes it
    // through delete(key), which reads the row again.
    advance_clock(MINUTE);
    fx.hosts.clear_calls();
    assert_eq!(has(s, "soon").await.unwrap(), JsValue::FALSE);
    #[rustfmt::skip]
    assert_eq!(fx.calls(), [
        "metadata.get u1/p1/soon",
        "metadata.get u1/p1/soon", "metadata.delete u1/p1/soon", "vault.deleteSecret u1/p1/soon",
    ]);
    assert!(fx.row("u1/p1/soon").await.is_undefined());
    assert!(fx.secret("u1/p1/soon").await.is_undefined());
    assert!(get(s, "soon").await.unwrap().is_undefined());
    assert_eq!(show(&keys(s).await.unwrap()), r#"["later","never"]"#);

    // The read's delete failing is swallowed: get still answers undefined.
    put(s, "flaky", SECRET, expires(T0 + MINUTE + 1000.0)).await.unwrap();
    advance_clock(1000.0);
    fx.hosts.fail("vault.deleteSecret", &error("vault down"), 1, false);
    assert!(get(s, "flaky").await.unwrap().is_undefined());
    assert_eq!(string(prop(&fx.row("u1/p1/flaky").await, "orphanReason")), "vault-delete-failed");

    // deleteAll takes expired and orphaned rows too.
    advance_clock(HOUR);
    assert_eq!(show(&keys(s).await.unwrap()), r#"["never"]"#);
    delete_all(s).await.unwrap();
    for id in ["u1/p1/later", "u1/p1/never", "u1/p1/flaky"] {
        assert!(fx.row(id).await.is_undefined(), "{id} left behind");
        assert!(fx.secret(id).await.is_undefined(), "{id} secret left behind");
    }
}

pub async fn scopes_are_isolated(b: Backend) {
    let fx = Fx::new(b).await;
    let s12 = fx.store_for("u1", "p2");
    let s21 = fx.store_for("u2", "p1");
    let stores = [(&fx.store, "v11"), (&s12, "v12"), (&s21, "v21")];
    for (s, v) in stores {
        put(s, "k", v, JsValue::UNDEFINED).await.unwrap();
    }
    for (s, v) in stores {
        assert_eq!(string(get(s, "k").await.unwrap()), v);
        assert_eq!(show(&keys(s).await.unwrap()), r#"["k"]"#);
    }
    assert_eq!(string(fx.secret("u1/p2/k").await), "v12");
    assert_eq!(string(prop(&fx.row("u2/p1/k").await, "userId")), "u2");

    assert_eq!(delete(&fx.store, "k").await.unwrap(), JsValue::TRUE);
    assert_eq!(string(get(&s12, "k").await.unwrap()), "v12");
    delete_all(&s21).await.unwrap();
    assert!(get(&s21, "k").await.unwrap().is_undefined());
    assert_eq!(string(get(&s12, "k").await.unwrap()), "v12");
    assert_eq!(show(&keys(&s12).await.unwrap()), r#"["k"]"#);
}

pub async fn invalid_keys_and_scopes_touch_nothing(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    let too_long = "k".repeat(129);
    // "/" would reach another scope's ids; the grammar is ASCII only.
    for key in ["", "a/b", "../p2/k", "ü", "k k", too_long.as_str()] {
        let err = put(s, key, SECRET, JsValue::UNDEFINED).await.unwrap_err();
        // The exact message: the key is never echoed.
        assert_eq!(show(&err), r#"TypeError("ServerCredentialStore: invalid key")"#, "key {key:?}");
        assert!(get(s, key).await.unwrap().is_undefined());
        assert_eq!(has(s, key).await.unwrap(), JsValue::FALSE);
        assert_eq!(delete(s, key).await.unwrap(), JsValue::FALSE);
    }
    assert_eq!(fx.calls(), Vec::<String>::new());
    // A key that is not a string is tested and addressed by its ToString
    // (SPEC §2): 42 reads "u1/p1/42", an object "[object Object]" nothing.
    assert!(settle(s.call("get", &[42.into()])).await.unwrap().is_undefined());
    assert_eq!(fx.calls(), ["metadata.get u1/p1/42"]);
    fx.hosts.clear_calls();
    assert!(settle(s.call("get", &[js_sys::Object::new().into()])).await.unwrap().is_undefined());
    assert_eq!(fx.calls(), Vec::<String>::new());
    // 128 characters is the longest valid key.
    put(s, &"k".repeat(128), SECRET, JsValue::UNDEFINED).await.unwrap();

    let invalid = r#"TypeError("ServerCredentialStore: invalid userId/projectId")"#;
    for (user, project) in [("u1/x", "p1"), ("u1", ""), ("", "p1"), ("u1", too_long.as_str())] {
        let err = store_over(&fx.hosts, user, project).err().expect("scope accepted");
        assert_eq!(show(&err), invalid, "scope {user:?}/{project:?}");
    }
    // Scope ids are tested by their ToString too: 7 is "7" (kept as given
    // in rows); an object is "[object Object]", refused.
    let scope = |user: JsValue| {
        obj(&[
            ("vault", fx.hosts.vault()),
            ("metadata", fx.hosts.metadata()),
            ("userId", user),
            ("projectId", "p1".into()),
        ])
    };
    assert!(Store::new(&scope(7.into())).is_ok(), "a numeric userId is its text");
    assert_eq!(show(&Store::new(&scope(js_sys::Object::new().into())).err().expect("scope refused")), invalid);
}

// ---- SPEC §4 failure paths --------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Has,
    Put,
    Delete,
    List,
    Keys,
    DeleteAll,
}

/// One raw-rethrow path: `op` on key "k" (existing or not), with call `call`
/// failing; afterwards the vault holds `secret_after` and the row is as before.
struct Raw {
    op: Op,
    existing: bool,
    call: &'static str,
    secret_after: Option<&'static str>,
}

const RAW: [Raw; 12] = [
    Raw { op: Op::Get, existing: true, call: "metadata.get", secret_after: Some("old") },
    Raw { op: Op::Get, existing: true, call: "vault.getSecret", secret_after: Some("old") },
    Raw { op: Op::Has, existing: true, call: "metadata.get", secret_after: Some("old") },
    Raw { op: Op::Put, existing: false, call: "metadata.get", secret_after: None },
    // The pending row fails: the vault is never touched.
    Raw { op: Op::Put, existing: false, call: "metadata.put", secret_after: None },
    Raw { op: Op::Put, existing: true, call: "vault.setSecret", secret_after: Some("old") },
    // Update: nothing is rolled back, the vault keeps the new value.
    Raw { op: Op::Put, existing: true, call: "metadata.put", secret_after: Some("new") },
    Raw { op: Op::Delete, existing: true, call: "metadata.get", secret_after: Some("old") },
    // Metadata first: its failure leaves the vault untouched.
    Raw { op: Op::Delete, existing: true, call: "metadata.delete", secret_after: Some("old") },
    Raw { op: Op::List, existing: true, call: "metadata.getAll", secret_after: Some("old") },
    Raw { op: Op::Keys, existing: true, call: "metadata.getAll", secret_after: Some("old") },
    Raw { op: Op::DeleteAll, existing: true, call: "metadata.getAll", secret_after: Some("old") },
];

async fn run_op(s: &Store, op: Op) -> Result<JsValue, JsValue> {
    match op {
        Op::Get => get(s, "k").await,
        Op::Has => has(s, "k").await,
        Op::Put => put(s, "k", "new", JsValue::UNDEFINED).await,
        Op::Delete => delete(s, "k").await,
        Op::List => list(s).await,
        Op::Keys => keys(s).await,
        Op::DeleteAll => delete_all(s).await,
    }
}

pub async fn host_failures_rethrow_the_identical_value(b: Backend) {
    for sync in [false, true] {
        for raw in &RAW {
            let what = format!("{:?} with {} {}", raw.op, raw.call, if sync { "throwing" } else { "rejecting" });
            let fx = Fx::new(b).await;
            if raw.existing {
                put(&fx.store, "k", "old", label("L")).await.unwrap();
            }
            let row_before = show(&fx.row("u1/p1/k").await);
            // A thrown non-Error must pass through as well as a rejected Error.
            let e = if sync { obj(&[("thrown", true.into())]) } else { error("host down") };
            fx.hosts.fail(raw.call, &e, 1, sync);
            fx.hosts.clear_calls();

            let err = run_op(&fx.store, raw.op).await.expect_err(&what);
            assert_same(&err, &e);
            // The failed call was the last one made.
            let last =
                if raw.call == "metadata.getAll" { raw.call.to_string() } else { format!("{} u1/p1/k", raw.call) };
            assert_eq!(fx.calls().last(), Some(&last), "{what}");
            assert_eq!(show(&fx.row("u1/p1/k").await), row_before, "{what}");
            assert_eq!(fx.secret("u1/p1/k").await.as_string().as_deref(), raw.secret_after, "{what}");
        }
    }
}

pub async fn vault_write_failure_rolls_back_and_rethrows(b: Backend) {
    for sync in [false, true] {
        let fx = Fx::new(b).await;
        let e = error("vault down");
        fx.hosts.fail("vault.setSecret", &e, 1, sync);
        let err = put(&fx.store, "k", SECRET, JsValue::UNDEFINED).await.unwrap_err();
        assert_same(&err, &e);
        assert_eq!(
            fx.calls(),
            ["metadata.get u1/p1/k", "metadata.put u1/p1/k", "vault.setSecret u1/p1/k", "metadata.delete u1/p1/k"]
        );
        assert!(fx.row("u1/p1/k").await.is_undefined());
        assert!(fx.secret("u1/p1/k").await.is_undefined());
    }
}

pub async fn vault_write_and_rollback_failure_leave_a_marker(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    let e = error("vault down");
    fx.hosts.fail("vault.setSecret", &e, 1, false);
    fx.hosts.fail("metadata.delete", &error("rollback failed"), 1, false);
    let err = put(s, "k", SECRET, JsValue::UNDEFINED).await.unwrap_err();
    assert_wrapped(
        &err,
        "ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id u1/p1/k",
        &e,
    );
    assert_eq!(
        fx.calls(),
        [
            "metadata.get u1/p1/k",
            "metadata.put u1/p1/k",
            "vault.setSecret u1/p1/k",
            "metadata.delete u1/p1/k",
            "metadata.put u1/p1/k"
        ]
    );
    let row = base("k", None, None, T0, T0, None);
    assert_eq!(
        show(&fx.row("u1/p1/k").await),
        format!("{{{row},pending:true,orphanedAt:{},orphanReason:\"vault-write-failed\"}}", q(&iso(T0)))
    );
    // The marker is invisible and protected.
    assert!(get(s, "k").await.unwrap().is_undefined());
    assert_eq!(has(s, "k").await.unwrap(), JsValue::FALSE);
    assert_eq!(delete(s, "k").await.unwrap(), JsValue::FALSE);
    assert_eq!(show(&list(s).await.unwrap()), "[]");

    // The marker write failing too is ignored: same error, the pending row stays.
    let e2 = error("vault down again");
    fx.hosts.fail("vault.setSecret", &e2, 1, false);
    fx.hosts.fail("metadata.delete", &error("rollback failed"), 1, false);
    fx.hosts.fail("metadata.put", &error("marker failed"), 2, false);
    let err = put(s, "k2", SECRET, JsValue::UNDEFINED).await.unwrap_err();
    assert_wrapped(
        &err,
        "ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id u1/p1/k2",
        &e2,
    );
    let row = base("k2", None, None, T0, T0, None);
    assert_eq!(show(&fx.row("u1/p1/k2").await), format!("{{{row},pending:true}}"));
}

pub async fn metadata_commit_failure_leaves_a_marker(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    let c = error("commit failed");
    fx.hosts.fail("metadata.put", &c, 2, false);
    let err = put(s, "k", SECRET, JsValue::UNDEFINED).await.unwrap_err();
    assert_wrapped(
        &err,
        "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id u1/p1/k; row left as orphan marker",
        &c,
    );
    assert_eq!(
        fx.calls(),
        [
            "metadata.get u1/p1/k",
            "metadata.put u1/p1/k",
            "vault.setSecret u1/p1/k",
            "metadata.put u1/p1/k",
            "metadata.put u1/p1/k"
        ]
    );
    let row = base("k", None, None, T0, T0, None);
    assert_eq!(
        show(&fx.row("u1/p1/k").await),
        format!("{{{row},pending:true,orphanedAt:{},orphanReason:\"metadata-commit-failed\"}}", q(&iso(T0)))
    );
    // The vault bytes are kept (for reconciliation), but nobody reads them.
    assert_eq!(string(fx.secret("u1/p1/k").await), SECRET);
    assert!(get(s, "k").await.unwrap().is_undefined());

    // The marker write failing too: same error, the pending row stays.
    let c2 = error("commit failed again");
    fx.hosts.fail("metadata.put", &c2, 2, false);
    fx.hosts.fail("metadata.put", &error("marker failed"), 3, false);
    let err = put(s, "k2", SECRET, JsValue::UNDEFINED).await.unwrap_err();
    assert_wrapped(
        &err,
        "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id u1/p1/k2; row left as orphan marker",
        &c2,
    );
    let row = base("k2", None, None, T0, T0, None);
    assert_eq!(show(&fx.row("u1/p1/k2").await), format!("{{{row},pending:true}}"));
    assert_eq!(string(fx.secret("u1/p1/k2").await), SECRET);
}

pub async fn vault_delete_failure_leaves_a_marker_of_the_whole_row(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    // A committed row with a field only another writer knows: the marker keeps it.
    for key in ["k", "k2"] {
        let row = ts_row("u1", "p1", key, &[("label", "L".into()), ("pending", false.into()), ("note", "kept".into())]);
        fx.put_row(&format!("u1/p1/{key}"), &row).await;
        fx.put_secret(&format!("u1/p1/{key}"), SECRET).await;
    }
    let marker = |key: &str| {
        format!(
            "{{{},pending:true,note:\"kept\",orphanedAt:{},orphanReason:\"vault-delete-failed\"}}",
            base(key, Some("L"), None, T0, T0, None),
            q(&iso(T0))
        )
    };

    let e = error("vault down");
    fx.hosts.fail("vault.deleteSecret", &e, 1, false);
    let err = delete(s, "k").await.unwrap_err();
    assert_wrapped(
        &err,
        "ServerCredentialStore.delete: metadata removed but vault delete failed for key k; orphan marker persisted",
        &e,
    );
    assert_eq!(
        fx.calls(),
        ["metadata.get u1/p1/k", "metadata.delete u1/p1/k", "vault.deleteSecret u1/p1/k", "metadata.put u1/p1/k"]
    );
    assert_eq!(show(&fx.row("u1/p1/k").await), marker("k"));
    assert_eq!(string(fx.secret("u1/p1/k").await), SECRET);

    // The marker write failing too: the message says so; the row stays deleted.
    let e2 = error("vault down again");
    fx.hosts.fail("vault.deleteSecret", &e2, 1, false);
    fx.hosts.fail("metadata.put", &error("marker failed"), 1, false);
    let err = delete(s, "k2").await.unwrap_err();
    assert_wrapped(
        &err,
        "ServerCredentialStore.delete: metadata removed but vault delete failed for key k2; orphan marker also failed to persist",
        &e2,
    );
    assert!(fx.row("u1/p1/k2").await.is_undefined());
    assert_eq!(string(fx.secret("u1/p1/k2").await), SECRET);
}

pub async fn delete_all_aggregates_failures_and_goes_on(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    for key in ["a", "b", "c"] {
        put(s, key, SECRET, JsValue::UNDEFINED).await.unwrap();
    }
    let other = fx.store_for("u1", "p2");
    put(&other, "a", "other", JsValue::UNDEFINED).await.unwrap();
    // An in-flight put and an expired row: deleteAll takes both.
    fx.put_row("u1/p1/p", &ts_row("u1", "p1", "p", &[("pending", true.into())])).await;
    fx.put_row("u1/p1/x", &ts_row("u1", "p1", "x", &[("expiresAt", iso(T0 - 1.0).into())])).await;
    let c_row = show(&fx.row("u1/p1/c").await);

    let e = error("vault down");
    let d = error("metadata down");
    fx.hosts.fail("vault.deleteSecret", &e, 2, false); // b's
    fx.hosts.fail("metadata.delete", &d, 3, false); // c's
    fx.hosts.clear_calls();
    let err = delete_all(s).await.unwrap_err();
    assert_eq!(class_name(&err), "AggregateError");
    assert_eq!(string(prop(&err, "message")), "ServerCredentialStore.deleteAll: one or more entries failed");
    let errors: Array = prop(&err, "errors").dyn_into().unwrap();
    assert_eq!(errors.length(), 2);
    assert_wrapped(
        &errors.get(0),
        "ServerCredentialStore.deleteAll: metadata removed but vault delete failed for key b; orphan marker persisted",
        &e,
    );
    assert_same(&errors.get(1), &d);
    #[rustfmt::skip]
    assert_eq!(fx.calls(), [
        "metadata.getAll",
        "metadata.get u1/p1/a", "metadata.delete u1/p1/a", "vault.deleteSecret u1/p1/a",
        "metadata.get u1/p1/b", "metadata.delete u1/p1/b", "vault.deleteSecret u1/p1/b", "metadata.put u1/p1/b",
        "metadata.get u1/p1/c", "metadata.delete u1/p1/c",
        "metadata.get u1/p1/p", "metadata.delete u1/p1/p", "vault.deleteSecret u1/p1/p",
        "metadata.get u1/p1/x", "metadata.delete u1/p1/x", "vault.deleteSecret u1/p1/x",
    ]);
    for id in ["u1/p1/a", "u1/p1/p", "u1/p1/x"] {
        assert!(fx.row(id).await.is_undefined(), "{id} left behind");
    }
    assert_eq!(string(prop(&fx.row("u1/p1/b").await, "orphanReason")), "vault-delete-failed");
    assert_eq!(show(&fx.row("u1/p1/c").await), c_row);
    assert_eq!(string(fx.secret("u1/p1/c").await), SECRET);
    assert_eq!(string(get(&other, "a").await.unwrap()), "other");
}

// ---- interleavings ----------------------------------------------------------

pub async fn update_in_flight_reads_new_value_with_old_row(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    put(s, "k", "old", label("L1")).await.unwrap();
    advance_clock(1000.0);

    let gate = fx.hosts.hold("metadata.put");
    let update = s.call("put", &["k".into(), "new".into(), label("L2")]);
    JsFuture::from(gate.reached()).await.unwrap();
    // SPEC §4 put step 5: the vault has the new value, the row is still the
    // old one. Documented and accepted (strict snapshots are opt-in).
    assert_eq!(string(get(s, "k").await.unwrap()), "new");
    assert_eq!(show(&list(s).await.unwrap()), format!("[{}]", info("k", Some("L1"), T0, None)));

    gate.release();
    settle(update).await.unwrap();
    assert_eq!(show(&list(s).await.unwrap()), format!("[{}]", info("k", Some("L2"), T0 + 1000.0, None)));
    assert_eq!(string(get(s, "k").await.unwrap()), "new");
}

pub async fn delete_during_new_put_touches_nothing(b: Backend) {
    let fx = Fx::new(b).await;
    let s = &fx.store;
    let gate = fx.hosts.hold("vault.setSecret");
    let new_put = s.call("put", &["k".into(), SECRET.into()]);
    JsFuture::from(gate.reached()).await.unwrap();
    let pending = show(&fx.row("u1/p1/k").await);
    assert_eq!(pending, format!("{{{},pending:true}}", base("k", None, None, T0, T0, None)));

    fx.hosts.clear_calls();
    assert_eq!(delete(s, "k").await.unwrap(), JsValue::FALSE);
    assert!(get(s, "k").await.unwrap().is_undefined());
    assert_eq!(has(s, "k").await.unwrap(), JsValue::FALSE);
    // Each read the row and stopped there: no delete, no vault call.
    assert_eq!(fx.calls(), ["metadata.get u1/p1/k"; 3]);
    assert_eq!(show(&fx.row("u1/p1/k").await), pending);

    gate.release();
    settle(new_put).await.unwrap();
    assert_eq!(string(get(s, "k").await.unwrap()), SECRET);
    assert_eq!(delete(s, "k").await.unwrap(), JsValue::TRUE);
}
