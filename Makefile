# The two commands of the README: `make start` and `make test`.
# Both run the idempotent set-up first (Debian packages, Bun, dependencies, the C library).
BUN := node_modules/.bin/bun
ARGS ?=

.PHONY: setup start test bench-ring bench-relay
setup:
	@bash scripts/setup.sh

start: setup
	$(BUN) run mcrelay start $(ARGS)

test: setup
	$(BUN) test $(ARGS)

bench-ring: setup
	$(BUN) run bench:ring

bench-relay: setup
	$(BUN) run bench:relay
