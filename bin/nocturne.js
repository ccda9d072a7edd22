#!/usr/bin/env node
'use strict';
// The package's command: runs the compiled CLI (npm run build produces dist/).
const path = require('node:path');
const fs = require('node:fs');

const cli = path.join(__dirname, '..', 'dist', 'controller', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error("nocturne is not built yet: run 'npm run build' in " + path.join(__dirname, '..'));
  process.exit(2);
}
require(cli)
  .main(process.argv.slice(2))
  .then((code) => {
    if (code !== undefined) process.exitCode = code;
  })
  .catch((error) => {
    console.error(error && error.stack ? error.stack : String(error));
    process.exitCode = 1;
  });
