# kind + Helm: JetMesh on a local Kubernetes cluster (docs/install.md).
# Included from the root Makefile (pinned Node on PATH, bash with -eu -o pipefail).
#
#   make kind-up      create the kind cluster of k8s-kind-config.yaml (1 control plane, 2 workers)
#   make images       docker build the operator and the four services, kind load them
#   make deploy       kube-prometheus-stack + the jetmesh chart (NATS subchart, shop, monitoring)
#   make demo-kind    place orders through localhost:30080, then run the shop invariant checker
#   make kind-logs    operator and service logs (what CI prints when something fails)
#   make down         delete the kind cluster
#   make chart-check  the chart's static checks (no cluster needed; part of make test)
#   make images-check each image's layout without Docker: dist/ + production-only
#                     node_modules, then `node dist/main.js` must start (no missing module)
#
# Needs docker (with a running engine), kind, helm and kubectl; each target says which is
# missing and where to get it.

KIND_CLUSTER ?= jetmesh
KIND_CONFIG ?= k8s-kind-config.yaml
JETMESH_NAMESPACE ?= shop
MONITORING_NAMESPACE ?= monitoring
IMAGE_TAG ?= dev
HELM_TIMEOUT ?= 10m
DEMO_ORDERS ?= 200
ORDER_URL ?= http://127.0.0.1:30080
NODE_VERSION := $(shell cat .node-version)
# One Dockerfile for every Node image: name:APP:LIBS (the workspace directory of the program and
# the workspaces it imports, dependencies first, comma-separated); images.test.ts checks the lists.
# The edge image runs as jetmesh-ingress or as a dispatcher (its first argument).
JETMESH_IMAGES := operator:operator:services/mesh \
  order:services/order:services/mesh,services/shop \
  inventory:services/inventory:services/mesh,services/shop \
  payment:services/payment:services/mesh,services/shop \
  shipping:services/shipping:services/mesh,services/shop \
  edge:services/edge:services/mesh
# Images that are not Node programs, each with its own Dockerfile: name:Dockerfile.
JETMESH_OTHER_IMAGES := notifications:services/notifications/Dockerfile
# JSON Schema directories an image reads besides its own workspaces' (SCHEMAS in the Dockerfile):
# the edge checks events of the shop's types, the notifications reply included (docs/http.md).
SCHEMAS_edge := services/shop/schemas services/notifications/schemas
# Extra Node flags baked into an image (the operator's smaller young generation, docs/operator.md).
RUNTIME_NODE_OPTIONS_operator := --enable-source-maps --max-semi-space-size=4

# @$(call need-tool,<binary>,<how to install>): fail with a clear message when it is missing.
need-tool = command -v $(1) >/dev/null 2>&1 || { echo "$(1) not found: $(2)" >&2; exit 1; }
NEED_DOCKER = $(call need-tool,docker,install Docker Engine (https://docs.docker.com/engine/install/)); \
	docker info >/dev/null 2>&1 || { echo "docker found but no Docker engine answers (docker info failed): start the Docker daemon" >&2; exit 1; }
NEED_KIND = $(call need-tool,kind,install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation))
NEED_HELM = $(call need-tool,helm,install Helm 3 (https://helm.sh/docs/intro/install/))
NEED_KUBECTL = $(call need-tool,kubectl,install kubectl (https://kubernetes.io/docs/tasks/tools/))
KUBE_CONTEXT := kind-$(KIND_CLUSTER)

.PHONY: kind-up images deploy demo-kind kind-logs down chart-check images-check

kind-up:
	@$(NEED_DOCKER)
	@$(NEED_KIND)
	@$(NEED_KUBECTL)
	@if kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "==> kind cluster $(KIND_CLUSTER) already exists (make down to start over)"; \
	else \
	  echo "==> creating kind cluster $(KIND_CLUSTER) from $(KIND_CONFIG) (1 control plane, 2 workers)"; \
	  kind create cluster --name '$(KIND_CLUSTER)' --config '$(KIND_CONFIG)' --wait 180s; \
	fi
	kubectl --context $(KUBE_CONTEXT) get nodes -o wide

images:
	@$(NEED_DOCKER)
	@$(NEED_KIND)
	@for entry in $(JETMESH_IMAGES); do \
	  name="$${entry%%:*}"; rest="$${entry#*:}"; app="$${rest%%:*}"; libs="$$(echo "$${rest#*:}" | tr , ' ')"; \
	  image="jetmesh-$$name:$(IMAGE_TAG)"; \
	  case "$$name" in operator) opts='$(RUNTIME_NODE_OPTIONS_operator)';; *) opts=--enable-source-maps;; esac; \
	  case "$$name" in edge) schemas='$(SCHEMAS_edge)';; *) schemas=;; esac; \
	  echo "==> docker build $$image (APP=$$app LIBS=\"$$libs\" SCHEMAS=\"$$schemas\", node $(NODE_VERSION))"; \
	  docker build --build-arg NODE_VERSION=$(NODE_VERSION) --build-arg APP="$$app" --build-arg LIBS="$$libs" \
	    --build-arg SCHEMAS="$$schemas" --build-arg RUNTIME_NODE_OPTIONS="$$opts" -t "$$image" . ; \
	  echo "==> kind load docker-image $$image into cluster $(KIND_CLUSTER)"; \
	  kind load docker-image "$$image" --name '$(KIND_CLUSTER)'; \
	done
	@for entry in $(JETMESH_OTHER_IMAGES); do \
	  name="$${entry%%:*}"; file="$${entry#*:}"; image="jetmesh-$$name:$(IMAGE_TAG)"; \
	  echo "==> docker build $$image ($$file)"; \
	  docker build -f "$$file" -t "$$image" . ; \
	  echo "==> kind load docker-image $$image into cluster $(KIND_CLUSTER)"; \
	  kind load docker-image "$$image" --name '$(KIND_CLUSTER)'; \
	done

deploy:
	@$(NEED_HELM)
	@$(NEED_KUBECTL)
	@echo "==> helm repositories: prometheus-community, nats"
	helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
	helm repo add nats https://nats-io.github.io/k8s/helm/charts/ --force-update
	helm repo update prometheus-community nats
	@echo "==> kube-prometheus-stack into namespace $(MONITORING_NAMESPACE) (Prometheus :30090, Grafana :30300)"
	helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
	  --kube-context $(KUBE_CONTEXT) -n $(MONITORING_NAMESPACE) --create-namespace \
	  -f charts/kube-prometheus-stack.kind.yaml --wait --timeout $(HELM_TIMEOUT)
	@echo "==> helm dependency build charts/jetmesh (the official NATS chart)"
	helm dependency build charts/jetmesh
	@echo "==> jetmesh into namespace $(JETMESH_NAMESPACE) (images jetmesh-*:$(IMAGE_TAG))"
	helm upgrade --install jetmesh charts/jetmesh \
	  --kube-context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) --create-namespace \
	  -f charts/jetmesh/examples/kind.yaml --set image.tag=$(IMAGE_TAG) --wait --timeout $(HELM_TIMEOUT)
	@echo "==> waiting for every EventStream and EventSubscription to be Ready"
	kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) wait --for=condition=Ready \
	  eventstreams,eventsubscriptions --all --timeout=180s
	kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) get eventstreams,eventsubscriptions,deployments,pods
	@echo "==> helm test: Ready resources and one CloudEvent round trip, from inside the cluster"
	helm test jetmesh --kube-context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) --logs --timeout $(HELM_TIMEOUT)

demo-kind: install
	@$(NEED_KUBECTL)
	@$(call need-tool,curl,apt-get install curl)
	@curl -sf --max-time 5 -o /dev/null "$(ORDER_URL)/healthz" || { \
	  echo "order API not reachable at $(ORDER_URL): run make kind-up images deploy first (kind maps NodePort 30080 to localhost), or set ORDER_URL" >&2; exit 1; }
	@echo "==> placing $(DEMO_ORDERS) orders through $(ORDER_URL)/orders (bearer token from Secret jetmesh-order-api-token)"
	@token=$$(kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) get secret jetmesh-order-api-token -o jsonpath='{.data.token}' | base64 -d); \
	ok=0; failed=0; \
	for i in $$(seq 1 $(DEMO_ORDERS)); do \
	  case $$((i % 4)) in 0) sku=widget;; 1) sku=gadget;; 2) sku=gizmo;; *) sku=sprocket;; esac; \
	  if [ $$((i % 20)) -eq 19 ]; then card=4000000000000002; else card=4111111111111111; fi; \
	  body="{\"items\":[{\"sku\":\"$$sku\",\"quantity\":$$((1 + i % 3))}],\"customer\":{\"id\":\"customer-$$((i % 97))\"},\"payment\":{\"card\":\"$$card\"}}"; \
	  code=$$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -XPOST "$(ORDER_URL)/orders" \
	    -H 'content-type: application/json' -H "authorization: Bearer $$token" -H "idempotency-key: demo-$$i-$$(date +%s)" -d "$$body" || echo 000); \
	  if [ "$$code" = 202 ] || [ "$$code" = 201 ]; then ok=$$((ok + 1)); else failed=$$((failed + 1)); fi; \
	done; \
	echo "==> orders accepted: $$ok, refused or failed: $$failed"; \
	[ "$$ok" -gt 0 ] || { echo "no order was accepted: is the order service up? (kubectl -n $(JETMESH_NAMESPACE) get pods)" >&2; exit 1; }
	@echo "==> port-forward NATS and run the shop invariant checker (npm run verify)"
	@kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) port-forward svc/jetmesh-nats 14222:4222 >/tmp/jetmesh-nats-pf.log 2>&1 & \
	pf=$$!; trap 'kill $$pf 2>/dev/null || true' EXIT; \
	for _ in $$(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/14222) 2>/dev/null && break; sleep 0.2; done; \
	NATS_USER=$$(kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) get secret jetmesh-nats-auth-admin -o jsonpath='{.data.user}' | base64 -d) \
	NATS_PASSWORD=$$(kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) get secret jetmesh-nats-auth-admin -o jsonpath='{.data.password}' | base64 -d) \
	  npm run --silent verify -- --nats nats://127.0.0.1:14222 --settle 120

kind-logs:
	@$(NEED_KUBECTL)
	-kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) get all,eventstreams,eventsubscriptions,networkpolicies -o wide
	-kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) describe eventstreams,eventsubscriptions
	-kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) get events --sort-by=.lastTimestamp
	-@for d in jetmesh-operator jetmesh-order jetmesh-inventory jetmesh-payment jetmesh-shipping; do \
	  echo "==> logs of deployment/$$d"; \
	  kubectl --context $(KUBE_CONTEXT) -n $(JETMESH_NAMESPACE) logs deployment/$$d --all-containers --tail=200 --prefix || true; \
	done

down:
	@$(NEED_KIND)
	@echo "==> deleting kind cluster $(KIND_CLUSTER)"
	kind delete cluster --name '$(KIND_CLUSTER)'

chart-check: install
	@echo "==> chart static checks: schema, templates, CRD copies, kind config, promtool, PromQL"
	@command -v promtool >/dev/null || { ./scripts/install-hint.sh promtool >&2; exit 1; }
	./scripts/sync-chart-crds.sh --check
	npx vitest run charts/jetmesh/test

# What the Dockerfile does, on this machine, for each image: stage 1 (npm ci, build LIBS then
# APP, keep dist/ and schemas/), stage 2 (npm ci --omit=dev -w APP + the compiled workspaces),
# then the entry point with production dependencies only. A module that dev hoisting hid from
# production fails here.
images-check: install
	@tmp=$$(mktemp -d /tmp/jetmesh-images-XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	printf '%s\n' 'apiVersion: v1' 'kind: Config' 'current-context: none' \
	  'clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]' \
	  'contexts: [{name: none, context: {cluster: none, user: none}}]' 'users: [{name: none, user: {}}]' > "$$tmp/kubeconfig"; \
	manifests="package.json package-lock.json tsconfig.base.json $$(node -p 'require("./package.json").workspaces.map(w => w + "/package.json").join(" ")')"; \
	echo "==> stage build: npm ci in $$tmp/build"; \
	mkdir -p "$$tmp/build"; for f in $$manifests; do mkdir -p "$$tmp/build/$$(dirname $$f)"; cp "$$f" "$$tmp/build/$$f"; done; \
	(cd "$$tmp/build" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null); \
	for entry in $(JETMESH_IMAGES); do \
	  name="$${entry%%:*}"; rest="$${entry#*:}"; dir="$${rest%%:*}"; libs="$$(echo "$${rest#*:}" | tr , ' ')"; \
	  out="$$tmp/out-$$name"; app="$$tmp/$$name"; \
	  echo "==> jetmesh-$$name: build $$libs $$dir; npm ci --omit=dev -w $$dir; node dist/main.js"; \
	  for d in $$libs $$dir; do \
	    rm -rf "$$tmp/build/$$d/src" && cp -r "$$d/src" "$$d/tsconfig.build.json" "$$tmp/build/$$d/"; \
	    if [ -d "$$d/schemas" ]; then cp -r "$$d/schemas" "$$tmp/build/$$d/"; fi; \
	    (cd "$$tmp/build" && npm run --silent build -w "$$d") || exit 1; \
	    mkdir -p "$$out/$$d" && cp -r "$$tmp/build/$$d/dist" "$$out/$$d/"; \
	    if [ -d "$$d/schemas" ]; then cp -r "$$d/schemas" "$$out/$$d/"; fi; \
	  done; \
	  mkdir -p "$$app"; for f in $$manifests; do mkdir -p "$$app/$$(dirname $$f)"; cp "$$f" "$$app/$$f"; done; \
	  (cd "$$app" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error -w "$$dir" >/dev/null); \
	  cp -r "$$out/." "$$app/"; \
	  log="$$(cd "$$app/$$dir" && NODE_ENV=production NATS_URL=nats://127.0.0.1:1 HTTP_PORT=0 HTTP_HOST=127.0.0.1 \
	    JETMESH_STREAM=shop_events JETMESH_CONSUMER=shop_$$name JETMESH_TYPES=shop.order.placed.v1 \
	    JETMESH_DEAD_LETTER_SUBJECT=jetmesh.dlq.shop.$$name KUBECONFIG="$$tmp/kubeconfig" LEADER_ELECTION=false JETMESH_EDGE_ROLE=ingress \
	    timeout 5 node dist/main.js 2>&1 || true)"; \
	  if echo "$$log" | grep -qE 'ERR_MODULE_NOT_FOUND|Cannot find (module|package)'; then \
	    echo "$$log" | head -20 >&2; echo "jetmesh-$$name: a module is missing from the production image layout" >&2; exit 1; fi; \
	  echo "$$log" | grep -qE '"msg":"(http listening|operator started)"' || { \
	    echo "$$log" | head -20 >&2; echo "jetmesh-$$name: did not start" >&2; exit 1; }; \
	  echo "    started: $$(echo "$$log" | grep -E '"msg":"(http listening|operator started)"' | head -1 | cut -c1-150)"; \
	done; \
	echo "==> every image layout starts with production dependencies only"
