#!/usr/bin/env bash
# Builds the Polaris server from the Go module github.com/polarismesh/polaris at a pinned version
# into a cache folder outside the repository, keyed by version, and prints the folder. The folder
# holds the `polaris-server` binary and the release's default configuration (conf/).
# `go install` refuses this module (its go.mod has a replace directive), so the module is
# downloaded and built from a writable copy.
set -euo pipefail
POLARIS_VERSION="${POLARIS_VERSION:-v1.18.1}"
CACHE_ROOT="${POLARIS_XDS_CACHE:-$HOME/.cache/polaris-xds}"
OUT="$CACHE_ROOT/polaris-$POLARIS_VERSION"
if [ ! -x "$OUT/polaris-server" ]; then
  echo "building polaris $POLARIS_VERSION into $OUT (first run only; takes a few minutes)" >&2
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  . "$(dirname "$0")/go-module-copy.sh"
  go_module_copy github.com/polarismesh/polaris "$POLARIS_VERSION" "$work/src"
  (cd "$work/src" && go mod download >&2 && \
    { go build -ldflags=-checklinkname=0 -o "$work/polaris-server" . >&2 || \
      GOTOOLCHAIN=go1.22.12 go build -o "$work/polaris-server" . >&2; })
  rm -rf "$OUT.tmp"; mkdir -p "$OUT.tmp"
  cp "$work/polaris-server" "$OUT.tmp/"
  cp -r "$work/src/release/conf" "$OUT.tmp/conf"
  rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
