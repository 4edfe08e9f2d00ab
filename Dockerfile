# mcrelay in one image: Bun, the C library (c/build/libmcrelay.so) and the services.
# compose.yaml runs it twice: the privileged supervisor and the unprivileged REST API.
#
#   docker build -t mcrelay .                        (or: docker-compose build)
#   docker build --build-arg BASE_IMAGE=registry.example/debian:bookworm-slim -t mcrelay .
#
# BASE_IMAGE must be Debian 12 (bookworm) or derived from it: liburing and Node.js (for npm) come
# from Debian's packages. Without a public registry, deploy/build-base.sh makes one from Debian's
# packages and tags it debian:bookworm-slim. Works with the classic builder and with BuildKit.
ARG BASE_IMAGE=debian:bookworm-slim

# ---- build: npm ci (Bun comes from the npm registry), the C library --------------------------
FROM ${BASE_IMAGE} AS build
LABEL org.mcrelay.stage=build
ARG NPM_REGISTRY=https://registry.npmjs.org/
# npm itself, from the registry: Debian's npm package drags in hundreds of packages.
ARG NPM_VERSION=10.9.2
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl nodejs gcc make libc6-dev liburing-dev \
 && rm -rf /var/lib/apt/lists/*
# Extra CAs (deploy/ca-certificates/*.crt) for a TLS-intercepting proxy on the way to the
# registry. Trusted in this stage only; the final image does not contain them.
COPY deploy/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN mkdir -p /opt/npm \
 && curl -fsSL --retry 3 "${NPM_REGISTRY%/}/npm/-/npm-${NPM_VERSION}.tgz" | tar -xz -C /opt/npm --strip-components=1
WORKDIR /src
COPY package.json package-lock.json ./
# Exactly the locked versions. Bun's binary goes to /usr/local/bin (the image runs that one, so its
# npm package is dropped), then the dev dependencies (and type definitions that drizzle-orm lists
# as optional peers).
RUN node /opt/npm/bin/npm-cli.js ci --no-audit --no-fund --loglevel=error --registry="$NPM_REGISTRY" \
 && install -m 0755 node_modules/bun/bin/bun.exe /usr/local/bin/bun \
 && /usr/local/bin/bun --version \
 && node /opt/npm/bin/npm-cli.js prune --omit=dev --no-audit --no-fund --loglevel=error \
 && rm -rf node_modules/@types node_modules/bun-types node_modules/bun node_modules/@oven node_modules/.bin/bun node_modules/.bin/bunx \
 && find node_modules -depth -type d -empty -delete
COPY c/ c/
RUN make -s -C c
COPY . .
RUN rm -rf deploy/ca-certificates tests bench docs \
 && chmod 0755 deploy/*.sh

# ---- runtime ------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
LABEL org.mcrelay.stage=runtime
ENV DEBIAN_FRONTEND=noninteractive
# liburing2: the C library's io_uring. setpriv (util-linux) is in every Debian base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends liburing2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/bun /usr/local/bin/bun
COPY --from=build /src /opt/mcrelay
# /run/mcrelay: the supervisor's state dir (control socket, status.json), shared with the API.
# /var/lib/mcrelay-api: the API's SQLite database and generated token, owned by the relay user
# (nobody, uid 65534) so that a new named volume mounted there starts with that owner.
RUN ln -s /opt/mcrelay/deploy/mcrelay.sh /usr/local/bin/mcrelay \
 && install -d -m 0755 /run/mcrelay /etc/mcrelay \
 && install -d -o 65534 -g 65534 -m 0700 /var/lib/mcrelay-api
WORKDIR /opt/mcrelay
# Transpiled-file cache off: the API runs with a read-only root file system and no home.
ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=0 \
    MCRELAY_STATE_DIR=/run/mcrelay \
    MCRELAY_API_STATE_DIR=/var/lib/mcrelay-api
ENTRYPOINT ["/opt/mcrelay/deploy/entrypoint.sh"]
CMD ["supervisor"]
