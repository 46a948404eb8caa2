#!/usr/bin/env bash
# Makes sure Redis (Debian's redis-server, where envoyproxy/ratelimit keeps its counters) is
# installed, and prints the path of redis-server. A present redis-server of the expected major
# version is reused; otherwise the package is installed with apt. The package starts a system
# service on 6379, which is stopped and disabled: tests run their own Redis on free loopback ports.
# Progress goes to stderr.
set -euo pipefail
REDIS_MAJOR="${REDIS_MAJOR:-7}"
have() {
  local bin
  bin="$(command -v redis-server || true)"
  [ -n "$bin" ] && "$bin" --version | grep -q "v=$REDIS_MAJOR\." && echo "$bin"
}
if ! have >/dev/null; then
  echo "installing redis-server (Redis $REDIS_MAJOR) from Debian (first run only)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server >&2
  (command -v systemctl >/dev/null && $SUDO systemctl disable --now redis-server >/dev/null 2>&1) || true
  (command -v service >/dev/null && $SUDO service redis-server stop >/dev/null 2>&1) || true
  have >/dev/null || { echo "redis-server $REDIS_MAJOR.x not found after installing it" >&2; exit 1; }
fi
have
