#!/usr/bin/env node
// Prints the bad-input catalogue (tests/js/bad-input-catalogue.mjs) as a
// Markdown table, for the README. Needs no build: the catalogue is data.
//
//   node scripts/bad-input-table.mjs > /tmp/table.md
import { CATALOGUE } from "../tests/js/bad-input-catalogue.mjs";

// GFM: a pipe must be escaped even inside a code span; backslashes are
// literal inside code spans but escapes outside.
const pipes = (s) => String(s).replace(/\|/g, "\\|").replace(/\n/g, " ");
const cell = (s) => pipes(String(s).replace(/\\/g, "\\\\"));
const code = (s) => (s.includes("`") ? cell(s) : "`" + pipes(s) + "`");

const lines = [
  "| # | Group | Class of input | Input | Outcome (as the TypeScript store) |",
  "|---:|---|---|---|---|",
  ...CATALOGUE.map((c, i) => `| ${i + 1} | ${cell(c.group)} | ${cell(c.cls)} | ${code(c.input)} | ${cell(c.expected)} |`),
];
console.log(lines.join("\n"));
console.log(
  `\n${CATALOGUE.length} classes. After each one the same store instance still completes a put/get/has/keys/listMetadata/delete/deleteAll round trip.`,
);
