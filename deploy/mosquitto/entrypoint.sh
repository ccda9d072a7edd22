#!/bin/sh
# Entry point of the mosquitto service. Writes the password file from the MQTT_PASSWORD_<USER> variables
# (MQTT_PASSWORD_DISPATCH=… makes user 'dispatch'; '_' becomes '-'), installs it with the ACL in the auth
# directory, readable by mosquitto only, then runs the command (the broker). Passwords stay in the
# environment (.env): never in the repository, never in an image.
set -eu

config_dir=${MOSQUITTO_CONFIG_DIR:-/mosquitto/config}
auth_dir=${MOSQUITTO_AUTH_DIR:-/mosquitto/auth}
data_dir=${MOSQUITTO_DATA_DIR:-/mosquitto/data}

umask 077
mkdir -p "$auth_dir"
passwd_file="$auth_dir/passwd"
: >"$passwd_file"

users=""
for variable in $(env | sed -n 's/^\(MQTT_PASSWORD_[A-Z0-9_]*\)=.*/\1/p' | sort); do
  user=$(printf '%s' "${variable#MQTT_PASSWORD_}" | tr 'A-Z_' 'a-z-')
  eval "password=\${$variable}"
  if [ -z "$password" ]; then
    echo "mosquitto: $variable is empty: set the password of user '$user' in .env" >&2
    exit 1
  fi
  mosquitto_passwd -b "$passwd_file" "$user" "$password"
  users="$users $user"
done
if [ -z "$users" ]; then
  echo "mosquitto: no MQTT_PASSWORD_<USER> variable is set: no client could connect" >&2
  exit 1
fi
cp "$config_dir/acl" "$auth_dir/acl"

if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  chown -R mosquitto:mosquitto "$auth_dir"
  if [ -d "$data_dir" ]; then chown -R mosquitto:mosquitto "$data_dir"; fi
fi
echo "mosquitto: users:$users"
exec "$@"
