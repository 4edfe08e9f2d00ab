#!/usr/bin/env bash
# Builds a minimal Debian 12 (bookworm) base image from Debian's packages — debootstrap, then
# `docker import` — and tags it, for machines that cannot pull from a public image registry.
# The Dockerfile's BASE_IMAGE build argument (default debian:bookworm-slim) then finds it locally.
#
#   deploy/build-base.sh [TAG]        TAG defaults to $BASE_IMAGE, else debian:bookworm-slim
#   deploy/build-base.sh --force TAG  rebuild even if TAG exists
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR
# (default http://deb.debian.org/debian-security). Needs root, debootstrap and a Docker daemon.
# A machine that can pull images does not need this: `docker pull debian:bookworm-slim`.
set -euo pipefail

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
tag="${1:-${BASE_IMAGE:-debian:bookworm-slim}}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
suite=bookworm

if [ "$(id -u)" -ne 0 ]; then echo "build-base: needs root (debootstrap)" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "build-base: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-base: $tag exists; nothing to do (--force rebuilds it)" >&2
  exit 0
fi

root="$(mktemp -d /tmp/mcrelay-base.XXXXXX)"
cleanup() {
  # debootstrap may leave /proc or /sys mounted in the target when it fails.
  for m in proc sys dev/pts; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "build-base: debootstrap $suite from $mirror into $root" >&2
debootstrap --variant=minbase --components=main "$suite" "$root" "$mirror" >&2 \
  || { echo "build-base: debootstrap failed; see $root/debootstrap/debootstrap.log" >&2; cat "$root/debootstrap/debootstrap.log" >&2 || true; exit 1; }

# The same sources as Debian's official image: the release, its updates and security updates.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Slim, like the official -slim images: no manuals, documentation or translations from later installs.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
# Images keep no package lists or caches; apt cleans up after itself.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
# No daemons start while packages are installed in a build.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

echo "build-base: applying $suite-updates and $suite-security" >&2
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade >&2
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log "$root"/var/log/apt/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/tmp/* "$root"/debootstrap
find "$root/usr/share/doc" ! -type d ! -name copyright -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"

echo "build-base: importing as $tag" >&2
tar --numeric-owner --xattrs -C "$root" -c . | docker import \
  --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --message "debootstrap --variant=minbase $suite (mcrelay deploy/build-base.sh)" \
  - "$tag" >&2
echo "build-base: $tag ready ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))" >&2
