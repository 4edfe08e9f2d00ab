#!/bin/sh
# First start: creates the cluster in $PGDATA with role and database "mcrelay" (password
# $MCRELAY_PG_PASSWORD). Every start: runs the server on all addresses of the container; only
# compose's project network reaches it (no published port). SCRAM passwords over TCP.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
password="${MCRELAY_PG_PASSWORD:-mcrelay}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "$password" >"$pwfile"
  initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
  # The password goes through a psql variable: quoted by psql, never part of the SQL text.
  psql -v ON_ERROR_STOP=1 -q -h /var/run/postgresql -U postgres -d postgres -v pw="$password" <<'SQL'
CREATE ROLE mcrelay LOGIN PASSWORD :'pw';
CREATE DATABASE mcrelay OWNER mcrelay;
SQL
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: created the cluster, role and database mcrelay" >&2
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
