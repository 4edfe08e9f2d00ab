#!/bin/sh
# Entry point of the "prometheus" profile's container: the API's token where prometheus.yml
# expects it, then Prometheus. MCRELAY_API_TOKEN wins; otherwise the token the API generated
# into its volume (mounted read-only), once the API has made it.
set -eu
umask 077
if [ -n "${MCRELAY_API_TOKEN:-}" ]; then
  printf '%s' "$MCRELAY_API_TOKEN" >/tmp/api-token
else
  i=0
  while [ ! -r /var/lib/mcrelay-api/api-token ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
  tr -d '\n' </var/lib/mcrelay-api/api-token >/tmp/api-token
fi
exec prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \
  --web.listen-address=0.0.0.0:9090 "$@"
