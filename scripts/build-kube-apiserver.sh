#!/usr/bin/env bash
# Builds kube-apiserver $1 (e.g. v1.34.2) from the Go module proxy into $2.
# k8s.io/kubernetes cannot be `go install`ed directly (its go.mod replaces
# the staging modules with ./staging/...), so a throwaway wrapper module
# requires it and pins each staging module to the matching v0.x release.
set -euo pipefail
VER=$1 OUT=$2
STAGING_VER=v0.${VER#v1.}
W=$(mktemp -d "${TMPDIR:-/tmp}/kube-apiserver-build.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
GOMOD=$(go mod download -json "k8s.io/kubernetes@$VER" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module archiver/kube-apiserver-build"
  echo "go 1.24"
  echo "require k8s.io/kubernetes $VER"
  grep -E '=> \./staging' "$GOMOD" | awk -v v="$STAGING_VER" '{print "replace " $1 " => " $1 " " v}'
} >go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go mod tidy
mkdir -p "$OUT"
GOBIN=$OUT GOFLAGS=-mod=mod CGO_ENABLED=0 go install k8s.io/kubernetes/cmd/kube-apiserver
