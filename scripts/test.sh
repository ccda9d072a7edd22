#!/usr/bin/env bash
# The whole test suite, from a fresh Linux machine with Node 20+: installs what is missing, then
# type-checks (sources and tests), lints, checks which room imports which (.dependency-cruiser.cjs), checks formatting and runs every jest test with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/node-deps.sh
npx tsc -p test/tsconfig.json --noEmit
npx eslint .
npm run --silent imports
npx prettier --check .
npx jest --coverage "$@"
