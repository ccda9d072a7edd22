#!/usr/bin/env bash
# npm ci when node_modules does not hold what the lock file lists; then compile to dist/. Compared by
# content, not by date: a fresh checkout or worktree has a newer lock file than a node_modules it shares.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! node -e '
  const fs = require("node:fs");
  const wanted = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages;
  const installed = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages;
  const stale = Object.entries(wanted).filter(([at, p]) => at !== "" && !p.optional && installed[at]?.version !== p.version);
  process.exit(stale.length === 0 ? 0 : 1);
' 2>/dev/null; then
  npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json
