#!/bin/sh
# The bundled example, end to end. $1 is the injector command.
set -eu
INJECTOR=${1:-injector}
cd "$(dirname "$0")"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step injector check --pod pod.yaml --secrets secrets/
$INJECTOR check --pod pod.yaml --secrets secrets/ && echo "no problems"

step injector render files --pod pod.yaml --secrets secrets/
$INJECTOR render files --pod pod.yaml --secrets secrets/ | cat

step injector run --mask --pod pod.yaml --secrets secrets/ -- sh -c '...'
$INJECTOR run --mask --pod pod.yaml --secrets secrets/ -- sh -c \
  'echo "user=$DB_username level=$LOG_LEVEL pod=$POD_NAME"; echo "password=$DB_password"; echo "url=$DATABASE_URL"'

step injector render env --format docker --pod pod.yaml --secrets secrets/ '| cut -d= -f1'
$INJECTOR render env --format docker --pod pod.yaml --secrets secrets/ | cut -d= -f1

step injector render dockerconfig --pod pod.yaml --secrets secrets/ '| jq keys'
$INJECTOR render dockerconfig --pod pod.yaml --secrets secrets/ | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["auths"]))'

step injector run --mount /tmp/injector-demo --pod pod.yaml --secrets secrets/ -- sh -c '...'
mkdir -p /tmp/injector-demo
$INJECTOR run --mount /tmp/injector-demo --pod pod.yaml --secrets secrets/ -- sh -c \
  'cd "$INJECTOR_MOUNT" && ls -la . secret tls/server && echo "secret/username: $(cat secret/username)"'
rmdir /tmp/injector-demo
