#!/usr/bin/env bash
# Installs the project's pinned Node (from .node-version) into .tools/ using the npm
# registry's node-linux-<arch> package, so the project never depends on the machine's Node.
# Prints the bin directory to put first on PATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(tr -d ' \n' < "$root/.node-version")"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "ensure-node: unsupported CPU $(uname -m)" >&2; exit 1 ;;
esac
pkg="node-linux-$arch"
bin="$root/.tools/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$version" ]; then
  command -v npm >/dev/null || { echo "ensure-node: npm is needed once to fetch Node $version (apt-get install npm)" >&2; exit 1; }
  echo "ensure-node: installing Node $version ($pkg) into .tools/" >&2
  npm install --silent --no-save --no-audit --no-fund --prefix "$root/.tools" "$pkg@$version" >&2
fi
echo "$bin"
