#!/usr/bin/env bash
# Builds tools/bundle-validate (the operator-framework/api bundle validators) from the Go module proxy
# into a git-ignored cache keyed by the api version. Prints the binary's path on stdout.
# Only the first run on a machine pays the build (about a minute); later runs find the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../tests/stack/versions.env
. "$root/tests/stack/versions.env"

cache="${STACK_CACHE_DIR:-$root/.cache}"
bin="$cache/bin/bundle-validate-$OPERATOR_FRAMEWORK_API_VERSION"
. "$root/tests/stack/go-env.sh"
if [ -x "$bin/bundle-validate" ]; then echo "$bin/bundle-validate"; exit 0; fi

command -v go >/dev/null || { log "go is not installed; bundle-validate needs Go to build"; exit 1; }
grep -q "github.com/operator-framework/api $OPERATOR_FRAMEWORK_API_VERSION\$" "$here/go.mod" ||
  { log "tools/bundle-validate/go.mod does not require operator-framework/api $OPERATOR_FRAMEWORK_API_VERSION (versions.env)"; exit 1; }
mkdir -p "$bin"
exec 9>"$cache/bundle-validate.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if [ -x "$bin/bundle-validate" ]; then echo "$bin/bundle-validate"; exit 0; fi

export GOFLAGS=-mod=readonly
log "bundle-validate (operator-framework/api $OPERATOR_FRAMEWORK_API_VERSION): downloading modules"
(cd "$here" && go mod download >&2)
log "bundle-validate: compiling"
(cd "$here" && go build -trimpath -o "$bin/bundle-validate.tmp" . >&2)
mv "$bin/bundle-validate.tmp" "$bin/bundle-validate"
log "bundle-validate: done"
echo "$bin/bundle-validate"
