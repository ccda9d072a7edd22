#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks run for real (brokers, databases, protocol tools),
# only those missing. Needs root or sudo; does nothing when everything is present.
set -euo pipefail

declare -A PACKAGE_OF=(
  [mosquitto]=mosquitto
  [mosquitto_pub]=mosquitto-clients
  [influxd]=influxdb
  [nginx]=nginx
  [socat]=socat
  [mbpoll]=mbpoll
  [openssl]=openssl
  [docker-compose]=docker-compose
  [chromium]=chromium
  [etcd]=etcd-server
)
missing=()
for command in "${!PACKAGE_OF[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    missing+=("${PACKAGE_OF[$command]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# The tests start their own brokers and databases on free loopback ports: keep the packages' services off.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
