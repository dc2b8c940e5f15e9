#!/usr/bin/env bash
# npm run compose:down: stops and removes the stack, its network and its volumes (the database).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/compose-lib.sh
compose down --volumes --remove-orphans
