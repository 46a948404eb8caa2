#!/usr/bin/env bash
# A runnable demo of polaris-xds with a real Envoy, all on this machine:
#   1. local HTTP upstreams for the echo service of the example mesh (each answers its own name),
#   2. polaris-xds serving a copy of examples/envoy/mesh.yaml,
#   3. an Envoy sidecar bootstrapped with `polaris-xds bootstrap`,
#   4. requests through Envoy: `x-version: v2` goes to echo-v2, everything else to v1,
#   5. the rule is edited in the copy (`x-version: canary` now selects v2) and the effect is shown.
# Everything started is stopped on exit. Exits non-zero if any step fails.
#
# Needs: node ≥ 20 with this repository's npm packages installed, curl, and Envoy (ENVOY_BIN, or
# scripts/install-envoy.sh installs one). Ports: the upstreams default to the example mesh's
# (ECHO_V1A_PORT=18081 ECHO_V1B_PORT=18082 ECHO_V2_PORT=18083); XDS_PORT, ADMIN_PORT,
# ENVOY_ADMIN_PORT, OUTBOUND_PORT and INBOUND_PORT default to free ports. Set any of them to move it.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# fd 3 keeps the real stderr, so a failure inside a silenced check is still reported.
exec 3>&2
step() { printf '\n==> %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  printf 'FAILED: %s\n' "$*" >&3
  exit 1
}
# alive PID NAME fails at once when a process the demo started has exited.
alive() { kill -0 "$1" 2>/dev/null || fail "$2 exited (see its log below)"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/polaris-xds-demo.XXXXXX")"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      printf -- '--- last lines of %s\n' "$(basename "$log")" >&3
      tail -n 20 "$log" >&3
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port asks the kernel for a port nobody is listening on.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# wait_until DESCRIPTION SECONDS COMMAND...: retries COMMAND every 0.2 s, fails after SECONDS.
wait_until() {
  local what="$1" secs="$2"
  shift 2
  local tries=$((secs * 5)) i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "timed out after ${secs}s waiting for $what"
}

ECHO_V1A_PORT="${ECHO_V1A_PORT:-18081}"
ECHO_V1B_PORT="${ECHO_V1B_PORT:-18082}"
ECHO_V2_PORT="${ECHO_V2_PORT:-18083}"
XDS_PORT="${XDS_PORT:-$(free_port)}"
ADMIN_PORT="${ADMIN_PORT:-$(free_port)}"
ENVOY_ADMIN_PORT="${ENVOY_ADMIN_PORT:-$(free_port)}"
OUTBOUND_PORT="${OUTBOUND_PORT:-$(free_port)}"
INBOUND_PORT="${INBOUND_PORT:-$(free_port)}"
polaris_xds=(node "$root/bin/polaris-xds.js")

step "preparing"
[ -f "$root/dist/cli.js" ] || npm run --silent build
envoy="${ENVOY_BIN:-$(bash "$root/scripts/install-envoy.sh")}"
command -v curl >/dev/null || fail "curl is needed"
# The demo edits a copy of the example mesh, with the echo instances moved to the chosen ports.
sed -e "s/port: 18081/port: $ECHO_V1A_PORT/" -e "s/port: 18082/port: $ECHO_V1B_PORT/" -e "s/port: 18083/port: $ECHO_V2_PORT/" \
  "$here/mesh.yaml" > "$work/mesh.yaml"
ok "envoy: $envoy"
ok "mesh copy: $work/mesh.yaml (echo v1 on $ECHO_V1A_PORT and $ECHO_V1B_PORT, v2 on $ECHO_V2_PORT)"

step "starting the echo upstreams"
cat > "$work/upstreams.mjs" <<'JS'
// Each argument is name=port: an HTTP server on 127.0.0.1:port answering its name.
import { createServer } from 'node:http';
await Promise.all(process.argv.slice(2).map((arg) => {
  const [name, port] = arg.split('=');
  const server = createServer((req, res) => { req.resume(); res.end(name); });
  return new Promise((resolve, reject) => server.once('error', reject).listen(Number(port), '127.0.0.1', resolve));
}));
console.log('upstreams ready');
JS
node "$work/upstreams.mjs" "echo-v1-a=$ECHO_V1A_PORT" "echo-v1-b=$ECHO_V1B_PORT" "echo-v2=$ECHO_V2_PORT" > "$work/upstreams.log" 2>&1 &
pids+=($!)
upstreams_ready() { alive "${pids[-1]}" "the upstreams"; grep -q 'upstreams ready' "$work/upstreams.log"; }
wait_until "the upstreams" 10 upstreams_ready
ok "echo-v1-a, echo-v1-b, echo-v2 listening"

step "starting polaris-xds on the mesh copy (xDS 127.0.0.1:$XDS_PORT, admin 127.0.0.1:$ADMIN_PORT)"
"${polaris_xds[@]}" serve --file "$work/mesh.yaml" --xds-address "127.0.0.1:$XDS_PORT" --admin-address "127.0.0.1:$ADMIN_PORT" > "$work/polaris-xds.log" 2>&1 &
pids+=($!)
bridge_pid=$!
bridge_ready() { alive "$bridge_pid" "polaris-xds"; curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz"; }
wait_until "polaris-xds to be ready" 20 bridge_ready
ok "ready: $(curl -s "http://127.0.0.1:$ADMIN_PORT/readyz" | tr -s ' \n' ' ')"

step "starting Envoy (sidecar of service web; outbound listener 127.0.0.1:$OUTBOUND_PORT)"
"${polaris_xds[@]}" bootstrap --xds-address "127.0.0.1:$XDS_PORT" --namespace default --service web \
  --node-id "default/demo-web~127.0.0.1" --admin-address "127.0.0.1:$ENVOY_ADMIN_PORT" \
  --outbound-port "$OUTBOUND_PORT" --inbound-port "$INBOUND_PORT" > "$work/envoy.yaml"
"$envoy" -c "$work/envoy.yaml" --base-id "$((RANDOM % 50000 + 10000))" --disable-hot-restart --concurrency 1 --log-level warn > "$work/envoy.log" 2>&1 &
pids+=($!)
envoy_pid=$!
send() { curl -s --max-time 5 -H 'Host: echo.default' "$@" "http://127.0.0.1:$OUTBOUND_PORT/"; }
envoy_routes() { alive "$envoy_pid" "Envoy"; send -f; }
wait_until "Envoy to route to echo" 30 envoy_routes
ok "Envoy routes echo.default"
"${polaris_xds[@]}" status --admin-address "127.0.0.1:$ADMIN_PORT"

# answers N HEADER...: the distinct answers of N requests, sorted, on one line.
answers() {
  local n="$1" i
  shift
  for ((i = 0; i < n; i++)); do send "$@"; echo; done | sort -u | tr '\n' ' ' | sed 's/ $//'
}
expect() {
  local what="$1" want="$2" got="$3"
  [ "$got" = "$want" ] || fail "$what: expected '$want', got '$got'"
  ok "$what -> $got"
}

step "the example rule: x-version: v2 goes to v2, everything else to v1"
expect "x-version: v2" "echo-v2" "$(answers 10 -H 'x-version: v2')"
expect "no header" "echo-v1-a echo-v1-b" "$(answers 20)"

step "editing the rule in the mesh copy: x-version: canary now selects v2"
sed 's/value: { type: EXACT, value: v2, value_type: TEXT }/value: { type: EXACT, value: canary, value_type: TEXT }/' "$work/mesh.yaml" > "$work/mesh.yaml.new"
grep -q 'value: canary' "$work/mesh.yaml.new" || fail "the rule to edit was not found in the mesh copy"
mv "$work/mesh.yaml.new" "$work/mesh.yaml"
canary_routed() { [ "$(send -H 'x-version: canary')" = "echo-v2" ]; }
wait_until "the edited rule to reach Envoy" 30 canary_routed
expect "x-version: canary" "echo-v2" "$(answers 10 -H 'x-version: canary')"
expect "x-version: v2 (no longer matched)" "echo-v1-a echo-v1-b" "$(answers 20 -H 'x-version: v2')"
"${polaris_xds[@]}" status --admin-address "127.0.0.1:$ADMIN_PORT"

printf '\ndemo passed\n'
