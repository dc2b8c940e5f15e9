# Sourced by the compose scripts (run from the repository root).

# The Compose client: the `docker compose` plugin if installed, else docker-compose 1.29.
compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

# A setting as Compose sees it: the environment first, then .env.
setting() {
  if [ -n "${!1:-}" ]; then
    echo "${!1}"
  elif [ -f .env ]; then
    sed -n "s/^$1=//p" .env | tail -n 1
  fi
}

# Seconds since the epoch, for the stage timings.
now() { date +%s; }

# For every base image not set in the environment or .env: the upstream image if it is in the
# local store or can be pulled, else a local stand-in built from Debian (scripts/standins/).
choose_images() {
  local line var upstream standin
  for line in NODE_IMAGE=node:20-bookworm=node NODE_SLIM_IMAGE=node:20-bookworm-slim=node-slim \
    POSTGRES_IMAGE=postgres:15=postgres REDIS_IMAGE=redis:7=redis NGINX_IMAGE=nginx:1.27=nginx; do
    IFS='=' read -r var upstream standin <<<"$line"
    [ -n "$(setting "$var")" ] && continue
    docker image inspect "$upstream" >/dev/null 2>&1 && continue
    if docker pull -q "$upstream" >/dev/null 2>&1; then continue; fi
    export "$var=$(scripts/standins/build.sh "$standin")"
    echo "compose: $upstream cannot be pulled here; using a local stand-in: $var=${!var}" >&2
  done
}

# Waits until every container of the stack reports healthy; fails at once on one that exited, and
# at the deadline on one still not healthy. An `unhealthy` container is waited for too: its check
# goes on running and passes again once it answers (on a loaded machine three slow checks in a
# row are enough to mark a container that is about to be ready unhealthy).
wait_healthy() {
  local deadline=$(($(now) + $1)) id states
  while :; do
    states="$(for id in $(compose ps -q); do
      docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
    done)"
    if [ -n "$states" ] && ! grep -qv ' healthy$' <<<"$states"; then return 0; fi
    if grep -qE ' (exited|dead)$' <<<"$states" || [ "$(now)" -ge "$deadline" ]; then
      echo "compose: not every service became healthy:" >&2
      echo "$states" >&2
      compose logs --tail 20 >&2 || true
      return 1
    fi
    sleep 2
  done
}
