# The README's commands: make start, make test, make install, make uninstall.
# start and install set up what running needs; test also what the tests need (scripts/setup.sh).
BUN := node_modules/.bin/bun
ARGS ?=
# Where make install puts things (README "Install"); uninstall takes the same values.
MCRELAY_HOME ?= /opt/mcrelay
BINDIR ?= /usr/local/bin
CONFDIR ?= /etc/mcrelay
UNITDIR ?= /etc/systemd/system
INSTALL_VARS = MCRELAY_HOME="$(MCRELAY_HOME)" BINDIR="$(BINDIR)" CONFDIR="$(CONFDIR)" UNITDIR="$(UNITDIR)"

.PHONY: setup setup-test start test install uninstall bench-ring bench-relay
setup:
	@bash scripts/setup.sh

setup-test:
	@bash scripts/setup.sh --test

# exec: the shell make starts becomes the relay, so a signal has one process to reach.
start: setup
	exec bin/mcrelay start $(ARGS)

test: setup-test
	$(BUN) test $(ARGS)

install: setup
	@$(INSTALL_VARS) bash scripts/install.sh install

uninstall:
	@$(INSTALL_VARS) bash scripts/install.sh uninstall

bench-ring: setup-test
	$(BUN) run bench:ring

bench-relay: setup-test
	$(BUN) run bench:relay
