#!/bin/sh
# `mcrelay` inside the image, e.g. `docker-compose exec api mcrelay rules ls`. In the api
# container the address is MCRELAY_API and the token MCRELAY_API_TOKEN or the generated one.
if [ -z "${MCRELAY_API_TOKEN:-}" ] && [ -r "${MCRELAY_API_STATE_DIR:-/var/lib/mcrelay-api}/api-token" ]; then
  MCRELAY_API_TOKEN="$(cat "${MCRELAY_API_STATE_DIR:-/var/lib/mcrelay-api}/api-token")"
  export MCRELAY_API_TOKEN
fi
exec bun /opt/mcrelay/bin/mcrelay.ts "$@"
