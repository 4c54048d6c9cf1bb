#!/usr/bin/env bash
# Builds helm from the Go module proxy into a git-ignored cache keyed by version
# (the same scheme as build-binaries.sh). Prints the helm binary's path on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

cache="${STACK_CACHE_DIR:-$root/.cache}"
bin="$cache/bin/helm-$HELM_VERSION"
. "$here/go-env.sh"

if [ -x "$bin/helm" ]; then echo "$bin/helm"; exit 0; fi
command -v go >/dev/null || { log "go is not installed; install Go to build helm $HELM_VERSION"; exit 1; }
mkdir -p "$bin" "$cache/build"
exec 9>"$cache/build-helm.lock"
if ! flock -n 9; then
  log "another helm build is running; waiting for it"
  flock 9
fi
if [ -x "$bin/helm" ]; then echo "$bin/helm"; exit 0; fi

major="${HELM_VERSION%%.*}"
pkg=helm.sh/helm/$major
log "helm $HELM_VERSION: downloading modules and compiling (a few minutes on 2 cores)"
start=$SECONDS
tmp="$cache/build/helm-$HELM_VERSION"
mkdir -p "$tmp"
ldflags="-s -w -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
(GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@$HELM_VERSION" >&2) &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep 30
  kill -0 "$pid" 2>/dev/null && log "  helm: still building, $((SECONDS - start))s"
done
wait "$pid"
mv "$tmp/helm" "$bin/helm"
log "helm $HELM_VERSION: built in $((SECONDS - start))s"
echo "$bin/helm"
