#!/usr/bin/env bash
# Builds envoyproxy/ratelimit, the rate-limit service GLOBAL rate-limit rules are counted in (Envoy's
# envoy.filters.http.ratelimit calls it; polaris-xds serves it its limits over xDS), from its Go
# module at a pinned version into a cache folder outside the repository, keyed by version, and
# prints the binary's path. The module is built from a writable copy, as scripts/install-polaris.sh
# does for Polaris. Later runs reuse the cache. Progress goes to stderr.
set -euo pipefail
RATELIMIT_VERSION="${RATELIMIT_VERSION:-v1.4.1-0.20260122083618-3fb702589d36}"
CACHE_ROOT="${POLARIS_XDS_CACHE:-$HOME/.cache/polaris-xds}"
OUT="$CACHE_ROOT/ratelimit-$RATELIMIT_VERSION"
if [ ! -x "$OUT/ratelimit" ]; then
  echo "building envoyproxy/ratelimit $RATELIMIT_VERSION into $OUT (first run only; takes a few minutes)" >&2
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  . "$(dirname "$0")/go-module-copy.sh"
  go_module_copy github.com/envoyproxy/ratelimit "$RATELIMIT_VERSION" "$work/src"
  (cd "$work/src" && go mod download >&2 && go build -o "$work/ratelimit" ./src/service_cmd >&2)
  rm -rf "$OUT.tmp"; mkdir -p "$OUT.tmp"
  cp "$work/ratelimit" "$OUT.tmp/"
  rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
fi
echo "$OUT/ratelimit"
