# make dev / demo / dev-clean: the whole mesh on this machine (docs/dev.md).
# Included from the root Makefile, which puts the project's pinned Node first on PATH.
.PHONY: dev demo dev-clean

DEV_MAIN := testing/src/dev/main.ts
DEV_DEMO := testing/src/dev/demo.ts

dev: install
	@command -v $${NATS_SERVER_BIN:-nats-server} >/dev/null || { \
	  echo "make dev needs nats-server (JetStream) on PATH. Install it with:" >&2; \
	  echo "    sudo apt-get install nats-server" >&2; \
	  echo "or download a release from https://github.com/nats-io/nats-server/releases and put it on PATH" >&2; \
	  echo "(or set NATS_SERVER_BIN=/path/to/nats-server)." >&2; \
	  exit 1; }
	@command -v kubectl >/dev/null || echo "==> kubectl not found: manifests are applied with @kubernetes/client-node instead (sudo apt-get install kubectl to use kubectl get/apply)"
	@command -v $${PROMETHEUS_BIN:-prometheus} >/dev/null || echo "==> prometheus not found: running without metrics storage (optional: sudo apt-get install prometheus)"
	@node --conditions=source $(DEV_MAIN)

demo: install
	@node --conditions=source $(DEV_DEMO) $(DEMO_ARGS)

dev-clean: install
	@node --conditions=source $(DEV_MAIN) clean
