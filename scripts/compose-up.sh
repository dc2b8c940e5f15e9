#!/usr/bin/env bash
# npm run compose:up: builds the images, starts the stack, waits until every service is healthy
# and prints the public URL. Settings come from .env (see .env.example) or the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/compose-lib.sh

if [ -z "$(setting ISSUER)" ]; then
  echo "compose:up: no ISSUER: cp .env.example .env and set its values (docs/deployment.md)" >&2
  exit 1
fi
start=$(now)
choose_images
echo "compose:up: base images ready ($(($(now) - start)) s)"
start=$(now)
compose build -q
echo "compose:up: service images built ($(($(now) - start)) s)"
start=$(now)
compose up -d
wait_healthy 300
echo "compose:up: every service healthy ($(($(now) - start)) s)"
echo "Tessera is up at $(setting ISSUER)"
