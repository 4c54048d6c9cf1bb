# Sourced by the build scripts (build-binaries.sh, build-helm.sh, tools/bundle-validate/build.sh):
# the Go environment they share and their progress logger.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
# Modules only from the proxy: `direct` would fetch a module the proxy lacks from its VCS host.
GOPROXY="$(printf %s "${GOPROXY:-https://proxy.golang.org}" | sed -E 's/[,|]?direct//g')"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
log() { printf '[build] %s\n' "$*" >&2; }
