#!/bin/sh
# Container entry point of the mcrelay image (see compose.yaml and the README's docker-compose
# section). Commands: supervisor | api | healthcheck supervisor|api | anything else is exec'd.
set -eu
cd /opt/mcrelay

case "${1:-supervisor}" in
  supervisor)
    shift || true
    # The REST API runs in its own container (compose service "api"): --external-api starts no API
    # child, serves the control socket in the state directory for it, and lets SIGHUP hand the
    # rules file to that API (rules made through the API stay).
    set -- start --external-api \
      --state-dir "${MCRELAY_STATE_DIR:-/run/mcrelay}" \
      --user "${MCRELAY_USER:-nobody}" \
      --log-level "${MCRELAY_LOG_LEVEL:-info}" \
      --max-rules "${MCRELAY_MAX_RULES:-16384}" \
      ${MCRELAY_WORKERS:+--workers "$MCRELAY_WORKERS"} \
      "$@"
    if [ -f "${MCRELAY_CONFIG:-/etc/mcrelay/rules.json}" ]; then
      set -- "$@" --config "${MCRELAY_CONFIG:-/etc/mcrelay/rules.json}"
    fi
    exec bun bin/mcrelay.ts "$@"
    ;;
  api)
    shift || true
    exec bun deploy/api.ts "$@"
    ;;
  healthcheck)
    shift || true
    exec bun deploy/healthcheck.ts "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
