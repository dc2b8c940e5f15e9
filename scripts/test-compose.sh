#!/usr/bin/env bash
# npm run test:compose: brings the compose stack up on a real Docker engine (starting dockerd if
# none runs, and stopping only that one), runs the compose walkthrough of docs/deployment.md verbatim
# against it (e2e/compose-stack.test.ts), and removes the stack again. Prints each stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/compose-lib.sh

dockerd_pid=""
cleanup() {
  local status=$?
  set +e
  start=$(now)
  scripts/compose-down.sh >/dev/null 2>&1
  echo "test:compose: compose:down ($(($(now) - start)) s)"
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" && wait "$dockerd_pid"
    echo "test:compose: stopped the dockerd it started"
  fi
  exit "$status"
}
trap cleanup EXIT

start=$(now)
if ! docker info >/dev/null 2>&1; then
  log="$(mktemp -t tessera-dockerd.XXXXXX.log)"
  dockerd >"$log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "test:compose: dockerd did not start (see $log)" >&2; exit 1; }
  echo "test:compose: started dockerd ($(($(now) - start)) s)"
fi

# The stack's own project, configured by docs/deployment.md's "1. Configure." block run verbatim in a
# scratch directory; its .env is exported, so it wins over any .env in the working tree.
export COMPOSE_PROJECT_NAME=tessera-compose-test
scratch="$(mktemp -d)"
cp .env.example "$scratch/"
awk '/^\*\*1\. Configure\.\*\*/ { found = 1 } found && /^```sh$/ { inside = 1; next }
  inside && /^```$/ { exit } inside' docs/deployment.md >"$scratch/configure.sh"
(cd "$scratch" && bash -euo pipefail configure.sh)
set -a
. "$scratch/.env"
set +a
rm -rf "$scratch"

# Chosen here, so the walkthrough's own Compose commands see the same images as compose:up.
start=$(now)
choose_images
echo "test:compose: base images ready ($(($(now) - start)) s)"
npm run -s compose:up
start=$(now)
NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning" \
  npx jest --config jest.compose.config.js
echo "test:compose: walkthrough ($(($(now) - start)) s)"
