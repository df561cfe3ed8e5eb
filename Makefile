# JetMesh: the human entry points. Every target uses the project's pinned Node (.node-version),
# installed into .tools/ on first use, never the machine's Node.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
NODE_BIN := $(shell ./scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help install build typecheck lint test tools dev demo bench
help:
	@echo "make dev    run the whole mesh on this machine (no cluster needed)"
	@echo "make test   typecheck and run every test"
	@echo "make build  compile every workspace to dist/"

node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> installing npm packages (node $$(node --version))"
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

build: install
	npm run build

typecheck: install
	@echo "==> typecheck (tsc --noEmit, strict)"
	npm run typecheck

# ESLint (typescript-eslint, type-aware rules), Prettier (formatting; npm run format:write fixes
# it) and knip (undeclared or unused dependencies).
lint: install
	@echo "==> lint (eslint), format (prettier) and package boundaries (knip)"
	npm run --silent lint
	npm run --silent format
	npm run --silent deps

# The pinned tools (tools/versions.env), built or fetched once into ~/.cache/jetmesh and
# reused: kube-apiserver, kube-controller-manager, etcd, nats-server, nats, kubectl, helm 3/4, jaeger.
tools:
	@echo "==> tools: kube-apiserver, kube-controller-manager, etcd, nats-server, kubectl, helm, jaeger (tools/ensure.sh; cached in $${JETMESH_TOOLS_CACHE:-~/.cache/jetmesh})"
	@./tools/ensure.sh all >/dev/null

# V8 coverage of the code the test processes run (services the tests spawn as processes are not
# counted); the totals print above the closing line. COVERAGE=0 make test skips it.
COVERAGE ?= 1
test: typecheck lint tools
	@command -v promtool >/dev/null || { ./scripts/install-hint.sh promtool >&2; exit 1; }
	@echo "==> tests (vitest)"
	@mkdir -p node_modules/.cache
	@rc=0; NATS_SERVER_BIN="$${NATS_SERVER_BIN:-$$(./tools/ensure.sh nats | sed -n 's/^nats=//p')/nats-server}"; \
	  NATS_SERVER_COMPAT_BIN="$${NATS_SERVER_COMPAT_BIN:-$$(./tools/ensure.sh nats-compat | sed -n 's/^nats-compat=//p')/nats-server}"; \
	  export NATS_SERVER_BIN NATS_SERVER_COMPAT_BIN; \
	  rm -rf node_modules/.cache/coverage; \
	  COVERAGE=$(COVERAGE) npm test -- --reporter=default --reporter=json --outputFile.json=node_modules/.cache/vitest-results.json || rc=$$?; \
	  node scripts/test-summary.ts node_modules/.cache/vitest-results.json node_modules/.cache/coverage/coverage-summary.json || true; exit $$rc

# kind + Helm targets live in their own file.
-include mk/kind.mk
-include mk/dev.mk
