#!/usr/bin/env bash
# Installs the tools that check the Kubernetes packaging (deploy/helm/polaris-xds) into a cache
# folder outside the repository, keyed by version, and prints their paths as two lines:
#   HELM=<path of the helm binary>
#   KUBERNETES_VALIDATE=<path of the kubernetes-validate command>
# Helm is built from its Go module (helm.sh/helm/v3; its go.mod has no replace directive, so
# `go install` takes it). Manifests are checked with the PyPI package kubernetes-validate, which
# ships the Kubernetes JSON schemas (strict variants, 1.25 to its own version) inside the wheel,
# so validation needs no network. Later runs reuse the cache. Progress goes to stderr.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
CACHE_ROOT="${POLARIS_XDS_CACHE:-$HOME/.cache/polaris-xds}"

HELM_DIR="$CACHE_ROOT/helm-$HELM_VERSION"
if [ ! -x "$HELM_DIR/helm" ]; then
  echo "building helm $HELM_VERSION into $HELM_DIR (first run only; about a minute)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # A writable module cache keeps it removable; the build must not touch the repository's go files.
  export GOFLAGS=-modcacherw
  mod="$(cd "$work" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  # As Helm's release build does: stamp the version, and take the default Kubernetes version
  # (used by `helm template` and `helm lint` without --kube-version) from the client-go it uses.
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$mod")"
  k8s_minor="$(echo "$client_go" | cut -d. -f2)"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  (cd "$work" && GOBIN="$work/bin" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2)
  rm -rf "$HELM_DIR.tmp"; mkdir -p "$HELM_DIR.tmp"
  cp "$work/bin/helm" "$HELM_DIR.tmp/helm"
  rm -rf "$HELM_DIR"; mv "$HELM_DIR.tmp" "$HELM_DIR"
fi
"$HELM_DIR/helm" version --short >/dev/null

VALIDATE_VENV="$CACHE_ROOT/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
# A venv's scripts name its folder in their first line, so it cannot be built aside and moved;
# a marker written last tells a finished install from an interrupted one.
if [ ! -f "$VALIDATE_VENV/.installed" ]; then
  echo "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $VALIDATE_VENV" >&2
  rm -rf "$VALIDATE_VENV"
  python3 -m venv "$VALIDATE_VENV"
  "$VALIDATE_VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  touch "$VALIDATE_VENV/.installed"
fi
"$VALIDATE_VENV/bin/kubernetes-validate" --version >/dev/null

echo "HELM=$HELM_DIR/helm"
echo "KUBERNETES_VALIDATE=$VALIDATE_VENV/bin/kubernetes-validate"
