#!/usr/bin/env bash
# Test servers for archiver: builds them once (cached outside the repo) and
# runs them on loopback ports it picks. Usage:
#   scripts/testenv.sh start   # build if needed, start, write .testenv/env
#   scripts/testenv.sh stop    # stop what start started
#   scripts/testenv.sh status
# Tests read the variables in .testenv/env (make test sources it).
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/archiver-testenv
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ARCHIVER_TESTENV_STATE:-$ROOT/.testenv}
ENVFILE=$STATE/env
KMS_KEY=archiver-test-key

log() { printf 'testenv: %s\n' "$*" >&2; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  log "no free port found"; return 1
}

wait_http() { # url, seconds
  local i
  for i in $(seq 1 "$2"); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 1
  done
  return 1
}

build_minio() {
  local dir=$CACHE/minio-$MINIO_VERSION
  if [ ! -x "$dir/minio" ]; then
    log "building MinIO $MINIO_VERSION into $dir (once; about 4 minutes)"
    mkdir -p "$dir.tmp"
    (cd /tmp && GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION")
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir/minio"
}

running() { [ -f "$STATE/minio.pid" ] && kill -0 "$(cat "$STATE/minio.pid")" 2>/dev/null; }

start() {
  mkdir -p "$STATE"
  if running && [ -f "$ENVFILE" ]; then
    # shellcheck disable=SC1090
    . "$ENVFILE"
    if wait_http "$ARCHIVER_TEST_S3_ENDPOINT/minio/health/ready" 2; then log "MinIO already running at $ARCHIVER_TEST_S3_ENDPOINT"; return; fi
    stop
  fi
  command -v curl >/dev/null || { log "curl is required"; exit 1; }
  local minio port cport user pass key data
  minio=$(build_minio)
  port=$(free_port); cport=$(free_port)
  user=archiver-test; pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' )
  key=$(head -c 32 /dev/urandom | base64)
  data=$(mktemp -d "${TMPDIR:-/tmp}/archiver-minio.XXXXXX")
  MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_KMS_SECRET_KEY="$KMS_KEY:$key" \
  MINIO_BROWSER=off MINIO_UPDATE=off \
    nohup "$minio" server "$data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
    >"$STATE/minio.log" 2>&1 &
  echo $! >"$STATE/minio.pid"
  echo "$data" >"$STATE/minio.data"
  if ! wait_http "http://127.0.0.1:$port/minio/health/ready" 60; then
    log "MinIO did not become ready; log follows"; tail -20 "$STATE/minio.log" >&2; exit 1
  fi
  cat >"$ENVFILE" <<ENV
export ARCHIVER_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export ARCHIVER_TEST_S3_ACCESS_KEY=$user
export ARCHIVER_TEST_S3_SECRET_KEY=$pass
export ARCHIVER_TEST_KMS_KEY=$KMS_KEY
export ARCHIVER_TEST_MINIO_BIN=$minio
ENV
  log "MinIO ready at http://127.0.0.1:$port (KMS key $KMS_KEY); variables in $ENVFILE"
}

stop() {
  if [ -f "$STATE/minio.pid" ]; then
    kill "$(cat "$STATE/minio.pid")" 2>/dev/null || true
    rm -f "$STATE/minio.pid"
  fi
  if [ -f "$STATE/minio.data" ]; then rm -rf "$(cat "$STATE/minio.data")"; rm -f "$STATE/minio.data"; fi
  rm -f "$ENVFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then cat "$ENVFILE"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
