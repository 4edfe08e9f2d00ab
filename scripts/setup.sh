#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine that has Node.js, npm, gcc and make.
# Installs missing Debian packages, Bun and the npm dependencies, and builds c/.
set -euo pipefail
cd "$(dirname "$0")/.."

# iproute2: ip netns/veth for tests; util-linux: setpriv (workers start unprivileged);
# liburing-dev: egress io_uring; libc6-dev: headers for c/; nftables: `mcrelay shape`'s NAT
# (a fresh Debian 12 has neither nft nor iptables); iptables: the test of shape's iptables path.
pkgs=(liburing-dev iproute2 util-linux libc6-dev nftables postgresql chromium iputils-ping iptables)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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

# Bun and the dependencies come from the npm registry; skip when the lock file is unchanged.
stamp=node_modules/.mcrelay-installed
if [ ! -x node_modules/.bin/bun ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

make -s -C c
