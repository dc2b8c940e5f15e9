# Stand-in for node:20-bookworm-slim (target `slim`) and node:20-bookworm (target `full`), for
# machines that cannot pull from a registry: the host's own Node.js, npm and headers on the
# local Debian base. Built by scripts/standins/build.sh; users build with the upstream images.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS slim
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY include /usr/local/include/node
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node \
  && node --version && npm --version
CMD ["node"]

FROM slim AS full
# The upstream image ships a compiler toolchain (better-sqlite3 builds from source). The host's
# CA bundle lets npm reach the registry through an intercepting proxy: stand-ins only.
COPY ca-certificates.crt /usr/local/share/tessera-standin-ca.crt
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/* \
  && printf 'cafile=/usr/local/share/tessera-standin-ca.crt\nnodedir=/usr/local\n' > /usr/local/etc/npmrc
