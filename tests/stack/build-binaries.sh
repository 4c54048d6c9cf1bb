#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and a matching kubectl
# from the Go module proxy
# into a git-ignored cache keyed by version. Prints the bin directory on stdout.
# Only the first run on a machine pays the build; later runs find the binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

cache="${STACK_CACHE_DIR:-$root/.cache}"
bin="$cache/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"
. "$here/go-env.sh"

kube_cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"
have_all() {
  [ -x "$bin/etcd" ] || return 1
  for cmd in $kube_cmds; do [ -x "$bin/$cmd" ] || return 1; done
}
if have_all; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { log "go is not installed; install Go (>= the version k8s.io/kubernetes $KUBE_VERSION asks for)"; exit 1; }
mkdir -p "$bin" "$cache/build"
work="$cache/build"
# One build at a time per cache: a second caller waits, then finds the binaries.
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if have_all; then echo "$bin"; exit 0; fi

build_etcd() {
  [ -x "$bin/etcd" ] && return 0
  local dir="$work/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  cat > "$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$dir" && [ -f go.mod ] || go mod init stack/etcd >/dev/null 2>&1)
  log "etcd $ETCD_VERSION: resolving modules"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 && go mod tidy >&2)
  log "etcd $ETCD_VERSION: compiling"
  (cd "$dir" && go build -trimpath -o "$bin/etcd.tmp" . >&2)
  mv "$bin/etcd.tmp" "$bin/etcd"
  log "etcd $ETCD_VERSION: done"
}

build_kube() {
  local dir="$work/kube-$KUBE_VERSION"
  mkdir -p "$dir"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local staging_version="v0.${KUBE_VERSION#v1.}"
  if [ ! -f "$dir/go.mod" ]; then
    log "kubernetes $KUBE_VERSION: reading its go.mod for the staging modules"
    local kmod
    kmod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    {
      echo "module stack/kube"
      echo
      echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$kmod")"
      echo
      echo "require k8s.io/kubernetes $KUBE_VERSION"
      echo
      echo "replace ("
      grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/' "$kmod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } > "$dir/go.mod"
    cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  fi
  log "kubernetes $KUBE_VERSION: resolving modules (first run downloads a few hundred MB)"
  (cd "$dir" && go mod tidy -e >&2 || true)
  (cd "$dir" && go mod download >&2)
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  for cmd in $kube_cmds; do
    [ -x "$bin/$cmd" ] && continue
    log "kubernetes $KUBE_VERSION: compiling $cmd (several minutes on 2 cores)"
    local start=$SECONDS
    (cd "$dir" && go build -trimpath -tags tools -ldflags "$ldflags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2) &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 30
      kill -0 "$pid" 2>/dev/null && log "  $cmd: still compiling, $((SECONDS - start))s"
    done
    wait "$pid"
    mv "$bin/$cmd.tmp" "$bin/$cmd"
    log "kubernetes $KUBE_VERSION: $cmd built in $((SECONDS - start))s"
  done
}

build_etcd
build_kube
have_all
echo "$bin"
