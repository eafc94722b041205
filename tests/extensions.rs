//! Beyond the TypeScript store (SPEC §6), natively: strict mode (versioned
//! vault ids, per-key write turns), `getByPrefix` listing, reconciliation,
//! and the public-object dispatch of `this.delete` / `this.listMetadata`.

mod common;

use std::future::Future;
use std::rc::Rc;

use common::exec::{block_on, Pool};
use common::fake::{iso, FakeStore, Js, World, T0};
use server_credential_store_wasm::core::{Facade, KeyLocks, StoreError};

fn run<T: 'static>(f: impl Future<Output = T> + 'static) -> T {
    block_on(f)
}

fn strict_world() -> (Rc<World>, Rc<FakeStore>, Rc<KeyLocks>) {
    let w = World::new();
    let locks = KeyLocks::new();
    let s = Rc::new(w.store("u1", "p1").strict(locks.clone()));
    (w, s, locks)
}

fn put(s: &Rc<FakeStore>, key: &str, value: &str) -> Result<(), StoreError<Js>> {
    let (s, k, v) = (s.clone(), Js::s(key), Js::s(value));
    run(async move { s.put(&k, &v, &Js::Undefined).await })
}

fn get(s: &Rc<FakeStore>, key: &str) -> Js {
    let (s, k) = (s.clone(), Js::s(key));
    run(async move { s.get(&k).await }).unwrap()
}

fn opts(pairs: &[(&str, Js)]) -> Js {
    Js::obj(pairs)
}

fn report(s: &Rc<FakeStore>, options: Js) -> Js {
    let s = s.clone();
    run(async move { s.reconcile(&options).await }).unwrap()
}

fn orphans(s: &Rc<FakeStore>, options: Js) -> Vec<(String, String)> {
    let s = s.clone();
    let list = run(async move { s.list_orphans_report(&options).await }).unwrap();
    list.items()
        .iter()
        .map(|o| (o.prop("key").str().unwrap().to_owned(), o.prop("reason").str().unwrap().to_owned()))
        .collect()
}

fn keys_of(list: &Js) -> Vec<String> {
    list.items().iter().map(|o| o.prop("key").str().unwrap_or("?").to_owned()).collect()
}

// ---- strict mode -----------------------------------------------------------

#[test]
fn strict_new_put_names_a_versioned_vault_id_in_every_row() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    let calls = w.take_full_calls();
    let short: Vec<_> = calls.iter().map(|c| c.short()).collect();
    assert_eq!(
        short,
        ["metadata.get u1/p1/k", "metadata.put u1/p1/k", "vault.setSecret u1/p1/k#v1", "metadata.put u1/p1/k"]
    );
    for c in [&calls[1], &calls[3]] {
        let row = c.arg.as_ref().unwrap();
        assert_eq!(row.prop("vaultId").str(), Some("u1/p1/k#v1"));
        assert_eq!(
            row.keys(),
            [
                "userId",
                "projectId",
                "key",
                "label",
                "provider",
                "createdAt",
                "updatedAt",
                "expiresAt",
                "vaultId",
                "pending"
            ]
        );
    }
    assert_eq!(get(&s, "k").str(), Some("v1"));
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k", "vault.getSecret u1/p1/k#v1"]);
}

#[test]
fn strict_update_writes_a_new_version_flips_the_row_then_retires_the_old() {
    let (w, s, locks) = strict_world();
    put(&s, "k", "v1").unwrap();
    w.take_calls();
    put(&s, "k", "v2").unwrap();
    // The row names the new version before its bytes exist, then flips to
    // it (the old one retired), then the old bytes go and the row forgets them.
    assert_eq!(
        w.take_calls(),
        [
            "metadata.get u1/p1/k",
            "metadata.put u1/p1/k",
            "vault.setSecret u1/p1/k#v2",
            "metadata.put u1/p1/k",
            "vault.deleteSecret u1/p1/k#v1",
            "metadata.put u1/p1/k"
        ]
    );
    assert_eq!(w.row("u1/p1/k").prop("vaultId").str(), Some("u1/p1/k#v2"));
    assert!(!w.row("u1/p1/k").has_own("pending"));
    for list in ["pendingVaultIds", "retiredVaultIds"] {
        assert!(matches!(w.row("u1/p1/k").prop(list), Js::Undefined), "{list} forgotten");
    }
    assert_eq!(w.secrets.borrow().keys().cloned().collect::<Vec<_>>(), ["u1/p1/k#v2"]);
    assert_eq!(get(&s, "k").str(), Some("v2"));
    assert_eq!(locks.busy_ids(), 0, "turns are released");
}

#[test]
fn strict_update_in_flight_read_sees_the_old_row_with_the_old_value() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    let gate = w.hold("metadata", "put");
    let pool = Pool::default();
    let (a, b) = (s.clone(), s.clone());
    let p = pool.spawn(async move { a.put(&Js::s("k"), &Js::s("v2"), &Js::Undefined).await });
    pool.run_until_stalled();
    let g = pool.spawn(async move { b.get(&Js::s("k")).await });
    pool.run_until_stalled();
    assert_eq!(g.take().unwrap().str(), Some("v1"), "never the new value under the old row");
    gate.open();
    pool.run_until_stalled();
    p.take().unwrap();
    assert_eq!(get(&s, "k").str(), Some("v2"));
}

#[test]
fn strict_get_racing_a_retire_rereads_the_new_row() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    let gate = w.hold("vault", "getSecret");
    let pool = Pool::default();
    let (a, b) = (s.clone(), s.clone());
    let g = pool.spawn(async move { a.get(&Js::s("k")).await });
    pool.run_until_stalled(); // the get read the v1 row and waits at the vault
    let p = pool.spawn(async move { b.put(&Js::s("k"), &Js::s("v2"), &Js::Undefined).await });
    pool.run_until_stalled(); // the update flipped the row and deleted v1
    p.take().unwrap();
    gate.open();
    pool.run_until_stalled();
    assert_eq!(g.take().unwrap().str(), Some("v2"), "not undefined, not a mix");
}

#[test]
fn strict_writes_of_one_key_take_turns_and_a_queued_delete_deletes() {
    let (w, s, _) = strict_world();
    w.yielding.set(true);
    let pool = Pool::default();
    let (a, b, c) = (s.clone(), s.clone(), s.clone());
    let p1 = pool.spawn(async move { a.put(&Js::s("k"), &Js::s("v1"), &Js::Undefined).await });
    let p2 = pool.spawn(async move { b.put(&Js::s("k"), &Js::s("v2"), &Js::Undefined).await });
    let d = pool.spawn(async move { c.delete(&Js::s("k")).await });
    pool.run_until_stalled();
    p1.take().unwrap();
    p2.take().unwrap();
    assert!(d.take().unwrap(), "the delete ran after both puts committed");
    let calls = w.take_calls();
    assert_eq!(
        calls[..5],
        [
            "metadata.get u1/p1/k",
            "metadata.put u1/p1/k",
            "vault.setSecret u1/p1/k#v1",
            "metadata.put u1/p1/k",
            "metadata.get u1/p1/k"
        ],
        "the second put starts after the first commits"
    );
    assert!(w.rows.borrow().is_empty());
    assert!(w.secrets.borrow().is_empty(), "every version deleted");
}

#[test]
fn strict_expiry_cleanup_never_deletes_a_fresh_row_a_put_committed_after_the_read() {
    // Known race R6 of the compatible mode, closed in strict mode.
    let (w, s, _) = strict_world();
    let past = Js::obj(&[("expiresAt", Js::Date(T0 - 1.0))]);
    let (s0, k0) = (s.clone(), Js::s("a"));
    run(async move { s0.put(&k0, &Js::s("old"), &past).await }).unwrap();
    let pool = Pool::default();
    let gate = w.hold("vault", "setSecret");
    let (a, b) = (s.clone(), s.clone());
    let fresh = Js::obj(&[("expiresAt", Js::Date(T0 + 86_400_000.0))]);
    let p = pool.spawn(async move { a.put(&Js::s("a"), &Js::s("new"), &fresh).await });
    pool.run_until_stalled(); // the put holds the turn, its vault write waits
    let g = pool.spawn(async move { b.get(&Js::s("a")).await });
    pool.run_until_stalled(); // the get read the expired row; its cleanup waits for the turn
    gate.open();
    pool.run_until_stalled();
    p.take().unwrap();
    assert!(matches!(g.take().unwrap(), Js::Undefined), "the read saw the expired row");
    assert_eq!(get(&s, "a").str(), Some("new"), "the acknowledged put survives the read's cleanup");
}

#[test]
fn strict_delete_turns_the_row_pending_first_then_removes_bytes_then_row() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    w.now_ms.set(T0 + 5.0);
    w.take_calls();
    let (s2, k) = (s.clone(), Js::s("k"));
    assert!(run(async move { s2.delete(&k).await }).unwrap());
    let calls = w.take_full_calls();
    let short: Vec<_> = calls.iter().map(|c| c.short()).collect();
    assert_eq!(
        short,
        ["metadata.get u1/p1/k", "metadata.put u1/p1/k", "vault.deleteSecret u1/p1/k#v1", "metadata.delete u1/p1/k"]
    );
    let deleting = calls[1].arg.as_ref().unwrap();
    assert!(matches!(deleting.prop("pending"), Js::Bool(true)));
    assert_eq!(deleting.prop("updatedAt").str(), Some(iso(T0 + 5.0).as_str()), "young: no reconcile touches it");
    assert!(w.rows.borrow().is_empty() && w.secrets.borrow().is_empty());
}

#[test]
fn strict_delete_whose_vault_and_marker_writes_fail_leaves_a_pending_row_reconcile_finds() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    w.fail("vault", "deleteSecret", 0, &Js::error("Error", "vault down"));
    w.fail("metadata", "put", 1, &Js::error("Error", "kv down")); // the marker, after the pending write
    let (s2, k) = (s.clone(), Js::s("k"));
    let e = run(async move { s2.delete(&k).await }).unwrap_err();
    assert!(e.to_string().ends_with("; orphan marker also failed to persist"));
    assert!(matches!(w.row("u1/p1/k").prop("pending"), Js::Bool(true)), "not silent: a pending row remains");
    assert!(orphans(&s, Js::Undefined).is_empty(), "young pending rows may be puts in flight");
    w.now_ms.set(T0 + 600_000.0);
    assert_eq!(orphans(&s, Js::Undefined), [("k".to_owned(), "stale-pending".to_owned())]);
    let r = report(&s, Js::Undefined);
    assert_eq!(keys_of(&r.prop("repaired")), ["k"]);
    assert!(w.rows.borrow().is_empty() && w.secrets.borrow().is_empty());
}

#[test]
fn strict_update_over_a_marker_keeps_naming_the_old_version_until_it_is_gone() {
    let (w, s, _) = strict_world();
    w.fail("metadata", "put", 1, &Js::error("Error", "commit")); // leaves a metadata-commit-failed marker
    put(&s, "k", "v1").unwrap_err();
    w.take_calls();
    let gate = w.hold("vault", "deleteSecret");
    let pool = Pool::default();
    let s2 = s.clone();
    let p = pool.spawn(async move { s2.put(&Js::s("k"), &Js::s("v2"), &Js::Undefined).await });
    pool.run_until_stalled();
    // Between the flip and the old version's delete, the orphan stays listed.
    assert_eq!(format!("{:?}", w.row("u1/p1/k").prop("retiredVaultIds")), "[\"u1/p1/k#v1\"]");
    assert_eq!(orphans(&s, Js::Undefined), [("k".to_owned(), "retired-versions".to_owned())]);
    gate.open();
    pool.run_until_stalled();
    p.take().unwrap();
    assert!(matches!(w.row("u1/p1/k").prop("retiredVaultIds"), Js::Undefined), "record cleared once deleted");
    assert_eq!(w.secrets.borrow().keys().cloned().collect::<Vec<_>>(), ["u1/p1/k#v2"]);
}

#[test]
fn strict_stores_over_one_metadata_object_share_turns_across_instances() {
    let w = World::new();
    let locks = KeyLocks::new();
    let s1 = Rc::new(w.store("u1", "p1").strict(locks.clone()));
    let s2 = Rc::new(w.store("u1", "p1").strict(locks.clone()));
    let gate = w.hold("vault", "setSecret");
    let pool = Pool::default();
    let p = pool.spawn(async move { s1.put(&Js::s("k"), &Js::s("a"), &Js::Undefined).await });
    let d = pool.spawn(async move { s2.delete(&Js::s("k")).await });
    pool.run_until_stalled();
    assert!(!d.is_done(), "the delete waits for the put's turn");
    gate.open();
    pool.run_until_stalled();
    p.take().unwrap();
    assert!(d.take().unwrap());
}

#[test]
fn strict_reads_plain_rows_and_moves_them_to_versions_on_update() {
    let (w, s, _) = strict_world();
    let plain = Js::obj(&[
        ("userId", Js::s("u1")),
        ("projectId", Js::s("p1")),
        ("key", Js::s("k")),
        ("createdAt", Js::s("2025-01-01T00:00:00.000Z")),
        ("updatedAt", Js::s("2025-01-01T00:00:00.000Z")),
    ]);
    w.set_row("u1/p1/k", plain);
    w.secrets.borrow_mut().insert("u1/p1/k".into(), Js::s("old"));
    assert_eq!(get(&s, "k").str(), Some("old"));
    put(&s, "k", "new").unwrap();
    assert_eq!(w.secrets.borrow().keys().cloned().collect::<Vec<_>>(), ["u1/p1/k#v1"]);
    assert_eq!(get(&s, "k").str(), Some("new"));
}

#[test]
fn a_row_can_never_point_the_store_at_another_keys_bytes() {
    let (w, s, _) = strict_world();
    for forged in ["u2/p1/k#v1", "u1/p1/other", "u1/p1/k#", "u1/p1/k#../x", "u1/p1/kk#v1"] {
        let row = Js::obj(&[
            ("userId", Js::s("u1")),
            ("projectId", Js::s("p1")),
            ("key", Js::s("k")),
            ("vaultId", Js::s(forged)),
        ]);
        w.set_row("u1/p1/k", row);
        w.take_calls();
        get(&s, "k");
        assert_eq!(w.take_calls()[1], "vault.getSecret u1/p1/k", "{forged} must be ignored");
    }
}

#[test]
fn strict_failed_retire_is_recorded_then_reconciled() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    w.fail("vault", "deleteSecret", 0, &Js::error("Error", "vault down"));
    put(&s, "k", "v2").unwrap();
    let row = w.row("u1/p1/k");
    assert_eq!(format!("{:?}", row.prop("retiredVaultIds")), "[\"u1/p1/k#v1\"]");
    assert_eq!(orphans(&s, Js::Undefined), [("k".to_owned(), "retired-versions".to_owned())]);
    assert!(w.secret("u1/p1/k#v1").is_some());
    let r = report(&s, Js::Undefined);
    assert_eq!(keys_of(&r.prop("repaired")), ["k"]);
    assert!(w.secret("u1/p1/k#v1").is_none());
    assert!(matches!(w.row("u1/p1/k").prop("retiredVaultIds"), Js::Undefined));
    assert_eq!(get(&s, "k").str(), Some("v2"));
    assert!(orphans(&s, Js::Undefined).is_empty());
}

#[test]
fn strict_failed_flip_takes_the_new_version_back() {
    let (w, s, _) = strict_world();
    put(&s, "k", "v1").unwrap();
    let c = Js::error("Error", "flip");
    // The second row write is the flip (the first names the new version).
    w.fail("metadata", "put", 1, &c);
    let e = put(&s, "k", "v2").unwrap_err();
    assert!(matches!(&e, StoreError::Host(v) if v.same(&c)));
    assert_eq!(w.secrets.borrow().keys().cloned().collect::<Vec<_>>(), ["u1/p1/k#v1"]);
    assert_eq!(get(&s, "k").str(), Some("v1"));
    assert!(matches!(w.row("u1/p1/k").prop("pendingVaultIds"), Js::Undefined));
    // …and when taking it back fails too, the version stays named as
    // pending: its bytes are never named by nothing.
    w.fail("metadata", "put", 1, &c);
    w.fail("metadata", "put", 2, &c);
    let e = put(&s, "k", "v3").unwrap_err();
    assert!(matches!(&e, StoreError::Host(v) if v.same(&c)));
    assert_eq!(format!("{:?}", w.row("u1/p1/k").prop("pendingVaultIds")), "[\"u1/p1/k#v3\"]");
    assert!(w.secret("u1/p1/k#v3").is_some());
    assert_eq!(get(&s, "k").str(), Some("v1"));
}

// ---- getByPrefix -------------------------------------------------------------

#[test]
fn listing_uses_get_by_prefix_when_the_kv_offers_it() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    w.prefix_query.set(true);
    put(&s, "a", "x").unwrap();
    w.set_row("u1/p2/b", Js::obj(&[("userId", Js::s("u1")), ("projectId", Js::s("p2")), ("key", Js::s("b"))]));
    w.take_calls();
    let s2 = s.clone();
    let list = run(async move { s2.list_metadata().await }).unwrap();
    assert_eq!(keys_of(&list), ["a"]);
    assert_eq!(w.take_calls(), ["metadata.getByPrefix u1/p1/"]);
    let s3 = s.clone();
    run(async move { s3.delete_all().await }).unwrap();
    assert_eq!(w.take_calls()[0], "metadata.getByPrefix u1/p1/");
    assert_eq!(w.rows.borrow().len(), 1, "the other scope's row stays");
}

#[test]
fn get_by_prefix_results_are_still_filtered_by_scope() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    w.prefix_query.set(true);
    // A KV whose prefix query is sloppy must not leak other scopes' rows.
    *w.get_all_override.borrow_mut() = None;
    w.set_row("u1/p1/a", Js::obj(&[("userId", Js::s("u9")), ("projectId", Js::s("p1")), ("key", Js::s("a"))]));
    let s2 = s.clone();
    let list = run(async move { s2.list_metadata().await }).unwrap();
    assert!(list.items().is_empty());
}

// ---- reconciliation ------------------------------------------------------------

fn marker(key: &str, reason: Option<&str>) -> Js {
    let row = Js::obj(&[
        ("userId", Js::s("u1")),
        ("projectId", Js::s("p1")),
        ("key", Js::s(key)),
        ("updatedAt", Js::s("2025-01-01T00:00:00.000Z")),
        ("pending", Js::Bool(true)),
        ("orphanedAt", Js::s("2025-01-02T00:00:00.000Z")),
    ]);
    if let Some(r) = reason {
        common::fake::set(&row, "orphanReason", Js::s(r));
    }
    row
}

fn pending(key: &str, updated_ms: f64) -> Js {
    Js::obj(&[
        ("userId", Js::s("u1")),
        ("projectId", Js::s("p1")),
        ("key", Js::s(key)),
        ("updatedAt", Js::s(&iso(updated_ms))),
        ("pending", Js::Bool(true)),
    ])
}

fn seed_orphans(w: &World) {
    for (k, r) in [
        ("w", Some("vault-write-failed")),
        ("c", Some("metadata-commit-failed")),
        ("d", Some("vault-delete-failed")),
        ("old", None),
    ] {
        w.set_row(&format!("u1/p1/{k}"), marker(k, r));
        w.secrets.borrow_mut().insert(format!("u1/p1/{k}"), Js::s("bytes"));
    }
    w.set_row("u1/p1/stale", pending("stale", T0 - 600_000.0));
    w.secrets.borrow_mut().insert("u1/p1/stale".into(), Js::s("bytes"));
    w.set_row("u1/p1/young", pending("young", T0 - 1000.0));
    w.set_row("u2/p1/w", marker("w", Some("vault-write-failed")));
}

#[test]
fn list_orphans_reports_every_reason_and_never_a_young_pending_row() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    seed_orphans(&w);
    let found = orphans(&s, Js::Undefined);
    let expect = [
        ("w", "vault-write-failed"),
        ("c", "metadata-commit-failed"),
        ("d", "vault-delete-failed"),
        ("old", "unknown"),
        ("stale", "stale-pending"),
    ];
    assert_eq!(found, expect.map(|(k, r)| (k.to_owned(), r.to_owned())));
    let s2 = s.clone();
    let list = run(async move { s2.list_orphans_report(&Js::Undefined).await }).unwrap();
    let first = &list.items()[0];
    assert_eq!(first.keys(), ["key", "reason", "orphanedAt", "updatedAt"], "never a value");
    assert_eq!(first.prop("orphanedAt").str(), Some("2025-01-02T00:00:00.000Z"));
    // A lower threshold makes the young row stale too.
    assert_eq!(orphans(&s, opts(&[("stalePendingMs", Js::Num(500.0))])).len(), 6);
}

#[test]
fn reconcile_deletes_vault_bytes_first_then_the_row() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    seed_orphans(&w);
    w.take_calls();
    let r = report(&s, Js::Undefined);
    assert!(matches!(r.prop("dryRun"), Js::Bool(false)));
    assert_eq!(keys_of(&r.prop("repaired")), ["w", "c", "d", "old", "stale"]);
    let calls = w.take_calls();
    assert_eq!(calls[1..4], ["metadata.get u1/p1/w", "vault.deleteSecret u1/p1/w", "metadata.delete u1/p1/w"]);
    let rows: Vec<_> = w.rows.borrow().iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(rows, ["u1/p1/young", "u2/p1/w"], "the young pending row and other scopes are untouched");
    assert!(w.secrets.borrow().is_empty());
}

#[test]
fn reconcile_dry_run_changes_nothing() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    seed_orphans(&w);
    let before = w.rows.borrow().len();
    let r = report(&s, opts(&[("dryRun", Js::Bool(true))]));
    assert!(matches!(r.prop("dryRun"), Js::Bool(true)));
    assert_eq!(keys_of(&r.prop("repaired")).len(), 5);
    assert_eq!(w.rows.borrow().len(), before);
    assert_eq!(w.secrets.borrow().len(), 5);
    assert!(w.take_calls().iter().all(|c| c == "metadata.getAll"));
}

#[test]
fn a_failed_repair_is_reported_and_leaves_the_orphan_discoverable() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    seed_orphans(&w);
    let e = Js::error("Error", "vault down");
    w.fail("vault", "deleteSecret", 0, &e);
    let e2 = Js::error("Error", "kv down");
    w.fail("metadata", "delete", 0, &e2); // c's: w's vault delete failed first
    let r = report(&s, Js::Undefined);
    let failed = r.prop("failed").items();
    assert_eq!(keys_of(&r.prop("failed")), ["w", "c"]);
    assert!(failed[0].prop("error").same(&e), "the very error");
    assert!(failed[1].prop("error").same(&e2));
    assert_eq!(keys_of(&r.prop("repaired")), ["d", "old", "stale"]);
    assert_eq!(orphans(&s, Js::Undefined).len(), 2, "both still listed");
    assert!(w.secret("u1/p1/w").is_some(), "vault untouched when its delete failed");
    assert!(w.secret("u1/p1/c").is_none(), "bytes gone, row left: a rerun finishes it");
    let r = report(&s, Js::Undefined);
    assert_eq!(keys_of(&r.prop("repaired")), ["w", "c"]);
}

#[test]
fn reconcile_skips_an_orphan_a_put_took_over_and_strict_puts_wait_for_it() {
    let w = World::new();
    let locks = KeyLocks::new();
    let s = Rc::new(w.store("u1", "p1").strict(locks.clone()));
    w.set_row("u1/p1/k", marker("k", Some("vault-write-failed")));
    w.secrets.borrow_mut().insert("u1/p1/k".into(), Js::s("stale bytes"));
    let gate = w.hold("vault", "deleteSecret");
    let pool = Pool::default();
    let (a, b) = (s.clone(), s.clone());
    let r = pool.spawn(async move { a.reconcile(&Js::Undefined).await });
    pool.run_until_stalled();
    let p = pool.spawn(async move { b.put(&Js::s("k"), &Js::s("fresh"), &Js::Undefined).await });
    pool.run_until_stalled();
    assert!(!p.is_done(), "the put waits for the repair's turn");
    gate.open();
    pool.run_until_stalled();
    assert_eq!(keys_of(&r.take().unwrap().prop("repaired")), ["k"]);
    p.take().unwrap();
    assert_eq!(get(&s, "k").str(), Some("fresh"), "the put after the repair is intact");

    // A row that changed between listing and repair is skipped, not repaired.
    w.set_row("u1/p1/j", marker("j", Some("vault-write-failed")));
    let gate = w.hold("metadata", "get");
    let c = s.clone();
    let r = pool.spawn(async move { c.reconcile(&Js::Undefined).await });
    pool.run_until_stalled();
    w.set_row("u1/p1/j", Js::obj(&[("userId", Js::s("u1")), ("projectId", Js::s("p1")), ("key", Js::s("j"))]));
    gate.open();
    pool.run_until_stalled();
    assert_eq!(keys_of(&r.take().unwrap().prop("skipped")), ["j"]);
    assert!(!w.row("u1/p1/j").same(&Js::Undefined));
}

#[test]
fn reconcile_refuses_a_bad_threshold() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    for bad in [Js::s("10"), Js::Num(-1.0), Js::Bool(true)] {
        let (s, o) = (s.clone(), opts(&[("stalePendingMs", bad)]));
        let e = run(async move { s.reconcile(&o).await }).unwrap_err();
        assert_eq!(e.to_string(), "ServerCredentialStore: stalePendingMs must be a non-negative number");
    }
}

// ---- this.delete / this.listMetadata ---------------------------------------------

/// A public object whose `delete` and `listMetadata` are overridden.
struct Spy {
    deletes: std::cell::RefCell<Vec<String>>,
    listing: Js,
}

impl Facade<common::fake::FakeValues> for Spy {
    async fn delete(&self, key: &Js) -> Option<Result<Js, Js>> {
        self.deletes.borrow_mut().push(key.str().unwrap().to_owned());
        Some(Err(Js::error("Error", "override failed"))) // swallowed like any delete error
    }
    async fn list_metadata(&self) -> Option<Result<Js, Js>> {
        Some(Ok(self.listing.clone()))
    }
}

#[test]
fn expired_rows_and_keys_go_through_the_public_object() {
    let w = World::new();
    let s = Rc::new(w.store("u1", "p1"));
    put(&s, "k", "v").unwrap();
    common::fake::set(&w.row("u1/p1/k"), "expiresAt", Js::s(&iso(T0 - 1.0)));
    let spy = Rc::new(Spy {
        deletes: Default::default(),
        listing: Js::Arr(Rc::new(vec![Js::obj(&[("key", Js::s("from-override"))])])),
    });
    w.take_calls();
    let (s2, sp) = (s.clone(), spy.clone());
    assert!(matches!(run(async move { s2.get_via(&Js::s("k"), &*sp).await }).unwrap(), Js::Undefined));
    assert_eq!(*spy.deletes.borrow(), ["k"]);
    assert_eq!(w.take_calls(), ["metadata.get u1/p1/k"], "the store's own delete did not run");
    let (s3, sp) = (s.clone(), spy.clone());
    let keys = run(async move { s3.keys_via(&*sp).await }).unwrap();
    assert_eq!(format!("{keys:?}"), "[\"from-override\"]");
    assert!(w.take_calls().is_empty(), "keys listed through the override only");
}
