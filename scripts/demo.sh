#!/usr/bin/env bash
# The demo territory: simulated devices, an embedded MQTT broker and the control service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/node-deps.sh
exec node bin/nocturne.js demo "$@"
