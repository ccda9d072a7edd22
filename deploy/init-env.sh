#!/bin/sh
# Creates .env from .env.example with a random value for every empty secret, for a first start
# (docs/deploy.md). InfluxDB's write and read tokens start as the admin token: replace them with scoped
# tokens once InfluxDB runs. Refuses to overwrite an existing .env.
#
#   sh deploy/init-env.sh [directory]      (default: the repository root)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${1:-$root}
example="$root/.env.example"
target="$target_dir/.env"

if [ -e "$target" ]; then
  echo "init-env: $target exists; remove it first to start again" >&2
  exit 1
fi

random_secret() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -hex 24
  else
    od -An -tx1 -N24 /dev/urandom | tr -d ' \n'
  fi
}

umask 077
admin_token=$(random_secret)
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    INFLUX_ADMIN_TOKEN=) echo "INFLUX_ADMIN_TOKEN=$admin_token" ;;
    INFLUX_WRITE_TOKEN= | INFLUX_READ_TOKEN=) echo "${line}$admin_token" ;;
    [A-Z]*=) echo "${line}$(random_secret)" ;;
    *) echo "$line" ;;
  esac
done <"$example" >"$target"
echo "init-env: wrote $target (readable by you only)"
