#!/usr/bin/env bash
# npm run bench -- <name>: runs dist/bench/<name>.js; its last line is a JSON object with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-}"
if [ -z "$name" ] || [ ! -f "bench/$name.ts" ]; then
  echo "usage: npm run bench -- <name>   (one of: $(ls bench/*.ts 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.ts$//' | tr '\n' ' '))" >&2
  exit 2
fi
shift
bash scripts/system-deps.sh
bash scripts/node-deps.sh
exec node "dist/bench/$name.js" "$@"
