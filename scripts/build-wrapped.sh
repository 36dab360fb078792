#!/usr/bin/env bash
# Builds commands of a Go module whose go.mod carries `replace` lines (so a
# plain `go install mod@version` refuses it) from the Go module proxy.
# A throwaway wrapper module requires the module, repeats its replace lines
# as version pins (a replace into the module's own tree, such as
# k8s.io/kubernetes's ./staging/src/k8s.io/api, is pinned to the matching
# release PIN of that module) and installs every package in one `go install`,
# so shared packages compile once.
#
#   build-wrapped.sh MODULE VERSION PIN OUTDIR LDFLAGS PKG...
#
# Example: build-wrapped.sh k8s.io/kubernetes v1.34.2 v0.34.2 out "-X ..." \
#   k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubelet
set -euo pipefail
MOD=$1 VER=$2 PIN=$3 OUT=$4 LDFLAGS=$5
shift 5
W=$(mktemp -d "${TMPDIR:-/tmp}/wrapped-build.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
GOMOD=$(GOFLAGS=-mod=mod go mod download -json "$MOD@$VER" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$GOMOD" ] || { echo "build-wrapped: no go.mod for $MOD@$VER" >&2; exit 1; }
{
  echo "module archiver/wrapped-build"
  echo "go 1.24"
  echo "require $MOD $VER"
  # Replace lines come standalone (replace a => b v) or in a replace ( ... ) block.
  awk -v pin="$PIN" '
    /^replace[ \t]*\($/ { block = 1; next }
    block && /^\)/ { block = 0; next }
    {
      line = $0
      if (block) line = "replace " line
      else if (line !~ /^replace[ \t]/) next
      n = split(line, f, /[ \t]+/)
      # f[1]=replace f[2]=old [f[3]=oldver] "=>" new [newver]
      for (i = 1; i <= n; i++) if (f[i] == "=>") arrow = i
      old = f[2]; oldver = (arrow == 4) ? " " f[3] : ""
      nw = f[arrow + 1]; nwver = (arrow + 2 <= n) ? f[arrow + 2] : ""
      if (nw ~ /^\.\.?\//) print "replace " old oldver " => " old " " pin
      else print "replace " old oldver " => " nw " " nwver
    }' "$GOMOD"
} >go.mod
{
  printf '//go:build tools\n\npackage tools\n\nimport (\n'
  for p in "$@"; do printf '\t_ "%s"\n' "$p"; done
  printf ')\n'
} >tools.go
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go mod tidy
mkdir -p "$OUT"
GOBIN=$OUT GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath -ldflags "-s -w $LDFLAGS" "$@"
