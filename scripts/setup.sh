#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine that has Node.js, npm, gcc and make.
# Installs missing Debian packages, Bun and the npm dependencies, and builds c/.
#   scripts/setup.sh          what running the relay needs (make start, make install)
#   scripts/setup.sh --test   that, and what only the tests need (make test)
#   --list                    print what would be ensured, change nothing
set -euo pipefail
cd "$(dirname "$0")/.."

test_deps=0
list=0
for a in "$@"; do
  case "$a" in
    --test) test_deps=1 ;;
    --list) list=1 ;;
    *) echo "setup: unknown option \"$a\" (usage: scripts/setup.sh [--test] [--list])" >&2; exit 2 ;;
  esac
done

# Running: liburing-dev and libc6-dev build c/ (egress's io_uring); util-linux has setpriv
# (workers start unprivileged); iproute2 makes the demo's network namespaces; nftables: `mcrelay
# shape`'s NAT (a fresh Debian 12 has neither nft nor iptables).
runtime=(liburing-dev libc6-dev util-linux iproute2 nftables)
# Tests only: a real PostgreSQL server (initdb), headless Chromium (the dashboard test),
# promtool (the alert rules), systemd-analyze and systemd-nspawn (the unit file, run by systemd),
# ping (what crosses a link), iptables (shape's iptables path), tcpdump (reads captures back).
testing=(postgresql chromium prometheus systemd systemd-container iputils-ping iptables tcpdump)

if [ $list -eq 1 ]; then
  echo "debian: ${runtime[*]}$([ $test_deps -eq 1 ] && echo " ${testing[*]}")"
  echo "npm: $([ $test_deps -eq 1 ] && echo "all dependencies" || echo "runtime dependencies (--omit=dev)")"
  exit 0
fi

missing() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_pkgs() {
  local what=$1; shift
  mapfile -t need < <(missing "$@")
  [ ${#need[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${need[*]} (run as root, or: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]} ($what)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

install_pkgs "to run" "${runtime[@]}"
if [ $test_deps -eq 1 ]; then
  # The tests use these packages' programs, not their services: keep apt from starting a
  # PostgreSQL cluster or a Prometheus server on the host (policy-rc.d, unless one is there).
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# mcrelay scripts/setup.sh: no services started while test packages install\nexit 101\n' >"$guard"
    chmod 0755 "$guard"
    trap 'rm -f "$guard"' EXIT
  fi
  install_pkgs "for the tests" "${testing[@]}"
  if [ -n "$guard" ]; then rm -f "$guard"; trap - EXIT; fi
fi

# The relay's own unprivileged user: its workers and API run as it (start --user names another).
if ! id -u mcrelay >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: creating the system user mcrelay" >&2
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mcrelay
  else
    echo "setup: the user mcrelay does not exist; run make setup as root to create it (or start with --user NAME)" >&2
  fi
fi

# Bun and the dependencies come from the npm registry: the runtime's (npm ci --omit=dev) or, for
# the tests, all of them. Skipped when the lock file is unchanged and what is there is enough.
stamp=node_modules/.mcrelay-installed
want=$([ $test_deps -eq 1 ] && echo all || echo runtime)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -x node_modules/.bin/bun ] || [ -z "$have" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ] \
   || { [ "$want" = all ] && [ "$have" != all ]; }; then
  echo "setup: npm ci ($want dependencies)" >&2
  if [ "$want" = all ]; then npm ci --no-audit --no-fund --loglevel=error; else npm ci --omit=dev --no-audit --no-fund --loglevel=error; fi
  echo "$want" >"$stamp"
fi

make -s -C c
