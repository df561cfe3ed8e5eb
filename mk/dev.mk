# make dev / demo / dev-clean: the whole mesh on this machine (docs/dev.md).
# Included from the root Makefile, which puts the project's pinned Node first on PATH.
.PHONY: dev demo dev-clean

DEV_MAIN := testing/src/dev/main.ts
DEV_DEMO := testing/src/dev/demo.ts

# KUBE=real: etcd + kube-apiserver v1.35 (built once into ~/.cache/jetmesh) instead of the
# embedded API test server.
KUBE ?= test

dev: install
	@case "$(KUBE)" in test|real) ;; *) echo "make dev KUBE=$(KUBE): KUBE must be test (the embedded API test server, default) or real (kube-apiserver + etcd)" >&2; exit 2;; esac
	@if [ "$(KUBE)" = real ]; then ./tools/ensure.sh k8s etcd >/dev/null; fi
	@command -v $${PROMETHEUS_BIN:-prometheus} >/dev/null || echo "==> running without metrics storage (optional): $$(./scripts/install-hint.sh prometheus)"
	@NATS_SERVER_BIN="$${NATS_SERVER_BIN:-$$(./tools/ensure.sh nats | sed -n 's/^nats=//p')/nats-server}" \
	  KUBECTL="$${KUBECTL:-$$(./tools/ensure.sh kubectl | sed -n 's/^kubectl=//p')/kubectl}" \
	  JETMESH_DEV_KUBE=$(KUBE) node --conditions=source $(DEV_MAIN)

demo: install
	@node --conditions=source $(DEV_DEMO) $(DEMO_ARGS)

dev-clean: install
	@node --conditions=source $(DEV_MAIN) clean
