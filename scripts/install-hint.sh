#!/usr/bin/env bash
# install-hint.sh TOOL: one line saying how to get TOOL, a tool JetMesh uses from the machine
# rather than pinning (prometheus/promtool; nats-server when it is not built with Go), for this
# OS first (macOS: Homebrew; Debian/Ubuntu: apt), then the others and the release binaries.
# The Makefile and `make dev` print it when the tool is missing. JETMESH_UNAME_S stands in for
# `uname -s` (tests).
set -euo pipefail
tool="${1:?usage: install-hint.sh prometheus|promtool|nats-server}"
os="${JETMESH_UNAME_S:-$(uname -s)}"
# shellcheck source=../tools/versions.env
. "$(cd "$(dirname "$0")/.." && pwd)/tools/versions.env"
case "$tool" in
  prometheus|promtool)
    brew="brew install prometheus"
    apt="sudo apt-get install prometheus"
    release="a release binary from https://github.com/prometheus/prometheus/releases (prometheus and promtool on PATH)"
    ;;
  nats-server)
    brew="brew install nats-server"
    apt="sudo apt-get install nats-server, if it is 2.11 or newer (bookworm's is 2.9.10: too old)"
    release="a release binary (2.11 or newer; tested: ${NATS_SERVER_VERSION#v}, ${NATS_SERVER_COMPAT_VERSION#v}) from https://github.com/nats-io/nats-server/releases, as NATS_SERVER_BIN=/path/to/nats-server; or tools/ensure.sh nats builds the pinned one with Go >= 1.25"
    ;;
  *) echo "install-hint.sh: no hint for $tool" >&2; exit 2 ;;
esac
case "$os" in
  Darwin) echo "$tool not found: $brew (Debian/Ubuntu: $apt; any OS: $release)" ;;
  Linux) echo "$tool not found: Debian/Ubuntu: $apt (macOS: $brew; any OS: $release)" ;;
  *) echo "$tool not found: $release (macOS: $brew; Debian/Ubuntu: $apt)" ;;
esac
