// One place that picks the test API. Node's `node:test` is used under Node;
// Bun (>= 1.2) implements `node:test` (test, describe, hooks) on top of its
// own runner, so the same import works under `bun test`. If a runtime lacks
// it, swap the import here, nowhere else.
//
// No wrapper around `test` on purpose: Node reports a failing test's location
// from its direct caller. A store that deadlocks still fails: under Node the
// test is cancelled once the event loop drains ("Promise resolution is still
// pending"), under Bun by its default 5 s per-test timeout.
export { test, describe, beforeEach, afterEach, before, after } from "node:test";
export { default as assert } from "node:assert/strict";
