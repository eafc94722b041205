// Per-key linearizability of a recorded history, for a register (a string
// value or none, starting as none) read and written by put/get/has/delete:
// the JS port of the checker of tests/processes.rs, made fit for histories of
// hundreds of thousands of calls.
//
// An operation is `{ act, value, ok, out, start, end }`: `act` one of "put",
// "get", "has", "delete"; `value` the string a put writes; `ok` whether the
// call resolved; `out` what it resolved to (get: a string or undefined, has
// and delete: a boolean); `start`/`end` instants of one clock shared by every
// process (the call was issued at or after `start`, its effects, if any, were
// over by `end`). Operation A precedes B in real time exactly when
// A.end < B.start; equal instants count as concurrent.
//
// A call that did not resolve (rejected, or cut by a kill) may or may not have
// taken effect, once, anywhere inside its interval. The search is Wing & Gong's
// with Lowe's just-in-time linearization and its memo of (set of linearized
// operations, state) — the set as a 64-bit Zobrist hash — over the power-set
// model: the state is the set of register values some choice of the
// undetermined outcomes so far leaves, which is exact for these operations and
// keeps the search deterministic.
//
// check(ops, { final }) → { ok: true } or { ok: false, at } where `at` is the
// operation at which every order failed (the furthest call whose answer no
// order explains). `final` (a string or undefined) is the value read after
// every call ended. checkSegments() keeps going after a failure, from after
// the failing call with an unknown state, to count anomalies by kind.

const NONE = null;
const TOP = "top"; // any value (after a restart): only for counting anomalies

function describe(op) {
  if (!op.ok) return `${op.act} (failed)`;
  if (op.act === "put") return "put → ok";
  if (op.act === "get") return op.out === undefined ? "get → undefined" : "get → a value";
  return `${op.act} → ${op.out}`;
}

/** The set of register values after `op` from each value of `state` (null: impossible). */
export function step(state, op) {
  const top = state === TOP;
  const has = (x) => top || state.includes(x);
  const union = (x) => (top ? TOP : state.includes(x) ? state : [...state, x].sort(order));
  switch (op.act) {
    case "put":
      return op.ok ? [op.value] : union(op.value);
    case "get": {
      if (!op.ok) return state;
      const x = op.out === undefined ? NONE : op.out;
      return has(x) ? [x] : null;
    }
    case "has": {
      if (!op.ok) return state;
      if (op.out === false) return has(NONE) ? [NONE] : null;
      if (top) return TOP;
      const some = state.filter((x) => x !== NONE);
      return some.length ? some : null;
    }
    case "delete": {
      if (!op.ok) return union(NONE);
      if (op.out === false) return has(NONE) ? [NONE] : null;
      return top || state.some((x) => x !== NONE) ? [NONE] : null;
    }
    default:
      throw new Error(`unknown operation ${op.act}`);
  }
}

function order(a, b) {
  if (a === b) return 0;
  if (a === NONE) return -1;
  if (b === NONE) return 1;
  return a < b ? -1 : 1;
}

const stateKey = (s) => (s === TOP ? "*" : JSON.stringify(s));

/**
 * Random 32-bit words for the Zobrist hashes, from mulberry32 (not a linear
 * generator: XORs of a linear one's outputs collide far more often).
 */
function words(n, seed) {
  const out = new Uint32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return out;
}

/**
 * One search from `initial`: { ok, at (index of the failing op), steps,
 * exhausted (the step budget ran out: undecided) }. Before a call's answer,
 * the call must be linearized; when no order gets there, the search backs
 * off (a return entry is never passed with its call unplaced).
 */
function search(ops, initial, budget, seed) {
  const n = ops.length;
  // Entries: 0..n-1 calls, n..2n-1 returns; sorted by time, calls first on ties.
  const entries = [];
  for (let i = 0; i < n; i++) {
    entries.push({ id: i, call: true, time: ops[i].start });
    entries.push({ id: i, call: false, time: ops[i].end });
  }
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? a.id - b.id : a.call ? -1 : 1));
  const head = { next: null, prev: null };
  let prev = head;
  const callOf = new Array(n);
  const retOf = new Array(n);
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    e.next = null;
    prev = e;
    if (e.call) callOf[e.id] = e;
    else retOf[e.id] = e;
  }
  for (let i = 0; i < n; i++) callOf[i].match = retOf[i];
  const lift = (e) => {
    e.prev.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match;
    m.prev.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e) => {
    const m = e.match;
    m.prev.next = m;
    if (m.next) m.next.prev = m;
    e.prev.next = e;
    if (e.next) e.next.prev = e;
  };
  const z1 = words(n, seed * 2 + 1);
  const z2 = words(n, seed * 2 + 2);
  let h1 = 0;
  let h2 = 0;
  const seen = new Set();
  const stack = [];
  let state = initial;
  let entry = head.next;
  let steps = 0;
  let furthest = -1; // the most operations linearized at once, and where that failed
  let at = n ? 0 : -1;
  while (head.next !== null) {
    if (++steps > budget) return { ok: false, at, steps, exhausted: true };
    if (entry.call) {
      const next = step(state, ops[entry.id]);
      if (next !== null) {
        const g1 = (h1 ^ z1[entry.id]) >>> 0;
        const g2 = (h2 ^ z2[entry.id]) >>> 0;
        const key = `${g1}.${g2}.${stateKey(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ entry, state });
          h1 = g1;
          h2 = g2;
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // The answer of an operation not yet linearized: back off.
      if (stack.length > furthest) {
        furthest = stack.length;
        at = entry.id;
      }
      if (!stack.length) return { ok: false, at, steps, exhausted: false };
      const top = stack.pop();
      state = top.state;
      h1 = (h1 ^ z1[top.entry.id]) >>> 0;
      h2 = (h2 ^ z2[top.entry.id]) >>> 0;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { ok: true, steps };
}

/**
 * Whether `ops` (one key) is linearizable ending in `final`.
 * { ok, at?: op, kind?: string, steps, undecided?: true }.
 */
export function check(ops, { final, budget = 20_000_000, initial = [NONE], noFinal = false } = {}) {
  // The final read is an operation after every other (none with `noFinal`).
  const last = ops.reduce((m, o) => Math.max(m, o.end), 0);
  const all = noFinal ? [...ops] : [...ops, { act: "get", ok: true, out: final, start: last + 1, end: last + 2, final: true }];
  // A memo hit on a colliding hash could hide the one order that works: a
  // failure counts only if searches with two other sets of hash words agree.
  let r;
  let steps = 0;
  for (let seed = 1; seed <= 3; seed++) {
    r = search(all, initial, budget, seed);
    steps += r.steps;
    if (r.ok) return { ok: true, steps };
    if (r.exhausted) break;
  }
  const op = all[r.at];
  return {
    ok: false,
    undecided: r.exhausted || undefined,
    at: op,
    kind: r.exhausted ? "undecided (search budget spent)" : op.final ? "final value" : describe(op),
    steps,
  };
}

/**
 * Counts where a history stops being linearizable, in chunks of `chunk`
 * operations (by start): after each failure the check restarts with the
 * operations that began after the failing one ended, and each chunk after
 * the first starts from an unknown state, so an anomaly that needs more
 * than a chunk's operations to show goes uncounted (a lower bound).
 * Returns { anomalies: [{ kind, at }], steps }.
 */
export function checkSegments(ops, { final, budget = 2_000_000, limit = 100_000, chunk = 2000 } = {}) {
  const sorted = [...ops].sort((a, b) => a.start - b.start);
  const anomalies = [];
  let from = 0;
  let initial = [NONE];
  let steps = 0;
  while (from < sorted.length && anomalies.length < limit) {
    const last = from + chunk >= sorted.length;
    const part = sorted.slice(from, from + chunk);
    const r = check(part, { final, budget, initial, noFinal: !last });
    steps += r.steps;
    initial = TOP;
    if (r.ok) {
      if (last) break;
      from += chunk;
      continue;
    }
    anomalies.push({ kind: r.kind, at: r.at });
    if (r.at.final) break;
    const cut = r.at.end;
    let next = from;
    while (next < sorted.length && sorted[next].start <= cut) next++;
    from = next === from ? from + 1 : next;
  }
  return { anomalies, steps };
}
