// Node/Bun CommonJS entry (pkg/node/index.cjs). It loads the ESM entry
// (require(esm): Node 20.19+ or 22.12+) so that `require` and `import` share one
// class and one wasm instance.
module.exports = require("./index.mjs");
