//! Model-based fault injection (issue 4): seeded sequences of operations on
//! three stores sharing one KV and one vault, with any host call failing
//! (rejecting or throwing synchronously) and, in concurrent batches, the
//! scheduler interleaving the operations at every await.
//!
//! `soak` explores `SOAK_SEQUENCES` sequences (default 10 000, half
//! sequential, half concurrent) from `SOAK_SEED`, prints one summary line,
//! and fails on any violation or any anomaly of a kind not documented in
//! docs/known-races.md. The other tests replay each minimal reproduction
//! of docs/known-races.md and assert the anomaly still happens.
//!
//!   cargo test --release --test model -- --nocapture --exact soak
//!   SOAK_SEQUENCES=100000 SOAK_SEED=7 cargo test --release --test model -- --nocapture --exact soak

mod common;

use std::time::Instant;

use common::fake::Js;
use common::model::*;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

const DEFAULT_SEQUENCES: u64 = 10_000;
const DEFAULT_SEED: u64 = 0x5EED;

/// The anomaly kinds of the compatible protocol under races (docs/known-races.md).
const KNOWN_ANOMALIES: [Kind; 4] = [Kind::CommittedRowWithoutSecret, Kind::SilentOrphan, Kind::LostPut, Kind::TornRow];

fn explore(sequences: u64, seed: u64, threads: u64) -> Stats {
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    // Contiguous chunks: each worker gets both modes evenly.
                    let mut stats = Stats::default();
                    for i in sequences * t / threads..sequences * (t + 1) / threads {
                        let mode = if i % 2 == 0 { Mode::Sequential } else { Mode::Concurrent };
                        explore_one(seed, i, mode, &mut stats);
                    }
                    stats
                })
            })
            .collect();
        let mut all = Stats::default();
        for w in workers {
            all.merge(w.join().expect("worker panicked"));
        }
        all
    })
}

fn report(stats: &Stats) -> String {
    let mut out = String::new();
    for class in [Class::Violation, Class::KnownGap, Class::Anomaly] {
        for r in stats.repros.values().filter(|r| r.class == class) {
            out.push_str(&format!(
                "=== {:?} {} (first found in sequence {})\ncost (ops, faults, concurrent ops, schedule steps) = {:?}\n{}\nrust:\n{}\n\n",
                r.class,
                r.signature,
                r.found_in,
                r.scenario.cost(),
                r.text,
                r.scenario.rust()
            ));
        }
    }
    out
}

#[test]
fn soak() {
    let explicit = env_u64("SOAK_SEQUENCES");
    let sequences = explicit.unwrap_or(DEFAULT_SEQUENCES);
    let seed = env_u64("SOAK_SEED").unwrap_or(DEFAULT_SEED);
    let threads = env_u64("SOAK_THREADS").unwrap_or(2).max(1);
    let started = Instant::now();
    let mut stats = explore(sequences, seed, threads);
    polish(&mut stats);
    let secs = started.elapsed().as_secs_f64();
    println!("{}", stats.summary(seed, secs));
    println!("{}", stats.coverage());
    let text = report(&stats);
    if let Ok(path) = std::env::var("SOAK_REPORT") {
        std::fs::write(&path, &text).expect("write SOAK_REPORT");
        println!("reproductions written to {path}");
    }
    if std::env::var("SOAK_VERBOSE").is_ok() {
        println!("{text}");
    }

    let violations: Vec<&Repro> = stats.repros.values().filter(|r| r.class == Class::Violation).collect();
    for r in &violations {
        eprintln!("VIOLATION {}\n{}\n{}", r.signature, r.text, r.scenario.rust());
    }
    assert_eq!(stats.violations(), 0, "invariant violations (reproductions above)");
    let unknown: Vec<&Repro> =
        stats.repros.values().filter(|r| r.class == Class::Anomaly && !KNOWN_ANOMALIES.contains(&r.kind)).collect();
    for r in &unknown {
        eprintln!("UNDOCUMENTED ANOMALY {}\n{}\n{}", r.signature, r.text, r.scenario.rust());
    }
    assert!(unknown.is_empty(), "anomalies of a kind docs/known-races.md does not list");
    if explicit.is_none() {
        // The default run is deterministic: it finds every documented kind.
        let found = stats.count(Class::Anomaly);
        for k in KNOWN_ANOMALIES {
            assert!(found.contains_key(k.name()), "the default soak no longer finds {}", k.name());
        }
        assert!(stats.operations > 20_000 && stats.rejections > 1000 && stats.throws > 1000);
    }
}

// ---- helpers for the reproductions -----------------------------------------

fn replay(sc: Scenario) -> Run {
    let r = run(&sc, None);
    println!("{}", describe(&r, None));
    assert!(r.violations().is_empty(), "violations:\n{}", describe(&r, None));
    r
}

fn anomaly(r: &Run, kind: Kind, sub: &str) {
    assert!(r.has_exactly(kind, sub, Class::Anomaly), "expected {}({sub}):\n{}", kind.name(), describe(r, None));
}

fn row(r: &Run, id: &str) -> Js {
    r.world.row(id)
}

fn vault(r: &Run, id: &str) -> Option<String> {
    r.world.secret(id).map(|v| v.str().expect("secrets are strings").to_owned())
}

fn is_host_error(res: &Res) -> bool {
    matches!(res.error(), Some(server_credential_store_wasm::core::StoreError::Host(_)))
}

// ---- the known races of the compatible mode (docs/known-races.md) ----------
//
// Each test replays the minimal reproduction the explorer found and asserts
// that the anomaly still happens: a change of behaviour (a fix, say, in a
// future strict mode) makes it fail and sends you to the document.

/// R1: the rollback of a new put whose vault write failed deletes the row a
/// concurrent put of the same key has just committed. The committed put
/// resolved, its value stays in the vault with no row, and the failed put
/// rejects with the raw vault error: nothing reports the orphan.
#[test]
fn race_r1_rollback_of_a_failed_new_put_deletes_a_concurrent_commit() {
    let r = replay(Scenario {
        batches: vec![vec![put(0, "a", "s3cret-0"), put(0, "a", "s3cret-1")], vec![get(0, "a")]],
        faults: vec![Fault::reject(1, 2)],
        schedules: vec![vec![1, 1], vec![]],
    });
    anomaly(&r, Kind::SilentOrphan, "");
    anomaly(&r, Kind::LostPut, "no-row");
    assert!(r.ops[0].res.is_ok());
    assert!(is_host_error(&r.ops[1].res), "the failed put rejects raw: no word of an orphan");
    assert!(!row(&r, "u1/p1/a").truthy());
    assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-0"));
    assert!(matches!(r.ops[2].res, Res::Get(Ok(Js::Undefined))), "the acknowledged value reads as absent");
}

/// R2: a new put that lost the race to create the key overwrites the
/// winner's committed row with its pending row; when its own commit fails it
/// leaves an orphan marker, and the winner's acknowledged value is gone
/// (overwritten in the vault, hidden behind the marker).
#[test]
fn race_r2_commit_failure_marker_hides_a_concurrent_commit() {
    let r = replay(Scenario {
        batches: vec![vec![put(0, "a", "s3cret-0"), put(0, "a", "s3cret-1")], vec![get(0, "a")]],
        faults: vec![Fault::reject(1, 3)],
        schedules: vec![vec![1, 1], vec![]],
    });
    anomaly(&r, Kind::LostPut, "pending-row");
    assert!(r.ops[0].res.is_ok());
    let marker = row(&r, "u1/p1/a");
    assert_eq!(marker.prop("orphanReason").str(), Some("metadata-commit-failed"));
    assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-1"));
    assert!(matches!(r.ops[2].res, Res::Get(Ok(Js::Undefined))));
}

/// R3: a new put runs entirely inside a delete's window (after its
/// metadata.delete, before its vault.deleteSecret): the put commits a row,
/// the delete then removes the put's bytes. has() says true, get() says
/// undefined, listMetadata lists the key.
#[test]
fn race_r3_new_put_inside_a_delete_window_commits_a_row_without_bytes() {
    let r = replay(Scenario {
        batches: vec![
            vec![put(0, "a", "s3cret-0")],
            vec![put(0, "a", "s3cret-1"), delete(0, "a")],
            vec![has(0, "a")],
            vec![get(0, "a")],
            vec![keys(0)],
        ],
        faults: vec![],
        schedules: vec![vec![], vec![1, 1, 1], vec![], vec![], vec![]],
    });
    anomaly(&r, Kind::CommittedRowWithoutSecret, "");
    assert!(r.ops[1].res.is_ok() && matches!(r.ops[2].res, Res::Delete(Ok(true))));
    assert!(matches!(r.ops[3].res, Res::Has(Ok(true))));
    assert!(matches!(r.ops[4].res, Res::Get(Ok(Js::Undefined))));
    assert!(matches!(&r.ops[5].res, Res::Keys(Ok(k)) if k.items().len() == 1));
}

/// R4: a whole delete runs inside an update's window (after its
/// vault.setSecret, before its metadata.put): the update then re-creates
/// the row, pointing at bytes the delete removed.
#[test]
fn race_r4_delete_inside_an_update_window_leaves_a_row_without_bytes() {
    let r = replay(Scenario {
        batches: vec![vec![put(0, "a", "s3cret-0")], vec![delete(0, "a"), put(0, "a", "s3cret-2")], vec![get(0, "a")]],
        faults: vec![],
        schedules: vec![vec![], vec![1, 1, 1], vec![]],
    });
    anomaly(&r, Kind::CommittedRowWithoutSecret, "");
    assert!(matches!(r.ops[1].res, Res::Delete(Ok(true))) && r.ops[2].res.is_ok());
    assert!(is_committed(&row(&r, "u1/p1/a")));
    assert_eq!(vault(&r, "u1/p1/a"), None);
    assert!(matches!(r.ops[3].res, Res::Get(Ok(Js::Undefined))));
}

/// R5: an update decided "existing row" before a concurrent delete removed
/// it; it writes the vault after the delete and its row write fails: the
/// bytes stay with no row, and the update rejects with the raw KV error.
#[test]
fn race_r5_update_after_a_delete_orphans_silently_when_its_row_write_fails() {
    let r = replay(Scenario {
        batches: vec![vec![put(0, "a", "s3cret-0")], vec![delete(0, "a"), put(0, "a", "s3cret-2")]],
        faults: vec![Fault::reject(2, 2)],
        schedules: vec![vec![], vec![1, 1]],
    });
    anomaly(&r, Kind::SilentOrphan, "");
    assert!(is_host_error(&r.ops[2].res));
    assert!(!row(&r, "u1/p1/a").truthy());
    assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-2"));
}

/// R6: get() meets an expired row; before its delete() re-reads the row, an
/// update commits a fresh value; the delete removes the fresh row and its
/// bytes. A read destroyed an acknowledged write.
#[test]
fn race_r6_expired_read_cleanup_deletes_a_fresh_update() {
    let r = replay(Scenario {
        batches: vec![
            vec![put_with(0, "a", "s3cret-0", None, None, Some(-30_000))],
            vec![put_with(0, "a", "s3cret-1", None, None, Some(86_400_000)), get(0, "a")],
        ],
        faults: vec![],
        schedules: vec![vec![], vec![1, 1]],
    });
    anomaly(&r, Kind::LostPut, "no-row");
    assert!(r.ops[1].res.is_ok());
    assert!(matches!(r.ops[2].res, Res::Get(Ok(Js::Undefined))));
    assert!(!row(&r, "u1/p1/a").truthy());
    assert_eq!(vault(&r, "u1/p1/a"), None);
}

/// R6 with one fault: the cleanup's vault delete fails, so the fresh row
/// becomes a vault-delete-failed marker; the read swallows the error, and
/// the acknowledged value reads as absent.
#[test]
fn race_r6b_expired_read_cleanup_turns_a_fresh_update_into_a_marker() {
    let r = replay(Scenario {
        batches: vec![
            vec![put_with(0, "a", "s3cret-0", None, None, Some(-30_000))],
            vec![put_with(0, "a", "s3cret-1", None, None, Some(86_400_000)), get(0, "a")],
        ],
        faults: vec![Fault::reject(2, 3)],
        schedules: vec![vec![], vec![1, 1]],
    });
    anomaly(&r, Kind::LostPut, "pending-row");
    assert!(r.ops[1].res.is_ok() && r.ops[2].res.is_ok(), "the read swallowed the failure");
    assert_eq!(row(&r, "u1/p1/a").prop("orphanReason").str(), Some("vault-delete-failed"));
    assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-1"));
}

/// R7: deleteAll() takes in-flight pending rows too (delete() leaves them
/// alone): it deletes a new put's pending row and its bytes before the put
/// commits; the put then commits a row whose bytes are gone.
#[test]
fn race_r7_delete_all_removes_an_in_flight_new_put() {
    let r = replay(Scenario {
        batches: vec![vec![delete_all(0), put(0, "a", "s3cret-1")]],
        faults: vec![],
        schedules: vec![vec![1, 1, 1, 1]],
    });
    anomaly(&r, Kind::CommittedRowWithoutSecret, "");
    assert!(r.ops.iter().all(|o| o.res.is_ok()));
    let at = |op: usize, method: &str| {
        r.effects.iter().rposition(|e| e.op == op && e.c.call.target == "metadata" && e.c.call.method == method)
    };
    assert!(at(0, "delete") < at(1, "put"), "deleteAll removed the pending row before the put committed");
}

/// R8: two puts of one key, both acknowledged: the row is one put's, the
/// value the other's (here a new put and an update that saw its pending row).
#[test]
fn race_r8_concurrent_puts_leave_a_torn_row() {
    let r = replay(Scenario {
        batches: vec![vec![
            put_with(0, "a", "s3cret-0", Some("L0"), None, None),
            put_with(0, "a", "s3cret-1", Some("L1"), None, None),
        ]],
        faults: vec![],
        schedules: vec![vec![1, 1, 1, 1]],
    });
    anomaly(&r, Kind::TornRow, "");
    assert_eq!(row(&r, "u1/p1/a").prop("label").str(), Some("L1"));
    assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-0"));
}

/// R8 between two updates: the classic lost update of a two-write protocol.
#[test]
fn race_r8b_concurrent_updates_leave_a_torn_row() {
    let r = replay(Scenario {
        batches: vec![
            vec![put(0, "a", "s3cret-0")],
            vec![
                put_with(0, "a", "s3cret-1", Some("L1"), None, None),
                put_with(0, "a", "s3cret-2", Some("L2"), None, None),
            ],
        ],
        faults: vec![],
        schedules: vec![vec![], vec![1, 1, 1]],
    });
    anomaly(&r, Kind::TornRow, "");
    assert_eq!(row(&r, "u1/p1/a").prop("label").str(), Some("L2"));
    assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-1"));
}

/// The known gap of the sequential protocol: get() of an expired row calls
/// delete() and swallows its error; when vault.deleteSecret and the marker
/// write both fail, the bytes stay with no row and nothing reports them.
#[test]
fn known_gap_expired_read_swallows_a_double_failure() {
    for read in [get(0, "a"), has(0, "a")] {
        let r = run(
            &Scenario {
                batches: vec![vec![put_with(0, "a", "s3cret-0", None, None, Some(-30_000))], vec![read]],
                faults: vec![Fault::reject(1, 3), Fault::reject(1, 4)],
                schedules: vec![],
            },
            None,
        );
        println!("{}", describe(&r, None));
        assert!(r.violations().is_empty());
        assert!(r.has_exactly(Kind::ExpiredReadSilentOrphan, "", Class::KnownGap));
        assert!(r.ops[1].res.is_ok(), "the read swallowed both failures");
        assert!(!row(&r, "u1/p1/a").truthy());
        assert_eq!(vault(&r, "u1/p1/a").as_deref(), Some("s3cret-0"));
    }
    // One fault alone is not enough: the marker records the orphan.
    let r = run(
        &Scenario {
            batches: vec![vec![put_with(0, "a", "s3cret-0", None, None, Some(-30_000))], vec![get(0, "a")]],
            faults: vec![Fault::throw(1, 3)],
            schedules: vec![],
        },
        None,
    );
    assert!(r.findings.is_empty(), "{}", describe(&r, None));
    assert_eq!(row(&r, "u1/p1/a").prop("orphanReason").str(), Some("vault-delete-failed"));
}

/// The other shapes the explorer found for the same mechanisms (other
/// deleters, the update path instead of the new path, reads instead of
/// deletes); each still shows its anomaly.
#[test]
fn race_variants_still_happen() {
    let expired = || put_with(0, "a", "s3cret-0", None, None, Some(-30_000));
    let cases: Vec<(&str, Scenario, Kind, &str)> = vec![
        (
            "R1 with the update path: put-new[vault.setSecret✗] ‖ put-update",
            Scenario {
                batches: vec![vec![put(0, "a", "s3cret-0"), put(0, "a", "s3cret-1")]],
                faults: vec![Fault::reject(0, 2)],
                schedules: vec![vec![0, 0, 0, 1, 1, 1, 1]],
            },
            Kind::SilentOrphan,
            "",
        ),
        (
            "R3 by deleteAll: put-new inside deleteAll's window",
            Scenario {
                batches: vec![vec![put(0, "a", "s3cret-0")], vec![put(0, "a", "s3cret-1"), delete_all(0)]],
                faults: vec![],
                schedules: vec![vec![], vec![1, 1, 1, 1]],
            },
            Kind::CommittedRowWithoutSecret,
            "",
        ),
        (
            "R3 by an expired get: put-new inside the cleanup's window",
            Scenario {
                batches: vec![vec![expired()], vec![put(0, "a", "s3cret-1"), get(0, "a")]],
                faults: vec![],
                schedules: vec![vec![], vec![1, 1, 1, 1]],
            },
            Kind::LostPut,
            "no-bytes",
        ),
        (
            "R3 by an expired get whose vault delete fails: the old row's marker hides the new put",
            Scenario {
                batches: vec![vec![expired()], vec![put(0, "a", "s3cret-1"), get(0, "a")]],
                faults: vec![Fault::reject(2, 3)],
                schedules: vec![vec![], vec![1, 1, 1, 1]],
            },
            Kind::LostPut,
            "pending-row",
        ),
        (
            "R3 by an expired has",
            Scenario {
                batches: vec![vec![expired()], vec![put(0, "a", "s3cret-1"), has(0, "a")]],
                faults: vec![],
                schedules: vec![vec![], vec![1, 1, 1, 1]],
            },
            Kind::CommittedRowWithoutSecret,
            "",
        ),
        (
            "R4 by deleteAll: deleteAll inside an update's window",
            Scenario {
                batches: vec![vec![put(0, "a", "s3cret-0")], vec![delete_all(0), put(0, "a", "s3cret-2")]],
                faults: vec![],
                schedules: vec![vec![], vec![1, 1, 1]],
            },
            Kind::CommittedRowWithoutSecret,
            "",
        ),
        (
            "R4 by an expired get: the cleanup inside an update's window",
            Scenario {
                batches: vec![
                    vec![expired()],
                    vec![get(0, "a"), put_with(0, "a", "s3cret-2", None, None, Some(86_400_000))],
                ],
                faults: vec![],
                schedules: vec![vec![], vec![1, 1, 1]],
            },
            Kind::LostPut,
            "no-bytes",
        ),
        (
            "R4 through a pending row: delete ‖ put-new ‖ put-update",
            Scenario {
                batches: vec![vec![put(0, "a", "s3cret-0"), delete(0, "a"), put(0, "a", "s3cret-2")]],
                faults: vec![],
                schedules: vec![vec![2, 2, 2, 2]],
            },
            Kind::CommittedRowWithoutSecret,
            "",
        ),
        (
            "R5 by deleteAll",
            Scenario {
                batches: vec![vec![put(0, "a", "s3cret-0")], vec![delete_all(0), put(0, "a", "s3cret-2")]],
                faults: vec![Fault::reject(2, 2)],
                schedules: vec![vec![], vec![1, 1]],
            },
            Kind::SilentOrphan,
            "",
        ),
        (
            "R5 by an expired get",
            Scenario {
                batches: vec![vec![expired()], vec![get(0, "a"), put(0, "a", "s3cret-2")]],
                faults: vec![Fault::reject(2, 2)],
                schedules: vec![vec![], vec![1, 1]],
            },
            Kind::SilentOrphan,
            "",
        ),
        (
            "R6 by has",
            Scenario {
                batches: vec![
                    vec![expired()],
                    vec![put_with(0, "a", "s3cret-1", None, None, Some(86_400_000)), has(0, "a")],
                ],
                faults: vec![],
                schedules: vec![vec![], vec![1, 1]],
            },
            Kind::LostPut,
            "no-row",
        ),
    ];
    for (name, sc, kind, sub) in cases {
        let r = run(&sc, None);
        assert!(r.violations().is_empty(), "{name}: violations\n{}", describe(&r, None));
        assert!(
            r.has_exactly(kind, sub, Class::Anomaly),
            "{name}: expected {}({sub})\n{}",
            kind.name(),
            describe(&r, None)
        );
    }
}

// ---- the checker catches broken states -------------------------------------

fn sequential_finds(ops: Vec<Op>, faults: Vec<Fault>) -> Run {
    let mut sc = Scenario::sequential(ops);
    sc.faults = faults;
    run(&sc, None)
}

#[test]
fn checker_flags_a_committed_row_whose_bytes_vanished() {
    let r = sequential_finds(vec![put(0, "a", "s3cret-0"), tamper(0, "a", Tamper::DropSecret)], vec![]);
    assert!(r.has_exactly(Kind::CommittedRowWithoutSecret, "", Class::Violation), "{}", describe(&r, None));
    assert!(r.has_exactly(Kind::LostPut, "no-bytes", Class::Violation));
}

#[test]
fn checker_flags_bytes_whose_row_vanished_unreported() {
    let r = sequential_finds(vec![put(0, "a", "s3cret-0"), tamper(0, "a", Tamper::DropRow)], vec![]);
    assert!(r.has_exactly(Kind::SilentOrphan, "", Class::Violation), "{}", describe(&r, None));
    assert!(r.has_exactly(Kind::LostPut, "no-row", Class::Violation));
}

#[test]
fn checker_flags_a_value_of_another_key_and_a_torn_row() {
    let r = sequential_finds(
        vec![
            put(0, "a", "s3cret-0"),
            put(0, "b", "s3cret-1"),
            put(1, "a", "s3cret-2"),
            tamper(0, "a", Tamper::SetSecret("s3cret-2".into())),
            get(0, "a"),
        ],
        vec![],
    );
    assert!(r.has_exactly(Kind::ForeignValue, "", Class::Violation), "{}", describe(&r, None));
    assert!(r.has_exactly(Kind::LostPut, "stale-value", Class::Violation));
    assert!(r.has_exactly(Kind::TornRow, "", Class::Violation));
}

#[test]
fn checker_flags_a_secret_in_an_error_message() {
    // The secret "p1/a" is a substring of the id the commit error names.
    let r = sequential_finds(vec![put(0, "a", "p1/a")], vec![Fault::reject(0, 3)]);
    assert!(r.has_exactly(Kind::SecretInError, "", Class::Violation), "{}", describe(&r, None));
}

#[test]
fn checker_accepts_every_reported_failure_path() {
    // Each orphan path of SPEC §4 once, sequentially: all reported, no finding.
    let paths: Vec<(Vec<Op>, Vec<Fault>)> = vec![
        (vec![put(0, "a", "s3cret-0")], vec![Fault::reject(0, 2), Fault::reject(0, 3)]),
        (vec![put(0, "a", "s3cret-0")], vec![Fault::reject(0, 2), Fault::reject(0, 3), Fault::throw(0, 4)]),
        (vec![put(0, "a", "s3cret-0")], vec![Fault::throw(0, 3)]),
        (vec![put(0, "a", "s3cret-0")], vec![Fault::reject(0, 3), Fault::reject(0, 4)]),
        (vec![put(0, "a", "s3cret-0"), delete(0, "a")], vec![Fault::reject(1, 2)]),
        (vec![put(0, "a", "s3cret-0"), delete(0, "a")], vec![Fault::reject(1, 2), Fault::throw(1, 3)]),
        (
            vec![put(0, "a", "s3cret-0"), put(0, "b", "s3cret-1"), delete_all(0)],
            vec![Fault::reject(2, 3), Fault::reject(2, 4), Fault::throw(2, 7)],
        ),
        (vec![put(0, "a", "s3cret-0"), put(0, "a", "s3cret-1")], vec![Fault::reject(1, 2)]),
    ];
    for (ops, faults) in paths {
        let r = sequential_finds(ops, faults);
        assert!(r.findings.is_empty(), "{}", describe(&r, None));
        assert!(r.ops.iter().any(|o| !o.res.is_ok()), "the fault fired:\n{}", describe(&r, None));
    }
}

// ---- the explorer itself ---------------------------------------------------

/// Replaying what an exploration recorded reproduces it call for call.
#[test]
fn replay_reproduces_an_exploration_exactly() {
    let trace = |r: &Run| -> Vec<String> {
        let mut t: Vec<String> =
            r.effects.iter().map(|e| format!("#{} {} {:?}", e.op, e.c.call.short(), e.c.fault)).collect();
        t.extend(r.ops.iter().map(|o| o.res.show()));
        t
    };
    for i in 0..60 {
        let mut rng = common::rng::Rng::new(common::rng::mix(99, i));
        let sc = if i % 2 == 0 { gen_sequential(&mut rng) } else { gen_concurrent(&mut rng) };
        let explored = run(&sc, Some(Explore { seed: i, draw_faults: true, p_fault: 0.2, p_throw: 0.5 }));
        let replayed = run(&explored.scenario, None);
        assert_eq!(trace(&explored), trace(&replayed), "sequence {i}");
        assert_eq!(explored.findings.len(), replayed.findings.len());
    }
}

/// Concurrent operations on different ids never disturb each other, even
/// with faults: races need a shared id (or a deleteAll of its scope).
#[test]
fn concurrency_on_disjoint_ids_is_clean() {
    let ids: Vec<(usize, &'static str)> = (0..SCOPES.len()).flat_map(|s| KEYS.iter().map(move |k| (s, *k))).collect();
    let mut anomalies = 0;
    for i in 0..400u64 {
        let mut rng = common::rng::Rng::new(common::rng::mix(7, i));
        let mut setup: Vec<Op> = (0..rng.below(6))
            .map(|n| {
                let (s, k) = ids[rng.below(ids.len())];
                put_with(
                    s,
                    k,
                    &format!("s3cret-{n}"),
                    None,
                    None,
                    [None, Some(-30_000), Some(86_400_000)][rng.below(3)],
                )
            })
            .collect();
        let mut free = ids.clone();
        let mut batch = vec![];
        for n in 0..2 + rng.below(3) {
            let (s, k) = free.remove(rng.below(free.len()));
            batch.push(match rng.below(4) {
                0 => put(s, k, &format!("s3cret-b{n}")),
                1 => get(s, k),
                2 => has(s, k),
                _ => delete(s, k),
            });
        }
        let mut sc = Scenario::sequential(std::mem::take(&mut setup));
        sc.batches.push(batch);
        sc.schedules.push(vec![]);
        let r = run(&sc, Some(Explore { seed: i, draw_faults: true, p_fault: 0.15, p_throw: 0.5 }));
        let bad: Vec<&Finding> = r.findings.iter().filter(|f| f.class != Class::KnownGap).collect();
        anomalies += bad.len();
        assert!(bad.is_empty(), "sequence {i}:\n{}", describe(&r, None));
    }
    assert_eq!(anomalies, 0);
}
