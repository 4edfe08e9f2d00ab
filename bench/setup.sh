#!/usr/bin/env bash
# Idempotent set-up for the benchmarks on Debian 12 as root: the sender/receiver (iperf 2), wrk,
# the two reference relays (smcroute, socat) and ip(8). mcrelay itself is built by scripts/setup.sh.
set -euo pipefail
pkgs=(iperf socat smcroute iproute2 procps wrk linux-perf ethtool)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/setup.sh: missing Debian packages: ${missing[*]} (run as root)" >&2
  exit 1
fi
echo "bench/setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The bench runs its own smcrouted inside its namespace; don't leave the package's host-wide service running.
if [[ " ${missing[*]} " == *" smcroute "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now smcroute >/dev/null 2>&1 || true
fi
