#!/bin/sh
# The stand-in redis image's entrypoint: Debian's build defaults to protected mode on loopback;
# the upstream image listens on every interface. Runs as `redis`.
set -eu
if [ "$1" = redis-server ]; then
  shift
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --protected-mode no --bind '* -::*' "$@"
fi
exec "$@"
