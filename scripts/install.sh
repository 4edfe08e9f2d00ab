#!/usr/bin/env bash
# make install / make uninstall (as root): the tree in MCRELAY_HOME, `mcrelay` on PATH, the
# systemd unit, the rules file, the system user. Every path can be moved (the tests install
# into a temporary directory); what install made is listed in $MCRELAY_HOME/.installed, and
# uninstall removes exactly that.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${MCRELAY_HOME:=/opt/mcrelay}"     # the tree: services, the C library, Bun, runtime modules
: "${BINDIR:=/usr/local/bin}"         # the `mcrelay` command (a symlink to $MCRELAY_HOME/bin/mcrelay)
: "${CONFDIR:=/etc/mcrelay}"          # rules.json, the unit's --config
: "${UNITDIR:=/etc/systemd/system}"   # mcrelay.service
: "${RELAY_USER:=mcrelay}"            # the workers' and the API's user
manifest="$MCRELAY_HOME/.installed"
# The rules file install writes when there is none: no rules (the API or an edit adds them).
empty_rules='{"rules": []}'

say() { echo "install: $*" >&2; }
systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

[ "$(id -u)" -eq 0 ] || { echo "make ${1:-install} needs root" >&2; exit 1; }

install_tree() {
  [ -f c/build/libmcrelay.so ] && [ -x node_modules/.bin/bun ] || { echo "install: run scripts/setup.sh first" >&2; exit 1; }
  made=()
  if ! id -u "$RELAY_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RELAY_USER"
    made+=("user $RELAY_USER")
    say "created the system user $RELAY_USER"
  fi

  # A fresh copy of what runs (not tests, benchmarks, docs), then the runtime modules only.
  local stage="$MCRELAY_HOME.new"
  rm -rf "$stage"
  mkdir -p "$stage/c"
  cp -a bin cli lab rules services shm drizzle package.json package-lock.json README.md "$stage/"
  cp -a c/*.ts c/build "$stage/c/"
  find "$stage" -name '*.test.ts' -delete
  cp -a node_modules "$stage/"
  (cd "$stage" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  rm -f "$stage/node_modules/.mcrelay-installed"
  [ -x "$stage/node_modules/.bin/bun" ] || { echo "install: no Bun in $stage/node_modules/.bin" >&2; exit 1; }
  chmod -R u=rwX,go=rX "$stage"
  # An upgrade keeps what the previous install made (its user, its rules file) on the list.
  if [ -f "$manifest" ]; then grep -E '^(user|config) ' "$manifest" >"$stage/.installed.keep" || true; fi
  rm -rf "$MCRELAY_HOME"
  mv "$stage" "$MCRELAY_HOME"
  say "the tree: $MCRELAY_HOME"

  mkdir -p "$BINDIR"
  ln -sfn "$MCRELAY_HOME/bin/mcrelay" "$BINDIR/mcrelay"
  made+=("link $BINDIR/mcrelay")
  say "the command: $BINDIR/mcrelay"

  if [ ! -e "$CONFDIR/rules.json" ]; then
    mkdir -p "$CONFDIR"
    echo "$empty_rules" >"$CONFDIR/rules.json"
    chmod 0644 "$CONFDIR/rules.json"
    made+=("config $CONFDIR/rules.json")
    say "the rules file: $CONFDIR/rules.json (no rules yet)"
  else
    say "the rules file: $CONFDIR/rules.json (kept as it was)"
  fi

  mkdir -p "$UNITDIR"
  sed -e "s|@HOME@|$MCRELAY_HOME|g" -e "s|@CONFDIR@|$CONFDIR|g" -e "s|--user mcrelay|--user $RELAY_USER|" \
    deploy/systemd/mcrelay.service >"$UNITDIR/mcrelay.service"
  chmod 0644 "$UNITDIR/mcrelay.service"
  made+=("unit $UNITDIR/mcrelay.service")
  say "the unit: $UNITDIR/mcrelay.service"

  { printf '%s\n' "${made[@]}"; cat "$MCRELAY_HOME/.installed.keep" 2>/dev/null || true; } | sort -u >"$manifest"
  rm -f "$MCRELAY_HOME/.installed.keep"
  if systemd_running && [ "$UNITDIR" = /etc/systemd/system ]; then
    systemctl daemon-reload
    say "start it with: systemctl enable --now mcrelay"
  fi
}

uninstall_tree() {
  if [ ! -f "$manifest" ]; then say "nothing installed in $MCRELAY_HOME"; return 0; fi
  if systemd_running && grep -qx "unit /etc/systemd/system/mcrelay.service" "$manifest"; then
    systemctl disable --now mcrelay.service 2>/dev/null || true
  fi
  while read -r kind what; do
    case "$kind" in
      unit) rm -f "$what" ;;
      link) [ -L "$what" ] && [ "$(readlink "$what")" = "$MCRELAY_HOME/bin/mcrelay" ] && rm -f "$what" ;;
      config)
        # An edited rules file is the operator's: it stays.
        if [ "$(cat "$what" 2>/dev/null)" = "$empty_rules" ]; then rm -f "$what"; rmdir "$(dirname "$what")" 2>/dev/null || true
        elif [ -e "$what" ]; then say "kept $what (it was changed)"; fi ;;
      user) userdel "$what" 2>/dev/null || say "could not remove the user $what" ;;
    esac
  done <"$manifest"
  rm -rf "$MCRELAY_HOME"
  if systemd_running; then systemctl daemon-reload; fi
  say "removed $MCRELAY_HOME and what install made; /var/lib/mcrelay (the relay's state and rule store) stays"
}

case "${1:-install}" in
  install) install_tree ;;
  uninstall) uninstall_tree ;;
  *) echo "usage: scripts/install.sh install|uninstall" >&2; exit 2 ;;
esac
